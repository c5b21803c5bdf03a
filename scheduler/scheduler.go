package scheduler

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"
)

// ReqID tags one request the scheduler asked the caller to make. IDs start at
// 1 and are never reused.
type ReqID uint64

// ActionKind says what an Action asks of the caller.
type ActionKind int

// Kinds of Action.
const (
	Fetch   ActionKind = iota + 1 // caller must request Block from Source, tagged Req
	Cancel                        // caller must abandon request Req (Block at Source); the scheduler has already forgotten it
	Connect                       // caller must connect to Source (see SetConnects), then report Connected or SourceDown
)

func (k ActionKind) String() string {
	switch k {
	case Fetch:
		return "fetch"
	case Cancel:
		return "cancel"
	case Connect:
		return "connect"
	}
	return "unknown"
}

// Action is one thing the caller must do.
type Action struct {
	Kind   ActionKind
	Req    ReqID
	Source SourceID
	Block  int
	// Why, for a Cancel, is the failure of Source that caused it:
	// FailStall or FailSlow when Next found it stalled or too slow,
	// FailDown after SourceDown. NoFailure for every other Cancel
	// (another copy arrived, the source was removed or dropped for bad
	// blocks, or requests left over from an earlier failure stalled).
	Why Failure
}

var (
	// ErrNoSources is returned by Err when every source added has been
	// dropped and blocks are still missing.
	ErrNoSources = errors.New("every source was dropped")
	// ErrNoValidSource is returned by Err, wrapped with the block index, when
	// a missing block has no remaining source that may serve it (each of
	// them sent two bad copies of it). A block that no source has yet is not this
	// error while a live source could still gain it; see the package
	// documentation.
	ErrNoValidSource = errors.New("no remaining source can serve it")
)

type request struct {
	id     ReqID
	src    *source
	block  int
	length int64
	issued time.Time
}

type blockState struct {
	done    bool
	holders []*request // outstanding requests for the block, at most maxCopies
}

// Scheduler holds the state of one download. See the package documentation
// for the algorithm. It is not safe for concurrent use.
type Scheduler struct {
	cfg      Config
	blocks   []blockState
	free     freeSet
	missing  int
	reqs     map[ReqID]*request
	lastReq  ReqID
	sources  []*source // index id-1
	inFlight int64     // full length of all outstanding requests
	clock    time.Time // latest now seen, for the calls that take none
	anyBans  bool      // some source has a banned block
	partials int       // sources that do not have every block

	// rarity[b] is the number of usable sources that have block b; levels[r]
	// holds the free blocks of rarity r (a partition of free).
	rarity []int32
	levels []freeSet

	cands []cand // scratch for Next
}

// New returns a scheduler for the file described by cfg. have(i) reports
// blocks already verified on disk (resume); nil means none. Zero fields of cfg
// get the defaults. New panics if NumBlocks, BlockSize and Size do not
// describe a file.
func New(cfg Config, have func(block int) bool) *Scheduler {
	cfg = cfg.withDefaults()
	s := &Scheduler{
		cfg:    cfg,
		blocks: make([]blockState, cfg.NumBlocks),
		free:   newFreeSet(cfg.NumBlocks),
		reqs:   make(map[ReqID]*request),
		rarity: make([]int32, cfg.NumBlocks),
	}
	for i := range s.blocks {
		if have != nil && have(i) {
			s.blocks[i].done = true
			continue
		}
		s.missing++
		s.addFree(i)
	}
	return s
}

// AddSource registers a new source, which starts probing. Sources can be added
// at any time.
func (s *Scheduler) AddSource(now time.Time) SourceID {
	s.tick(now)
	src := &source{id: SourceID(len(s.sources) + 1), since: now}
	src.resetRate(now)
	s.sources = append(s.sources, src)
	s.countAvail(src, +1)
	return src.id
}

