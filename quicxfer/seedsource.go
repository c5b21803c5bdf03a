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

// A seed as a source of a download: its connections over QUIC (several at
// once, dialled again after they break), its blocks, its HAVE, its
// GET_PEERS and its manifest. See source.go for the interfaces.

// A seed has every capability a source may have but the mirror's.
var _ interface {
	fetcher
	connector
	rttMeter
	resetter
	availabilityWatcher
	peerNamer
	manifestAsker
	connScaler
} = (*seedFetcher)(nil)

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
	// noRanges is set once the seed refused GET_RANGE (an older version):
	// its blocks are asked whole.
	noRanges atomic.Bool
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

// newSeedSource makes the source of the seed at u (raw as given), dialled
// through client, with the connections o asks for: a fixed number, or room
// for MaxConnsPerSeed of which the source's connAdapter decides how many
// are used.
func newSeedSource(o *Options, u wire.URL, raw string, client *Client) *source {
	if o.ConnsPerSeed != ConnsAuto {
		n := max(o.ConnsPerSeed, 1)
		s := seedWithSlots(u, raw, client, o.DialTimeout, n, n)
		s.maxConns = n
		return s
	}
	s := seedWithSlots(u, raw, client, o.DialTimeout, o.MaxConnsPerSeed, 1)
	if o.decider != nil {
		s.adapt = o.decider(o.MaxConnsPerSeed)
	} else {
		s.adapt = newConnAdapter(o.MaxConnsPerSeed)
	}
	s.maxConns = 1
	return s
}

// seedWithSlots makes a seed source with room for slots connections, of
// which active are used at first.
func seedWithSlots(u wire.URL, raw string, client *Client, dialTO time.Duration, slots, active int) *source {
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

// firstConn returns a live connection to the seed on the first slot
// (never trimmed), for the manifest and the requests only seeds answer
// (HAVE, PEERS).
func (f *seedFetcher) firstConn(ctx context.Context) (*Conn, error) {
	return f.dial(ctx, f.slots[0])
}

// connect makes sure the seed's first connection is live (a Connect).
func (f *seedFetcher) connect(ctx context.Context) error {
	_, err := f.firstConn(ctx)
	return err
}

func (f *seedFetcher) key() string { return f.url.String() }

// resetConns closes every connection: the next request dials again.
func (f *seedFetcher) resetConns() { f.close() }

// takeRefused: see connScaler.
func (f *seedFetcher) takeRefused() int { return int(f.refused.Swap(0)) }

// watch asks the seed for its HAVE on its first connection; asked is false
// when that connection could not be had.
func (f *seedFetcher) watch(ctx context.Context, id manifest.ID, numBlocks int, onHave func(wire.Have), onAdd func([]uint64)) (asked bool, _ error) {
	conn, err := f.firstConn(ctx)
	if err != nil {
		return false, err
	}
	return true, conn.Have(ctx, id, numBlocks, onHave, onAdd)
}

// peers asks the seed for other sources (GET_PEERS), registering this side
// at the one of self that the seed can reach (selfFor).
func (f *seedFetcher) peers(ctx context.Context, id manifest.ID, self []string, timeout time.Duration) ([]string, error) {
	conn, err := f.firstConn(ctx)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return conn.Peers(pctx, id, selfFor(self, conn))
}

// manifest asks the seed for the manifest req names.
func (f *seedFetcher) manifest(ctx context.Context, req wire.ManifestRequest, timeout time.Duration) (wire.ManifestResponse, error) {
	conn, err := f.firstConn(ctx)
	if err != nil {
		return wire.ManifestResponse{}, err
	}
	mctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return conn.Manifest(mctx, req)
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

func (f *seedFetcher) fetch(ctx context.Context, id manifest.ID, index int, _ int64, buf []byte, on progress) (scheduler.Outcome, error) {
	if k := f.parts(len(buf)); k > 1 {
		return f.fetchParts(ctx, id, index, buf, on, k)
	}
	got := 0
	return f.request(ctx, func(conn *Conn) error {
		return conn.FetchBlock(ctx, id, index, buf, func(n int) {
			got += n
			on.bytes(n)
			on.prefix(got)
		})
	})
}

// Parts of a block. Through random loss one connection carries a few
// Mbit/s (see adapt.go), so a 1 MiB block on one connection takes seconds:
// the tail of the download, and every block the scheduler gives a slow
// seed, would wait on one slow connection. A seed with several
// connections is asked for a block in parts (GET_RANGE), one part per
// connection, at most maxParts and none under minPart: the block arrives
// as fast as its connections together carry it, and is verified once it is
// complete. A seed that does not know GET_RANGE is asked for whole blocks.
const (
	maxParts = 8
	minPart  = 64 << 10
)

// parts returns how many parts a block of n bytes is asked in (1: whole).
func (f *seedFetcher) parts(n int) int {
	if f.noRanges.Load() {
		return 1
	}
	return max(1, min(f.conns(), maxParts, n/minPart))
}

// window: two requests for each connection, of parts or of whole blocks,
// plus two whole blocks: the blocks asked whole while the seed had one
// connection (slow ones, through loss) must not fill the window that the
// parts for its new connections need.
func (f *seedFetcher) window(blockSize int64) int64 {
	n := int64(f.conns())
	if k := int64(f.parts(int(blockSize))); k > 1 {
		return 2*blockSize + 2*n*blockSize/k
	}
	return 2 * n * blockSize
}

// fetchParts fetches buf, block index, in k parts, each on the connection
// with the fewest requests at the time, and reports the prefix of buf as
// its parts complete in order. The first part that fails ends the others
// and gives the block's outcome; the loop asks the block again.
func (f *seedFetcher) fetchParts(ctx context.Context, id manifest.ID, index int, buf []byte, on progress, k int) (scheduler.Outcome, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	size := (len(buf) + k - 1) / k
	var (
		mu       sync.Mutex
		done     = make([]bool, k)
		next     int // the first part not complete
		out      = scheduler.Delivered
		firstErr error
	)
	var wg sync.WaitGroup
	for j := range k {
		lo, hi := j*size, min((j+1)*size, len(buf))
		wg.Go(func() {
			o, err := f.request(ctx, func(conn *Conn) error {
				return conn.FetchRange(ctx, id, index, int64(lo), buf[lo:hi], on.bytes)
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					out, firstErr = o, err
					cancel()
				}
				return
			}
			done[j] = true
			for next < k && done[next] {
				next++
			}
			if firstErr == nil {
				on.prefix(min(next*size, len(buf)))
			}
		})
	}
	wg.Wait()
	if errors.Is(firstErr, ErrRangeUnsupported) {
		// An older seed: whole blocks from now on. This block is asked
		// again (the parts it may have sent were already hashed).
		f.noRanges.Store(true)
		return scheduler.Failed, firstErr
	}
	return out, firstErr
}

// request runs do on a connection to the seed (the active slot with the
// fewest requests, dialled if it has none) and says what its end means for
// the scheduler.
func (f *seedFetcher) request(ctx context.Context, do func(*Conn) error) (scheduler.Outcome, error) {
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
		switch {
		case certRefused(err):
			return scheduler.Gone, err // it cannot serve this download
		case ctx.Err() == nil && f.extraFailed(sl):
			return scheduler.Returned, err
		}
		return scheduler.Down, err
	}
	err = do(conn)
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

func (f *seedFetcher) path() pathRTT {
	if c := f.current(); c != nil {
		st := c.qc.ConnectionStats()
		return pathRTT{rtt: st.SmoothedRTT, minRTT: st.MinRTT}
	}
	return pathRTT{}
}

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
