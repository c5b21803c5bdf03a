package quicxfer

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/scheduler"
)

// fetcher is where a source's blocks come from: a seed over QUIC
// (seedFetcher, below) or an HTTP(S) mirror (httpFetcher, httpsource.go).
// The download loop treats every source alike through it: the same
// scheduler, counters, verification and notes.
type fetcher interface {
	// fetch reads block index of the content id, at byte offset off of
	// the file, into buf, whose length is the block's. onBytes is called
	// with the size of each piece of payload as it arrives. The bytes are
	// not verified here. On error it also says what the failure means for
	// the scheduler.
	fetch(ctx context.Context, id manifest.ID, index int, off int64, buf []byte, onBytes func(int)) (scheduler.Outcome, error)
	// ready reports, without waiting, whether the source may be asked for
	// blocks at the start; one that is not starts in backoff.
	ready() bool
	// rtt returns the latest round-trip time measured, 0 if none yet.
	rtt() time.Duration
	// close releases the source's connections.
	close()
}

// issueNoter is a fetcher that wants to know of each request as the
// download loop issues it, in the loop's order, before the request's own
// goroutine runs (a mirror read as a whole file serves them in that order).
type issueNoter interface {
	issued(off int64)
}

// source is one source of a download (a seed or a mirror): its fetcher and
// its counters.
type source struct {
	kind string // "seed" or "mirror", for messages
	raw  string // the URL as the user gave it
	id   scheduler.SourceID
	f    fetcher

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
	lastErr  string    // the last request error, described, for the summary

	tempNote bool // note says it was unreachable or stalled: cleared when it delivers a block
	toldBusy bool // the user was told it is busy (once per download)
	shutdown bool // it said it is shutting down, and has not been reached since
	// toldRedirect is where the user was last told the mirror redirects;
	// toldRanges, toldWhole: that it ignores Range requests, and that it
	// is read as a whole file.
	toldRedirect          string
	toldRanges, toldWhole bool
	asking                bool        // a GET_PEERS request to it is in flight
	adapt                 connDecider // decides its number of connections (a seed, Options.ConnsPerSeed 0); nil: fixed
	maxConns              int         // the most connections it had at once (a seed)

	discovered bool // learnt from another source (GET_PEERS), not given by the user
	haveKnown  bool // its HAVE (or a sign it is a full seed) has arrived

	// ctx is the source's own context, derived from the loop's: stop
	// cancels it when the source is dropped, ending its HAVE watcher and
	// any GET_PEERS request to it.
	ctx  context.Context
	stop context.CancelFunc
}

// key identifies the source among a download's others: a seed's
// normalised URL, a mirror's URL (raw may be redacted).
func (s *source) key() string {
	switch f := s.f.(type) {
	case *seedFetcher:
		return f.url.String()
	case *httpFetcher:
		return f.url
	}
	return s.raw
}

// resetConns closes a seed's connections, so that it is dialled again
// rather than trusted on a connection that may be dead without knowing it
// yet (its peer gone without a word: QUIC finds out only at its idle
// timeout). A mirror's connections are the HTTP client's own.
func (s *source) resetConns() {
	if sf, ok := s.f.(*seedFetcher); ok {
		sf.close()
	}
}

// seedConn returns a live connection to the source, which must be a seed,
// for the requests only seeds answer (HAVE, PEERS).
func (s *source) seedConn(ctx context.Context) (*Conn, error) {
	return s.f.(*seedFetcher).connect(ctx)
}

// seedFetcher is a seed: its URL and its connections (dialled again after
// they break).
type seedFetcher struct {
	url    wire.URL
	client *Client
	dialTO time.Duration

	// slots are the seed's possible connections; the first active ones
	// are in use, and block requests take them in turn. Their number is
	// fixed (Options.ConnsPerSeed) or set by the download loop as its
	// connAdapter decides (setActive); a slot beyond active keeps its
	// connection until its last request ends (trim). Each slot dials its
	// connection when first used.
	slots  []*slot
	active atomic.Int32
	turn   atomic.Uint32
	// refused is the lowest slot (from 1) whose connection failed while
	// the first one worked, 0 if none since the loop last looked.
	refused atomic.Int32
	// causes holds, for each connection reset closed (*Conn), the error
	// that made it do so: the other requests on that connection then fail
	// with this side's own close, and report the cause instead (the seed
	// said it is shutting down, not "local: no error").
	causes sync.Map
}

