package quicxfer

import (
	"time"

	"github.com/quicxfer/quicxfer/scheduler"
)

// The download's debug lines (Options.Debugf): the decisions about each
// source, besides the messages Logf gives. The vote's are in vote.go.

// debugState is what the debug lines last said of a source.
type debugState struct {
	told  bool
	state scheduler.State
	until time.Time // the end of the backoff last told
}

// debugStates tells Debugf of each source whose state changed since it
// last looked: each backoff with its delay and what led to it, each
// connect, each return to use. A drop is told by dropped, with its reason.
func (l *loop) debugStates(now time.Time) {
	if l.opts.Debugf == nil {
		return
	}
	for id, s := range l.byID {
		st := l.sched.Stats(id)
		if s.debug.told && st.State == s.debug.state && (st.State != scheduler.Backoff || st.BackoffUntil.Equal(s.debug.until)) {
			continue
		}
		prev, told := s.debug.state, s.debug.told
		s.debug = debugState{told: true, state: st.State, until: st.BackoffUntil}
		switch st.State {
		case scheduler.Backoff:
			why := st.LastFailure.String()
			if s.lastErr != "" {
				why += ": " + s.lastErr
			}
			l.opts.Debugf("%s %s: backoff %s (failure %d in a row, %s)", s.kind, s.raw, st.BackoffUntil.Sub(now).Round(time.Millisecond), st.Failures, why)
		case scheduler.Dropped:
		default:
			if told {
				l.opts.Debugf("%s %s: %s, was %s", s.kind, s.raw, st.State, prev)
			}
		}
	}
}

// debugDropped tells Debugf why s was dropped: the loop's reason and the
// scheduler's record of it.
func (l *loop) debugDropped(s *source, reason string) {
	if l.opts.Debugf == nil {
		return
	}
	if s.id == 0 {
		l.opts.Debugf("%s %s dropped: %s", s.kind, s.raw, reason)
		return
	}
	st := l.sched.Stats(s.id)
	l.opts.Debugf("%s %s dropped: %s (scheduler: %s; %d failures in a row, the last %s; %d blocks rejected; %d delivered)",
		s.kind, s.raw, reason, st.DropReason, st.Failures, st.LastFailure, len(st.RejectedBlocks), st.DeliveredBlocks)
	s.debug = debugState{told: true, state: scheduler.Dropped}
}
