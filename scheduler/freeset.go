package scheduler

import "math/bits"

// freeSet is the set of blocks that are missing and not in flight: a bitmap
// with a low-water mark below which no bit is set. Blocks are handed out
// lowest first, so the mark only moves back when a block is returned, and
// finding the lowest free block is amortised constant time.
type freeSet struct {
	bits  []uint64
	lo    int   // no bit below lo is set
	n     int   // blocks in the set
	bytes int64 // their total length
}

func newFreeSet(n int) freeSet {
	return freeSet{bits: make([]uint64, (n+63)/64), lo: n}
}

func (f *freeSet) has(i int) bool { return f.bits[i/64]&(1<<(i%64)) != 0 }

func (f *freeSet) add(i int, length int64) {
	if f.has(i) {
		return
	}
	f.bits[i/64] |= 1 << (i % 64)
	f.n++
	f.bytes += length
	f.lo = min(f.lo, i)
}

func (f *freeSet) remove(i int, length int64) {
	if !f.has(i) {
		return
	}
	f.bits[i/64] &^= 1 << (i % 64)
	f.n--
	f.bytes -= length
}

// next returns the lowest block >= from in the set, or -1.
func (f *freeSet) next(from int) int {
	if f.n == 0 {
		return -1
	}
	start := max(from, f.lo)
	w := start / 64
	if w >= len(f.bits) {
		return -1
	}
	word := f.bits[w] &^ (1<<(start%64) - 1)
	for {
		if word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			if from <= f.lo {
				f.lo = i
			}
			return i
		}
		w++
		if w == len(f.bits) {
			if from <= f.lo {
				f.lo = len(f.bits) * 64
			}
			return -1
		}
		word = f.bits[w]
	}
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
	start := max(from, f.lo)
	w := start / 64
	if w >= len(f.bits) {
		return -1
	}
	word := f.bits[w] & mask[w] &^ (1<<(start%64) - 1)
	for {
		if word != 0 {
			return w*64 + bits.TrailingZeros64(word)
		}
		w++
		if w == len(f.bits) {
			return -1
		}
		word = f.bits[w] & mask[w]
	}
}
