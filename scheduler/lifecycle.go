package scheduler

import (
	"fmt"
	"time"
)

// A source's life in the scheduler: added, measured, connected again after
// a backoff, down, dropped or removed.

// AddSource registers a new source, which starts probing. Sources can be added
// at any time.
func (s *Scheduler) AddSource(now time.Time) SourceID {
	s.tick(now)
	src := &source{id: SourceID(len(s.sources) + 1), since: now}
	src.resetRate(now)
	s.sources = append(s.sources, src)
	s.countAvail(src, +1)
	return src.id
}

// SetConnects says that the caller connects to src itself (a seed it keeps
// a connection to) and must do so before src is asked for blocks after a
// backoff: when src's backoff ends, Next returns a Connect for it instead
// of making it usable, and it waits in the Connecting state, given nothing
// and never stalled, until the caller reports Connected (usable again,
// probing) or SourceDown (one more failure, a longer backoff). A source
// whose connection may be stale (it stalled) is so connected again before
// it is trusted with blocks, and a dial that takes long is not taken for a
// stall.
func (s *Scheduler) SetConnects(src SourceID) {
	if x := s.source(src); x != nil {
		x.connects = true
	}
}

// Connected reports that the caller has a connection to src, which was
// waiting for one (a Connect): src is usable again, with an unknown rate.
// It is ignored for a source in any other state.
func (s *Scheduler) Connected(src SourceID, now time.Time) {
	s.tick(now)
	if x := s.source(src); x != nil && x.state == connecting {
		s.back(x, now)
	}
}

// SetRTT records the round-trip time to src, used to size its window. Until it
// is called a source is assumed to be 100ms away.
func (s *Scheduler) SetRTT(src SourceID, rtt time.Duration) {
	if x := s.source(src); x != nil {
		x.rtt = rtt
	}
}

// SetMinWindow sets src's own minimum window to n bytes (rounded up to
// one block): the bytes in flight it always may have, whatever its rate.
// A caller with several connections to one source gives it a block per
// connection this way. It only ever raises Config.MinWindow; n ≤ 0 goes
// back to it. A minimum window above Config.MaxWindow raises the source's
// cap to it; MaxInFlight still bounds every source together.
func (s *Scheduler) SetMinWindow(src SourceID, n int64) {
	if x := s.source(src); x != nil {
		if n > 0 {
			n = max(n, s.cfg.BlockSize)
		}
		x.minWindow = max(n, 0)
	}
}

// Progress reports total, the cumulative payload bytes received from src so
// far (monotone non-decreasing, including partial blocks). It drives the rate
// estimate and stall detection; call it as bytes arrive, and before the
// Finish (Delivered) of the block those bytes complete.
func (s *Scheduler) Progress(src SourceID, total int64, now time.Time) {
	s.tick(now)
	if x := s.source(src); x != nil && x.state != dropped {
		x.progress(total, now)
	}
}

// Held reports that the caller itself held back src's data since the last
// call (a speed limit of its own: the source's bytes wait to be read): the
// source is not to blame, so it counts as progress for the stall rule, and
// the minimum rate measurement (Config.MinRate) starts over from now.
func (s *Scheduler) Held(src SourceID, now time.Time) {
	s.tick(now)
	x := s.source(src)
	if x == nil || x.state == dropped {
		return
	}
	x.lastProgress = later(x.lastProgress, now)
	if !x.slowMark.IsZero() {
		x.slowMark, x.slowBytes = now, x.total
	}
}

// back makes x usable again after a backoff, with an unknown rate.
func (s *Scheduler) back(x *source, now time.Time) {
	x.state = usable
	x.since = now
	x.resetRate(now)
	x.slowMark = time.Time{}
	if len(x.reqs) > 0 {
		x.slowMark, x.slowBytes = now, x.total
	}
	s.countAvail(x, +1)
}

// SourceDown reports that the connection to src was lost or could not be
// made (also the answer to a Connect that failed). Every request of src
// comes back as a Cancel; src waits with exponential backoff and then gets
// a probe window again (or a Connect, see SetConnects), or is dropped after
// MaxRetries consecutive failures. It is ignored for a source already in
// backoff or dropped.
func (s *Scheduler) SourceDown(src SourceID, now time.Time) []Action {
	s.tick(now)
	x := s.source(src)
	if x == nil || (x.state != usable && x.state != connecting) {
		return nil
	}
	return s.failSource(x, FailDown, now, nil)
}

// Remove drops src for good (e.g. it serves a different file); its requests
// come back as Cancels.
func (s *Scheduler) Remove(src SourceID) []Action {
	x := s.source(src)
	if x == nil || x.state == dropped {
		return nil
	}
	return s.drop(x, "removed", s.clock, nil)
}

// failSource handles a lost connection, a stall or a source too slow:
// cancel everything, then back off or, at MaxRetries, drop.
func (s *Scheduler) failSource(x *source, why Failure, now time.Time, acts []Action) []Action {
	x.failures++
	x.lastFail = why
	if x.failures >= s.cfg.MaxRetries {
		acts = s.cancelAllFor(x, why, now, acts)
		return s.drop(x, fmt.Sprintf("%d consecutive failures", x.failures), now, acts)
	}
	acts = s.cancelAllFor(x, why, now, acts)
	if x.state == usable {
		s.countAvail(x, -1)
	}
	x.state = backingOff
	x.backoffUntil = now.Add(s.cfg.backoff(x.failures))
	return acts
}

func (s *Scheduler) drop(x *source, reason string, now time.Time, acts []Action) []Action {
	acts = s.cancelAll(x, now, acts)
	if x.state == usable {
		s.countAvail(x, -1)
	}
	x.state = dropped
	x.dropReason = reason
	return acts
}
