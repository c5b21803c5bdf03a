package quicxfer

import (
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// EventKind says what happened in a download; see Event.
type EventKind string

// The events a download reports through Options.OnEvent. Their names are
// also the "type" of the CLI's --json-progress events.
const (
	// EventStart: the manifest is agreed and the partial download opened
	// (Name, ID, Size, BlockSize and Resumed are set). It comes before every
	// other event, and only once.
	EventStart EventKind = "start"
	// EventSourceJoined: a source became usable: at the start, a seed
	// that is connected and not left out, or a mirror; a source
	// learnt from another (GET_PEERS), when its HAVE arrives; later, one
	// that delivers its first verified block after it was unreachable, slow
	// to answer, down or stalled.
	EventSourceJoined EventKind = "source_joined"
	// EventSourceDown: a source's connection broke or could not be made
	// (Reason), or it said it is shutting down (Reason "shutting down");
	// it is retried with backoff and may join again. Once per outage. A
	// request it refused as busy, or that failed, is not an outage: the
	// source only waits a backoff.
	EventSourceDown EventKind = "source_down"
	// EventSourceDropped: a source is left out for good (Reason): it serves
	// another file, failed verification too often or failed too often.
	EventSourceDropped EventKind = "source_dropped"
	// EventBlockRejected: a block from a source failed verification or
	// broke the protocol (Block, Reason); it is fetched elsewhere.
	EventBlockRejected EventKind = "block_rejected"
	// EventStalled: a source sent no data for the stall timeout, or less
	// than Options.LowestSpeedLimit for LowestSpeedTime (Reason says
	// which); its requests went to other sources and it is tried again
	// later.
	EventStalled EventKind = "stalled"
)

// Event is one thing that happened during a download, for a display or a
// script. Fields that do not apply to a Kind are zero.
type Event struct {
	Kind   EventKind
	Time   time.Time
	Source string // the source's URL as given (every kind but EventStart)
	Block  int    // EventBlockRejected: the block's index
	Reason string // why (down, dropped, rejected, stalled)

	// EventStart only.
	Name      string
	ID        manifest.ID
	Size      int64
	BlockSize int64
	Resumed   int64 // bytes already verified on disk
}

// emit sends e, stamped with the time, to OnEvent if it is set. It is
// called from the download loop only, so OnEvent is never called
// concurrently.
func (o *Options) emit(e Event) {
	if o.OnEvent == nil {
		return
	}
	e.Time = time.Now()
	o.OnEvent(e)
}

// joins remembers, per source, what the events last said about it, so that
// a source joins once per transition to usable and is reported down or
// dropped once per transition, however many of its requests fail together.
type joins map[*source]joinState

type joinState int

const (
	joinUnknown joinState = iota
	joinJoined
	joinDown
	joinDropped
)

// join emits EventSourceJoined for s unless it is joined or dropped.
func (j joins) join(o *Options, s *source) {
	if st := j[s]; st != joinJoined && st != joinDropped {
		j[s] = joinJoined
		o.emit(Event{Kind: EventSourceJoined, Source: s.raw})
	}
}

// down emits kind (EventSourceDown or EventStalled) for s unless it is
// already down or dropped, and reports whether it did: the first of an
// outage.
func (j joins) down(o *Options, s *source, kind EventKind, reason string) bool {
	if st := j[s]; st != joinDown && st != joinDropped {
		j[s] = joinDown
		o.emit(Event{Kind: kind, Source: s.raw, Reason: reason})
		return true
	}
	return false
}

// drop emits EventSourceDropped for s once.
func (j joins) drop(o *Options, s *source, reason string) {
	if j[s] != joinDropped {
		j[s] = joinDropped
		o.emit(Event{Kind: EventSourceDropped, Source: s.raw, Reason: reason})
	}
}
