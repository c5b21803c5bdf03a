package quicxfer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/quic-go/quic-go"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/scheduler"
)

// loop is one download's event loop: it owns the scheduler.
type loop struct {
	opts    Options
	m       *manifest.Manifest // the file's geometry and content ID
	plan    verify.Plan        // how its blocks are checked
	id      manifest.ID
	part    *partial.File
	srcs    []*source
	byID    map[scheduler.SourceID]*source
	start   time.Time
	resumed int64

	sched   *scheduler.Scheduler
	results chan result
	cancels map[scheduler.ReqID]context.CancelFunc
	bufs    sync.Pool
	joins   joins      // what events last said about each source
	writeMu sync.Mutex // see fetch
	// from, if not nil (a learnt file), is the source each block written
	// in this run came from (guarded by writeMu while the loop runs), so
	// that a whole file that fails its checksum can be repaired (repair.go).
	from    []*source
	limiter *byteLimiter // Options.RateLimit, shared by every source; nil: none

	// Swarm (swarm.go).
	client     *Client
	backoff    scheduler.BackoffPolicy // the scheduler's, for the HAVE watchers
	avail      chan availMsg
	connected  chan connectMsg
	peers      chan peersMsg
	known      map[string]bool // URLs of every source, given or found
	discovered int
	written    []int // blocks verified and written since the last sync request
	// announced holds the requests issued to a source whose HAVE had
	// arrived: a NOT_AVAILABLE for one of them is the source's fault.
	announced map[scheduler.ReqID]bool
	idleSince time.Time // when nothing was last in flight with blocks missing; zero if busy
	toldIdle  bool

	// ctx is the context of the current run, and workers its goroutines
	// (requests, dials, HAVE watchers, GET_PEERS): run waits for them.
	ctx     context.Context
	workers sync.WaitGroup
}

// closeDiscovered closes the connections of the sources the download found.
func (l *loop) closeDiscovered() {
	for _, s := range l.srcs {
		if s.discovered {
			s.f.close()
		}
	}
}

type result struct {
	a   scheduler.Action
	out scheduler.Outcome // how it ended, for the scheduler (Delivered with a nil err)
	err error
}

// The loop's periodic work runs every tickEvery.
const tickEvery = 50 * time.Millisecond

// run fetches every block the scheduler counts missing: it returns nil
// when none is, or the error that ends the download (no source left, the
// disk failing, ctx ending). Each step is a method below; the select is the
// only place the loop waits.
func (l *loop) run(ctx context.Context) error {
	l.reset()
	ctx, cancelAll := context.WithCancel(ctx)
	l.ctx = ctx
	defer func() {
		cancelAll()
		l.workers.Wait()
	}()
	now := time.Now()
	l.addGiven()
	sy := l.startSyncer()
	defer sy.stop()
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	// Other sources are asked for more at once, then after 250 ms, 500 ms,
	// 1 s, ... up to every PeersInterval: a swarm starting together finds
	// itself quickly.
	last := lastDone{sync: now, progress: now, tie: now, peers: now.Add(-l.opts.PeersInterval)}
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()

	for {
		now := time.Now()
		if end, err := l.ended(now); end {
			return err
		}
		l.schedule(now, wake)
		l.debugStates(now)

		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-sy.err:
			return fmt.Errorf("saving progress: %w", err)
		case r := <-l.results:
			if r.err == nil {
				l.written = append(l.written, r.a.Block)
			}
			if err := l.handle(r); err != nil {
				return err
			}
		case m := <-l.avail:
			l.onAvail(m)
		case m := <-l.connected:
			l.onConnect(m)
		case m := <-l.peers:
			l.onPeers(m)
		case <-wake.C:
		case <-tick.C:
			l.onTick(time.Now(), &last, sy)
		}
	}
}

