package partial

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// BenchmarkSync measures persisting the bitmap of a 2048-block download after
// 64 new blocks: fdatasync of the part file (nothing dirty in it, so this is
// the state write, its fsync, the rename and the directory fsync).
func BenchmarkSync(b *testing.B) {
	const n = 2048
	m := &manifest.Manifest{Size: n * bs, BlockSize: bs, Blocks: make([]manifest.Block, n)}
	f, _, err := Open(filepath.Join(b.TempDir(), "out"), m, Options{})
	require.NoError(b, err)
	defer f.Close()
	b.ReportAllocs()
	next := 0
	for b.Loop() {
		// Mark 64 blocks written without writing them: the bytes are not
		// what this measures.
		f.mu.Lock()
		for range 64 {
			if !f.have.Get(next) {
				f.markLocked(next)
			}
			f.pending = append(f.pending, next)
			next = (next + 1) % n
		}
		f.mu.Unlock()
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen measures Open of a 256 MiB part file (2048 blocks), from the
// page cache: "bits set" re-checks every block with xxh64; "state lost" runs
// the recovery scan, xxh64 and SHA-256 over every block.
func BenchmarkOpen(b *testing.B) {
	const size = 256 << 20
	d := newDownload(b, randomData(size, 42))
	f, _, err := Open(d.out, d.m, Options{})
	require.NoError(b, err)
	for i := range d.m.NumBlocks() {
		require.NoError(b, f.WriteBlock(i, d.block(i)))
	}
	require.NoError(b, f.Close())
	d.data = nil

	for _, bc := range []struct {
		name      string
		loseState bool
	}{
		{"bits set", false},
		{"state lost", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				if bc.loseState {
					b.StopTimer()
					require.NoError(b, os.Remove(StatePath(d.out)))
					b.StartTimer()
				}
				f, rep, err := Open(d.out, d.m, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if rep.Trusted+rep.Recovered != d.m.NumBlocks() {
					b.Fatalf("report %+v", rep)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
