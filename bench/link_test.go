package bench

import (
	"context"
	"encoding/binary"
	"net"
	"slices"
	"sort"
	"sync/atomic"
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
	const pings = 20
	for i := range pings {
		start := time.Now()
		_, err := client.WriteToUDP([]byte{byte(i)}, l.Addr())
		require.NoError(t, err)
		require.NoError(t, client.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, _, err := client.ReadFromUDP(buf)
		require.NoError(t, err)
		require.Equal(t, []byte{byte(i)}, buf[:n])
		rtts = append(rtts, time.Since(start))
	}
	slices.Sort(rtts)
	// A loaded machine only adds delay, so every ping is at least the
	// emulated RTT (less twice the jitter), and the fastest of twenty is
	// close to it: the delay is applied once each way, not twice.
	require.GreaterOrEqual(t, rtts[0], rtt-4*time.Millisecond, "faster than the emulated RTT")
	require.Less(t, rtts[0], rtt*3/2, "even the fastest ping is far above the emulated RTT; all: %v", rtts)
	st := l.Stats()
	require.EqualValues(t, pings, st.Up.Packets)
	require.EqualValues(t, pings, st.Down.Packets)
}

// TestPipeSerialises checks the bottleneck's virtual clock, which does not
// depend on how fast the machine is: packets offered at once leave one
// serialisation time apart, delivery keeps their order and adds the delay,
// and what does not fit in the queue is dropped.
func TestPipeSerialises(t *testing.T) {
	const rate, size = 1e6, 1000 // one packet per millisecond
	cfg := LinkConfig{Rate: rate, RTT: 20 * time.Millisecond, QueueBytes: 10 * size}
	p := newPipe(cfg, rate, 1, 1, make(chan struct{}))
	before := time.Now()
	for range 15 {
		p.push(make([]byte, size), func([]byte) error { return nil })
	}
	after := time.Now()
	const serial = time.Millisecond
	fast := after.Sub(before) < serial // no packet left the bottleneck while they were offered
	require.GreaterOrEqual(t, len(p.q), 10, "the queue holds 10 packets' worth")
	require.EqualValues(t, 15-len(p.q), p.stats().QueueDropped, "what the queue does not hold is dropped")
	require.False(t, p.q[0].deliverAt.Before(before.Add(serial+10*time.Millisecond)), "the first packet is serialised, then delayed RTT/2")
	require.False(t, p.q[0].deliverAt.After(after.Add(serial+10*time.Millisecond)))
	for i := 1; i < len(p.q); i++ {
		require.GreaterOrEqual(t, p.q[i].deliverAt.Sub(p.q[i-1].deliverAt), serial, "packet %d leaves one serialisation time after the one before", i)
	}
	// Offered within a millisecond, the packets leave back to back and the
	// queue is exactly full.
	if fast {
		require.Len(t, p.q, 10)
		require.Equal(t, 9*serial, p.q[9].deliverAt.Sub(p.q[0].deliverAt))
	}
}

func TestLinkDownBudget(t *testing.T) {
	up, client := udpPeer(t), udpPeer(t)
	l := startLink(t, up, LinkConfig{DownBudget: 2500})
	_, err := client.WriteToUDP([]byte("hello"), l.Addr())
	require.NoError(t, err)
	buf := make([]byte, 2048)
	require.NoError(t, up.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, flow, err := up.ReadFromUDP(buf)
	require.NoError(t, err)
	for range 5 {
		_, err := up.WriteToUDP(make([]byte, 1000), flow)
		require.NoError(t, err)
	}
	got := 0
	for {
		require.NoError(t, client.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
		if _, _, err := client.ReadFromUDP(buf); err != nil {
			break
		}
		got++
	}
	require.Equal(t, 2, got, "2500 bytes let two 1000-byte datagrams through")
	st := l.Stats()
	require.EqualValues(t, 3, st.Down.Blackholed)
	require.Zero(t, st.Up.Blackholed, "the client's direction is not limited")
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
	type sent struct {
		bytes int
		took  time.Duration
		err   error
	}
	sendDone := make(chan sent, 1)
	sendStart := time.Now()
	go func() {
		pkt := make([]byte, 1200)
		var s sent
		end := sendStart.Add(400 * time.Millisecond)
		for time.Now().Before(end) && s.err == nil {
			for range 16 {
				if _, s.err = up.WriteToUDP(pkt, flowAddr); s.err != nil {
					break
				}
				s.bytes += len(pkt)
			}
			time.Sleep(time.Duration(16 * 1200 / (2 * rate) * float64(time.Second)))
		}
		s.took = time.Since(sendStart)
		sendDone <- s
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
	offered := <-sendDone
	require.NoError(t, offered.err)
	offeredRate := float64(offered.bytes) / offered.took.Seconds()
	// Upper bound: measured from the first send, not the first packet read,
	// so that a reader that fell behind (a loaded machine) and then reads a
	// backlog at once cannot look faster than the link.
	upper := float64(total) / last.Sub(sendStart).Seconds()
	got := float64(total) / last.Sub(first).Seconds()
	t.Logf("offered %.0f B/s, measured %.0f B/s over %d bytes (from the first send: %.0f B/s); link stats %+v", offeredRate, got, total, upper, l.Stats().Down)
	require.Greater(t, total, 1<<20)
	require.LessOrEqual(t, upper, 1.1*rate, "faster than the link's rate")
	// Lower bound: what the link passes, relative to what it was offered
	// (a loaded machine may offer less than the rate).
	require.GreaterOrEqual(t, got, 0.4*min(rate, offeredRate), "far below what the link should pass")
	if offeredRate > 1.3*rate {
		require.Positive(t, l.Stats().Down.QueueDropped, "an overloaded bottleneck drops")
	}
}

// sendSeq sends n numbered datagrams from client through l to up and
// returns the numbers that arrived, sorted. It keeps at most a few dozen
// datagrams between the client and the reader, so that no socket buffer
// overflows however slowly a loaded machine runs the link and the reader:
// every datagram that does not arrive was dropped by the link on purpose.
func sendSeq(t *testing.T, client, up *net.UDPConn, l *Link, n int) []uint32 {
	t.Helper()
	const window = 32
	var received atomic.Int64
	recv := make(chan []uint32, 1)
	go func() {
		var got []uint32
		buf := make([]byte, 64)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			_ = up.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			m, _, err := up.ReadFromUDP(buf)
			if err != nil {
				// Done once every datagram arrived or was dropped.
				if received.Load()+l.Stats().Up.Dropped() >= int64(n) {
					break
				}
				continue
			}
			got = append(got, binary.BigEndian.Uint32(buf[:m]))
			received.Add(1)
		}
		recv <- got
	}()
	deadline := time.Now().Add(30 * time.Second)
	for i := range n {
		for int64(i)-received.Load()-l.Stats().Up.Dropped() >= window {
			require.True(t, time.Now().Before(deadline), "datagrams neither arrive nor are dropped")
			time.Sleep(50 * time.Microsecond)
		}
		_, err := client.WriteToUDP(binary.BigEndian.AppendUint32(nil, uint32(i)), l.Addr())
		require.NoError(t, err)
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

// TestRawQUICConns: four connections at once carry the size between them,
// and the CPU of both sides is measured.
func TestRawQUICConns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	const size = 32<<20 + 3 // a remainder for the first connection
	res, err := RawQUIC(ctx, RawOptions{Size: size, Conns: 4})
	require.NoError(t, err)
	require.EqualValues(t, size, res.Bytes)
	require.Equal(t, 4, res.Conns)
	require.Positive(t, res.Throughput)
	require.Positive(t, res.ClientCPU)
	require.Positive(t, res.ServerCPU)
	require.InDelta(t, res.ServerCPU*(1<<30)/size, res.ServerCPUPerGiB, 1e-9)
	t.Logf("raw quic-go, 4 connections: %.0f Mbit/s, CPU client %.2f s, server %.2f s", res.Throughput*8/1e6, res.ClientCPU, res.ServerCPU)
}
