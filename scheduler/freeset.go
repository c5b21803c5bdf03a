package scheduler

import "github.com/quicxfer/quicxfer/internal/bitset"

// freeSet is the set of blocks that are missing and not in flight: a bitmap
// with a low-water mark below which no bit is set. Blocks are handed out
// lowest first, so the mark only moves back when a block is returned, and
// finding the lowest free block is amortised constant time.
type freeSet struct {
	bits  bitset.Set
	lo    int   // no bit below lo is set
	n     int   // blocks in the set
	bytes int64 // their total length
}

func newFreeSet(n int) freeSet {
	return freeSet{bits: bitset.New(n), lo: n}
}

func (f *freeSet) has(i int) bool { return f.bits.Get(i) }

func (f *freeSet) add(i int, length int64) {
	if f.has(i) {
		return
	}
	f.bits.Set(i)
	f.n++
	f.bytes += length
	f.lo = min(f.lo, i)
}

func (f *freeSet) remove(i int, length int64) {
	if !f.has(i) {
		return
	}
	f.bits.Clear(i)
	f.n--
	f.bytes -= length
}

// next returns the lowest block >= from in the set, or -1.
func (f *freeSet) next(from int) int {
	if f.n == 0 {
		return -1
	}
	i := f.bits.Next(max(from, f.lo))
	if from <= f.lo {
		// Nothing is below what was found (or, if nothing was, below the end).
		f.lo = i
		if i < 0 {
			f.lo = len(f.bits) * 64
		}
	}
	return i
}

// nextIn returns the lowest block >= from that is in the set and whose bit is
// set in mask, or -1. A nil mask means every block; otherwise mask must cover
// as many words as the set. It does not move the low-water mark (blocks
// outside mask may lie below what it finds).
func (f *freeSet) nextIn(from int, mask []uint64) int {
	if mask == nil {
		return f.next(from)
	}
	if f.n == 0 {
		return -1
	}
	return f.bits.NextIn(max(from, f.lo), mask)
}