// reset makes the scheduler and the loop's state for a run: a second run
// (settle) starts from the blocks on disk, and goes on with the events
// already said about each source.
func (l *loop) reset() {
	order := scheduler.RarestFirst
	if l.opts.LowestFirst {
		order = scheduler.LowestFirst
	}
	tieStart := 0
	if l.opts.Share != nil && l.m.NumBlocks() > 0 {
		// Sharing downloaders start at different places, so that they
		// have different blocks to give each other.
		tieStart = rand.IntN(l.m.NumBlocks())
	}
	l.sched = scheduler.New(scheduler.Config{
		NumBlocks:   l.m.NumBlocks(),
		BlockSize:   l.m.BlockSize,
		Size:        l.m.Size,
		MaxInFlight: max(l.opts.MaxInFlight, l.m.BlockSize),
		// Each connection to a seed needs a request of its own in
		// flight, and the next asked for while it arrives: adaptConns
		// sets each seed's (connScaler.window); every other source has
		// two blocks.
		MinWindow:     2 * l.m.BlockSize,
		MaxRetries:    maxRetries(l.opts.MaxRetries),
		MinRate:       max(l.opts.LowestSpeedLimit, 0),
		MinRateWindow: l.opts.LowestSpeedTime,
		Order:         order,
		TieStart:      tieStart,
	}, l.present)
	l.backoff = l.sched.BackoffPolicy()
	l.byID = map[scheduler.SourceID]*source{}
	if l.joins == nil { // a second run (settle) goes on from the first
		l.joins = joins{}
	}
	l.cancels = map[scheduler.ReqID]context.CancelFunc{}
	l.results = make(chan result, 64)
	bs := l.m.BlockSize
	l.bufs.New = func() any { b := make([]byte, bs); return &b }

	l.avail = make(chan availMsg)
	l.connected = make(chan connectMsg)
	l.announced = map[scheduler.ReqID]bool{}
	l.peers = make(chan peersMsg)
	l.known = map[string]bool{}
	for _, u := range l.opts.SelfURLs {
		if pu, err := wire.ParseURL(u); err == nil {
			l.known[pu.String()] = true // never our own
		}
	}
}

// addGiven registers the sources the download started with, but those
// left out, with the scheduler.
func (l *loop) addGiven() {
	for _, s := range l.srcs {
		l.known[s.f.key()] = true
		if s.leftOut {
			l.joins.drop(&l.opts, s, s.note)
			continue // serves something else
		}
		l.addSource(s)
	}
	l.updateAlone()
}

// addSource registers s, which is in l.srcs, with the scheduler and
// starts watching its HAVE.
func (l *loop) addSource(s *source) {
	now := time.Now()
	s.id = l.sched.AddSource(now)
	s.ctx, s.stop = context.WithCancel(l.ctx)
	l.byID[s.id] = s
	if _, ok := s.f.(connector); ok {
		// After a backoff the loop connects to it (a Connect) before
		// it is asked for blocks: a dial is not taken for a stall.
		l.sched.SetConnects(s.id)
	}
	switch {
	case s.discovered:
		// Most likely a peer: nothing until its HAVE says, and it
		// joins when that arrives.
		l.sched.SetAvailable(s.id, nil)
	case !s.ready():
		l.joins.down(&l.opts, s, EventSourceDown, cmp.Or(s.note, "not connected yet"))
		l.sched.SourceDown(s.id, now) // unreachable at start: retried with backoff
	default:
		l.joins.join(&l.opts, s)
	}
	w, ok := s.f.(availabilityWatcher)
	if !ok {
		s.haveKnown = true // it has the whole file, as a mirror does (a new source has every block)
		return
	}
	l.workers.Go(func() { l.watchHave(s.ctx, s, w) })
}

// syncer makes written blocks durable and records them, off the loop.
// The blocks handed over with a request were written before it, so once
// Sync returns they are durable and may be shared.
type syncer struct {
	req  chan []int
	err  chan error
	done sync.WaitGroup
}

func (l *loop) startSyncer() *syncer {
	sy := &syncer{req: make(chan []int, 1), err: make(chan error, 1)}
	sy.done.Go(func() {
		for blocks := range sy.req {
			if err := l.part.Sync(); err != nil {
				select {
				case sy.err <- err:
				default:
				}
				continue
			}
			if l.opts.Share != nil && len(blocks) > 0 {
				l.opts.Share.Add(blocks)
			}
		}
	})
	return sy
}

// stop ends the syncer after its last sync.
func (sy *syncer) stop() {
	close(sy.req)
	sy.done.Wait()
}

// ended reports whether the run is over: every block is there (nil), or no
// source can bring the missing ones (the error says why).
func (l *loop) ended(now time.Time) (bool, error) {
	if l.sched.Done() {
		l.nameIdle(now)
		l.progress(now)
		return true, nil
	}
	if err := l.sched.Err(); err != nil {
		l.progress(now)
		return true, fmt.Errorf("%w: %w%s", noUsableFor(l.srcs), err, l.why())
	}
	if len(l.byID) == 0 {
		// Every source was left out: none can bring a block, and there is
		// none to ask for others.
		l.progress(now)
		return true, fmt.Errorf("%w: every one was left out%s", noUsableFor(l.srcs), l.why())
	}
	return false, nil
}

