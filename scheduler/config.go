package scheduler

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Defaults for the zero fields of Config.
const (
	DefaultMaxWindow    = 64 << 20
	DefaultMaxInFlight  = 64 << 20
	DefaultRTTMargin    = 20 * time.Millisecond
	DefaultStallTimeout = 3 * time.Second
	DefaultMaxStrikes   = 3
	DefaultMaxRetries   = 6
	DefaultBackoffBase  = 500 * time.Millisecond
	DefaultBackoffMax   = 15 * time.Second
	// DefaultMinRateWindow is how long a busy source is measured before the
	// minimum rate rule (Config.MinRate) judges it.
	DefaultMinRateWindow = 30 * time.Second
	// DefaultMaxRetryAfter caps the wait a source may ask for (Busy).
	DefaultMaxRetryAfter = 5 * time.Minute
)

// BackoffPolicy is the wait before a source that failed is tried again: Base
// after its first failure in a row, doubling with each further one, at most
// Max. The scheduler's own (Config.BackoffBase, Config.BackoffMax) is
// Scheduler.BackoffPolicy; a caller that retries something of a source by itself
// (a watcher of the source's availability) uses the same.
type BackoffPolicy struct {
	Base, Max time.Duration
}

// DefaultBackoff is the default policy: 0.5 s, 1 s, 2 s, ... up to 15 s.
func DefaultBackoff() BackoffPolicy {
	return BackoffPolicy{Base: DefaultBackoffBase, Max: DefaultBackoffMax}
}

// String lists the waits: "0.5 s, 1 s, 2 s, ... up to 15 s" for the
// default.
func (b BackoffPolicy) String() string {
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s" }
	var parts []string
	for n := 1; n <= 3; n++ {
		parts = append(parts, secs(b.Delay(n)))
		if b.Delay(n) == b.Delay(n+1) {
			return strings.Join(parts, ", ") + ", then " + secs(b.Delay(n)) + " each"
		}
	}
	return strings.Join(parts, ", ") + ", ... up to " + secs(b.Delay(math.MaxInt32))
}

// Delay is the wait after the n-th failure in a row (n >= 1; less counts
// as 1). Zero fields are the defaults.
func (b BackoffPolicy) Delay(n int) time.Duration {
	if b.Base <= 0 {
		b.Base = DefaultBackoffBase
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, max(b.Max, b.Base))
}

// Internal tunables. They are constants on purpose: tests drive behaviour
// through Config, never by overwriting package state.
const (
	// rateTau is the time constant of the decayed rate average.
	rateTau = time.Second
	// assumedRTT stands in for a source's RTT until SetRTT is called.
	assumedRTT = 100 * time.Millisecond
	// probeHorizon is how long the sources with a known rate must still be
	// busy for a source with an unknown rate to get its probe window.
	probeHorizon = time.Second
	// endgameFactor: a block is duplicated only if its holder would finish it
	// more than this many times later than the duplicating source.
	endgameFactor = 1.5
	// maxCopies is the most requests for one block at once.
	maxCopies = 2
	// maxBadCopies is how many bad copies of one block a source may send
	// before it is never asked for that block again.
	maxBadCopies = 2
)

