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

	// conn is read without waiting (the download loop reads it every tick);
	// dialing serialises dials, and is never held by the loop, so a seed
	// whose dial hangs until its timeout holds up only its own requests.
	conn    atomic.Pointer[Conn]
	dialing chan struct{} // a one-slot semaphore; made by newSource

	received  atomic.Int64 // payload bytes received, duplicates and rejected included
	accepted  atomic.Int64 // payload bytes of blocks verified and kept
	blocks    atomic.Int64
	badBlocks atomic.Int64

	// Set by the download loop only.
	note     string    // why it was left out or dropped, for the summary
	leftOut  bool      // serves another file, or not this name: never asked for blocks
	asked    int       // requests issued to it
	lastRecv int64     // received, as of the last tick
	lastData time.Time // the tick at which received last grew
}

func newSource(u wire.URL, raw string, client *Client, dialTO time.Duration) *source {
	return &source{url: u, raw: raw, client: client, dialTO: dialTO, dialing: make(chan struct{}, 1)}
}

// live returns the current connection if it has not ended.
func (s *source) live() *Conn {
	c := s.conn.Load()
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

// connect returns the live connection, dialling a new one when there is
// none or the old one ended. Only one dial runs at a time; callers waiting
// for it give up when ctx ends.
func (s *source) connect(ctx context.Context) (*Conn, error) {
	if c := s.live(); c != nil {
		return c, nil
	}
	select {
	case s.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.dialing }()
	if c := s.live(); c != nil {
		return c, nil // dialled by the caller we waited for
	}
	ctx, cancel := context.WithTimeout(ctx, s.dialTO)
	defer cancel()
	c, err := s.client.Dial(ctx, s.url)
	if err != nil {
		return nil, err
	}
	if old := s.conn.Swap(c); old != nil {
		_ = old.Close()
	}
	return c, nil
}

// reset forgets conn (if it is still the current one) and closes it, so the
// next request dials again.
func (s *source) reset(conn *Conn) {
	if conn != nil && s.conn.CompareAndSwap(conn, nil) {
		_ = conn.Close()
	}
}

// current returns the connection, live or not, without waiting.
func (s *source) current() *Conn { return s.conn.Load() }

func (s *source) close() {
	if c := s.conn.Swap(nil); c != nil {
		_ = c.Close()
	}
}

// outcome is what a failed request means for the scheduler.
type outcome int

const (
	outFailed   outcome = iota // this request failed; the seed may be fine
	outDown                    // the seed is unusable for now: connection gone, unreachable, no longer serves the content
	outRejected                // the seed broke the protocol for this block: counts like a block that failed verification
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
