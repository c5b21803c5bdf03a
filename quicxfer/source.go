package quicxfer

import (
	"context"
	"errors"
	"io"
	"sync"
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

	mu   sync.Mutex
	conn *Conn

	received  atomic.Int64 // payload bytes received, duplicates and rejected included
	accepted  atomic.Int64 // payload bytes of blocks verified and kept
	blocks    atomic.Int64
	badBlocks atomic.Int64

	// Set by the download loop only.
	note    string // why it was left out or dropped, for the summary
	leftOut bool   // serves another file, or not this name: never asked for blocks
}

// connect returns the live connection, dialling a new one when there is
// none or the old one ended.
func (s *source) connect(ctx context.Context) (*Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		select {
		case <-s.conn.Done():
			s.conn = nil
		default:
			return s.conn, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.dialTO)
	defer cancel()
	c, err := s.client.Dial(ctx, s.url)
	if err != nil {
		return nil, err
	}
	s.conn = c
	return c, nil
}

// reset forgets conn (if it is still the current one) and closes it, so the
// next request dials again.
func (s *source) reset(conn *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if conn != nil && s.conn == conn {
		_ = conn.Close()
		s.conn = nil
	}
}

func (s *source) current() *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

func (s *source) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
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
