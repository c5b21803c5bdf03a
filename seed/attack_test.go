package seed

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
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
// which makes every packet several times dearer).
func TestUnderAttack(t *testing.T) {
	size := 48 << 20
	slow := time.Duration(1)
	if raceEnabled {
		size, slow = 24<<20, 4
	}
	dir := t.TempDir()
	data := randBytes(size, 31)
	writeFile(t, filepath.Join(dir, "big.bin"), data)
	writeFile(t, filepath.Join(dir, "small.bin"), randBytes(3*bs, 32))
	s := StartForTest(t, Options{Paths: []string{dir}})
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
	var counts attackCounts
	a := &attacker{t: t, s: s, ctx: ctx, counts: &counts, slow: slow}
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
	wg.Go(a.garbage)
	wg.Go(a.wrongALPN)
	for range 2 {
		wg.Go(a.streamFlood)
	}
	for range 2 {
		wg.Go(func() { a.badRequests(big.ID) })
	}
	for range 8 {
		wg.Go(func() { a.slowReader(big.ID, big.Size, small.ID) })
	}
	// Let the attack build up: the slow readers fill their streams.
	attackStart := time.Now()
	require.Eventually(t, func() bool { return counts.slowStreams.Load() >= 8*90 }, 10*time.Second, 10*time.Millisecond)

	for i := range rounds {
		attacked += download(fmt.Sprint("attacked", i))
	}
	attackTime := time.Since(attackStart)
	st := s.Stats()
	stop()
	wg.Wait()
	sample()

	rate := func(d time.Duration) float64 { return float64(rounds*size) / d.Seconds() / 1e6 }
	t.Logf("good client: %d × %d MiB alone in %v (%.1f MB/s); under attack in %v (%.1f MB/s) = %.0f %% of alone",
		rounds, size>>20, alone.Round(time.Millisecond), rate(alone), attacked.Round(time.Millisecond), rate(attacked), 100*alone.Seconds()/attacked.Seconds())
	t.Logf("heap in use (whole test process: seed, attackers, client): peak %d MiB alone, %d MiB under attack; the seed's send buffers: peak %d MiB",
		peakAlone>>20, peak.Load()>>20, peakBufs.Load()>>20)
	t.Logf("attack, %v: %d garbage datagrams, %d wrong-ALPN handshakes, %d flood streams, %d bad requests, %d slow-reader streams held",
		attackTime.Round(time.Millisecond), counts.datagrams.Load(), counts.alpn.Load(), counts.flood.Load(), counts.bad.Load(), counts.slowStreams.Load())
	t.Logf("seed: streams %d, refused busy %d, bad request %d, not found %d, cancelled %d, buffer waits %d, inflight waits %d, conns refused %d",
		st.Requests, st.RejectedByReason[wire.ErrCodeBusy], st.RejectedByReason[wire.ErrCodeBadRequest],
		st.RejectedByReason[wire.ErrCodeNotFound], st.Cancelled, st.BufferWaits, st.InflightWaits, st.ConnsRefused)

	// The attack happened, and the seed refused it.
	require.Positive(t, counts.datagrams.Load())
	require.Positive(t, counts.alpn.Load())
	require.Positive(t, counts.flood.Load())
	require.Positive(t, st.RejectedByReason[wire.ErrCodeBadRequest])
	require.Positive(t, st.RejectedByReason[wire.ErrCodeNotFound])
	require.Less(t, peak.Load(), uint64(512<<20), "heap in use")
	require.LessOrEqual(t, peakBufs.Load(), uint64(DefaultMaxSendBuffers))
	require.Eventually(t, func() bool { return s.Stats().SendBufferBytes == 0 }, 5*time.Second, 10*time.Millisecond,
		"every send buffer given back once the attackers are gone")
}

type attackCounts struct {
	datagrams, alpn, flood, bad, slowStreams atomic.Int64
}

// attacker runs misbehaving clients against s until ctx ends. Each method
// is one client; errors from the seed are what they expect.
type attacker struct {
	t      *testing.T
	s      *Server
	ctx    context.Context
	counts *attackCounts
	slow   time.Duration // multiplies every pause
}

func (a *attacker) tlsConf(alpn string) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{alpn}, InsecureSkipVerify: true}
}

// conn dials the seed, or returns nil once ctx has ended.
func (a *attacker) conn(q *quic.Config) *quic.Conn {
	for a.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
		c, err := quic.DialAddr(ctx, a.s.Addr().String(), a.tlsConf(wire.ALPN), q)
		cancel()
		if err == nil {
			context.AfterFunc(a.ctx, func() { c.CloseWithError(0, "") })
			return c
		}
	}
	return nil
}

