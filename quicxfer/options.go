package quicxfer

import (
	"math"
	"net/http"
	"runtime"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
	"github.com/quicxfer/quicxfer/scheduler"
)

// Defaults of Options.LowestSpeedLimit and LowestSpeedTime: a source that
// sends less than 1 kB/s over 30 s of requests outstanding is too slow.
// Below that a block of the smallest size (128 KiB) takes over two minutes:
// no link a download is worth running over is that slow, but a source that
// trickles on purpose (or a path that nearly died) is, and would otherwise
// hold its blocks, and the download, for hours.
const (
	DefaultLowestSpeedLimit = 1000
	DefaultLowestSpeedTime  = scheduler.DefaultMinRateWindow
)

// Defaults of the other Options. The policies a download shares with the
// scheduler are the scheduler's own: DefaultMaxRetries failures in a row
// drop a source, waiting scheduler.DefaultBackoff between them, and
// DefaultMaxInFlight bytes in flight bound its memory.
const (
	DefaultDialTimeout      = 10 * time.Second
	DefaultSyncInterval     = time.Second
	DefaultProgressInterval = 200 * time.Millisecond
	DefaultMaxInFlight      = scheduler.DefaultMaxInFlight
	DefaultMaxRetries       = scheduler.DefaultMaxRetries
)

// Options says what to download from where.
type Options struct {
	Seeds []string    // seed URLs (quic://...)
	Name  string      // the file's name on the seeds (optional with Manifest, or with ID)
	Out   string      // where the complete file appears
	ID    manifest.ID // if not zero, only a manifest with this content ID is accepted
	// DiscardPartial throws away a partial download of a different file at
	// Out; without it Download refuses it (ErrOtherPartial) and keeps it.
	DiscardPartial bool

	// Mirrors are HTTP(S) URLs of the file itself, read with range
	// requests; their blocks are verified like a seed's.
	Mirrors []string
	// Manifest, if not nil, is the file's manifest (from a manifest file):
	// seeds are then asked for its content ID rather than for Name. With
	// ID too, the two must agree. Mirrors alone (no seed, no Manifest)
	// learn the file's layout from the mirrors (see Size, Checksum).
	Manifest *manifest.Manifest
	// Size, Checksum and Pieces describe a file that has no manifest
	// (mirrors alone): what a Metalink, a checksum file or the user says
	// of it. Size, if positive, is its size (the mirrors must agree;
	// else the size most of them say is taken). Checksum, if not nil, is
	// the hash of the whole file: Download then succeeds only if the
	// whole file matches it (hashed as it arrives; a mismatch is repaired
	// by fetching again the blocks of the mirror that sent bad ones).
	// Pieces, if not nil, are hashes of its pieces, each piece then one
	// block, verified before it is written. With seeds, which give the
	// manifest, Checksum is checked too, at the end.
	Size     int64
	Checksum *verify.Hash
	Pieces   *PieceHashes
	// HTTPClient, if not nil, is used for every mirror; else one is made
	// with NewHTTPClient and the trust settings of Auth (or of Client).
	HTTPClient *http.Client
	// AllowInsecureRedirect lets an https mirror redirect to plain http.
	// By default such a mirror is dropped (ErrInsecureRedirect): the user
	// asked for https. Redirects are otherwise followed, and reported
	// against the mirror's URL as given (its note says where it went).
	AllowInsecureRedirect bool

	Client       *Client       // optional: share a client (and its UDP socket); else one is made and closed
	Auth         ClientOptions // token, client certificate and trust for the client made when Client is nil
	DialTimeout  time.Duration // per seed, default DefaultDialTimeout
	SyncInterval time.Duration // how often verified blocks are made durable and recorded, default DefaultSyncInterval (ShareSyncInterval with Share)
	MaxInFlight  int64         // bytes in flight over all seeds: the memory bound (default DefaultMaxInFlight)
	// ConnsPerSeed is how many QUIC connections to open to each seed. On
	// a path with random loss one connection's congestion control
	// (quic-go's NewReno) caps its rate far below the link's; several
	// connections share the link the way aria2's -x does. 0 is 1 (the
	// default); a positive number is used as is for every seed; ConnsAuto
	// adapts the number per seed: 1 at first, more while each step up
	// raises the seed's rate by over 15 %, up to MaxConnsPerSeed (see
	// adapt.go). Not the default: downloaders that share one bottleneck
	// each see their rate rise as they take share from the others, so
	// each would grow to the cap.
	ConnsPerSeed int
	// MaxConnsPerSeed caps the adaptive number of connections (default
	// DefaultMaxConnsPerSeed); unused with a positive ConnsPerSeed.
	MaxConnsPerSeed int
	// decider, if set (tests), replaces connAdapter in the adaptive mode.
	decider func(maxConns int) connDecider
	Workers int // goroutines for re-checking a partial file (default GOMAXPROCS)
	// MaxRetries is how many failures in a row (connection lost or refused,
	// a stall, a request error) drop a source; between them it waits as
	// scheduler.DefaultBackoff says. 0 is DefaultMaxRetries (the
	// scheduler's: about 30 s of trying); negative never drops a source for
	// failing (a source that sends bad blocks is still dropped).
	MaxRetries int
	// LowestSpeedLimit is the lowest rate, in bytes/s, a source may keep
	// (like aria2's --lowest-speed-limit): one that has had requests out
	// for LowestSpeedTime without a break and sent less than that on
	// average is treated as stalled (its blocks go elsewhere, it is tried
	// again after a backoff, and it counts toward MaxRetries), so that a
	// source that trickles a byte a second does not hold the download for
	// ever. 0 is DefaultLowestSpeedLimit; negative turns the rule off.
	LowestSpeedLimit float64
	// LowestSpeedTime is how long a busy source is measured for
	// LowestSpeedLimit (default DefaultLowestSpeedTime).
	LowestSpeedTime time.Duration
	// RateLimit, if positive, is the most bytes per second the download
	// receives, over all its sources together (curl's --limit-rate,
	// aria2's --max-download-limit); 0 is no limit. The bytes are paid for
	// as they are read, in steps of at most 64 KiB, so that a slow limit
	// still shows steady progress; a source slowed by it is never taken
	// for stalled or too slow (LowestSpeedLimit). In DownloadDir's Base it
	// is the whole directory's limit, shared by the files fetched at once.
	RateLimit float64
	// limiter, if set, is the limiter this download shares with others
	// (DownloadDir's files share one for Base.RateLimit), in place of one of
	// its own for RateLimit.
	limiter *byteLimiter
	// readBack says the download reads its own blocks back from the part
	// file as they come (the prefix hash of a checksum): they are written
	// through the page cache then, not with O_DIRECT.
	readBack bool

	// Logf receives one-line messages for the user (seeds left out or
	// dropped, damaged partial state, ...). Nil discards them.
	Logf func(format string, args ...any)
	// Debugf, if set, receives the download's decisions about each source,
	// one line each, for a debug log: each seed's answer in the manifest
	// vote and who was left out, each change of a source's state with its
	// reason (a backoff with its delay, a stall, a drop and what led to
	// it), and each change of a seed's number of connections. They come
	// besides Logf's messages, which stay as they are. Nil discards them.
	Debugf func(format string, args ...any)
	// DescribeError says a source's error as the short phrase that the
	// download's messages, notes and errors give for it (default Describe,
	// in the library's words); a caller gives its own to say them in its
	// words (a CLI names the flags that give what a seed needs).
	DescribeError func(error) string
	// OnProgress, if set, is called from the download loop about every
	// ProgressInterval (default DefaultProgressInterval), and once at the end.
	OnProgress       func(Progress)
	ProgressInterval time.Duration
	// OnEvent, if set, is called from the download loop for each Event
	// (start, a source joined, down, dropped, stalled, a block rejected).
	OnEvent func(Event)

	// Share, if set, is given the download's blocks as they become durable,
	// to serve them (see Sharer).
	Share Sharer
	// SelfURLs are the URLs at which Share serves; one of them is
	// registered with each source (GET_PEERS), so that the source tells
	// its other clients about this one.
	SelfURLs []string
	// MaxPeers is the most sources learnt from other sources (GET_PEERS)
	// that the download adds (default DefaultMaxPeers; negative: none).
	MaxPeers int
	// PeersInterval is how often every source is asked for others (and
	// this side registered again), default DefaultPeersInterval.
	PeersInterval time.Duration
	// LowestFirst asks for blocks in index order rather than rarest first
	// (for streaming).
	LowestFirst bool
}

