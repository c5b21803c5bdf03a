package scheduler

import (
	"fmt"
	"slices"
	"time"
)

// Requests: issued by Next (assign), ended by the caller's report of how
// they went, or cancelled by the scheduler.

// Outcome is how a request the scheduler asked for (a Fetch) ended, as the
// caller reports it with Finish.
type Outcome int

// Outcomes of a request.
const (
	// Delivered: the block arrived and verified. Finish returns Cancels
	// for every other request for the same block (endgame losers). It
	// still counts for a request the scheduler already cancelled if the
	// block is still missing; if the block is already done it is ignored.
	Delivered Outcome = iota + 1
	// Failed: the request failed (stream reset, an error status, a body
	// cut short). The block goes back to the pool, and the source, if it
	// was usable and the request was issued since it last became so, has
	// one more consecutive failure and waits with exponential backoff (at
	// MaxRetries it is dropped and its other requests come back as
	// Cancels). Its other outstanding requests are left to finish: they
	// may still arrive, and those that fail as well, having been issued
	// before, count with this failure, so a source is charged one failure
	// per backoff period however many of its requests fail together. It
	// is ignored for a request the scheduler already cancelled.
	Failed
	// Rejected: the block failed verification (or the source broke the
	// protocol for it). It is a strike for the source, which is not asked
	// for that block again while another usable source may serve it, and
	// never after it served it badly twice; at MaxStrikes the source is
	// dropped and its outstanding requests come back as Cancels.
	Rejected
	// Unavailable: the source answered "I do not have this block" (a
	// partial source whose availability the caller had not learnt yet):
	// the block goes back to the pool and the source is taken not to have
	// it until AddAvailable or SetAvailable says otherwise. It is not a
	// failure.
	Unavailable
	// Returned: the request was not served for a reason that is not the
	// source's fault (the caller could not give it a connection it had
	// planned): the block goes back to the pool and nothing is counted
	// against the source.
	Returned
	// Busy: Failed for a source that refused the request for now (a
	// seed's BUSY, an HTTP 503 or 429), asking to be left alone for the
	// retryAfter given to Finish (0: no wish): its wait is at least that,
	// at most MaxRetryAfter. A refusal of a request issued before its last
	// failure counts with that failure but may still lengthen its wait.
	Busy
	// Down: the request found the source's connection lost or could not
	// make it: Finish is SourceDown of the request's source.
	Down
	// Gone: the source can never serve this download (say, an https
	// mirror that redirects to plain http): Finish is Remove of the
	// request's source.
	Gone
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	case Rejected:
		return "rejected"
	case Unavailable:
		return "unavailable"
	case Returned:
		return "returned"
	case Busy:
		return "busy"
	case Down:
		return "down"
	case Gone:
		return "gone"
	}
	return "unknown"
}

// Finish reports how the request of fetch, a Fetch that Next returned,
// ended (see Outcome); retryAfter is the wait a Busy source asked for, 0
// for none or any other outcome. It returns what the caller must do next:
// Cancels of requests that are no longer needed.
func (s *Scheduler) Finish(fetch Action, o Outcome, retryAfter time.Duration, now time.Time) []Action {
	req, src, block := fetch.Req, fetch.Source, fetch.Block
	switch o {
	case Delivered:
		return s.delivered(req, src, block, now)
	case Failed:
		return s.refused(req, src, block, 0, now)
	case Rejected:
		return s.rejected(req, src, block, now)
	case Unavailable:
		s.unavailable(req, src, block, now)
	case Returned:
		s.returned(req, src, block, now)
	case Busy:
		return s.refused(req, src, block, retryAfter, now)
	case Down:
		return s.SourceDown(src, now)
	case Gone:
		return s.Remove(src)
	default:
		panic(fmt.Sprintf("scheduler: Finish with unknown Outcome %d", o))
	}
	return nil
}

func (s *Scheduler) delivered(req ReqID, src SourceID, block int, now time.Time) []Action {
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

func (s *Scheduler) unavailable(req ReqID, src SourceID, block int, now time.Time) {
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

func (s *Scheduler) rejected(req ReqID, src SourceID, block int, now time.Time) []Action {
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

func (s *Scheduler) returned(req ReqID, src SourceID, block int, now time.Time) {
	s.tick(now)
	if r := s.lookup(req, src, block); r != nil {
		s.forget(r, false, now)
	}
}

func (s *Scheduler) refused(req ReqID, src SourceID, block int, retryAfter time.Duration, now time.Time) []Action {
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

// lookup returns the outstanding request req if it matches src and block.
func (s *Scheduler) lookup(req ReqID, src SourceID, block int) *request {
	r := s.reqs[req]
	if r == nil || r.src.id != src || r.block != block {
		return nil
	}
	return r
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
