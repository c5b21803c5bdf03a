package scheduler

import (
	"math/bits"
)

// Which blocks each source has (its HAVE), and the rarity of each block
// that follows from them.

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