// slot is one connection to a seed. conn is read without waiting (the
// download loop reads it every tick); dialing serialises dials and is never
// held by the loop, so a seed whose dial hangs until its timeout holds up
// only its own requests.
type slot struct {
	idx      int // its place among the seed's slots
	conn     atomic.Pointer[Conn]
	dialing  chan struct{} // a one-slot semaphore
	inflight atomic.Int32  // block requests using the slot now
	// The last dial that failed, and when it ended: a caller that waited
	// for that dial takes its error rather than dialling again at once.
	// Held under dialing.
	failedAt  time.Time
	failedErr error
}

// newSeedSource makes a seed source with room for slots connections, of
// which active are used at first.
func newSeedSource(u wire.URL, raw string, client *Client, dialTO time.Duration, slots, active int) *source {
	f := &seedFetcher{url: u, client: client, dialTO: dialTO}
	for i := range max(slots, 1) {
		f.slots = append(f.slots, &slot{idx: i, dialing: make(chan struct{}, 1)})
	}
	f.setActive(active)
	return &source{kind: "seed", raw: raw, f: f}
}

// setActive sets how many slots block requests use, from 1 to len(slots).
// Call trim after lowering it.
func (f *seedFetcher) setActive(n int) {
	f.active.Store(int32(min(max(n, 1), len(f.slots))))
}

// conns returns how many slots are in use.
func (f *seedFetcher) conns() int { return int(f.active.Load()) }

// trim closes the connections of the slots beyond the active ones that no
// request uses any more. take raises a slot's inflight before it checks
// that the slot is active, and trim lowers active before it reads
// inflight, so a connection trim closes has no request on it.
func (f *seedFetcher) trim() {
	for _, sl := range f.slots[f.active.Load():] {
		if sl.inflight.Load() == 0 && sl.conn.Load() != nil {
			if c := sl.conn.Swap(nil); c != nil {
				_ = c.Close()
			}
		}
	}
}

// take returns the active slot with the fewest requests (the first such
// from a turn that moves on with every call), with its inflight raised: the
// caller lowers it when its request ends. Taking slots merely in turn would
// leave a connection idle while another has two requests whenever requests
// end out of order, and with a block or two per connection in flight they
// do.
func (f *seedFetcher) take() *slot {
	for {
		n := int(max(f.active.Load(), 1))
		start := int(f.turn.Add(1)-1) % n
		best := -1
		var least int32
		for k := range n {
			i := (start + k) % n
			if c := f.slots[i].inflight.Load(); best < 0 || c < least {
				best, least = i, c
			}
		}
		sl := f.slots[best]
		sl.inflight.Add(1)
		if best < int(f.active.Load()) {
			return sl
		}
		sl.inflight.Add(-1) // lowered meanwhile: its connection may be closing
	}
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

// connect returns a live connection to the seed on the first slot (never
// trimmed), for the manifest and the requests only seeds answer (HAVE,
// PEERS).
func (f *seedFetcher) connect(ctx context.Context) (*Conn, error) {
	return f.dial(ctx, f.slots[0])
}

// dial returns the slot's live connection, dialling a new one if it has
// none or its connection ended. Only one dial per slot runs at a time;
// callers waiting for it give up when ctx ends, and take its error if it
// failed (a seed that is away is not dialled twice in a row for nothing).
func (f *seedFetcher) dial(ctx context.Context, sl *slot) (*Conn, error) {
	if c := sl.live(); c != nil {
		return c, nil
	}
	start := time.Now()
	select {
	case sl.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-sl.dialing }()
	if c := sl.live(); c != nil {
		return c, nil // dialled by the caller we waited for
	}
	if sl.failedErr != nil && sl.failedAt.After(start) {
		return nil, sl.failedErr // the dial we waited for failed
	}
	ctx, cancel := context.WithTimeout(ctx, f.dialTO)
	defer cancel()
	c, err := f.client.Dial(ctx, f.url)
	if err != nil {
		if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			sl.failedAt, sl.failedErr = time.Now(), err
		}
		return nil, err
	}
	if old := sl.conn.Swap(c); old != nil {
		_ = old.Close()
	}
	return c, nil
}

// reset forgets conn (if a slot still holds it) and closes it, so the next
// request on that slot dials again; cause is why (see causes).
func (f *seedFetcher) reset(conn *Conn, cause error) {
	if conn == nil {
		return
	}
	for _, sl := range f.slots {
		if sl.conn.CompareAndSwap(conn, nil) {
			if cause != nil {
				f.causes.LoadOrStore(conn, cause)
			}
			_ = conn.Close()
		}
	}
}