// SetAvailable says which blocks src has: bit i%64 of have[i/64] for block
// i (a bitfield, least significant bit first; missing words and bits past
// NumBlocks are ignored). A source added with AddSource has every block until
// this is called; a nil have means none. Requests already outstanding at src
// are left alone.
func (s *Scheduler) SetAvailable(src SourceID, have []uint64) {
	x := s.source(src)
	if x == nil {
		return
	}
	if x.state == usable {
		s.countAvail(x, -1)
	}
	if x.avail == nil {
		s.partials++
	}
	n := len(s.free.bits)
	x.avail = make([]uint64, n)
	copy(x.avail, have)
	if r := s.cfg.NumBlocks % 64; r != 0 && n > 0 {
		x.avail[n-1] &= 1<<r - 1
	}
	x.nHave = 0
	for _, w := range x.avail {
		x.nHave += bits.OnesCount64(w)
	}
	if x.nHave == s.cfg.NumBlocks {
		x.avail = nil
		s.partials--
	}
	if x.state == usable {
		s.countAvail(x, +1)
	}
}

// SetTieStart changes Config.TieStart: ties between equally rare blocks are
// broken from block start on, wrapping around. Out of range means 0.
func (s *Scheduler) SetTieStart(start int) {
	if start < 0 || start >= s.cfg.NumBlocks {
		start = 0
	}
	s.cfg.TieStart = start
}

// SetAvailableAll says src has every block (a full seed).
func (s *Scheduler) SetAvailableAll(src SourceID) {
	x := s.source(src)
	if x == nil || x.avail == nil {
		return
	}
	if x.state == usable {
		s.countAvail(x, -1)
	}
	x.avail = nil
	s.partials--
	if x.state == usable {
		s.countAvail(x, +1)
	}
}

// AddAvailable says src has gained block. It costs O(1).
func (s *Scheduler) AddAvailable(src SourceID, block int) {
	x := s.source(src)
	if x == nil || block < 0 || block >= s.cfg.NumBlocks || x.has(block) {
		return
	}
	x.avail[block/64] |= 1 << (block % 64)
	x.nHave++
	if x.state == usable {
		s.bump(block, +1)
	}
	if x.nHave == s.cfg.NumBlocks {
		x.avail = nil
		s.partials--
	}
}

// SetConnects says that the caller connects to src itself (a seed it keeps
// a connection to) and must do so before src is asked for blocks after a
// backoff: when src's backoff ends, Next returns a Connect for it instead
// of making it usable, and it waits in the Connecting state, given nothing
// and never stalled, until the caller reports Connected (usable again,
// probing) or SourceDown (one more failure, a longer backoff). A source
// whose connection may be stale (it stalled) is so connected again before
// it is trusted with blocks, and a dial that takes long is not taken for a
// stall.
func (s *Scheduler) SetConnects(src SourceID) {
	if x := s.source(src); x != nil {
		x.connects = true
	}
}

// Connected reports that the caller has a connection to src, which was
// waiting for one (a Connect): src is usable again, with an unknown rate.
// It is ignored for a source in any other state.
func (s *Scheduler) Connected(src SourceID, now time.Time) {
	s.tick(now)
	if x := s.source(src); x != nil && x.state == connecting {
		s.back(x, now)
	}
}

// BackoffPolicy returns the scheduler's backoff policy (Config.BackoffBase and
// BackoffMax with their defaults).
func (s *Scheduler) BackoffPolicy() BackoffPolicy {
	return BackoffPolicy{Base: s.cfg.BackoffBase, Max: s.cfg.BackoffMax}
}

// SetRTT records the round-trip time to src, used to size its window. Until it
// is called a source is assumed to be 100ms away.
func (s *Scheduler) SetRTT(src SourceID, rtt time.Duration) {
	if x := s.source(src); x != nil {
		x.rtt = rtt
	}
}

// SetMinWindow sets src's own minimum window to n bytes (rounded up to
// one block): the bytes in flight it always may have, whatever its rate.
// A caller with several connections to one source gives it a block per
// connection this way. It only ever raises Config.MinWindow; n ≤ 0 goes
// back to it. A minimum window above Config.MaxWindow raises the source's
// cap to it; MaxInFlight still bounds every source together.
func (s *Scheduler) SetMinWindow(src SourceID, n int64) {
	if x := s.source(src); x != nil {
		if n > 0 {
			n = max(n, s.cfg.BlockSize)
		}
		x.minWindow = max(n, 0)
	}
}