// schedule asks the scheduler what to do now, does it, and sets wake to
// when it next has something to do.
func (l *loop) schedule(now time.Time, wake *time.Timer) {
	acts := l.sched.Next(now)
	l.noteStalls(acts)
	l.apply(acts)
	if w := l.sched.NextWake(now); !w.IsZero() {
		wake.Reset(max(w.Sub(now), time.Millisecond))
	} else {
		wake.Reset(time.Hour)
	}
}

// apply carries out the scheduler's actions: a Fetch starts a request in a
// worker of its own, a Cancel ends one, a Connect dials a seed.
func (l *loop) apply(actions []scheduler.Action) {
	ctx := l.ctx
	for _, a := range actions {
		switch a.Kind {
		case scheduler.Fetch:
			src := l.byID[a.Source]
			src.asked++
			if n, ok := src.f.(issueNoter); ok {
				n.issued(l.m.BlockOffset(a.Block))
			}
			if src.haveKnown {
				l.announced[a.Req] = true
			}
			wctx, cancel := context.WithCancel(ctx)
			l.cancels[a.Req] = cancel
			l.workers.Go(func() {
				defer cancel()
				r := l.fetch(wctx, src, a)
				select {
				case l.results <- r:
				case <-ctx.Done():
				}
			})
		case scheduler.Cancel:
			if cancel, ok := l.cancels[a.Req]; ok {
				cancel()
				delete(l.cancels, a.Req)
			}
			delete(l.announced, a.Req)
		case scheduler.Connect:
			src := l.byID[a.Source]
			c := src.f.(connector) // only connectors are SetConnects
			l.workers.Go(func() {
				err := c.connect(src.ctx)
				select {
				case l.connected <- connectMsg{src, err}:
				case <-ctx.Done():
				}
			})
		}
	}
}

// lastDone holds when the loop last did each of its periodic jobs.
type lastDone struct {
	sync, progress, tie, peers time.Time
	peersWait                  time.Duration
}

// onTick does the loop's periodic work: the sources' progress and RTT to
// the scheduler, their connections, the sync, GET_PEERS and the progress
// report when each is due.
func (l *loop) onTick(now time.Time, last *lastDone, sy *syncer) {
	l.noteWaiting(now)
	for id, s := range l.byID {
		if r := s.received.Load(); r != s.lastRecv {
			s.lastRecv, s.lastData = r, now
		}
		l.sched.Progress(id, s.lastRecv, now)
		if l.limiter != nil && s.wasHeld() {
			l.sched.Held(id, now) // the user's limit, not the source, is slow
		}
		if m, ok := s.f.(rttMeter); ok {
			if rtt := m.rtt(); rtt > 0 {
				l.sched.SetRTT(id, rtt)
			}
		}
	}
	l.adaptConns(now)
	l.updateAlone()
	if l.opts.Share != nil && l.m.NumBlocks() > 0 && now.Sub(last.tie) >= time.Second {
		// A new place every second: downloaders that reach the
		// same region do not keep asking for the same blocks.
		last.tie = now
		l.sched.SetTieStart(rand.IntN(l.m.NumBlocks()))
	}
	if now.Sub(last.sync) >= l.opts.SyncInterval {
		last.sync = now
		select {
		case sy.req <- l.written:
			l.written = nil
		default: // the last sync is still running: these go with the next
		}
	}
	if (l.opts.MaxPeers > 0 || len(l.opts.SelfURLs) > 0) && now.Sub(last.peers) >= last.peersWait {
		last.peers = now
		last.peersWait = min(max(2*last.peersWait, 250*time.Millisecond), l.opts.PeersInterval)
		l.askPeers()
	}
	if now.Sub(last.progress) >= l.opts.ProgressInterval {
		last.progress = now
		l.progress(now)
	}
}

