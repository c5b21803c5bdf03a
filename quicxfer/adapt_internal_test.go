package quicxfer

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// adaptRun drives a connAdapter with a fake clock for d, at 50 ms ticks
// (the download loop's), with a seed whose rate at n connections is
// curve(n) bytes/s, times a random factor in [1-noise, 1+noise] per tick.
// busy(t) says whether the seed has work at time t since the start. It
// returns the count at each tick.
func adaptRun(a *connAdapter, d time.Duration, curve func(n int) float64, noise float64, busy func(time.Duration) bool) []int {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Unix(1000, 0)
	var bytes float64
	var counts []int
	const tick = 50 * time.Millisecond
	for t := time.Duration(0); t < d; t += tick {
		n := a.conns()
		f := 1 + noise*(2*rng.Float64()-1)
		bytes += curve(n) * f * tick.Seconds()
		counts = append(counts, a.update(start.Add(t), int64(bytes), busy(t), wan))
	}
	return counts
}

func always(time.Duration) bool { return true }

// wan is an 80 ms path with no queue.
var wan = pathRTT{rtt: 81 * time.Millisecond, minRTT: 80 * time.Millisecond}

// lossy: each connection gets 300 kB/s (NewReno through 1 % loss at 80 ms)
// until the 12.5 MB/s link is full.
func lossy(n int) float64 { return min(float64(n)*300e3, 12.5e6) }

func TestAdaptGrowsOnLossyPath(t *testing.T) {
	for _, c := range []int{32, DefaultMaxConnsPerSeed} {
		a := newConnAdapter(c)
		counts := adaptRun(a, 20*time.Second, lossy, 0.1, always)
		require.Equal(t, c, counts[len(counts)-1], "every added connection raises the rate: grows to the cap")
		require.Equal(t, 1, counts[0], "starts at 1")
		// Nearly proportional gains grow 4× per step: 1, 4, 16, then the
		// cap, in three measurements of about a second at 80 ms.
		at := 0
		for i, n := range counts {
			if n == c {
				at = i
				break
			}
		}
		require.LessOrEqual(t, time.Duration(at)*50*time.Millisecond, 3500*time.Millisecond, "reaches the cap within three steps")
	}
}

func TestAdaptRespectsCap(t *testing.T) {
	a := newConnAdapter(6)
	counts := adaptRun(a, 20*time.Second, lossy, 0.1, always)
	for _, n := range counts {
		require.LessOrEqual(t, n, 6)
	}
	require.Equal(t, 6, counts[len(counts)-1])
	a = newConnAdapter(1)
	for _, n := range adaptRun(a, 10*time.Second, lossy, 0, always) {
		require.Equal(t, 1, n, "a cap of 1 never adds one")
	}
}

// A seed that limits its rate (or a clean path that one connection fills)
// stays at one connection, trying a second now and then.
func TestAdaptStaysAtOneWhenRateLimited(t *testing.T) {
	a := newConnAdapter(32)
	counts := adaptRun(a, 60*time.Second, func(int) float64 { return 6.25e6 }, 0.1, always)
	ones, tries := 0, 0
	for i, n := range counts {
		require.LessOrEqual(t, n, 4, "a try from 1 goes to 4")
		if n > 1 && (i == 0 || counts[i-1] == 1) {
			tries++
		}
		if n == 1 {
			ones++
		}
	}
	// Tries after 1, 2, 4, 8, 16 and 30 s at 1.
	require.GreaterOrEqual(t, tries, 3)
	require.LessOrEqual(t, tries, 7)
	require.Greater(t, float64(ones)/float64(len(counts)), 0.85, "nearly all the time at 1")
	require.Equal(t, 1, counts[len(counts)-1])
}

// When the rate stops rising the count goes back to the last one that was
// worth it, and a try that fails waits longer before the next.
func TestAdaptBacksOff(t *testing.T) {
	// Full at 4 connections; more cost a little (CPU, losses among them).
	curve := func(n int) float64 {
		if n <= 4 {
			return float64(n) * 1e6
		}
		return 4e6 * 0.95
	}
	a := newConnAdapter(32)
	counts := adaptRun(a, 60*time.Second, curve, 0.05, always)
	require.Equal(t, 4, counts[len(counts)-1], "4 gained over 1, 16 did not: back to 4")
	tries, above := 0, 0
	for i, n := range counts {
		require.LessOrEqual(t, n, 16)
		if n > 4 && counts[i-1] <= 4 {
			tries++
		}
		if n > 4 {
			above++
		}
	}
	// 16 once, then tries at 8 after 1, 2, 4, 8, 16 and 30 s of holding.
	require.GreaterOrEqual(t, tries, 3)
	require.LessOrEqual(t, tries, 7)
	require.Less(t, float64(above)/float64(len(counts)), 0.25)

	// A curve that falls: 2 connections are worse than 1.
	a = newConnAdapter(32)
	counts = adaptRun(a, 10*time.Second, func(n int) float64 { return 5e6 / float64(n) }, 0, always)
	require.Equal(t, 1, counts[len(counts)-1])
}

