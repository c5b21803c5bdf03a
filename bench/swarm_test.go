package bench

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSwarmSmoke runs the swarm benchmark small: every file right, and the
// origin sends fewer copies when the downloaders share.
func TestSwarmSmoke(t *testing.T) {
	sc := SwarmScenario{FileSize: 2 << 20, Downloaders: 4, Origin: LinkConfig{Rate: 40 * Mbit, RTT: 10 * time.Millisecond}}
	res, err := RunSwarm(t.Context(), sc, t.TempDir())
	require.NoError(t, err)
	t.Logf("alone %+v", res.Alone)
	t.Logf("shared %+v", res.Shared)
	require.InDelta(t, 4, res.Alone.Ratio, 0.01, "alone, each downloader takes a whole copy from the origin")
	require.Zero(t, res.Alone.FromPeers)
	require.Less(t, res.Shared.Ratio, res.Alone.Ratio)
}

// TestSwarmBench is the full swarm figure: QUICXFER_SWARM_BENCH=1 go test
// -run SwarmBench -v ./bench. 16 downloaders of 32 MiB, the origin behind a
// 100 Mbit/s, 20 ms link, each downloader uploading at most 50 Mbit/s.
func TestSwarmBench(t *testing.T) {
	if os.Getenv("QUICXFER_SWARM_BENCH") == "" {
		t.Skip("set QUICXFER_SWARM_BENCH=1 for the full swarm benchmark")
	}
	sc := SwarmScenario{FileSize: 32 << 20, Downloaders: 16, Origin: LinkConfig{Rate: 100 * Mbit, RTT: 20 * time.Millisecond}, PeerUpload: 50 * Mbit}
	res, err := RunSwarm(t.Context(), sc, t.TempDir())
	require.NoError(t, err)
	for _, r := range []SwarmRun{res.Alone, res.Shared} {
		t.Logf("share=%v: %.2f s, origin sent %.2f × the file, downloaders took %.2f × the file from each other",
			r.Share, r.Seconds, r.Ratio, r.FromPeers)
	}
}