// current returns the first connection, live or not, without waiting: the
// one whose RTT the scheduler is told.
func (f *seedFetcher) current() *Conn { return f.slots[0].conn.Load() }

// errNotConnected is the error of a block request to a seed whose first
// connection is gone: the download loop connects again (a Connect), since
// a dial inside a request would be taken for a stall.
var errNotConnected = errors.New("not connected")

func (f *seedFetcher) fetch(ctx context.Context, id manifest.ID, index int, _ int64, buf []byte, onBytes func(int)) (scheduler.Outcome, error) {
	sl := f.take()
	defer sl.inflight.Add(-1)
	conn := sl.live()
	var err error
	switch {
	case conn == nil && sl.idx == 0:
		return scheduler.Down, errNotConnected
	case conn == nil:
		conn, err = f.dial(ctx, sl)
	}
	if err != nil {
		if ctx.Err() == nil && f.extraFailed(sl) {
			return scheduler.Returned, err
		}
		return scheduler.Down, err
	}
	err = conn.FetchBlock(ctx, id, index, buf, onBytes)
	if err == nil {
		return scheduler.Delivered, nil
	}
	if ctx.Err() != nil {
		return scheduler.Failed, ctx.Err()
	}
	if cause, ok := f.causes.Load(conn); ok && closedHere(err) {
		err = cause.(error)
	}
	out := classify(err, conn)
	// A busy seed may refuse an extra connection before its close is seen.
	if (out == scheduler.Down || errors.Is(err, wire.ErrBusy)) && f.extraFailed(sl) {
		f.reset(conn, err)
		return scheduler.Returned, err
	}
	if out == scheduler.Down {
		f.reset(conn, err) // the next request dials again
	}
	return out, err
}

// closedHere reports whether err is this side's own close of a connection
// (code NO_ERROR, not sent by the peer).
func closedHere(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) && !we.Remote && we.Code == wire.ErrCodeNoError
}

// extraFailed reports whether sl, which lost or could not get its
// connection, is an extra one of a seed whose first connection works: then
// the seed (busy: its --max-conns reached) or the path takes no more
// connections, which is not the seed being down. It records the lowest such
// slot for the loop, which lowers the seed's connections to it.
func (f *seedFetcher) extraFailed(sl *slot) bool {
	if sl.idx == 0 || f.slots[0].live() == nil {
		return false
	}
	for {
		r := f.refused.Load()
		if (r != 0 && int(r) <= sl.idx) || f.refused.CompareAndSwap(r, int32(sl.idx)) {
			return true
		}
	}
}

// ready: a seed that agree could not reach starts in backoff.
func (f *seedFetcher) ready() bool { return f.current() != nil }

func (f *seedFetcher) rtt() time.Duration {
	if c := f.current(); c != nil {
		return c.RTT()
	}
	return 0
}

func (f *seedFetcher) close() {
	for _, sl := range f.slots {
		if c := sl.conn.Swap(nil); c != nil {
			_ = c.Close()
		}
	}
}

// retryAfterError is an error by which a source asks to be left alone for
// a while (an HTTP Retry-After).
type retryAfterError interface {
	error
	RetryAfter() time.Duration
}

// retryAfter returns the wait err asks for, 0 if none.
func retryAfter(err error) time.Duration {
	if ra, ok := errors.AsType[retryAfterError](err); ok {
		return ra.RetryAfter()
	}
	return 0
}

// classify maps err from a request on conn (nil when the dial failed).
func classify(err error, conn *Conn) scheduler.Outcome {
	if conn == nil {
		return scheduler.Down
	}
	select {
	case <-conn.Done():
		return scheduler.Down
	default:
	}
	switch {
	case errors.Is(err, wire.ErrNotAvailable):
		return scheduler.Unavailable
	case errors.Is(err, wire.ErrBusy):
		return scheduler.Busy
	case errors.Is(err, wire.ErrNotFound), errors.Is(err, wire.ErrShuttingDown),
		errors.Is(err, wire.ErrUnauthorized), errors.Is(err, wire.ErrFileChanged):
		return scheduler.Down
	case errors.Is(err, wire.ErrWrongLength), errors.Is(err, wire.ErrUnexpectedFrame),
		errors.Is(err, wire.ErrUnknownFrame), errors.Is(err, wire.ErrFrameTooLarge),
		errors.Is(err, wire.ErrMalformed):
		return scheduler.Rejected
	}
	// Anything else, a stream cut short (io.ErrUnexpectedEOF) included, is
	// a failure: the block is asked again, of it too.
	return scheduler.Failed
}
