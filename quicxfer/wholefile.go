package quicxfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"

	"github.com/quicxfer/quicxfer/scheduler"
)

// errStreamClosed is the error of a whole-file request after the download
// ended.
var errStreamClosed = errors.New("mirror closed")

// wholeStream reads, for a mirror that ignores Range and is the only source
// left, one answer of the whole file from its start, block after block: a
// request for the block at offset off waits for the requests for lower
// offsets, skips what lies between, and reads its block, which the caller
// verifies like any. A request below where the answer has got to (a block
// asked again) starts a new answer (asking for "bytes=off-", in case the
// mirror does honour that). Requests are known from the moment they are
// issued (expect), in the download loop's order, so that one whose
// goroutine is late does not find the answer already past it. The zero
// value is ready; close ends it.
type wholeStream struct {
	mu      sync.Mutex
	cond    sync.Cond // L is &mu, set on first use
	body    io.ReadCloser
	pos     int64   // bytes of the file read from body (its first one's offset, then onwards)
	waiting []int64 // offsets of the requests issued and not done, in no order
	busy    bool    // a request is reading body
	closed  bool
}

// expect notes a request for the block at off, issued now: requests for
// higher offsets wait for it.
func (w *wholeStream) expect(off int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting = append(w.waiting, off)
}

// forget drops the note of a request for off that is served otherwise.
func (w *wholeStream) forget(off int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := slices.Index(w.waiting, off); i >= 0 {
		w.waiting = slices.Delete(w.waiting, i, i+1)
		if w.cond.L != nil {
			w.cond.Broadcast()
		}
	}
}

// fetch reads the block at off (len(buf) bytes) of the file that f serves.
func (w *wholeStream) fetch(ctx context.Context, f *httpFetcher, off int64, buf []byte, on progress) (scheduler.Outcome, error) {
	w.mu.Lock()
	if w.cond.L == nil {
		w.cond.L = &w.mu
	}
	if !slices.Contains(w.waiting, off) {
		w.waiting = append(w.waiting, off) // issued before it was known to be needed
	}
	wake := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer wake()
	for (w.busy || slices.Min(w.waiting) != off) && ctx.Err() == nil && !w.closed {
		w.cond.Wait()
	}
	w.waiting = slices.Delete(w.waiting, slices.Index(w.waiting, off), slices.Index(w.waiting, off)+1)
	if ctx.Err() != nil || w.closed {
		w.cond.Broadcast() // the next lowest may go
		w.mu.Unlock()
		if ctx.Err() != nil {
			return scheduler.Failed, ctx.Err()
		}
		return scheduler.Failed, errStreamClosed
	}
	w.busy = true
	body, pos := w.body, w.pos
	w.mu.Unlock()

	out, err, body, pos := w.read(ctx, f, body, pos, off, buf, on)

	w.mu.Lock()
	w.busy = false
	if w.closed && body != nil {
		_ = body.Close()
		body = nil
	}
	w.body, w.pos = body, pos
	w.cond.Broadcast()
	w.mu.Unlock()
	return out, err
}

// read reads the block at off from body (at pos; nil: none yet), opening a
// new answer if needed, and returns the body to go on with (nil if it
// ended or failed) and where it is.
func (w *wholeStream) read(ctx context.Context, f *httpFetcher, body io.ReadCloser, pos, off int64, buf []byte, on progress) (scheduler.Outcome, error, io.ReadCloser, int64) {
	if body != nil && pos > off {
		_ = body.Close()
		body = nil
	}
	if body == nil {
		b, start, out, err := w.open(ctx, f, off)
		if err != nil {
			return out, err, nil, 0
		}
		w.mu.Lock()
		w.body = b // so that close can end it
		w.mu.Unlock()
		body, pos = b, start
	}
	// Only closing the answer ends a Read that waits: a request cancelled
	// (stalled, or the download over) does so.
	stop := context.AfterFunc(ctx, func() { _ = body.Close() })
	fail := func(out scheduler.Outcome, err error) (scheduler.Outcome, error, io.ReadCloser, int64) {
		stop()
		_ = body.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return out, err, nil, 0
	}
	if off > pos {
		k, err := io.CopyN(io.Discard, countingReader{body, on.got}, off-pos)
		pos += k
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("body cut short at %d of %d bytes: %w", pos, f.size, io.ErrUnexpectedEOF)
			}
			return fail(scheduler.Failed, err)
		}
	}
	if out, err := readFull(ctx, body, buf, on); err != nil {
		return fail(out, err)
	}
	pos += int64(len(buf))
	if !stop() || pos >= f.size {
		// Cancelled just as the block came (the answer is closed), or
		// the end of the file: the next request opens another.
		_ = body.Close()
		return scheduler.Delivered, nil, nil, 0
	}
	return scheduler.Delivered, nil, body, pos
}

// open asks f for the file from off on. A mirror that ignores Range answers
// 200 with the whole file (start 0); one that honours it, 206 from off. The
// answer's request lives on after the request for the block that opened it
// (its context is the answer's own, cancelled by closing the body), but
// while it waits for the headers a cancelled ctx stops it.
func (w *wholeStream) open(ctx context.Context, f *httpFetcher, off int64) (io.ReadCloser, int64, scheduler.Outcome, error) {
	actx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	resp, out, err := f.get(actx, fmt.Sprintf("bytes=%d-", off), nil)
	if !stop() {
		if err == nil {
			_ = resp.Body.Close()
		}
		cancel()
		return nil, 0, scheduler.Failed, ctx.Err()
	}
	if err != nil {
		cancel()
		return nil, 0, out, err
	}
	body := &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	switch resp.StatusCode {
	case http.StatusOK:
		if err := checkWhole(resp, f.size); err != nil {
			_ = body.Close()
			return nil, 0, scheduler.Rejected, err
		}
		return body, 0, scheduler.Failed, nil
	case http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		first, last, total, ok := parseContentRange(cr)
		if !ok || first != off || last != f.size-1 || (total >= 0 && total != f.size) {
			_ = body.Close()
			return nil, 0, scheduler.Rejected, fmt.Errorf("%w: Content-Range %q, asked for bytes %d- of %d", ErrBadRange, cr, off, f.size)
		}
		return body, off, scheduler.Failed, nil
	}
	out, err = statusOutcome(resp)
	_ = body.Close()
	return nil, 0, out, err
}

// close ends the answer being read, and every request waiting.
func (w *wholeStream) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.body != nil {
		_ = w.body.Close()
	}
	if w.cond.L != nil {
		w.cond.Broadcast()
	}
}

// cancelBody is a response body whose Close also cancels its request.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// countingReader calls onBytes with the size of every read.
type countingReader struct {
	r       io.Reader
	onBytes func(int)
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && c.onBytes != nil {
		c.onBytes(n)
	}
	return n, err
}
