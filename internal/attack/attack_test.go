package attack_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quicxfer/quicxfer/internal/attack"
	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/seed"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startSeed(t *testing.T, files map[string]int) *seed.Server {
	t.Helper()
	dir := t.TempDir()
	for name, size := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644))
	}
	return seedtest.Start(t, seed.Options{Paths: []string{dir}})
}

func TestDiscoverPicksLargestAndSmallest(t *testing.T) {
	s := startSeed(t, map[string]int{"big": 5 << 20, "mid": 1 << 20, "small": 1000, "empty": 0})
	byName := map[string]seed.File{}
	for _, f := range s.Files() {
		byName[f.Name] = f
	}
	tg, err := attack.Discover(t.Context(), s.Addr().(*net.UDPAddr))
	require.NoError(t, err)
	require.Equal(t, byName["big"].ID, tg.Big)
	require.EqualValues(t, 5<<20, tg.BigSize)
	require.Equal(t, byName["small"].ID, tg.Small, "the smallest file with data")
	require.EqualValues(t, 1000, tg.SmallSize)
}

func TestDiscoverNoFiles(t *testing.T) {
	s := startSeed(t, map[string]int{"empty": 0})
	_, err := attack.Discover(t.Context(), s.Addr().(*net.UDPAddr))
	require.ErrorContains(t, err, "no file with data")
}

// TestRunAttacksAndStops runs every kind of attacker for a moment: each
// one gets through to the seed, the seed refuses what it must, and Run
// returns without error once its context ends, leaving no goroutine.
func TestRunAttacksAndStops(t *testing.T) {
	s := startSeed(t, map[string]int{"big": 2 << 20, "small": 300 << 10})
	tg, err := attack.Discover(t.Context(), s.Addr().(*net.UDPAddr))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	var c attack.Counts
	done := make(chan error, 1)
	go func() { done <- attack.Run(ctx, tg, attack.DefaultMix(), &c) }()
	require.Eventually(t, func() bool {
		tot := c.Totals()
		return tot.Datagrams > 0 && tot.ALPN > 0 && tot.Flood > 0 && tot.Bad > 10 && tot.SlowStreams > 0 && len(tot.Refused) > 0
	}, 10*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	tot := c.Totals()
	require.Positive(t, tot.Refused["bad request"]+tot.Refused["not found"])
	require.Positive(t, s.Stats().Rejected)
}
