package quicxfer

import (
	"fmt"

	"github.com/quicxfer/quicxfer/scheduler"
)

// SourceState is the state of one source of a running download
// (SeedProgress.State). Its text is its name (String, MarshalText), the
// word the CLI's views and JSON show.
type SourceState string

// The states of a source.
const (
	StateProbing    SourceState = "probing"    // usable, its rate not measured yet
	StateActive     SourceState = "active"     // usable, with a measured rate
	StateBackoff    SourceState = "backoff"    // failed recently, waits before it is tried again
	StateConnecting SourceState = "connecting" // its backoff is over, and it is being connected to
	StateDropped    SourceState = "dropped"    // never used again
	// StateShutdown is a seed that said it is shutting down (it closed its
	// connection with SHUTTING_DOWN) and has not been reached since: it is
	// tried again with backoff, like a seed that went away, but it is not
	// failing.
	StateShutdown SourceState = "shutdown"
	// StateGone is a source dropped because it went away: its connection
	// was lost, or could not be made, until it was given up, or it shut
	// down and did not come back. Like StateDropped, it is never used
	// again; the word says it left rather than failed.
	StateGone SourceState = "gone"
)

var sourceStates = []SourceState{StateProbing, StateActive, StateBackoff, StateConnecting, StateDropped, StateShutdown, StateGone}

func (s SourceState) String() string { return string(s) }

// MarshalText gives the state's name.
func (s SourceState) MarshalText() ([]byte, error) { return []byte(s), nil }

// UnmarshalText reads a state's name; any other text is an error.
func (s *SourceState) UnmarshalText(b []byte) error {
	for _, st := range sourceStates {
		if string(b) == string(st) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("unknown source state %q", b)
}

// stateOf is the SourceState of a source of which the scheduler says st;
// shutdown says the source is a seed that said it is shutting down.
func stateOf(st scheduler.SourceStats, shutdown bool) SourceState {
	switch st.State {
	case scheduler.Probing:
		return StateProbing
	case scheduler.Active:
		return StateActive
	case scheduler.Backoff:
		if shutdown {
			return StateShutdown
		}
		return StateBackoff
	case scheduler.Connecting:
		if shutdown {
			return StateShutdown
		}
		return StateConnecting
	case scheduler.Dropped:
		if shutdown || st.LastFailure == scheduler.FailDown && st.DropReason != "removed" {
			return StateGone
		}
		return StateDropped
	}
	return SourceState(st.State.String())
}
