package scheduler

import (
	"math"
	"slices"
	"time"
)

// SourceID names a source within one Scheduler. IDs start at 1, so the zero
// value never names a source.
type SourceID int

// State is where a source stands, as reported by Stats.
type State int

// States of a source.
const (
	Probing    State = iota + 1 // usable, rate not measured yet: gets the probe window (MinWindow)
	Active                      // usable, rate known: its window follows its rate
	Backoff                     // failed recently, waits before it is tried again
	Dropped                     // never used again; see SourceStats.DropReason
	Connecting                  // its backoff is over; the caller is connecting to it (see Connected)
)

func (s State) String() string {
	switch s {
	case Probing:
		return "probing"
	case Active:
		return "active"
	case Backoff:
		return "backoff"
	case Dropped:
		return "dropped"
	case Connecting:
		return "connecting"
	}
	return "unknown"
}

// Failure says why a source last failed, as reported by Stats.
type Failure int

// Kinds of Failure.
const (
	NoFailure   Failure = iota
	FailDown            // SourceDown: the connection was lost or could not be made
	FailStall           // no data for StallTimeout with requests outstanding
	FailSlow            // below MinRate for MinRateWindow
	FailRequest         // a request failed (Failed) or was refused (Busy)
)

func (f Failure) String() string {
	switch f {
	case NoFailure:
		return "none"
	case FailDown:
		return "down"
	case FailStall:
		return "stalled"
	case FailSlow:
		return "too slow"
	case FailRequest:
		return "request failed"
	}
	return "unknown"
}

// SourceStats is a snapshot of one source, for progress reports and tests.
type SourceStats struct {
	State           State
	Rate            float64       // estimated bytes/s; 0 while unknown
	RTT             time.Duration // as last given to SetRTT
	InFlightBytes   int64         // full length of its outstanding requests
	UnreceivedBytes int64         // of those, the bytes not received yet (estimate)
	InFlightReqs    int
	Window          int64 // current window, compared with UnreceivedBytes
	Strikes         int   // blocks that failed verification
	Failures        int   // consecutive failures since its last delivery
	DeliveredBlocks int
	DeliveredBytes  int64
	HaveBlocks      int       // blocks it has (NumBlocks for a full seed)
	BackoffUntil    time.Time // when State is Backoff
	DropReason      string    // when State is Dropped
	LastFailure     Failure   // why it last failed (kept after it recovers)
	RejectedBlocks  []int     // blocks it served badly, lowest first
}

// srcState is the internal life cycle; Probing and Active are both usable and
// differ only in whether the rate is known.
type srcState int

const (
	usable srcState = iota
	backingOff
	connecting // backoff over, waiting for the caller's Connected or SourceDown
	dropped
)

type source struct {
	id    SourceID
	state srcState
	rtt   time.Duration
	// minWindow, if above Config.MinWindow, is this source's own minimum
	// window (SetMinWindow): the caller has that many connections to it,
	// each of which needs a block in flight.
	minWindow int64

	// Rate estimate: bytes and busy seconds, both decayed with wall time.
	bytesW, secsW float64
	lastSample    time.Time     // time of the last Progress (or of the reset)
	busyStart     time.Time     // when reqs last went from empty to non-empty
	pendingBusy   time.Duration // busy time since lastSample of busy periods already ended

	// Progress bookkeeping. total is monotone even if the caller's counter is
	// reset (offset absorbs that); accounted is the part of total credited to
	// requests that are no longer outstanding.
	total, raw, offset int64
	accounted          int64
	lastProgress       time.Time // when total last grew

	reqs   []*request // outstanding, in issue order
	issued int64      // full length of reqs

	strikes, failures int
	deliveredBlocks   int
	deliveredBytes    int64
	// bad counts, per block, the copies of it this source served badly: a
	// block it served badly once is asked of it again only when no other
	// usable source may serve it (a byte flipped on the way is not a lie);
	// twice, never.
	bad map[int]int
	// since is when the source last became usable (added, or back from a
	// backoff): a request issued before it that fails belongs to a failure
	// already counted.
	since    time.Time
	lastFail Failure
	// connects: the caller connects to the source itself after a backoff
	// (SetConnects), and the source waits in connecting meanwhile.
	connects bool
	// The minimum rate rule: busy without a break since slowMark, when
	// total was slowBytes. Zero while idle.
	slowMark  time.Time
	slowBytes int64

	// avail is the set of blocks the source has, one bit per block; nil
	// means every block (a full seed). nHave counts its bits.
	avail        []uint64
	nHave        int
	backoffUntil time.Time
	dropReason   string
}

// rate returns the estimated bytes/s, or 0 when unknown.
func (s *source) rate() float64 {
	if s.bytesW <= 0 || s.secsW <= 0 {
		return 0
	}
	return s.bytesW / s.secsW
}

func (s *source) resetRate(now time.Time) {
	s.bytesW, s.secsW = 0, 0
	s.lastSample = now
	s.pendingBusy = 0
	s.busyStart = now
}

