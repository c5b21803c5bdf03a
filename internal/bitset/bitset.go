// Package bitset is the one set of block indexes that quicxfer keeps in
// memory, sends and stores: words of 64 bits, bit i%64 of word i/64 for
// block i. Its byte form, bit i&7 of byte i>>3, is the little-endian
// encoding of the same words; the partial-state file and the HAVE frame
// carry it.
package bitset

import "math/bits"

// Set is a set of the indexes below 64×len(s). The zero value is empty and
// holds nothing; New makes one for n indexes.
type Set []uint64

// Words returns how many words a set of n indexes needs.
func Words(n int) int { return (n + 63) / 64 }

// New returns an empty set of n indexes.
func New(n int) Set { return make(Set, Words(n)) }

// Get reports whether i is in the set; i must be below 64×len(s).
func (s Set) Get(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }

// Set adds i.
func (s Set) Set(i int) { s[i/64] |= 1 << (i % 64) }

// Clear removes i.
func (s Set) Clear(i int) { s[i/64] &^= 1 << (i % 64) }

// Count returns how many indexes are in the set.
func (s Set) Count() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// Next returns the lowest index >= from in the set, or -1.
func (s Set) Next(from int) int { return s.NextIn(from, nil) }

// NextIn returns the lowest index >= from that is in the set and in mask,
// or -1. A nil mask means every index; otherwise mask must have as many
// words as the set.
func (s Set) NextIn(from int, mask Set) int {
	from = max(from, 0)
	w := from / 64
	if w >= len(s) {
		return -1
	}
	word := func(w int) uint64 {
		if mask == nil {
			return s[w]
		}
		return s[w] & mask[w]
	}
	x := word(w) &^ (1<<(from%64) - 1)
	for {
		if x != 0 {
			return w*64 + bits.TrailingZeros64(x)
		}
		w++
		if w == len(s) {
			return -1
		}
		x = word(w)
	}
}

// ByteLen returns the length of the byte form of a set of n indexes.
func ByteLen(n int) int { return (n + 7) / 8 }

// AppendBytes appends the byte form of the first n indexes, ByteLen(n)
// bytes, to b.
func (s Set) AppendBytes(b []byte, n int) []byte {
	for i := range ByteLen(n) {
		b = append(b, byte(s[i/8]>>(8*(i%8))))
	}
	return b
}

// FromBytes returns the set whose byte form is p.
func FromBytes(p []byte) Set {
	s := make(Set, (len(p)+7)/8)
	for i, c := range p {
		s[i/8] |= uint64(c) << (8 * (i % 8))
	}
	return s
}

// Bytes is a set in its byte form, read where it is stored.
type Bytes []byte

// Get reports whether i is in the set; i must be below 8×len(b).
func (b Bytes) Get(i int) bool { return b[i/8]&(1<<(i%8)) != 0 }
