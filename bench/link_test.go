package bench

import (
	"context"
	"encoding/binary"
	"net"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// udpPeer is a UDP socket on 127.0.0.1 for a test.
func udpPeer(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	setBuffers(c)
	t.Cleanup(func() { c.Close() })
	return c
}

func startLink(t *testing.T, upstream *net.UDPConn, cfg LinkConfig) *Link {
	t.Helper()
	l, err := NewLink(context.Background(), upstream.LocalAddr().(*net.UDPAddr), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l
}

// echo answers every datagram on c until c is closed; the returned function
// closes c and waits.
func echo(c *net.UDPConn) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, maxDatagram)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	return func() { c.Close(); <-done }
}

func TestLinkRoundTripDelay(t *testing.T) {
	up := udpPeer(t)
	stop := echo(up)
	defer stop()
	const rtt = 40 * time.Millisecond
	l := startLink(t, up, LinkConfig{RTT: rtt, Jitter: 2 * time.Millisecond, Seed: 1})
	client := udpPeer(t)

	var rtts []time.Duration
	buf := make([]byte, 64)
	for i := range 10 {
		start := time.Now()
		_, err := client.WriteToUDP([]byte{byte(i)}, l.Addr())
		require.NoError(t, err)
		require.NoError(t, client.SetReadDeadline(time.Now().Add(2*time.Second)))
		n, _, err := client.ReadFromUDP(buf)
		require.NoError(t, err)
		require.Equal(t, []byte{byte(i)}, buf[:n])
		rtts = append(rtts, time.Since(start))
	}
	slices.Sort(rtts)
	require.GreaterOrEqual(t, rtts[0], rtt-4*time.Millisecond, "faster than the emulated RTT")
	require.Less(t, rtts[len(rtts)/2], rtt+25*time.Millisecond, "median far above the emulated RTT")
	st := l.Stats()
	require.EqualValues(t, 10, st.Up.Packets)
	require.EqualValues(t, 10, st.Down.Packets)
}

func TestLinkRate(t *testing.T) {
	up := udpPeer(t)
	const rate = 10e6 // bytes/s
	l := startLink(t, up, LinkConfig{Rate: rate, RTT: 10 * time.Millisecond, Seed: 2})
	client := udpPeer(t)

	// The client speaks first, so that the link has a flow for it.
	_, err := client.WriteToUDP([]byte("hello"), l.Addr())
	require.NoError(t, err)
	buf := make([]byte, maxDatagram)
	require.NoError(t, up.SetReadDeadline(time.Now().Add(2*time.Second)))
	_, flowAddr, err := up.ReadFromUDP(buf)
	require.NoError(t, err)

	// Offer about twice the rate for 400 ms: about 8 MB, 4 MB of which
	// fit through.
	sendDone := make(chan error, 1)
	go func() {
		pkt := make([]byte, 1200)
		end := time.Now().Add(400 * time.Millisecond)
		for time.Now().Before(end) {
			for range 16 {
				if _, err := up.WriteToUDP(pkt, flowAddr); err != nil {
					sendDone <- err
					return
				}
			}
			time.Sleep(time.Duration(16 * 1200 / (2 * rate) * float64(time.Second)))
		}
		sendDone <- nil
	}()

	var first, last time.Time
	var total int
	for {
		require.NoError(t, client.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
		n, _, err := client.ReadFromUDP(buf)
		if err != nil {
			break
		}
		if first.IsZero() {
			first = time.Now()
		} else {
			total += n // the first packet only starts the clock
		}
		last = time.Now()
	}
	require.NoError(t, <-sendDone)
	got := float64(total) / last.Sub(first).Seconds()
	t.Logf("offered ~%.0f B/s, measured %.0f B/s over %d bytes; link stats %+v", 2*rate, got, total, l.Stats().Down)
	require.Greater(t, total, 1<<20)
	require.LessOrEqual(t, got, 1.1*rate, "faster than the link's rate")
	require.GreaterOrEqual(t, got, 0.5*rate, "far below the link's rate")
	require.Positive(t, l.Stats().Down.QueueDropped, "an overloaded bottleneck drops")
}

// sendSeq sends n numbered datagrams from client through l to up and
// returns the numbers that arrived, sorted.
func sendSeq(t *testing.T, client, up *net.UDPConn, l *Link, n int) []uint32 {
	t.Helper()
	recv := make(chan []uint32, 1)
	go func() {
		var got []uint32
		buf := make([]byte, 64)
		for {
			_ = up.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			m, _, err := up.ReadFromUDP(buf)
			if err != nil {
				break
			}
			got = append(got, binary.BigEndian.Uint32(buf[:m]))
		}
		recv <- got
	}()
	for i := range n {
		_, err := client.WriteToUDP(binary.BigEndian.AppendUint32(nil, uint32(i)), l.Addr())
		require.NoError(t, err)
		if i%100 == 99 {
			time.Sleep(time.Millisecond) // stay far below the socket buffers
		}
	}
	got := <-recv
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	return got
}

func TestLinkLossIsRandomAndDeterministic(t *testing.T) {
	const n, loss = 5000, 0.1
	var runs [][]uint32
	for range 2 {
		up, client := udpPeer(t), udpPeer(t)
		l := startLink(t, up, LinkConfig{Loss: loss, Seed: 42})
		got := sendSeq(t, client, up, l, n)
		st := l.Stats().Up
		require.EqualValues(t, n-len(got), st.Lost, "every missing datagram was dropped on purpose")
		require.EqualValues(t, len(got), st.Packets)
		frac := float64(st.Lost) / n
		require.InDelta(t, loss, frac, 0.025)
		runs = append(runs, got)
	}
	require.Equal(t, runs[0], runs[1], "same seed, same losses")
}

func TestLinkCloseIsIdempotent(t *testing.T) {
	up := udpPeer(t)
	l, err := NewLink(context.Background(), up.LocalAddr().(*net.UDPAddr), LinkConfig{RTT: time.Second})
	require.NoError(t, err)
	client := udpPeer(t)
	_, err = client.WriteToUDP([]byte("in flight when closed"), l.Addr())
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close())
}

func TestLinkStopsWithContext(t *testing.T) {
	up := udpPeer(t)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := NewLink(ctx, up.LocalAddr().(*net.UDPAddr), LinkConfig{})
	require.NoError(t, err)
	cancel()
	require.NoError(t, l.Close())
}

func TestLinkRejectsBadConfig(t *testing.T) {
	up := udpPeer(t)
	for _, cfg := range []LinkConfig{{Rate: -1}, {Loss: 1.5}, {RTT: -time.Second}, {QueueBytes: -1}} {
		_, err := NewLink(context.Background(), up.LocalAddr().(*net.UDPAddr), cfg)
		require.Error(t, err, "%+v", cfg)
	}
}

func TestQUICThroughLink(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := RawQUIC(ctx, RawOptions{
		Size:      2 << 20,
		InProcess: true,
		Link:      &LinkConfig{Rate: 20e6, RTT: 20 * time.Millisecond, Jitter: time.Millisecond, Loss: 0.01, Seed: 3},
	})
	require.NoError(t, err)
	require.EqualValues(t, 2<<20, res.Bytes)
	require.LessOrEqual(t, res.Throughput, 1.1*20e6)
}

func TestRawQUICInChildProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := RawQUIC(ctx, RawOptions{Size: 8 << 20})
	require.NoError(t, err)
	require.EqualValues(t, 8<<20, res.Bytes)
	require.True(t, res.Child)
	t.Logf("raw quic-go, server in a child process, loopback: %.0f Mbit/s", res.Throughput*8/1e6)
}