// Progress reports total, the cumulative payload bytes received from src so
// far (monotone non-decreasing, including partial blocks). It drives the rate
// estimate and stall detection; call it as bytes arrive, and before the
// Delivered of the block those bytes complete.
func (s *Scheduler) Progress(src SourceID, total int64, now time.Time) {
	s.tick(now)
	if x := s.source(src); x != nil && x.state != dropped {
		x.progress(total, now)
	}
}

// Next returns the Cancels to perform (stalled or too slow sources), the
// Connects (sources whose backoff ended, see SetConnects) and the new
// Fetches to issue, in that order. Call it after every batch of events and
// at NextWake.
func (s *Scheduler) Next(now time.Time) []Action {
	s.tick(now)
	var acts []Action
	for _, x := range s.sources {
		if d := x.stallDeadline(&s.cfg); !d.IsZero() && !now.Before(d) {
			if x.state == usable {
				acts = s.failSource(x, FailStall, now, acts)
			} else {
				// Left over from a failure already counted: they only
				// give their blocks back.
				acts = s.cancelAll(x, now, acts)
			}
		} else if d := x.slowDeadline(&s.cfg); !d.IsZero() && !now.Before(d) {
			if float64(x.total-x.slowBytes) < s.cfg.MinRate*now.Sub(x.slowMark).Seconds() {
				acts = s.failSource(x, FailSlow, now, acts)
			} else {
				x.slowMark, x.slowBytes = now, x.total
			}
		}
		if x.state == backingOff && !now.Before(x.backoffUntil) {
			if x.connects {
				x.state = connecting
				acts = append(acts, Action{Kind: Connect, Source: x.id})
			} else {
				s.back(x, now)
			}
		}
	}
	return s.assign(now, acts)
}

// back makes x usable again after a backoff, with an unknown rate.
func (s *Scheduler) back(x *source, now time.Time) {
	x.state = usable
	x.since = now
	x.resetRate(now)
	x.slowMark = time.Time{}
	if len(x.reqs) > 0 {
		x.slowMark, x.slowBytes = now, x.total
	}
	s.countAvail(x, +1)
}

// Delivered reports that block arrived from src for req and verified. It
// returns Cancels for every other request for the same block (endgame losers).
// A Delivered for a request the scheduler already cancelled still counts if
// the block is still missing; if the block is already done it is ignored.
func (s *Scheduler) Delivered(req ReqID, src SourceID, block int, now time.Time) []Action {
	s.tick(now)
	if block < 0 || block >= len(s.blocks) {
		return nil
	}
	r := s.lookup(req, src, block)
	x := s.source(src)
	if x == nil {
		return nil
	}
	b := &s.blocks[block]
	if b.done {
		if r != nil {
			s.forget(r, true, now)
		}
		return nil
	}
	if r != nil {
		s.forget(r, true, now)
	}
	b.done = true
	s.missing--
	s.removeFree(block)
	var acts []Action
	for len(b.holders) > 0 {
		acts = s.cancel(b.holders[0], now, acts)
	}
	x.deliveredBlocks++
	x.deliveredBytes += s.cfg.blockLen(block)
	x.failures = 0
	return acts
}

// Unavailable reports that src answered req with "I do not have this
// block" (a partial source whose availability the caller had not learnt
// yet): the block goes back to the pool and src is taken not to have it
// until AddAvailable or SetAvailable says otherwise. It is not a failure.
func (s *Scheduler) Unavailable(req ReqID, src SourceID, block int, now time.Time) {
	s.tick(now)
	if block < 0 || block >= len(s.blocks) {
		return
	}
	r := s.lookup(req, src, block)
	x := s.source(src)
	if x == nil || x.state == dropped {
		return
	}
	if r != nil {
		s.forget(r, false, now)
	}
	if !x.has(block) {
		return
	}
	if x.avail == nil {
		x.avail = make([]uint64, len(s.free.bits))
		for i := range x.avail {
			x.avail[i] = ^uint64(0)
		}
		if rem := s.cfg.NumBlocks % 64; rem != 0 {
			x.avail[len(x.avail)-1] = 1<<rem - 1
		}
		x.nHave = s.cfg.NumBlocks
		s.partials++
	}
	x.avail[block/64] &^= 1 << (block % 64)
	x.nHave--
	if x.state == usable {
		s.bump(block, -1)
	}
}

