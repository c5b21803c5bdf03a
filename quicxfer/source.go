package quicxfer

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/scheduler"
)

// source is one seed of a download: its URL, its connection (dialled again
// after it breaks) and its counters.
type source struct {
	url    wire.URL
	raw    string
	id     scheduler.SourceID
	client *Client
	dialTO time.Duration

	// slots are the seed's connections (one unless Options.ConnsPerSeed
	// asks for more); requests take them in turn.
	slots []*slot
	turn  atomic.Uint32

	received  atomic.Int64 // payload bytes received, duplicates and rejected included
	accepted  atomic.Int64 // payload bytes of blocks verified and kept
	blocks    atomic.Int64
	badBlocks atomic.Int64

	// Set by the download loop only.
	note       string    // why it was left out or dropped, for the summary
	leftOut    bool      // serves another file, or not this name: never asked for blocks
	discovered bool      // learnt from another source (GET_PEERS), not given by the user
	haveKnown  bool      // its HAVE (or a sign it is a full seed) has arrived
	asked      int       // requests issued to it
	lastRecv   int64     // received, as of the last tick
	lastData   time.Time // the tick at which received last grew
}

// slot is one connection to a seed. conn is read without waiting (the
// download loop reads it every tick); dialing serialises dials and is never
// held by the loop, so a seed whose dial hangs until its timeout holds up
// only its own requests.
type slot struct {
	conn    atomic.Pointer[Conn]
	dialing chan struct{} // a one-slot semaphore
}

func newSource(u wire.URL, raw string, client *Client, dialTO time.Duration, conns int) *source {
	s := &source{url: u, raw: raw, client: client, dialTO: dialTO}
	for range max(conns, 1) {
		s.slots = append(s.slots, &slot{dialing: make(chan struct{}, 1)})
	}
	return s
}

// live returns the slot's connection if it has not ended.
func (sl *slot) live() *Conn {
	c := sl.conn.Load()
	if c == nil {
		return nil
	}
	select {
	case <-c.Done():
		return nil
	default:
		return c
	}
}

// connect returns a live connection to the seed, taking the slots in turn
// and dialling a new connection for a slot that has none or whose
// connection ended. Only one dial per slot runs at a time; callers waiting
// for it give up when ctx ends.
func (s *source) connect(ctx context.Context) (*Conn, error) {
	sl := s.slots[int(s.turn.Add(1)-1)%len(s.slots)]
	if c := sl.live(); c != nil {
		return c, nil
	}
	select {
	case sl.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-sl.dialing }()
	if c := sl.live(); c != nil {
		return c, nil // dialled by the caller we waited for
	}
	ctx, cancel := context.WithTimeout(ctx, s.dialTO)
	defer cancel()
	c, err := s.client.Dial(ctx, s.url)
	if err != nil {
		return nil, err
	}
	if old := sl.conn.Swap(c); old != nil {
		_ = old.Close()
	}
	return c, nil
}

// reset forgets conn (if a slot still holds it) and closes it, so the next
// request on that slot dials again.
func (s *source) reset(conn *Conn) {
	if conn == nil {
		return
	}
	for _, sl := range s.slots {
		if sl.conn.CompareAndSwap(conn, nil) {
			_ = conn.Close()
		}
	}
}

// current returns the first connection, live or not, without waiting: the
// one whose RTT the scheduler is told.
func (s *source) current() *Conn { return s.slots[0].conn.Load() }

func (s *source) close() {
	for _, sl := range s.slots {
		if c := sl.conn.Swap(nil); c != nil {
			_ = c.Close()
		}
	}
}

// outcome is what a failed request means for the scheduler.
type outcome int

const (
	outFailed      outcome = iota // this request failed; the seed may be fine
	outDown                       // the seed is unusable for now: connection gone, unreachable, no longer serves the content
	outRejected                   // the seed broke the protocol for this block: counts like a block that failed verification
	outUnavailable                // a peer does not have the block (yet): not a failure
)

// classify maps err from a request on conn (nil when the dial failed).
func classify(err error, conn *Conn) outcome {
	if conn == nil {
		return outDown
	}
	select {
	case <-conn.Done():
		return outDown
	default:
	}
	switch {
	case errors.Is(err, wire.ErrNotAvailable):
		return outUnavailable
	case errors.Is(err, wire.ErrNotFound), errors.Is(err, wire.ErrShuttingDown),
		errors.Is(err, wire.ErrUnauthorized), errors.Is(err, wire.ErrFileChanged):
		return outDown
	case errors.Is(err, wire.ErrWrongLength), errors.Is(err, wire.ErrUnexpectedFrame),
		errors.Is(err, wire.ErrUnknownFrame), errors.Is(err, wire.ErrFrameTooLarge),
		errors.Is(err, wire.ErrMalformed), errors.Is(err, io.ErrUnexpectedEOF):
		return outRejected
	}
	return outFailed
}