// Config describes the file and the scheduler's limits. Zero fields get the
// defaults given in their comments.
type Config struct {
	NumBlocks int
	BlockSize int64 // every block is BlockSize long except the last, which is Size-(NumBlocks-1)*BlockSize
	Size      int64

	MinWindow    int64         // bytes in flight a source always may have (default 2*BlockSize, at least 1 block)
	MaxWindow    int64         // per-source cap on bytes in flight (default 64 MiB, at least MinWindow)
	MaxInFlight  int64         // global cap on bytes in flight, all sources together: this bounds the caller's memory (default 64 MiB, at least 1 block)
	RTTMargin    time.Duration // added to the RTT when sizing a window (default 20ms)
	StallTimeout time.Duration // a source with requests outstanding that makes no progress this long is stalled (default 3s)
	MaxStrikes   int           // blocks failing verification before a source is dropped for good (default 3)
	MaxRetries   int           // consecutive failures (down/stall/request errors without a success between) before a source is dropped (default 6)
	BackoffBase  time.Duration // first retry delay after a failure (default 500ms), doubling
	BackoffMax   time.Duration // (default 15s)
	// MinRate, if positive, is the lowest rate in bytes/s a source may
	// keep: one that has had requests outstanding for MinRateWindow
	// without a break and received less than MinRate·MinRateWindow bytes
	// in that time is too slow, and is failed as if it had stalled. 0: no
	// such rule (a source that sends a byte now and then is never stalled).
	MinRate       float64
	MinRateWindow time.Duration // (default 30s)
	// MaxRetryAfter caps the wait a source asks for when it refuses a
	// request (Busy), so that a hostile answer cannot park a source
	// for ever (default 5 min).
	MaxRetryAfter time.Duration

	// Order is the order in which free blocks are handed out (default
	// RarestFirst).
	Order Order
	// TieStart, in RarestFirst, breaks ties between equally rare blocks by
	// index counted from TieStart, wrapping around (default 0: lowest index
	// first). Downloaders of one swarm that each start at a different place
	// ask the full seeds for different blocks first, so that they have
	// something to give each other at once.
	TieStart int
}

// Order says which free block a source is given first.
type Order int

const (
	// RarestFirst gives the block that the fewest usable sources have, ties
	// by lowest index. When every source has every block it is the same as
	// LowestFirst.
	RarestFirst Order = iota
	// LowestFirst gives the lowest block the source has, whatever its
	// rarity: the order for streaming, where the file is read as it arrives.
	LowestFirst
)

func (o Order) String() string {
	switch o {
	case RarestFirst:
		return "rarest-first"
	case LowestFirst:
		return "lowest-first"
	}
	return "unknown"
}

// withDefaults fills zero fields and enforces the documented minimums. It
// panics if the file geometry is inconsistent: that is a programming error in
// the caller, not a runtime condition.
func (c Config) withDefaults() Config {
	if c.Order != RarestFirst && c.Order != LowestFirst {
		panic(fmt.Sprintf("scheduler: unknown Order %d", c.Order))
	}
	if c.NumBlocks < 0 || c.BlockSize < 0 || c.Size < 0 {
		panic(fmt.Sprintf("scheduler: negative geometry in %+v", c))
	}
	if c.NumBlocks > 0 {
		if c.BlockSize <= 0 {
			panic("scheduler: BlockSize must be positive when NumBlocks > 0")
		}
		last := c.Size - int64(c.NumBlocks-1)*c.BlockSize
		if last <= 0 || last > c.BlockSize {
			panic(fmt.Sprintf("scheduler: Size %d does not fit %d blocks of %d bytes", c.Size, c.NumBlocks, c.BlockSize))
		}
	}
	if c.TieStart < 0 || (c.TieStart > 0 && c.TieStart >= c.NumBlocks) {
		c.TieStart = 0
	}
	if c.MinWindow <= 0 {
		c.MinWindow = 2 * c.BlockSize
	}
	c.MinWindow = max(c.MinWindow, c.BlockSize)
	if c.MaxWindow <= 0 {
		c.MaxWindow = DefaultMaxWindow
	}
	c.MaxWindow = max(c.MaxWindow, c.MinWindow)
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	c.MaxInFlight = max(c.MaxInFlight, c.BlockSize)
	if c.RTTMargin <= 0 {
		c.RTTMargin = DefaultRTTMargin
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.MaxStrikes <= 0 {
		c.MaxStrikes = DefaultMaxStrikes
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = DefaultBackoffBase
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	c.BackoffMax = max(c.BackoffMax, c.BackoffBase)
	if c.MinRate < 0 {
		c.MinRate = 0
	}
	if c.MinRateWindow <= 0 {
		c.MinRateWindow = DefaultMinRateWindow
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = DefaultMaxRetryAfter
	}
	return c
}

// blockLen is the length of block i.
func (c *Config) blockLen(i int) int64 {
	if i == c.NumBlocks-1 {
		return c.Size - int64(c.NumBlocks-1)*c.BlockSize
	}
	return c.BlockSize
}

// backoff is the wait after the n-th consecutive failure (n >= 1).
func (c *Config) backoff(n int) time.Duration {
	return BackoffPolicy{Base: c.BackoffBase, Max: c.BackoffMax}.Delay(n)
}
