package ui

import "github.com/quicxfer/quicxfer/quicxfer"

// The one place where the views look at a source's state: what the state
// of a source is (quicxfer.SeedProgress.State, or one the views give it
// from an event), which states show why, which is best, and how a state is
// written. Every other line of the package goes through these.

// sourceState is a source's state as the views keep it: the library's.
type sourceState = quicxfer.SourceState

const (
	// stateProbing: a source an event named before any snapshot did, as
	// the scheduler starts every source.
	stateProbing = quicxfer.StateProbing
	// stateBackoff: a source that went down or stalled (an event); it is
	// tried again later.
	stateBackoff = quicxfer.StateBackoff
	// stateDropped: a source never used again (an event).
	stateDropped = quicxfer.StateDropped
	// stateIdle: in a directory's progress event, a source that no file
	// in progress uses (the views' own: no source of a download is idle).
	stateIdle sourceState = "idle"
)

// stateRank orders a source's states across the files in progress: the
// set shows the best.
var stateRank = map[sourceState]int{
	quicxfer.StateActive: 6, quicxfer.StateProbing: 5, quicxfer.StateConnecting: 4,
	quicxfer.StateBackoff: 3, quicxfer.StateShutdown: 2, quicxfer.StateDropped: 1,
}

// betterState reports whether a is a better state than b (stateRank).
func betterState(a, b sourceState) bool { return stateRank[a] > stateRank[b] }

// showsReason reports whether a source in state s shows why: it is down,
// dropped or shutting down.
func showsReason(s sourceState) bool {
	return s == stateDropped || s == stateBackoff || s == quicxfer.StateShutdown
}

// stateText is s as the lines and the JSON events write it.
func stateText(s sourceState) string { return s.String() }