// handle feeds one worker's result to the scheduler, then does what the
// loop itself does about it: the source's notes, counters and events. It
// returns an error only for what ends the download (the disk failing).
func (l *loop) handle(r result) error {
	now := time.Now()
	a := r.a
	delete(l.cancels, a.Req)
	announced := l.announced[a.Req]
	delete(l.announced, a.Req)
	s := l.byID[a.Source]
	l.noteMirror(s)
	var de *diskError
	switch {
	case errors.As(r.err, &de):
		return de
	case r.err != nil && errors.Is(r.err, context.Canceled):
		return nil // the scheduler cancelled it
	}
	out := r.out
	if r.err == nil {
		out = scheduler.Delivered
	}
	if out == scheduler.Unavailable && announced {
		out = scheduler.Failed // its own HAVE said it had the block: a failure, like an error
	}
	l.apply(l.sched.Finish(a, out, retryAfter(r.err), now))
	switch out {
	case scheduler.Delivered:
		if s.tempNote {
			s.note, s.tempNote = "", false // it works after all
		}
		l.joins.join(&l.opts, s)
		return nil
	case scheduler.Rejected:
		s.badBlocks.Add(1)
		l.opts.Logf("%s %s sent a bad copy of block %d (%v); fetching it elsewhere", s.kind, s.raw, a.Block, r.err)
		l.opts.emit(Event{Kind: EventBlockRejected, Source: s.raw, Block: a.Block, Reason: r.err.Error()})
		if st := l.sched.Stats(a.Source); st.State == scheduler.Dropped {
			l.dropped(s, st.DropReason)
		}
		return nil
	case scheduler.Returned, scheduler.Unavailable:
		return nil // not the source's fault
	case scheduler.Gone:
		s.lastErr = l.opts.DescribeError(r.err)
		l.dropped(s, s.lastErr)
		return nil
	case scheduler.Down:
		l.noteDown(s, r.err)
		return nil
	case scheduler.Busy:
		if !s.toldBusy {
			// Once: a source that is busy now and then (a seed's request
			// rate) would otherwise fill the screen.
			s.toldBusy = true
			l.opts.Logf("%s %s is busy (%s); asking it again after a pause", s.kind, s.raw, l.opts.DescribeError(r.err))
		}
	}
	s.lastErr = l.opts.DescribeError(r.err)
	if l.sched.Stats(a.Source).State == scheduler.Dropped {
		l.dropped(s, s.lastErr)
	}
	return nil
}

// updateAlone tells each wholeFileReader (a mirror) whether it is the only
// source left (every other one dropped or left out): one that ignores Range
// requests is then read as a whole file.
func (l *loop) updateAlone() {
	live := 0
	for _, s := range l.srcs {
		if !s.leftOut && s.id != 0 && l.sched.Stats(s.id).State != scheduler.Dropped {
			live++
		}
	}
	for _, s := range l.srcs {
		if wr, ok := s.f.(wholeFileReader); ok {
			wr.setAlone(live == 1 && !s.leftOut && s.id != 0 && l.sched.Stats(s.id).State != scheduler.Dropped)
		}
	}
}

// down reports that s's connection was lost or could not be made (err),
// and tells the user once per outage: an event, and for a seed that said it
// is shutting down, a line that says so (it is a state of its own, not a
// failure to explain).
func (l *loop) down(s *source, err error) {
	l.apply(l.sched.SourceDown(s.id, time.Now()))
	l.noteDown(s, err)
}

// noteDown is down after the scheduler was told: the source's notes, and
// what the user is told.
func (l *loop) noteDown(s *source, err error) {
	// A connection this side closed (after a stall, say) says nothing new
	// about the source: the reason that made us close it stays.
	var ae *quic.ApplicationError
	ours := errors.Is(err, errNotConnected) || closedHere(err) || errors.As(err, &ae) && !ae.Remote
	if !ours || s.lastErr == "" {
		s.lastErr = l.opts.DescribeError(err)
	}
	if errors.Is(err, wire.ErrShuttingDown) && !s.shutdown {
		s.shutdown = true
		if s.note == "" || s.tempNote {
			s.note, s.tempNote = "it shut down during the download", true
		}
	}
	switch l.sched.Stats(s.id).State {
	case scheduler.Dropped:
		if s.shutdown {
			l.dropped(s, "it shut down and did not come back ("+s.lastErr+")")
		} else {
			l.dropped(s, s.lastErr)
		}
	case scheduler.Backoff:
		reason := s.lastErr
		if s.shutdown {
			reason = "shutting down"
		}
		if l.joins.down(&l.opts, s, EventSourceDown, reason) && s.shutdown {
			l.opts.Logf("%s %s is shutting down; trying it again later", s.kind, s.raw)
		}
	}
}

// connectMsg is the end of a Connect: a dial of a seed's first connection.
type connectMsg struct {
	s   *source
	err error
}

// onConnect feeds the end of a Connect to the scheduler.
func (l *loop) onConnect(m connectMsg) {
	s := m.s
	if l.sched.Stats(s.id).State != scheduler.Connecting || s.ctx.Err() != nil {
		return // failed or dropped meanwhile
	}
	if m.err != nil {
		if certRefused(m.err) {
			// Permanent: dialling it again cannot change its certificate.
			l.apply(l.sched.Remove(s.id))
			s.lastErr = l.opts.DescribeError(m.err)
			l.dropped(s, s.lastErr)
			return
		}
		l.down(s, m.err)
		return
	}
	s.shutdown = false // it is back
	l.sched.Connected(s.id, time.Now())
}

