package scheduler

import (
	"fmt"
	"slices"
	"time"
)

// Requests: issued by Next (assign), ended by the caller's report of how
// they went, or cancelled by the scheduler.

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