// Rejected reports that block from src failed verification. It is a strike
// for src, which is not asked for that block again while another usable
// source may serve it, and never after it served it badly twice; at
// MaxStrikes src is dropped and its outstanding requests come back as
// Cancels.
func (s *Scheduler) Rejected(req ReqID, src SourceID, block int, now time.Time) []Action {
	s.tick(now)
	if block < 0 || block >= len(s.blocks) {
		return nil
	}
	if r := s.lookup(req, src, block); r != nil {
		s.forget(r, true, now)
	}
	x := s.source(src)
	if x == nil || x.state == dropped {
		return nil
	}
	if x.bad == nil {
		x.bad = make(map[int]int)
	}
	x.bad[block]++
	s.anyBans = true
	x.strikes++
	if x.strikes >= s.cfg.MaxStrikes {
		return s.drop(x, fmt.Sprintf("%d blocks failed verification", x.strikes), now, nil)
	}
	return nil
}

// Returned reports that req was not served for a reason that is not src's
// fault (the caller could not give it a connection it had planned): the
// block goes back to the pool and nothing is counted against src.
func (s *Scheduler) Returned(req ReqID, src SourceID, block int, now time.Time) {
	s.tick(now)
	if r := s.lookup(req, src, block); r != nil {
		s.forget(r, false, now)
	}
}

// Failed reports that req failed (stream reset, an error status, a body cut
// short): the block goes back to the pool, and src, if it was usable and
// req was issued since it last became so, has one more consecutive failure
// and waits with exponential backoff (at MaxRetries it is dropped and its
// other requests come back as Cancels). Its other outstanding requests are
// left to finish: they may still arrive, and those that fail as well,
// having been issued before, count with this failure, so a source is
// charged one failure per backoff period however many of its requests fail
// together. A Failed for a request the scheduler already cancelled is
// ignored.
func (s *Scheduler) Failed(req ReqID, src SourceID, block int, now time.Time) []Action {
	return s.Refused(req, src, block, 0, now)
}

// Refused is Failed for a source that refused req for now (it is busy: a
// seed's BUSY, an HTTP 503 or 429) and asked to be left alone for
// retryAfter (0: no wish): its wait is at least that, at most
// MaxRetryAfter. A refusal of a request issued before its last failure
// counts with that failure but may still lengthen its wait.
func (s *Scheduler) Refused(req ReqID, src SourceID, block int, retryAfter time.Duration, now time.Time) []Action {
	s.tick(now)
	r := s.lookup(req, src, block)
	if r == nil {
		return nil
	}
	s.forget(r, false, now)
	x := r.src
	wait := min(max(retryAfter, 0), s.cfg.MaxRetryAfter)
	if x.state != usable || r.issued.Before(x.since) {
		if x.state == backingOff && wait > 0 {
			x.backoffUntil = later(x.backoffUntil, now.Add(wait))
		}
		return nil
	}
	x.failures++
	x.lastFail = FailRequest
	if x.failures >= s.cfg.MaxRetries {
		return s.drop(x, fmt.Sprintf("%d consecutive failures", x.failures), now, nil)
	}
	s.countAvail(x, -1)
	x.state = backingOff
	x.backoffUntil = now.Add(max(s.cfg.backoff(x.failures), wait))
	return nil
}

// SourceDown reports that the connection to src was lost or could not be
// made (also the answer to a Connect that failed). Every request of src
// comes back as a Cancel; src waits with exponential backoff and then gets
// a probe window again (or a Connect, see SetConnects), or is dropped after
// MaxRetries consecutive failures. It is ignored for a source already in
// backoff or dropped.
func (s *Scheduler) SourceDown(src SourceID, now time.Time) []Action {
	s.tick(now)
	x := s.source(src)
	if x == nil || (x.state != usable && x.state != connecting) {
		return nil
	}
	return s.failSource(x, FailDown, now, nil)
}

