package seed

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/attack"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// TestUnderAttack has misbehaving clients hit one seed at once while a
// well-behaved client downloads: the good download completes with the right
// bytes, and the memory of the process (seed, attackers and good client
// together) stays bounded. It logs the good client's throughput alone and
// under attack, and the peak heap.
//
// Client, attackers and seed share this machine's cores, and an attacker's
// own QUIC and TLS work would take the good client's CPU in a way a remote
// attacker's does not, so the attackers are paced: about 2000 garbage
// datagrams, 20 handshakes, 2000 flood streams and 1000 bad requests a
// second (a quarter of that, and a smaller file, under the race detector,
// which makes every packet several times dearer). The attackers are
// internal/attack's; the benchmark's scenario 10 runs them in a process of
// their own, away from the seed and the good client, for the figures.
func TestUnderAttack(t *testing.T) {
	size := 48 << 20
	slow := 1
	if raceEnabled {
		size, slow = 24<<20, 4
	}
	dir := t.TempDir()
	data := randBytes(size, 31)
	writeFile(t, filepath.Join(dir, "big.bin"), data)
	writeFile(t, filepath.Join(dir, "small.bin"), randBytes(3*bs, 32))
	s := startForTest(t, Options{Paths: []string{dir}})
	big, small := fileByName(t, s, "big.bin"), fileByName(t, s, "small.bin")

	download := func(name string) time.Duration {
		t.Helper()
		out := filepath.Join(t.TempDir(), name)
		res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{s.URL()}, Name: "big.bin", Out: out})
		require.NoError(t, err)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got), "downloaded bytes differ")
		return res.Elapsed
	}

	var peak, peakBufs atomic.Uint64
	raise := func(v *atomic.Uint64, n uint64) {
		for p := v.Load(); n > p && !v.CompareAndSwap(p, n); p = v.Load() {
		}
	}
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		raise(&peak, ms.HeapInuse)
		raise(&peakBufs, uint64(s.Stats().SendBufferBytes))
	}
	const rounds = 2
	var alone, attacked time.Duration
	for i := range rounds {
		alone += download(fmt.Sprint("alone", i))
	}
	sample()
	peakAlone := peak.Load()

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var counts attack.Counts
	target := attack.Target{Addr: s.Addr().(*net.UDPAddr), Big: big.ID, BigSize: big.Size, Small: small.ID, SmallSize: small.Size}
	mix := attack.DefaultMix()
	mix.Slowdown = slow
	var attackErr error
	wg.Go(func() { attackErr = attack.Run(ctx, target, mix, &counts) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
				sample()
			}
		}
	})
	// Let the attack build up: the slow readers fill their streams.
	attackStart := time.Now()
	require.Eventually(t, func() bool { return counts.SlowStreams.Load() >= int64(mix.SlowReaders)*90 }, 10*time.Second, 10*time.Millisecond)

	for i := range rounds {
		attacked += download(fmt.Sprint("attacked", i))
	}
	attackTime := time.Since(attackStart)
	st := s.Stats()
	stop()
	wg.Wait()
	sample()
	require.NoError(t, attackErr, "the seed did what it must not")

	rate := func(d time.Duration) float64 { return float64(rounds*size) / d.Seconds() / 1e6 }
	t.Logf("good client: %d × %d MiB alone in %v (%.1f MB/s); under attack in %v (%.1f MB/s) = %.0f %% of alone",
		rounds, size>>20, alone.Round(time.Millisecond), rate(alone), attacked.Round(time.Millisecond), rate(attacked), 100*alone.Seconds()/attacked.Seconds())
	t.Logf("heap in use (whole test process: seed, attackers, client): peak %d MiB alone, %d MiB under attack; the seed's send buffers: peak %d MiB",
		peakAlone>>20, peak.Load()>>20, peakBufs.Load()>>20)
	tot := counts.Totals()
	t.Logf("attack, %v: %d garbage datagrams, %d wrong-ALPN handshakes, %d flood streams, %d bad requests, %d slow-reader streams held",
		attackTime.Round(time.Millisecond), tot.Datagrams, tot.ALPN, tot.Flood, tot.Bad, tot.SlowStreams)
	t.Logf("seed: streams %d, refused busy %d, bad request %d, not found %d, cancelled %d, buffer waits %d, inflight waits %d, conns refused %d",
		st.Requests, st.RejectedByReason[wire.ErrCodeBusy], st.RejectedByReason[wire.ErrCodeBadRequest],
		st.RejectedByReason[wire.ErrCodeNotFound], st.Cancelled, st.BufferWaits, st.InflightWaits, st.ConnsRefused)

	// The attack happened, and the seed refused it.
	require.Positive(t, tot.Datagrams)
	require.Positive(t, tot.ALPN)
	require.Positive(t, tot.Flood)
	require.Positive(t, st.RejectedByReason[wire.ErrCodeBadRequest])
	require.Positive(t, st.RejectedByReason[wire.ErrCodeNotFound])
	require.Less(t, peak.Load(), uint64(512<<20), "heap in use")
	require.LessOrEqual(t, peakBufs.Load(), uint64(DefaultMaxSendBuffers))
	require.Eventually(t, func() bool { return s.Stats().SendBufferBytes == 0 }, 5*time.Second, 10*time.Millisecond,
		"every send buffer given back once the attackers are gone")
}