// window is the bytes not yet received the source may have outstanding.
func (s *source) window(cfg *Config) int64 {
	minW, maxW := s.minWin(cfg), s.maxWin(cfg)
	r := s.rate()
	if r == 0 {
		return minW
	}
	rtt := s.rtt
	if rtt <= 0 {
		rtt = assumedRTT
	}
	w := 2 * r * (rtt + cfg.RTTMargin).Seconds()
	if w >= float64(maxW) {
		return maxW
	}
	return max(int64(w), minW)
}

// minWin is the source's minimum window: Config.MinWindow or its own.
func (s *source) minWin(cfg *Config) int64 { return max(cfg.MinWindow, s.minWindow) }

// maxWin is the source's cap on bytes in flight: Config.MaxWindow, or its
// minimum window if that is larger.
func (s *source) maxWin(cfg *Config) int64 { return max(cfg.MaxWindow, s.minWindow) }

// received is the estimate of bytes already arrived for outstanding requests.
func (s *source) received() int64 {
	return min(max(s.total-s.accounted, 0), s.issued)
}

func (s *source) unreceived() int64 { return s.issued - s.received() }

// finish estimates when the source would finish extra more bytes after those
// it has outstanding: seconds from now, +Inf for an unknown rate.
func (s *source) finish(extra int64) float64 {
	r := s.rate()
	if r == 0 {
		return math.Inf(1)
	}
	return float64(s.unreceived()+extra) / r
}

// has reports whether the source has block.
func (s *source) has(block int) bool {
	return s.avail == nil || s.avail[block/64]&(1<<(block%64)) != 0
}

// can reports whether the source may be asked for block without second
// thoughts: it has it and never served it badly.
func (s *source) can(block int) bool { return s.has(block) && !s.banned(block) }

// banned reports whether the source served block badly at least once.
func (s *source) banned(block int) bool { return s.bad[block] > 0 }

// barred reports whether the source may never serve block again: it served
// it badly twice.
func (s *source) barred(block int) bool { return s.bad[block] >= maxBadCopies }

// progress records a new cumulative byte count and takes a rate sample.
func (s *source) progress(total int64, now time.Time) {
	if total < s.raw { // the caller's counter restarted: keep ours monotone
		s.offset += s.raw - total
	}
	s.raw = total
	total += s.offset
	delta := total - s.total
	s.total = total

	busy := s.pendingBusy
	if len(s.reqs) > 0 {
		busy += now.Sub(later(s.busyStart, s.lastSample))
	}
	busy = max(busy, 0)
	decay := 1.0
	if el := now.Sub(s.lastSample); el > 0 {
		decay = math.Exp(-el.Seconds() / rateTau.Seconds())
	}
	s.bytesW = s.bytesW*decay + float64(delta)
	s.secsW = s.secsW*decay + busy.Seconds()
	s.lastSample = later(s.lastSample, now)
	s.pendingBusy = 0
	if delta > 0 {
		s.lastProgress = later(s.lastProgress, now)
	}
	// More bytes than outstanding (late bytes of cancelled requests) belong
	// to nothing still outstanding.
	s.accounted = max(s.accounted, s.total-s.issued)
}

func (s *source) addReq(r *request, now time.Time) {
	if len(s.reqs) == 0 {
		s.busyStart = now
		s.slowMark, s.slowBytes = now, s.total
		// Bytes that arrived while idle belong to nothing outstanding.
		s.accounted = max(s.accounted, s.total)
	}
	s.reqs = append(s.reqs, r)
	s.issued += r.length
}

// removeReq forgets r. whole says all its bytes arrived (delivered or
// rejected); otherwise it is credited with its share of the bytes received so
// far for outstanding requests.
func (s *source) removeReq(r *request, whole bool, now time.Time) {
	i := slices.Index(s.reqs, r)
	if i < 0 {
		return
	}
	if whole {
		s.accounted += r.length
	} else if s.issued > 0 {
		s.accounted += s.received() * r.length / s.issued
	}
	s.reqs = slices.Delete(s.reqs, i, i+1)
	s.issued -= r.length
	if len(s.reqs) == 0 {
		s.pendingBusy += max(now.Sub(later(s.busyStart, s.lastSample)), 0)
		s.accounted = max(s.accounted, s.total)
		s.slowMark = time.Time{}
	}
}

// stallDeadline is when the source counts as stalled if nothing arrives; zero
// when it has nothing outstanding. A source in backoff may still have
// requests outstanding (Failed leaves the others running): they stall too.
func (s *source) stallDeadline(cfg *Config) time.Time {
	if s.state == dropped || len(s.reqs) == 0 {
		return time.Time{}
	}
	return later(s.lastProgress, s.reqs[0].issued).Add(cfg.StallTimeout)
}

// slowDeadline is when the minimum rate rule next judges the source; zero
// when there is no such rule or the source is not busy and usable.
func (s *source) slowDeadline(cfg *Config) time.Time {
	if cfg.MinRate <= 0 || s.state != usable || s.slowMark.IsZero() {
		return time.Time{}
	}
	return s.slowMark.Add(cfg.MinRateWindow)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
