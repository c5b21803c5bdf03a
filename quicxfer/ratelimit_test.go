package quicxfer_test

import (
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
