package scheduler

import (
	"fmt"
	"slices"
	"time"
)

// What the caller reads of the scheduler: whether the download is done or
// can go on, when to call Next again, and each source's snapshot.

// Done reports whether every block is delivered (or was had at New).
func (s *Scheduler) Done() bool { return s.missing == 0 }

// Missing returns the number of blocks not yet delivered.
func (s *Scheduler) Missing() int { return s.missing }

// InFlight returns the full length of all outstanding requests, the figure
// bounded by MaxInFlight.
func (s *Scheduler) InFlight() int64 { return s.inFlight }

// Err returns nil while the download can still finish. Otherwise it returns
// ErrNoSources when every source added has been dropped, or an error wrapping
// ErrNoValidSource that names the lowest missing block no remaining source may
// serve. Adding a source can make it nil again. With no source added yet it
// is nil.
func (s *Scheduler) Err() error {
	if s.Done() {
		return nil
	}
	var alive *source
	for _, x := range s.sources {
		if x.state != dropped {
			alive = x
			break
		}
	}
	if alive == nil {
		if len(s.sources) > 0 {
			return ErrNoSources
		}
		return nil
	}
	// A block nobody may serve is barred at every live source, so it is
	// among alive's few banned blocks.
	lowest := -1
	for b := range alive.bad {
		if s.blocks[b].done || (lowest >= 0 && b > lowest) {
			continue
		}
		if !s.servable(b) {
			lowest = b
		}
	}
	if lowest >= 0 {
		return fmt.Errorf("block %d: %w", lowest, ErrNoValidSource)
	}
	return nil
}

// NextWake returns the latest time the caller should call Next again if no
// event arrives first (a backoff expires, a stall would be detected), or the
// zero time if nothing is pending.
func (s *Scheduler) NextWake(now time.Time) time.Time {
	var wake time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	for _, x := range s.sources {
		if x.state == backingOff {
			earlier(x.backoffUntil)
		}
		earlier(x.stallDeadline(&s.cfg))
		earlier(x.slowDeadline(&s.cfg))
	}
	return wake
}

// Stats returns a snapshot of src; the zero SourceStats for an unknown ID.
func (s *Scheduler) Stats(src SourceID) SourceStats {
	x := s.source(src)
	if x == nil {
		return SourceStats{}
	}
	st := SourceStats{
		Rate:            x.rate(),
		RTT:             x.rtt,
		InFlightBytes:   x.issued,
		UnreceivedBytes: x.unreceived(),
		InFlightReqs:    len(x.reqs),
		Window:          x.window(&s.cfg),
		Strikes:         x.strikes,
		Failures:        x.failures,
		DeliveredBlocks: x.deliveredBlocks,
		DeliveredBytes:  x.deliveredBytes,
		DropReason:      x.dropReason,
		HaveBlocks:      s.cfg.NumBlocks,
		LastFailure:     x.lastFail,
	}
	for b := range x.bad {
		st.RejectedBlocks = append(st.RejectedBlocks, b)
	}
	slices.Sort(st.RejectedBlocks)
	if x.avail != nil {
		st.HaveBlocks = x.nHave
	}
	switch x.state {
	case usable:
		st.State = Probing
		if st.Rate > 0 {
			st.State = Active
		}
	case backingOff:
		st.State = Backoff
		st.BackoffUntil = x.backoffUntil
	case connecting:
		st.State = Connecting
	case dropped:
		st.State = Dropped
	}
	return st
}
