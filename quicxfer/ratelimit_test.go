package quicxfer_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// TestRateLimit: Options.RateLimit holds two seeds together to the limit:
// 2 MB at 1 MB/s cannot arrive in under about 1.9 s, however fast the
// machine (the seeds are not limited, and 127.0.0.1 carries far more). And
// the limit is the user's, not the seeds' fault: each seed gets about half
// of it, below LowestSpeedLimit, yet neither is taken for stalled or too
// slow, and both carry part of the file.
func TestRateLimit(t *testing.T) {
	dir := t.TempDir()
	const size = 2_000_000
	data := writeFile(t, dir, "f.bin", size, 14)
	_, urls := startSeeds(t, dir, 0, 0)
	out := filepath.Join(t.TempDir(), "f.bin")
	var events []quicxfer.Event
	start := time.Now()
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{
		Seeds: urls, Name: "f.bin", Out: out,
		RateLimit:        1e6,
		LowestSpeedLimit: 800e3, // above each seed's share of the limit
		LowestSpeedTime:  300 * time.Millisecond,
		OnEvent:          func(e quicxfer.Event) { events = append(events, e) },
	})
	elapsed := time.Since(start)
	require.NoError(t, err)
	requireFile(t, out, data)
	require.GreaterOrEqual(t, elapsed, 1500*time.Millisecond, "2 MB at 1 MB/s")
	for _, e := range events {
		require.NotContains(t, []quicxfer.EventKind{quicxfer.EventStalled, quicxfer.EventSourceDropped, quicxfer.EventSourceDown}, e.Kind, "%+v", e)
	}
	for _, s := range res.Seeds {
		require.Positive(t, s.Bytes, "every seed carried part of the file: %+v", res.Seeds)
		require.Empty(t, s.Note)
	}
}

// TestDirRateLimitShared: a directory download's RateLimit is the
// directory's, not each file's: three files of 1 MB fetched three at once
// under 1 MB/s take about 3 s (each file with a limiter of its own would
// take about 1 s).
func TestDirRateLimitShared(t *testing.T) {
	src := t.TempDir()
	const size = 1_000_000
	for i := range 3 {
		writeFile(t, src, fmt.Sprintf("set/f%d.bin", i), size, uint64(20+i))
	}
	_, urls := startSeeds(t, src, 0)
	out := filepath.Join(t.TempDir(), "set")
	start := time.Now()
	res, err := quicxfer.DownloadDir(t.Context(), quicxfer.DirOptions{
		Base:   quicxfer.Options{Seeds: urls, MaxPeers: -1, RateLimit: 1e6},
		Prefix: "set", OutDir: out, Parallel: 3,
	})
	elapsed := time.Since(start)
	require.NoError(t, err)
	require.Len(t, res.Files, 3)
	require.GreaterOrEqual(t, elapsed, 2500*time.Millisecond, "3 MB at 1 MB/s, all files together")
}
