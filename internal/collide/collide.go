// Package collide forges data that keeps its xxh64: the attack on a
// download that trusts a block on its xxh64 alone (a planted partial
// download whose block was changed but still matches the manifest's xxh64).
// Tests use it to show that only SHA-256 proves a block.
//
// xxh64 is not a cryptographic hash: each of its four lanes takes 8 bytes
// of every 32-byte stripe through acc = rotl(acc + x·P2, 31)·P1, a bijection
// of x for any acc. So after changing lane 0 of one stripe, lane 0 of the
// next can be solved for the value the original had reached, and the hash
// of the whole input is the same.
package collide

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

const (
	prime1 uint64 = 0x9E3779B185EBCA87
	prime2 uint64 = 0xC2B2AE3D27D4EB4F
)

func round(acc, x uint64) uint64 {
	return bits.RotateLeft64(acc+x*prime2, 31) * prime1
}

// inverse returns the multiplicative inverse of the odd a modulo 2^64.
func inverse(a uint64) uint64 {
	x := a // correct to 3 bits; each Newton step doubles that
	for range 5 {
		x *= 2 - a*x
	}
	return x
}

// XXH64 returns a copy of data that differs from it in the 8 bytes at
// stripe*32 (each byte's low bit flipped) and in the 8 bytes 32 further on,
// and has the same xxh64 (seed 0). data must hold at least (stripe+2)*32
// bytes.
func XXH64(data []byte, stripe int) ([]byte, error) {
	if stripe < 0 || len(data) < (stripe+2)*32 {
		return nil, fmt.Errorf("collide: %d bytes hold no stripes %d and %d", len(data), stripe, stripe+1)
	}
	out := append([]byte(nil), data...)
	lane := func(k int) uint64 { return binary.LittleEndian.Uint64(out[k*32:]) }
	p1 := prime1
	acc := p1 + prime2 // lane 0's start with seed 0 (wrapping)
	for k := range stripe {
		acc = round(acc, lane(k))
	}
	want := round(round(acc, lane(stripe)), lane(stripe+1))
	forged := lane(stripe) ^ 0x0101010101010101
	binary.LittleEndian.PutUint64(out[stripe*32:], forged)
	mid := round(acc, forged)
	fix := (bits.RotateLeft64(want*inverse(prime1), -31) - mid) * inverse(prime2)
	binary.LittleEndian.PutUint64(out[(stripe+1)*32:], fix)
	if xxhash.Sum64(out) != xxhash.Sum64(data) {
		return nil, fmt.Errorf("collide: the forged data's xxh64 differs (a bug)")
	}
	return out, nil
}
