package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSwarmScenario runs scenario 11 small, with the binary: an origin
// process behind a link and 4 downloader processes, alone then with
// --serve. Every file is verified, alone each takes a whole copy from the
// origin, sharing the origin sends less, and the report has the figures.
func TestSwarmScenario(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	o := fast
	o.Exe = buildBinary(t)
	sc := ScenarioSwarm(2<<20, 40*Mbit, 4, 20*Mbit)
	sc.Seeds[0].RTT = 10 * time.Millisecond
	r, err := Run(ctx, sc, t.TempDir(), o)
	require.NoError(t, err)
	s := r.Swarm
	require.NotNil(t, s)
	t.Logf("alone %+v", s.Alone)
	t.Logf("shared %+v", s.Shared)
	require.True(t, r.Verified)
	for _, rd := range []SwarmProcRound{s.Alone, s.Shared} {
		require.Equal(t, 4, rd.Verified)
		require.Positive(t, rd.LastDone)
		require.LessOrEqual(t, rd.FirstDone, rd.LastDone)
		require.Equal(t, 4*sc.FileSize, rd.FromOrigin+rd.FromPeers, "every block accepted once")
		require.GreaterOrEqual(t, rd.OriginSent, rd.FromOrigin)
		require.Positive(t, rd.OriginPeakRSS)
	}
	require.False(t, s.Alone.Serve)
	require.True(t, s.Shared.Serve)
	require.Zero(t, s.Alone.FromPeers)
	require.InDelta(t, 4, s.Alone.OriginOverSize, 0.05, "alone, each downloader takes a whole copy from the origin")
	require.Positive(t, s.Shared.FromPeers)
	require.Less(t, s.Shared.OriginOverSize, s.Alone.OriginOverSize)
	require.Equal(t, s.Shared.LastDone, r.Elapsed)
	require.Zero(t, r.Ideal)
	require.InDelta(t, 4*float64(sc.FileSize)/(40*Mbit), s.AloneIdeal, 1e-9)

	var md strings.Builder
	WriteTable(&md, []Result{r})
	writeDetails(&md, []Result{r})
	require.Contains(t, md.String(), "11-swarm-4")
	require.Contains(t, md.String(), "origin sent ÷ size: alone 4.0")
	require.Contains(t, md.String(), "| --serve, --upload-limit 20.0 Mbit/s |")
}

func TestSuiteHasSwarm(t *testing.T) {
	scs := Suite(SuiteOptions{Only: []int{11}, Run: RunOptions{Exe: "quicxfer"}})
	require.Len(t, scs, 1)
	sc := scs[0]
	require.Equal(t, "11-swarm-16", sc.Name)
	require.EqualValues(t, 64<<20, sc.FileSize, "1 GiB split over 16 downloaders")
	require.Equal(t, 16, sc.Swarm.Downloaders)
	require.InDelta(t, 50*Mbit, sc.Swarm.PeerUpload, 1e-9)
	require.InDelta(t, 100*Mbit, sc.Seeds[0].Rate, 1e-9)
	require.Empty(t, Suite(SuiteOptions{Only: []int{11}}), "needs the binary")
	require.EqualValues(t, 1<<20, Suite(SuiteOptions{Size: 4 << 20, Only: []int{11}, Run: RunOptions{Exe: "x"}})[0].FileSize, "at least 1 MiB each")
}
