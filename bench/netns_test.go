package bench

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startFabric makes a Fabric for a test, or skips it where namespaces do
// not work here.
func startFabric(t *testing.T, links []LinkConfig) *Fabric {
	t.Helper()
	if why := NetnsUnavailable(); why != "" {
		t.Skip("no Fabric here: " + why)
	}
	f, err := NewFabric(context.Background(), links)
	require.NoError(t, err)
	t.Cleanup(func() {
		c, s := f.Namespaces()
		require.NoError(t, f.Close())
		for _, ns := range []string{c, s} {
			_, err := os.Stat(filepath.Join(netnsDir, ns))
			require.ErrorIs(t, err, os.ErrNotExist, "namespace %s left behind", ns)
		}
	})
	return f
}

// dialFromClient connects from f's client namespace.
func dialFromClient(t *testing.T, f *Fabric, addr net.Addr) net.Conn {
	t.Helper()
	var c net.Conn
	require.NoError(t, f.InClient(func() (err error) {
		c, err = net.DialTimeout("tcp4", addr.String(), 5*time.Second)
		return err
	}))
	t.Cleanup(func() { c.Close() })
	return c
}

// serveOne accepts one connection on ln and runs fn on it; at cleanup the
// listener and the connection are closed and the goroutine waited for.
func serveOne(t *testing.T, ln net.Listener, fn func(net.Conn)) {
	t.Helper()
	done := make(chan struct{})
	conns := make(chan net.Conn, 1)
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		conns <- c
		fn(c)
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case c := <-conns:
			c.Close()
		default:
		}
		<-done
	})
}

func TestFabricDelayAndRate(t *testing.T) {
	const rtt = 40 * time.Millisecond
	const rate = 2e6 // bytes/s
	f := startFabric(t, []LinkConfig{{RTT: rtt, Seed: 1}, {Rate: rate, Seed: 2}})
	require.Equal(t, netip.MustParseAddr("10.99.1.2"), f.ServerAddr(1))

	// Link 0: an echo server; the handshake and each echo take one RTT.
	ln0, err := f.ListenTCP(0)
	require.NoError(t, err)
	serveOne(t, ln0, func(c net.Conn) { _, _ = io.Copy(c, c) })
	start := time.Now()
	c0 := dialFromClient(t, f, ln0.Addr())
	require.GreaterOrEqual(t, time.Since(start), rtt-5*time.Millisecond, "handshake faster than the RTT")
	buf := make([]byte, 1)
	var best time.Duration
	for i := range 5 {
		start := time.Now()
		_, err := c0.Write([]byte{byte(i)})
		require.NoError(t, err)
		_, err = io.ReadFull(c0, buf)
		require.NoError(t, err)
		if d := time.Since(start); i == 0 || d < best {
			best = d
		}
	}
	require.GreaterOrEqual(t, best, rtt-5*time.Millisecond, "echo faster than the RTT")
	require.Less(t, best, rtt+40*time.Millisecond, "echo far slower than the RTT")

	// Link 1: 1.5 MB down at 2 MB/s takes about 0.75 s.
	ln1, err := f.ListenTCP(1)
	require.NoError(t, err)
	const n = 1_500_000
	serveOne(t, ln1, func(c net.Conn) { _, _ = c.Write(make([]byte, n)); c.Close() })
	c1 := dialFromClient(t, f, ln1.Addr())
	start = time.Now()
	got, err := io.Copy(io.Discard, c1)
	require.NoError(t, err)
	el := time.Since(start)
	require.EqualValues(t, n, got)
	require.Greater(t, el, 500*time.Millisecond, "faster than the link rate: shaping missing")
	require.Less(t, el, 5*time.Second)
	st := f.Stats(1)
	require.Greater(t, st.Down.Bytes, int64(n))
	require.Positive(t, st.Up.Packets, "ACKs must cross the link too")
	t.Logf("echo %v (RTT %v), %d B in %v = %.2f MB/s (link %.2f MB/s), stats %+v", best, rtt, n, el, n/el.Seconds()/1e6, rate/1e6, st)
}

func TestFabricLoss(t *testing.T) {
	// TCP recovers from the loss: the bytes arrive, and the link counts drops.
	f := startFabric(t, []LinkConfig{{Rate: 4e6, RTT: 10 * time.Millisecond, Loss: 0.05, Seed: 3}})
	ln, err := f.ListenTCP(0)
	require.NoError(t, err)
	const n = 500_000
	serveOne(t, ln, func(c net.Conn) { _, _ = c.Write(make([]byte, n)); c.Close() })
	c := dialFromClient(t, f, ln.Addr())
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	got, err := io.Copy(io.Discard, c)
	require.NoError(t, err)
	require.EqualValues(t, n, got)
	require.Positive(t, f.Stats(0).Down.Lost+f.Stats(0).Up.Lost)
}

func TestNetnsDownBudget(t *testing.T) {
	// A Fabric link with a DownBudget lets about that much through, then
	// black-holes the direction: the connection goes silent, and a new one
	// never gets its SYN-ACK.
	const budget = 64 << 10
	f := startFabric(t, []LinkConfig{{Rate: 10e6, RTT: 4 * time.Millisecond, Seed: 4, DownBudget: budget}})
	ln, err := f.ListenTCP(0)
	require.NoError(t, err)
	serveOne(t, ln, func(c net.Conn) { _, _ = c.Write(make([]byte, 1<<20)) })
	c := dialFromClient(t, f, ln.Addr())
	require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Second)))
	got, err := io.Copy(io.Discard, c)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "the stalled connection must stay open, silent")
	require.Positive(t, got)
	require.Less(t, got, int64(budget), "the budget counts whole IP packets")
	require.Positive(t, f.Stats(0).Down.Blackholed)
	err = f.InClient(func() error {
		c, err := net.DialTimeout("tcp4", ln.Addr().String(), 300*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	})
	require.Error(t, err, "a handshake after the budget must not complete")
}
