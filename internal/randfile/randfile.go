// Package randfile makes deterministic pseudo-random content, a function of
// a seed number: the files that the demo, the benchmarks and the tests
// serve and download. The same seed gives the same bytes on every run.
package randfile

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Reader returns seed's endless stream.
func Reader(seed uint64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return rand.NewChaCha8(key)
}

// Bytes returns the first n bytes of seed's stream.
func Bytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(Reader(seed), b)
	return b
}

// Write writes the first n bytes of seed's stream to path, making its
// directory if need be, and returns their SHA-256.
func Write(path string, n int64, seed uint64) ([32]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return [32]byte{}, err
	}
	f, err := os.Create(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(Reader(seed), n)); err != nil {
		return [32]byte{}, err
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, f.Close()
}
