package scheduler

import (
	"math"
	"time"
)

// Picking: which free block goes to which source, and when a block is
// worth a second request (the endgame). See the package documentation.

// SetTieStart changes Config.TieStart: ties between equally rare blocks are
// broken from block start on, wrapping around. Out of range means 0.
func (s *Scheduler) SetTieStart(start int) {
	if start < 0 || start >= s.cfg.NumBlocks {
		start = 0
	}
	s.cfg.TieStart = start
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