// Remove drops src for good (e.g. it serves a different file); its requests
// come back as Cancels.
func (s *Scheduler) Remove(src SourceID) []Action {
	x := s.source(src)
	if x == nil || x.state == dropped {
		return nil
	}
	return s.drop(x, "removed", s.clock, nil)
}

// Done reports whether every block is delivered (or was had at New).
func (s *Scheduler) Done() bool { return s.missing == 0 }

// Missing returns the number of blocks not yet delivered.
func (s *Scheduler) Missing() int { return s.missing }

// InFlight returns the full length of all outstanding requests, the figure
// bounded by MaxInFlight.
func (s *Scheduler) InFlight() int64 { return s.inFlight }

// Err returns nil while the download can still finish. Otherwise it returns
// ErrNoSources when every source added has been dropped, or an error wrapping
// ErrNoValidSource that names the lowest missing block no remaining source may
// serve. Adding a source can make it nil again. With no source added yet it
// is nil.
func (s *Scheduler) Err() error {
	if s.Done() {
		return nil
	}
	var alive *source
	for _, x := range s.sources {
		if x.state != dropped {
			alive = x
			break
		}
	}
	if alive == nil {
		if len(s.sources) > 0 {
			return ErrNoSources
		}
		return nil
	}
	// A block nobody may serve is barred at every live source, so it is
	// among alive's few banned blocks.
	lowest := -1
	for b := range alive.bad {
		if s.blocks[b].done || (lowest >= 0 && b > lowest) {
			continue
		}
		if !s.servable(b) {
			lowest = b
		}
	}
	if lowest >= 0 {
		return fmt.Errorf("block %d: %w", lowest, ErrNoValidSource)
	}
	return nil
}

// NextWake returns the latest time the caller should call Next again if no
// event arrives first (a backoff expires, a stall would be detected), or the
// zero time if nothing is pending.
func (s *Scheduler) NextWake(now time.Time) time.Time {
	var wake time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	for _, x := range s.sources {
		if x.state == backingOff {
			earlier(x.backoffUntil)
		}
		earlier(x.stallDeadline(&s.cfg))
		earlier(x.slowDeadline(&s.cfg))
	}
	return wake
}

// Stats returns a snapshot of src; the zero SourceStats for an unknown ID.
func (s *Scheduler) Stats(src SourceID) SourceStats {
	x := s.source(src)
	if x == nil {
		return SourceStats{}
	}
	st := SourceStats{
		Rate:            x.rate(),
		RTT:             x.rtt,
		InFlightBytes:   x.issued,
		UnreceivedBytes: x.unreceived(),
		InFlightReqs:    len(x.reqs),
		Window:          x.window(&s.cfg),
		Strikes:         x.strikes,
		Failures:        x.failures,
		DeliveredBlocks: x.deliveredBlocks,
		DeliveredBytes:  x.deliveredBytes,
		DropReason:      x.dropReason,
		HaveBlocks:      s.cfg.NumBlocks,
		LastFailure:     x.lastFail,
	}
	for b := range x.bad {
		st.RejectedBlocks = append(st.RejectedBlocks, b)
	}
	slices.Sort(st.RejectedBlocks)
	if x.avail != nil {
		st.HaveBlocks = x.nHave
	}
	switch x.state {
	case usable:
		st.State = Probing
		if st.Rate > 0 {
			st.State = Active
		}
	case backingOff:
		st.State = Backoff
		st.BackoffUntil = x.backoffUntil
	case connecting:
		st.State = Connecting
	case dropped:
		st.State = Dropped
	}
	return st
}

func (s *Scheduler) tick(now time.Time) { s.clock = later(s.clock, now) }

func (s *Scheduler) source(id SourceID) *source {
	if id < 1 || int(id) > len(s.sources) {
		return nil
	}
	return s.sources[id-1]
}

// lookup returns the outstanding request req if it matches src and block.
func (s *Scheduler) lookup(req ReqID, src SourceID, block int) *request {
	r := s.reqs[req]
	if r == nil || r.src.id != src || r.block != block {
		return nil
	}
	return r
}

