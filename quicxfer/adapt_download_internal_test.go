package quicxfer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/seed"
)

// scripted is a connDecider that follows a script by bytes received: 1
// connection for the first quarter of the file, 4 up to a half, then 2. It
// records what the seed saw.
type scripted struct {
	size  int64
	srv   *seed.Server
	mu    sync.Mutex
	calls int
	late  []int64 // the seed's live connections, once past 85 % at 2
}

func (s *scripted) limit(int) {}

func (s *scripted) update(_ time.Time, b int64, _ bool, _ pathRTT) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	switch {
	case b < s.size/4:
		return 1
	case b < s.size/2:
		return 4
	}
	if b >= s.size*85/100 {
		s.late = append(s.late, s.srv.Stats().ConnsActive)
	}
	return 2
}

func writeData(t *testing.T, dir, name string, size int) []byte {
	t.Helper()
	return testkit.WriteRandom(t, filepath.Join(dir, name), size, 9)
}

// In the adaptive mode the download opens the connections its decider asks
// for, spreads requests over them, and closes the ones it no longer wants
// without cutting a request short; the file is exact.
func TestAdaptiveConnsFollowDecider(t *testing.T) {
	dir := t.TempDir()
	const size = 32 * 128 << 10 // 32 blocks of 128 KiB
	data := writeData(t, dir, "f.bin", size)
	srv := seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: 2e6})
	sc := &scripted{size: size, srv: srv}
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := Download(t.Context(), Options{
		Seeds: []string{srv.URL()}, Name: "f.bin", Out: out, ConnsPerSeed: ConnsAuto,
		decider: func(maxConns int) connDecider {
			require.Equal(t, DefaultMaxConnsPerSeed, maxConns)
			return sc
		},
	})
	require.NoError(t, err)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got), "the file differs")

	require.Positive(t, sc.calls)
	require.EqualValues(t, 4, srv.Stats().ConnsAccepted, "the first connection, then 3 more when the decider asked for 4")
	require.Equal(t, 4, res.Seeds[0].Conns)
	require.EqualValues(t, size, res.Seeds[0].Received, "no request was cut short when connections were closed")
	require.Contains(t, sc.late, int64(2), "the 2 connections no longer wanted were closed before the end")
}

// ConnsAuto adapts with connAdapter: a download on
// loopback works and stays within the cap.
func TestAdaptiveDefault(t *testing.T) {
	dir := t.TempDir()
	const size = 24 * 128 << 10
	data := writeData(t, dir, "f.bin", size)
	srv := seedtest.Start(t, seed.Options{Paths: []string{dir}})
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := Download(t.Context(), Options{Seeds: []string{srv.URL()}, Name: "f.bin", Out: out, ConnsPerSeed: ConnsAuto, MaxConnsPerSeed: 3})
	require.NoError(t, err)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got), "the file differs")
	require.GreaterOrEqual(t, res.Seeds[0].Conns, 1)
	require.LessOrEqual(t, res.Seeds[0].Conns, 3)
	require.LessOrEqual(t, srv.Stats().ConnsAccepted, int64(3))
}

// A seed that takes no more connections (its MaxConns reached: the extra
// ones are closed as busy) is not a seed that is down: the download goes
// on with the connections it has, lowers its count to them, and completes.
// Before, every refused extra connection counted as the seed going down,
// and the seed was dropped.
func TestExtraConnectionsRefused(t *testing.T) {
	dir := t.TempDir()
	const size = 48 * 128 << 10
	data := writeData(t, dir, "f.bin", size)
	for _, conns := range []int{ConnsAuto, 6} { // adaptive, asked for 6; fixed 6
		t.Run(fmt.Sprint(conns), func(t *testing.T) {
			srv := seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: 4e6, MaxConns: 2})
			var lg struct {
				sync.Mutex
				lines []string
			}
			opts := Options{
				Seeds: []string{srv.URL()}, Name: "f.bin", Out: filepath.Join(t.TempDir(), "f.bin"), ConnsPerSeed: conns,
				Logf: func(f string, a ...any) { lg.Lock(); lg.lines = append(lg.lines, fmt.Sprintf(f, a...)); lg.Unlock() },
			}
			if conns == ConnsAuto {
				opts.decider = func(int) connDecider { return &fixedDecider{n: 6} }
			}
			res, err := Download(t.Context(), opts)
			require.NoError(t, err, "%v", lg.lines)
			got, err := os.ReadFile(opts.Out)
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got), "the file differs")
			require.Empty(t, res.Seeds[0].Note)
			require.Contains(t, strings.Join(lg.lines, "\n"), "takes no more connections")
		})
	}
}

// fixedDecider always asks for n connections, and takes a limit.
type fixedDecider struct{ n int }

func (d *fixedDecider) update(time.Time, int64, bool, pathRTT) int { return d.n }
func (d *fixedDecider) limit(n int)                                { d.n = min(d.n, n) }