func (o *Options) fill() {
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = DefaultSyncInterval
		if o.Share != nil {
			// A block is shared once durable: peers should not wait a
			// second for what this side has.
			o.SyncInterval = ShareSyncInterval
		}
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxConnsPerSeed <= 0 {
		o.MaxConnsPerSeed = DefaultMaxConnsPerSeed
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.DescribeError == nil {
		o.DescribeError = Describe
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = DefaultProgressInterval
	}
	if o.MaxPeers == 0 {
		o.MaxPeers = DefaultMaxPeers
	}
	if o.PeersInterval <= 0 {
		o.PeersInterval = DefaultPeersInterval
	}
	if o.LowestSpeedLimit == 0 {
		o.LowestSpeedLimit = DefaultLowestSpeedLimit
	}
	if o.LowestSpeedTime <= 0 {
		o.LowestSpeedTime = DefaultLowestSpeedTime
	}
}

// ShareSyncInterval is the default Options.SyncInterval of a downloader that
// shares what it has: its blocks reach its peers this long after they
// arrive, at the cost of four syncs a second.
const ShareSyncInterval = 250 * time.Millisecond

// ConnsAuto is Options.ConnsPerSeed for connections that adapt per seed.
const ConnsAuto = -1

// maxRetries maps Options.MaxRetries to the scheduler's.
func maxRetries(n int) int {
	switch {
	case n < 0:
		return math.MaxInt32 // never, in practice
	case n == 0:
		return DefaultMaxRetries
	}
	return n
}

// debugf sends a line to Debugf, if set.
func (o *Options) debugf(format string, args ...any) {
	if o.Debugf != nil {
		o.Debugf(format, args...)
	}
}