// servable reports whether some live source may serve block b.
func (s *Scheduler) servable(b int) bool {
	for _, x := range s.sources {
		if x.state != dropped && !x.barred(b) {
			return true
		}
	}
	return false
}

// refuses reports whether x is not to be given block b, which it has: it
// served it badly twice, or once and another usable source may serve it.
func (s *Scheduler) refuses(x *source, b int) bool {
	switch n := x.bad[b]; {
	case n == 0:
		return false
	case n >= maxBadCopies:
		return true
	}
	for _, y := range s.sources {
		if y != x && y.state == usable && y.can(b) {
			return true
		}
	}
	return false
}

// issue records a new request and appends its Fetch.
func (s *Scheduler) issue(x *source, block int, now time.Time, acts []Action) []Action {
	s.lastReq++
	r := &request{id: s.lastReq, src: x, block: block, length: s.cfg.blockLen(block), issued: now}
	s.reqs[r.id] = r
	b := &s.blocks[block]
	b.holders = append(b.holders, r)
	s.removeFree(block)
	s.inFlight += r.length
	x.addReq(r, now)
	return append(acts, Action{Kind: Fetch, Req: r.id, Source: x.id, Block: block})
}

// forget drops r from every index and returns its block to the pool if it is
// still missing and no other request holds it.
func (s *Scheduler) forget(r *request, whole bool, now time.Time) {
	delete(s.reqs, r.id)
	b := &s.blocks[r.block]
	if i := slices.Index(b.holders, r); i >= 0 {
		b.holders = slices.Delete(b.holders, i, i+1)
	}
	s.inFlight -= r.length
	r.src.removeReq(r, whole, now)
	if !b.done && len(b.holders) == 0 {
		s.addFree(r.block)
	}
}

func (s *Scheduler) cancel(r *request, now time.Time, acts []Action) []Action {
	return s.cancelFor(r, NoFailure, now, acts)
}

func (s *Scheduler) cancelFor(r *request, why Failure, now time.Time, acts []Action) []Action {
	s.forget(r, false, now)
	return append(acts, Action{Kind: Cancel, Req: r.id, Source: r.src.id, Block: r.block, Why: why})
}

func (s *Scheduler) cancelAll(x *source, now time.Time, acts []Action) []Action {
	return s.cancelAllFor(x, NoFailure, now, acts)
}

func (s *Scheduler) cancelAllFor(x *source, why Failure, now time.Time, acts []Action) []Action {
	for len(x.reqs) > 0 {
		acts = s.cancelFor(x.reqs[0], why, now, acts)
	}
	return acts
}

// failSource handles a lost connection, a stall or a source too slow:
// cancel everything, then back off or, at MaxRetries, drop.
func (s *Scheduler) failSource(x *source, why Failure, now time.Time, acts []Action) []Action {
	x.failures++
	x.lastFail = why
	if x.failures >= s.cfg.MaxRetries {
		acts = s.cancelAllFor(x, why, now, acts)
		return s.drop(x, fmt.Sprintf("%d consecutive failures", x.failures), now, acts)
	}
	acts = s.cancelAllFor(x, why, now, acts)
	if x.state == usable {
		s.countAvail(x, -1)
	}
	x.state = backingOff
	x.backoffUntil = now.Add(s.cfg.backoff(x.failures))
	return acts
}

func (s *Scheduler) drop(x *source, reason string, now time.Time, acts []Action) []Action {
	acts = s.cancelAll(x, now, acts)
	if x.state == usable {
		s.countAvail(x, -1)
	}
	x.state = dropped
	x.dropReason = reason
	return acts
}

// cand is a source's standing during one Next.
type cand struct {
	x      *source
	rate   float64 // 0 when unknown
	window int64
	full   bool // nothing more for this source in this Next
}

func (c *cand) starving() bool { return c.rate == 0 && c.x.issued == 0 }