// Time without work does not count: a seed idle (the tail of a download)
// makes no decision, and a measurement that spans idle time is dropped.
func TestAdaptOnlyBusyTimeCounts(t *testing.T) {
	a := newConnAdapter(32)
	counts := adaptRun(a, 30*time.Second, lossy, 0, func(time.Duration) bool { return false })
	require.Equal(t, 1, counts[len(counts)-1], "never busy: never measured")

	// Busy 1 s out of every 2: never a full settle and measurement.
	a = newConnAdapter(32)
	counts = adaptRun(a, 30*time.Second, lossy, 0, func(t time.Duration) bool { return t%(2*time.Second) < time.Second })
	require.Equal(t, 1, counts[len(counts)-1])

	// The rate-limited seed idles now and then: still at 1 at the end.
	a = newConnAdapter(32)
	counts = adaptRun(a, 30*time.Second, func(int) float64 { return 1e6 }, 0.1, func(t time.Duration) bool { return t%(5*time.Second) < 4*time.Second })
	require.Equal(t, 1, counts[len(counts)-1])
}

// TestAdaptLimit: a limit lowers the count at once and holds it for good.
func TestAdaptLimit(t *testing.T) {
	a := newConnAdapter(32)
	a.n, a.kept = 8, 8
	a.limit(3)
	require.Equal(t, 3, a.conns())
	require.Equal(t, 3, a.max)
	now := time.Unix(0, 0)
	var b int64
	for i := range 2000 { // rising rates would grow it: they must not pass the limit
		now = now.Add(50 * time.Millisecond)
		b += int64(1+i) << 20
		require.LessOrEqual(t, a.update(now, b, true, wan), 3)
	}
}

// A path whose round trips are well above their lowest has a full
// bottleneck: the count does not grow however the rate moves (other
// downloaders of the seed leaving it more share would read as a gain).
func TestAdaptHoldsWhenQueued(t *testing.T) {
	queued := pathRTT{rtt: 40 * time.Millisecond, minRTT: 10 * time.Millisecond}
	require.True(t, queued.queued())
	require.False(t, wan.queued())
	require.False(t, pathRTT{}.queued(), "nothing known: not queued")
	require.False(t, pathRTT{rtt: 1500 * time.Microsecond, minRTT: 100 * time.Microsecond}.queued(), "loopback's noise is under the 2 ms floor")

	a := newConnAdapter(32)
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Unix(1000, 0)
	var bytes float64
	for tk := time.Duration(0); tk < 30*time.Second; tk += 50 * time.Millisecond {
		bytes += lossy(a.conns()) * (0.9 + 0.2*rng.Float64()) * 0.05
		require.Equal(t, 1, a.update(start.Add(tk), int64(bytes), true, queued), "at %v", tk)
	}
	// Once the queue drains, growth starts again.
	var counts []int
	for tk := 30 * time.Second; tk < 60*time.Second; tk += 50 * time.Millisecond {
		bytes += lossy(a.conns()) * 0.05
		counts = append(counts, a.update(start.Add(tk), int64(bytes), true, wan))
	}
	require.Greater(t, counts[len(counts)-1], 1)
}

// On a path under 20 ms (a LAN, loopback) the count stays at one, however
// the rate moves.
func TestAdaptHoldsOnShortPath(t *testing.T) {
	for _, p := range []pathRTT{{rtt: 10 * time.Millisecond, minRTT: 10 * time.Millisecond}, {rtt: 200 * time.Microsecond, minRTT: 50 * time.Microsecond}, {}} {
		require.True(t, p.noGrowth(), "%+v", p)
		a := newConnAdapter(32)
		start := time.Unix(1000, 0)
		var bytes float64
		for tk := time.Duration(0); tk < 20*time.Second; tk += 50 * time.Millisecond {
			bytes += lossy(a.conns()) * 0.05
			require.Equal(t, 1, a.update(start.Add(tk), int64(bytes), true, p), "%+v at %v", p, tk)
		}
	}
	require.False(t, wan.noGrowth())
}
