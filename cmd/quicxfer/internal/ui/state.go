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
	// stateBackoff: a source the library waits for before trying it again.
	stateBackoff = quicxfer.StateBackoff
	// stateDropped: a source never used again (an event).
	stateDropped = quicxfer.StateDropped
	// stateGone (the views' own): a source that left: it went down or
	// stalled (an event) and did not join again, whether the library
	// waits for it, connects to it again or still counts it usable; or it
	// is no longer in the snapshots.
	stateGone sourceState = "gone"
	// stateStopped (the views' own): in the last picture of a download
	// that failed or was interrupted, a source that was still in use.
	stateStopped sourceState = "stopped"
	// stateIdle: in a directory's progress event, a source that no file
	// in progress uses (the views' own: no source of a download is idle).
	stateIdle sourceState = "idle"
)

// stateRank orders a source's states across the files in progress: the
// set shows the best.
var stateRank = map[sourceState]int{
	quicxfer.StateActive: 7, quicxfer.StateProbing: 6, quicxfer.StateConnecting: 5,
	quicxfer.StateBackoff: 4, quicxfer.StateShutdown: 3, stateGone: 2, quicxfer.StateDropped: 1,
}

// betterState reports whether a is a better state than b (stateRank).
func betterState(a, b sourceState) bool { return stateRank[a] > stateRank[b] }

// showsReason reports whether a source in state s shows why: it is down,
// gone, dropped or shutting down.
func showsReason(s sourceState) bool {
	return s == stateDropped || s == stateBackoff || s == stateGone || s == quicxfer.StateShutdown
}

// shownState is the state a source in the library's state lib is shown
// in: gone if an event said it went down or stalled (down) and it did not
// join again since, unless the library dropped it or it said it is
// shutting down (those say more); else lib. The library may count a
// source that stalled usable (probing) all the same.
func shownState(lib sourceState, down bool) sourceState {
	if down && lib != stateDropped && lib != quicxfer.StateShutdown {
		return stateGone
	}
	return lib
}

// inUse reports whether a source in state s still takes part in the
// download: the last picture of one that stopped shows it stopped.
func inUse(s sourceState) bool {
	return s == quicxfer.StateActive || s == quicxfer.StateProbing || s == quicxfer.StateConnecting || s == stateBackoff
}

// delivering reports whether a source in state s may send blocks now:
// without one, there is no time left to estimate.
func delivering(s sourceState) bool {
	return s == quicxfer.StateActive || s == quicxfer.StateProbing
}

// stateText is s as the lines and the JSON events write it.
func stateText(s sourceState) string { return s.String() }