// assign hands out blocks; see the package documentation.
func (s *Scheduler) assign(now time.Time, acts []Action) []Action {
	if s.missing == 0 {
		return acts
	}
	cands := s.cands[:0]
	var sumRate float64 // of usable sources with a known rate
	var unreceived int64
	for _, x := range s.sources {
		if x.state != usable {
			continue
		}
		c := cand{x: x, rate: x.rate(), window: x.window(&s.cfg)}
		sumRate += c.rate
		unreceived += x.unreceived()
		cands = append(cands, c)
	}
	s.cands = cands
	minLen := s.cfg.blockLen(s.cfg.NumBlocks - 1)
	for s.inFlight+minLen <= s.cfg.MaxInFlight {
		best, bestBlock := -1, -1
		bestFinish := math.Inf(1)
		for i := range cands {
			c := &cands[i]
			if c.full {
				continue
			}
			block, finish := s.offer(c, sumRate, unreceived)
			if block < 0 {
				c.full = true
				continue
			}
			if best < 0 || better(c, finish, &cands[best], bestFinish) {
				best, bestBlock, bestFinish = i, block, finish
			}
		}
		if best < 0 {
			break
		}
		c := &cands[best]
		before := c.x.unreceived()
		acts = s.issue(c.x, bestBlock, now, acts)
		unreceived += c.x.unreceived() - before
	}
	clear(s.cands) // do not keep sources alive through the scratch slice
	return acts
}

// better orders offers: first a source with an unknown rate and nothing
// outstanding (so every source gets measured even when MaxInFlight is tight),
// then known rates by finish, then unknown rates by bytes outstanding; ties by
// ID.
func better(a *cand, fa float64, b *cand, fb float64) bool {
	if sa, sb := a.starving(), b.starving(); sa != sb {
		return sa
	}
	if (a.rate > 0) != (b.rate > 0) {
		return a.rate > 0
	}
	if a.rate > 0 && fa != fb {
		return fa < fb
	}
	if ua, ub := a.x.unreceived(), b.x.unreceived(); ua != ub {
		return ua < ub
	}
	return a.x.id < b.x.id
}

// offer returns the block c should get next and its estimated finish there,
// or -1 if c gets nothing more in this Next.
func (s *Scheduler) offer(c *cand, sumRate float64, unreceived int64) (int, float64) {
	x := c.x
	block := s.pick(x)
	if block < 0 {
		return s.endgame(c)
	}
	length := s.cfg.blockLen(block)
	if !s.fits(c, length) {
		return -1, 0
	}
	finish := x.finish(length)
	// Tail rule: could the others finish everything before c finishes this?
	others := sumRate - c.rate
	if s.anyBans || s.partials > 0 {
		for _, y := range s.sources {
			if y != x && y.state == usable && !y.can(block) {
				others -= y.rate()
			}
		}
	}
	if others > 0 {
		eta := float64(unreceived-x.unreceived()+s.free.bytes) / others
		if c.rate == 0 && eta < probeHorizon.Seconds() {
			return -1, 0
		}
		// Blocks do not split: the others cannot be done before the
		// soonest of them could finish this very block.
		if c.rate > 0 && finish > eta && finish > s.soonestOther(x, block, length) {
			return -1, 0
		}
	}
	return block, finish
}

// soonestOther is the earliest estimated finish of block (of the given
// length) at a usable source other than x with a known rate that may serve it.
// Equal estimates count as sooner for x, so a tie never refuses everyone.
func (s *Scheduler) soonestOther(x *source, block int, length int64) float64 {
	soonest := math.Inf(1)
	for _, y := range s.sources {
		if y == x || y.state != usable || !y.can(block) {
			continue
		}
		soonest = min(soonest, y.finish(length)*(1+1e-9))
	}
	return soonest
}

// fits reports whether c has room for length more bytes: its bytes not yet
// received stay within its window, its bytes issued within twice that and
// MaxWindow, and all bytes issued within MaxInFlight.
func (s *Scheduler) fits(c *cand, length int64) bool {
	x := c.x
	return x.unreceived()+length <= c.window &&
		x.issued+length <= min(2*c.window, x.maxWin(&s.cfg)) &&
		s.inFlight+length <= s.cfg.MaxInFlight
}

