package bench

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func requireAria2(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("aria2c"); err != nil {
		t.Skip(Aria2Missing)
	}
}

// checkAria2 asserts that r is a verified download of sc.
func checkAria2(t *testing.T, sc Scenario, r Aria2Result, err error) {
	t.Helper()
	require.NoError(t, err)
	require.Empty(t, r.Skipped)
	require.Empty(t, r.Err)
	require.Equal(t, sc.FileSize, r.Bytes)
	require.Positive(t, r.Elapsed)
	require.Positive(t, r.ThroughputBps)
	require.Positive(t, r.PeakRSSBytes)
	require.Len(t, r.SeedBytes, len(sc.Seeds))
	var sum int64
	for _, b := range r.SeedBytes {
		sum += b
	}
	require.GreaterOrEqual(t, sum, sc.FileSize)
	t.Logf("%s via %s: %v, %.1f Mbit/s, CPU %.2f s, RSS %.1f MiB, per mirror %v",
		r.Options, r.Links, r.Elapsed.Round(time.Millisecond), r.ThroughputBps*8/1e6, r.CPUSeconds, float64(r.PeakRSSBytes)/(1<<20), r.SeedBytes)
}

func TestAria2Smoke(t *testing.T) {
	requireAria2(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()

	// Three mirrors on fast links (a Fabric where root, relays otherwise).
	sc := Scenario2(6<<20, 100*Mbit)
	r, err := RunAria2(ctx, sc, dir, Aria2Options{})
	checkAria2(t, sc, r, err)
	require.NotEqual(t, linksLoopback, r.Links)

	// One mirror on loopback, another setting, same directory.
	sc1 := Scenario1(3 << 20)
	r, err = RunAria2(ctx, sc1, dir, Aria2Options{Split: 4, PerServer: 4, MinSplitSize: "1M"})
	checkAria2(t, sc1, r, err)
	require.Equal(t, linksLoopback, r.Links)
}

func TestAria2Relay(t *testing.T) {
	// The fallback for non-root runs: relays with the links' rate and delay.
	requireAria2(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := Scenario2(4<<20, 100*Mbit)
	r, err := runAria2(ctx, sc, t.TempDir(), Aria2Options{Split: 3, PerServer: 1, MinSplitSize: "1M"}, linksRelay)
	checkAria2(t, sc, r, err)
	require.Equal(t, linksRelay, r.Links)
}

func TestAria2Missing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	r, err := RunAria2(context.Background(), Scenario1(1<<20), t.TempDir(), Aria2Options{})
	require.NoError(t, err)
	require.Equal(t, Aria2Missing, r.Skipped)
}

func TestAria2Variants(t *testing.T) {
	v := Aria2Variants(Scenario2(1<<20, Mbit))
	require.Equal(t, Aria2Options{}, v[0], "the default comes first")
	require.Equal(t, "default", v[0].String())
	require.Contains(t, v, Aria2Options{Split: 3, PerServer: 1})
	require.Contains(t, v, Aria2Options{Split: 16, PerServer: 16, MinSplitSize: "1M"})
	require.Contains(t, v, Aria2Options{Split: 16, PerServer: 16, MinSplitSize: "1M", URISelector: "adaptive"})
	require.Equal(t, []string{"--split=16", "--max-connection-per-server=16", "--min-split-size=1M", "--uri-selector=adaptive"}, v[len(v)-1].Args())
	for _, o := range Aria2Variants(Scenario1(1 << 20)) {
		require.NotEqual(t, 1, o.PerServer, "one connection per mirror is the default with one mirror")
	}

	best, ok := BestAria2([]Aria2Result{
		{Options: v[0], Elapsed: 3 * time.Second, Bytes: 1},
		{Options: v[1], Elapsed: time.Second, Err: "failed"},
		{Options: v[2], Elapsed: 2 * time.Second, Bytes: 1},
	})
	require.True(t, ok)
	require.Equal(t, v[2], best.Options)
}

func TestAria2Kill(t *testing.T) {
	// Scenario 3: mirror 1 is killed once the mirrors have sent 40 % of the
	// file; aria2c finishes from the other two. Relays, and a Fabric where
	// root.
	requireAria2(t)
	links := []string{linksRelay}
	if NetnsAvailable() {
		links = append(links, linksNetns)
	}
	for _, l := range links {
		t.Run(l, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			sc := Scenario3(8<<20, 20*Mbit)
			r, err := runAria2(ctx, sc, t.TempDir(), Aria2Options{Split: 3, PerServer: 1, MinSplitSize: "1M"}, l)
			checkAria2(t, sc, r, err)
			require.GreaterOrEqual(t, r.KilledAt, sc.KillAt)
			require.Less(t, r.KilledAt, 0.8, "killed far too late")
			// Mirror 1 sent nothing after the kill, but for what its
			// connections (aria2c opens one or two here) had under way.
			require.Less(t, float64(r.SeedBytes[0]), r.KilledAt*float64(sc.FileSize)+4*sentCountStep, "mirror 1 went on after the kill")
			t.Logf("killed at %.3f", r.KilledAt)
		})
	}
}