// pace waits d, and reports false once ctx has ended.
func (a *attacker) pace(d time.Duration) bool {
	select {
	case <-a.ctx.Done():
		return false
	case <-time.After(d * a.slow):
		return true
	}
}

// garbage sends random datagrams of every size to the seed's port, about
// 2000 a second.
func (a *attacker) garbage() {
	udp, err := net.DialUDP("udp", nil, a.s.Addr().(*net.UDPAddr))
	if err != nil {
		a.t.Errorf("garbage: %v", err)
		return
	}
	defer udp.Close()
	r := rand.New(rand.NewPCG(7, 7))
	b := make([]byte, 1500)
	for a.pace(time.Millisecond) {
		for range 2 {
			n := 1 + r.IntN(len(b))
			for i := range n {
				b[i] = byte(r.Uint32())
			}
			if r.IntN(4) == 0 {
				b[0] |= 0xc0 // a long header, as an Initial would have
			}
			udp.Write(b[:n])
			a.counts.datagrams.Add(1)
		}
	}
}

// wrongALPN completes TLS handshakes offering another protocol, 20 a second.
func (a *attacker) wrongALPN() {
	for a.pace(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(a.ctx, 2*time.Second)
		c, err := quic.DialAddr(ctx, a.s.Addr().String(), a.tlsConf("h3"), nil)
		cancel()
		if err == nil {
			a.t.Errorf("a connection with ALPN h3 was accepted")
			c.CloseWithError(0, "")
			return
		}
		a.counts.alpn.Add(1)
	}
}

// streamFlood opens about 1000 streams a second, each a LIST it abandons at
// once: thousands of streams, far more than the seed's stream limit.
func (a *attacker) streamFlood() {
	c := a.conn(nil)
	for i := 0; c != nil && (i%2 == 1 || a.pace(time.Millisecond)); i++ {
		str, err := c.OpenStreamSync(a.ctx)
		if err != nil {
			c = a.conn(nil) // closed by the seed, or the attack is over
			continue
		}
		str.Write((&wire.ListRequest{}).Append(nil))
		str.Close()
		str.CancelRead(0)
		a.counts.flood.Add(1)
	}
}

// badRequests sends requests for out-of-range and unknown blocks, frames
// announcing huge payloads, and requests that never end, and reads the
// refusals.
func (a *attacker) badRequests(id manifest.ID) {
	var unknown manifest.ID
	unknown[0] = 0x55
	reqs := [][]byte{
		(&wire.BlockRequest{ID: id, Index: 1 << 40}).Append(nil),
		(&wire.BlockRequest{ID: id, Index: 1<<62 - 1}).Append(nil),
		(&wire.BlockRequest{ID: unknown}).Append(nil),
		{byte(wire.FrameGetBlock), 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // a payload of 4 EiB
		{byte(wire.FrameGetManifest), 0x80, 0x10, 0x00, 0x00},                      // a name of 1 MiB
	}
	c := a.conn(nil)
	for i := 0; c != nil && a.pace(time.Millisecond); i++ {
		str, err := c.OpenStreamSync(a.ctx)
		if err != nil {
			c = a.conn(nil)
			continue
		}
		a.counts.bad.Add(1)
		if i%50 == 49 {
			// Half a request, never finished: the seed's request
			// timeout ends it; meanwhile it holds one stream.
			str.Write(reqs[2][:10])
			continue
		}
		str.Write(reqs[i%len(reqs)])
		str.Close()
		str.SetReadDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		if _, err := str.Read(b[:]); err == nil {
			a.t.Errorf("a bad request was answered")
		}
	}
}

// slowReader asks for as many blocks as the seed allows at once, each
// through a tiny window, and never reads them; it asks again whenever the
// seed drops one.
func (a *attacker) slowReader(big manifest.ID, bigSize int64, small manifest.ID) {
	q := smallWindows()
	q.InitialStreamReceiveWindow, q.MaxStreamReceiveWindow = 1<<10, 1<<10
	c := a.conn(q)
	if c == nil {
		return
	}
	nblocks := manifest.NumBlocksFor(bigSize, manifest.BlockSizeFor(bigSize))
	for i := 0; a.ctx.Err() == nil; i++ {
		str, err := c.OpenStreamSync(a.ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return
			}
			if c = a.conn(q); c == nil {
				return
			}
			continue
		}
		id, idx := big, uint64(i%nblocks)
		if i%2 == 1 {
			id, idx = small, uint64(i%3)
		}
		str.Write((&wire.BlockRequest{ID: id, Index: idx}).Append(nil))
		str.Close()
		a.counts.slowStreams.Add(1)
	}
}