// endgame picks a block in flight at one other, much slower source for c to
// duplicate: the most recently issued eligible block at the holder with the
// latest estimated finish.
func (s *Scheduler) endgame(c *cand) (int, float64) {
	x := c.x
	if c.rate == 0 {
		return -1, 0
	}
	var holder *source
	var holderFinish float64
	for _, y := range s.sources {
		// A source in backoff may still hold requests (see Failed).
		if y == x || y.state == dropped || len(y.reqs) == 0 {
			continue
		}
		f := y.finish(0)
		if holder != nil && f <= holderFinish {
			continue
		}
		// Is there a block at y that c may duplicate?
		for i := len(y.reqs) - 1; i >= 0; i-- {
			r := y.reqs[i]
			if len(s.blocks[r.block].holders) >= maxCopies || !x.can(r.block) || !s.fits(c, r.length) {
				continue
			}
			if f > endgameFactor*x.finish(r.length) {
				holder, holderFinish = y, f
			}
			break
		}
	}
	if holder == nil {
		return -1, 0
	}
	for i := len(holder.reqs) - 1; i >= 0; i-- {
		r := holder.reqs[i]
		if len(s.blocks[r.block].holders) < maxCopies && x.can(r.block) && s.fits(c, r.length) {
			return r.block, x.finish(r.length)
		}
	}
	return -1, 0
}

// pick returns the free block x should be given next in the configured
// order, among those it has and may serve, or -1.
func (s *Scheduler) pick(x *source) int {
	if s.cfg.Order == LowestFirst {
		return s.scan(&s.free, x)
	}
	// Rarest first: x is usable, so every block it has is of rarity >= 1.
	for r := 1; r < len(s.levels); r++ {
		f := &s.levels[r]
		if f.n == 0 {
			continue
		}
		if start := s.cfg.TieStart; start > 0 {
			if b := s.scanFrom(f, x, start); b >= 0 {
				return b
			}
		}
		if b := s.scan(f, x); b >= 0 {
			return b
		}
	}
	return -1
}

// scan returns the lowest block of f that x has and may be given (see
// refuses).
func (s *Scheduler) scan(f *freeSet, x *source) int { return s.scanFrom(f, x, 0) }

// scanFrom is scan among the blocks from index from on.
func (s *Scheduler) scanFrom(f *freeSet, x *source, from int) int {
	b := f.nextIn(from, x.avail)
	for b >= 0 && x.banned(b) && s.refuses(x, b) {
		b = f.nextIn(b+1, x.avail)
	}
	return b
}

// level returns the free set of rarity r, making it if needed.
func (s *Scheduler) level(r int32) *freeSet {
	for int(r) >= len(s.levels) {
		s.levels = append(s.levels, newFreeSet(s.cfg.NumBlocks))
	}
	return &s.levels[r]
}

// addFree puts block b back among the free blocks.
func (s *Scheduler) addFree(b int) {
	if s.free.has(b) {
		return
	}
	l := s.cfg.blockLen(b)
	s.free.add(b, l)
	s.level(s.rarity[b]).add(b, l)
}

// removeFree takes block b out of the free blocks.
func (s *Scheduler) removeFree(b int) {
	if !s.free.has(b) {
		return
	}
	l := s.cfg.blockLen(b)
	s.free.remove(b, l)
	s.levels[s.rarity[b]].remove(b, l)
}

// bump changes the rarity of block b by d, moving it between levels if free.
func (s *Scheduler) bump(b int, d int32) {
	free := s.free.has(b)
	if free {
		s.levels[s.rarity[b]].remove(b, s.cfg.blockLen(b))
	}
	s.rarity[b] += d
	if free {
		s.level(s.rarity[b]).add(b, s.cfg.blockLen(b))
	}
}

// countAvail adds d to the rarity of every block x has: +1 when x becomes
// usable, -1 when it stops being usable. O(NumBlocks) for a full seed,
// O(words + blocks it has) for a partial one.
func (s *Scheduler) countAvail(x *source, d int32) {
	if x.avail == nil {
		for b := range s.rarity {
			s.bump(b, d)
		}
		return
	}
	for w, word := range x.avail {
		for word != 0 {
			s.bump(w*64+bits.TrailingZeros64(word), d)
			word &= word - 1
		}
	}
}
