package bench

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tcpServer listens on 127.0.0.1 and runs fn on every connection until
// cleanup, which closes everything and waits.
func tcpServer(t *testing.T, fn func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	serveOne(t, ln, fn)
	return ln
}

func startTCPLink(t *testing.T, upstream net.Addr, cfg LinkConfig) *TCPLink {
	t.Helper()
	l, err := NewTCPLink(context.Background(), upstream.String(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l
}

func TestTCPLinkDelay(t *testing.T) {
	const rtt = 40 * time.Millisecond
	ln := tcpServer(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
	l := startTCPLink(t, ln.Addr(), LinkConfig{RTT: rtt, Jitter: time.Millisecond, Seed: 1})
	c, err := net.Dial("tcp4", l.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	buf := make([]byte, 1)
	var first, best time.Duration
	for i := range 5 {
		start := time.Now()
		_, err := c.Write([]byte{byte(i)})
		require.NoError(t, err)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		require.Equal(t, byte(i), buf[0])
		d := time.Since(start)
		if i == 0 {
			first = d
		} else if i == 1 || d < best {
			best = d
		}
	}
	require.GreaterOrEqual(t, first, 2*rtt-6*time.Millisecond, "the first byte pays the handshake's RTT too")
	require.GreaterOrEqual(t, best, rtt-4*time.Millisecond, "echo faster than the RTT")
	require.Less(t, best, rtt+40*time.Millisecond, "echo far slower than the RTT")
}

func TestTCPLinkRateShared(t *testing.T) {
	// Two connections through one 2 MB/s link share its rate: 2 × 0.6 MB
	// take about 0.6 s, not 0.3.
	const rate, n = 2e6, 600_000
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); _, _ = c.Write(make([]byte, n)) })
		}
	})
	l := startTCPLink(t, ln.Addr(), LinkConfig{Rate: rate, RTT: 2 * time.Millisecond})
	start := time.Now()
	errc := make(chan error, 2)
	for range 2 {
		go func() {
			c, err := net.Dial("tcp4", l.Addr().String())
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			got, err := io.Copy(io.Discard, c)
			if err == nil && got != n {
				err = io.ErrUnexpectedEOF
			}
			errc <- err
		}()
	}
	require.NoError(t, <-errc)
	require.NoError(t, <-errc)
	el := time.Since(start)
	wg.Wait()
	require.Greater(t, el, 450*time.Millisecond, "faster than the shared rate: shaping missing")
	require.Less(t, el, 3*time.Second)
}

func TestTCPLinkDownBudget(t *testing.T) {
	// The first connection gets exactly the budget, then nothing; a second
	// connection is accepted and gets nothing at all.
	const budget, n = 100_000, 1 << 20
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() }) // after the link's: its Close ends the writes
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); _, _ = c.Write(make([]byte, n)) })
		}
	})
	l := startTCPLink(t, ln.Addr(), LinkConfig{Rate: 20e6, RTT: 2 * time.Millisecond, DownBudget: budget})
	read := func() int64 {
		c, err := net.Dial("tcp4", l.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SetReadDeadline(time.Now().Add(500*time.Millisecond)))
		got, err := io.Copy(io.Discard, c)
		var ne net.Error
		require.ErrorAs(t, err, &ne, "the stalled connection must stay open, silent")
		require.True(t, ne.Timeout())
		return got
	}
	require.EqualValues(t, budget, read())
	require.Zero(t, read())
}