// dropped records that the scheduler dropped s for reason: its note (which
// replaces any earlier one), one log line and one event; and it stops what
// the loop still does with s besides its requests (its HAVE watcher, a
// GET_PEERS request), so that it is not dialled again.
func (l *loop) dropped(s *source, reason string) {
	if l.joins[s] == joinDropped {
		return
	}
	s.note, s.tempNote = "dropped: "+reason, false
	l.opts.Logf("%s %s dropped: %s", s.kind, s.raw, reason)
	l.debugDropped(s, reason)
	l.joins.drop(&l.opts, s, reason)
	if s.stop != nil {
		s.stop()
	}
}

// fetch runs one request: fetch, verify, write. It never touches the
// scheduler; the loop does.
func (l *loop) fetch(ctx context.Context, s *source, a scheduler.Action) result {
	bp := l.bufs.Get().(*[]byte)
	defer l.bufs.Put(bp)
	buf := (*bp)[:l.m.BlockLen(a.Block)]
	got := func(n int) { s.received.Add(int64(n)) }
	on := progress{got: got}
	if lim := l.limiter; lim != nil {
		on.got = func(n int) { lim.pay(ctx, s, n, got) }
	}
	// The block is hashed as it arrives, a piece at a time while the
	// piece is in the CPU's caches: its SHA-256 (the plan's, when the
	// plan can), and the xxh64 that partial's guard compares.
	h := newBlockHasher(l.plan, a.Block, buf)
	on.filled = h.upTo
	out, err := s.f.fetch(ctx, l.id, a.Block, l.m.BlockOffset(a.Block), buf, on)
	if err != nil {
		if ctx.Err() != nil {
			return result{a: a, out: scheduler.Failed, err: ctx.Err()}
		}
		return result{a: a, out: out, err: err}
	}
	if err := h.check(); err != nil {
		return result{a: a, out: scheduler.Rejected, err: err}
	}
	// Has and WriteBlock under one lock, so that of two copies arriving
	// together only one counts as accepted (partial serialises the
	// writes anyway).
	l.writeMu.Lock()
	if l.part.Has(a.Block) {
		l.writeMu.Unlock()
		return result{a: a, out: scheduler.Delivered} // another source's copy won the race
	}
	err = l.part.WriteVerified(a.Block, buf, h.xxh())
	if errors.Is(err, manifest.ErrHashMismatch) {
		// Its SHA-256 matched but not its xxh64: a manifest (taken
		// without an ID) whose hashes disagree. The block is bad, not
		// the disk.
		l.writeMu.Unlock()
		return result{a: a, out: scheduler.Rejected, err: err}
	}
	if err == nil && l.from != nil {
		l.from[a.Block] = s
	}
	l.writeMu.Unlock()
	if err != nil {
		// A disk error is the download's, not the source's: stop everything.
		return result{a: a, out: scheduler.Failed, err: &diskError{err}}
	}
	s.accepted.Add(int64(len(buf)))
	s.blocks.Add(1)
	return result{a: a, out: scheduler.Delivered}
}

type diskError struct{ err error }

func (e *diskError) Error() string { return "writing to disk: " + e.err.Error() }
func (e *diskError) Unwrap() error { return e.err }

// blockHasher hashes a block's buffer as the fetcher fills it (progress's
// filled): the plan's check, where the plan is Incremental, and the
// block's xxh64. What was not hashed as it came (a fetcher that does not
// say) is hashed at the end.
type blockHasher struct {
	plan  verify.Plan
	block int
	buf   []byte
	piece verify.PieceChecker // nil: the plan checks the whole buffer at the end
	x     *xxhash.Digest
	done  int // buf[:done] is hashed
}

func newBlockHasher(plan verify.Plan, block int, buf []byte) *blockHasher {
	h := &blockHasher{plan: plan, block: block, buf: buf, x: xxhash.New()}
	if inc, ok := plan.(verify.Incremental); ok {
		h.piece = inc.NewPiece(block)
	}
	return h
}

// upTo hashes buf up to k.
func (h *blockHasher) upTo(k int) {
	if k <= h.done || k > len(h.buf) {
		return
	}
	p := h.buf[h.done:k]
	if h.piece != nil {
		h.piece.Write(p)
	}
	h.x.Write(p)
	h.done = k
}

// check hashes the rest of the buffer and checks the block.
func (h *blockHasher) check() error {
	h.upTo(len(h.buf))
	if h.piece != nil {
		return h.piece.Check()
	}
	return h.plan.Piece(h.block, h.buf)
}

// xxh returns the block's xxh64, once check has run.
func (h *blockHasher) xxh() uint64 { return h.x.Sum64() }
