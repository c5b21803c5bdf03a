package dht_test

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent/bencode"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/netns"
	"github.com/quicxfer/quicxfer/quicxfer/dht"
	"github.com/quicxfer/quicxfer/quicxfer/dht/dhttest"
)

// hostileNode is a hand-written KRPC responder: it answers every query at
// once, get_peers with the values it was given (any bytes the encoding
// allows) and nodes, find_node with the nodes.
type hostileNode struct {
	conn     net.PacketConn
	id       krpc.ID
	values   []krpc.NodeAddr
	nodes    []krpc.NodeInfo
	token    string // empty: get_peers answers carry none
	getPeers atomic.Int64
	done     chan struct{}
}

func startHostile(t *testing.T, conn net.PacketConn, h *hostileNode) *hostileNode {
	h.conn = conn
	h.id = krpc.RandomNodeID()
	h.done = make(chan struct{})
	go h.serve()
	t.Cleanup(func() {
		conn.Close()
		<-h.done
	})
	return h
}

func (h *hostileNode) addr() string { return h.conn.LocalAddr().String() }

func (h *hostileNode) serve() {
	defer close(h.done)
	buf := make([]byte, 1<<16)
	for {
		n, from, err := h.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var q krpc.Msg
		if bencode.Unmarshal(buf[:n], &q) != nil || q.Y != krpc.YQuery {
			continue
		}
		r := krpc.Return{ID: h.id}
		switch q.Q {
		case "get_peers":
			h.getPeers.Add(1)
			r.Values = h.values
			r.Nodes = h.nodes
			if h.token != "" {
				r.Token = &h.token
			}
		case "find_node":
			r.Nodes = h.nodes
		}
		b, err := bencode.Marshal(krpc.Msg{T: q.T, Y: krpc.YResponse, R: &r})
		if err != nil {
			panic(err)
		}
		h.conn.WriteTo(b, from)
	}
}

func nodeAddr(s string) krpc.NodeAddr {
	ap := netip.MustParseAddrPort(s)
	return krpc.NodeAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}
}

// badValues are values no policy accepts: no address, port 0, unspecified,
// multicast, broadcast, and IPs of 3 and 5 bytes (the smallest that do not
// crash anacrolix's decoder).
func badValues() []krpc.NodeAddr {
	return []krpc.NodeAddr{
		nodeAddr("0.0.0.0:80"), nodeAddr("224.0.0.1:80"), nodeAddr("255.255.255.255:80"),
		nodeAddr("[ff02::1]:80"), nodeAddr("[::]:80"), nodeAddr("8.8.8.8:0"),
		{IP: net.IP{8, 8, 8}, Port: 80}, {IP: net.IP{8, 8, 8, 8, 8}, Port: 80}, {IP: net.IP{}, Port: 80},
	}
}

// fakeNodes are nodes at addresses where nothing answers.
func fakeNodes(n int) []krpc.NodeInfo {
	var out []krpc.NodeInfo
	for i := range n {
		out = append(out, krpc.NodeInfo{ID: krpc.RandomNodeID(), Addr: nodeAddr(fmt.Sprintf("127.0.0.1:%d", 1+i))})
	}
	return out
}

func TestHostileNodeOnLoopback(t *testing.T) {
	values := badValues()
	for port := 1; port <= 100; port++ {
		values = append(values, nodeAddr(fmt.Sprintf("127.0.0.1:%d", port)))
	}
	for i := range 200 {
		values = append(values, nodeAddr(fmt.Sprintf("127.1.%d.%d:6000", i/250, 1+i%250)))
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	h := startHostile(t, conn, &hostileNode{values: values, nodes: fakeNodes(50), token: "tok"})

	client := dhttest.StartNode(t, dht.Config{
		Bootstrap: []string{h.addr()}, QueryTimeout: 200 * time.Millisecond, TraversalTimeout: 3 * time.Second,
	})
	peers, err := client.Lookup(context.Background(), randomID(t))
	require.NoError(t, err, "a lookup that reaches its time limit returns what it found")
	require.Positive(t, h.getPeers.Load())
	require.NotEmpty(t, peers)
	require.LessOrEqual(t, len(peers), dht.DefaultMaxPeersPerNode, "one answering node adds at most MaxPeersPerNode")
	perIP := map[netip.Addr]int{}
	for _, p := range peers {
		require.True(t, p.Addr().Is4() && p.Addr().IsLoopback() && p.Port() != 0, "%v is one of the good values", p)
		perIP[p.Addr()]++
	}
	for ip, n := range perIP {
		require.LessOrEqual(t, n, dht.DefaultMaxPeersPerIP, "ports of %v", ip)
	}
	require.GreaterOrEqual(t, client.Stats().PeersRefused, uint64(len(badValues())))
}

func TestAnnounceWithNoTokenIsRefused(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	h := startHostile(t, conn, &hostileNode{})
	client := dhttest.StartNode(t, dht.Config{Bootstrap: []string{h.addr()}})
	err = client.Announce(context.Background(), randomID(t), 7401)
	var ae *dht.AnnounceError
	require.ErrorAs(t, err, &ae)
	require.ErrorIs(t, err, dht.ErrNotAnnounced)
	require.Equal(t, 1, ae.Queried)
	require.Zero(t, ae.Tried)
	require.Equal(t, uint64(1), client.Stats().AnnouncesFailed)
}

// TestMalformedPacketsAreDropped sends a node the packets that crash
// anacrolix/dht v2.23 (the test binary would die), then uses it.
func TestMalformedPacketsAreDropped(t *testing.T) {
	nw := dhttest.Start(t, 3, dht.Config{})
	target := nw.Nodes[0]
	raw, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer raw.Close()
	packets := []string{
		"d1:t2:aa1:y1:q1:q4:ping1:ad2:id20:aaaaaaaaaaaaaaaaaaaae2:ip0:e",
		"d1:t2:aa1:y1:q1:q13:announce_peere",
		"d1:t2:aa1:y1:q1:q3:pute",
		"d1:t2:aa1:y1:r1:rd2:id20:aaaaaaaaaaaaaaaaaaaa6:valuesl1:xeee",
		"not bencode at all",
	}
	for _, p := range packets {
		_, err := raw.WriteTo([]byte(p), net.UDPAddrFromAddrPort(target.Addr()))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		return target.Stats().PacketsDropped >= uint64(len(packets))
	}, deadline, 10*time.Millisecond)

	id := randomID(t)
	seed := loopback(7501)
	announce(t, nw.Nodes[1], int(seed.Port()), id)
	client := dhttest.StartNode(t, dht.Config{Bootstrap: []string{target.Addr().String()}})
	lookupUntil(t, client, id, "the seed, through the node that was sent the packets", func(p []netip.AddrPort) bool {
		return len(p) == 1 && p[0] == seed
	})
}

func TestLookupEnds(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer silent.Close()
	blackHole := []string{silent.LocalAddr().String()}

	t.Run("at the traversal time limit", func(t *testing.T) {
		nd := dhttest.StartNode(t, dht.Config{Bootstrap: blackHole, TraversalTimeout: 300 * time.Millisecond})
		peers, err := nd.Lookup(context.Background(), randomID(t))
		require.NoError(t, err)
		require.Empty(t, peers)
	})
	t.Run("when its context ends", func(t *testing.T) {
		nd := dhttest.StartNode(t, dht.Config{Bootstrap: blackHole})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := nd.Lookup(ctx, randomID(t))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		err = nd.Announce(ctx, randomID(t), 7601)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("when the node closes", func(t *testing.T) {
		nd := dhttest.StartNode(t, dht.Config{Bootstrap: blackHole})
		errc := make(chan error, 1)
		go func() {
			_, err := nd.Lookup(context.Background(), randomID(t))
			errc <- err
		}()
		require.Eventually(t, func() bool { return nd.Stats().Lookups == 1 }, deadline, 10*time.Millisecond)
		require.NoError(t, nd.Close())
		select {
		case err := <-errc:
			require.ErrorIs(t, err, dht.ErrClosed)
		case <-time.After(deadline):
			t.Fatal("the lookup did not end when its node closed")
		}
		_, err := nd.Lookup(context.Background(), randomID(t))
		require.ErrorIs(t, err, dht.ErrClosed)
		require.ErrorIs(t, nd.Announce(context.Background(), randomID(t), 1), dht.ErrClosed)
		_, err = nd.NewAnnouncer(1)
		require.ErrorIs(t, err, dht.ErrClosed)
	})
}

func TestConfigErrors(t *testing.T) {
	for name, c := range map[string]dht.Config{
		"private bootstrap":   {Listen: "127.0.0.1:0", Bootstrap: []string{"127.0.0.1:6881"}},
		"bootstrap port":      {Listen: "127.0.0.1:0", Bootstrap: []string{"1.2.3.4"}, AllowPrivate: true},
		"listen":              {Listen: "127.0.0.1:notaport", NoBootstrap: true},
		"state not a file":    {Listen: "127.0.0.1:0", NoBootstrap: true, StatePath: "/dev/null"},
		"state not our state": {Listen: "127.0.0.1:0", NoBootstrap: true, StatePath: "/etc/hostname"},
	} {
		t.Run(name, func(t *testing.T) {
			nd, err := dht.Start(context.Background(), c)
			require.Error(t, err)
			require.Nil(t, nd)
		})
	}
	nd := dhttest.StartNode(t, dht.Config{NoBootstrap: true})
	require.Error(t, nd.Announce(context.Background(), randomID(t), 0))
	_, err := nd.NewAnnouncer(70000)
	require.Error(t, err)
}

func TestCloseReturnsTheSaveError(t *testing.T) {
	nw := dhttest.Start(t, 3, dht.Config{})
	nd, err := dht.Start(context.Background(), dht.Config{
		Listen: "127.0.0.1:0", AllowPrivate: true, Bootstrap: nw.Bootstrap(1), Logf: t.Logf,
		StatePath: filepath.Join(t.TempDir(), "no-such-dir", "state"),
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return nd.Stats().Nodes > 0 }, deadline, 10*time.Millisecond)
	err = nd.Close()
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Equal(t, err, nd.Close(), "the same error on every call")
}

func TestAnnouncerSet(t *testing.T) {
	nd := dhttest.StartNode(t, dht.Config{NoBootstrap: true, AnnounceInterval: 400 * time.Millisecond})
	a, err := nd.NewAnnouncer(7701)
	require.NoError(t, err)
	x, y, z := randomID(t), randomID(t), randomID(t)
	a.Add(x)
	require.Eventually(t, func() bool { return nd.Stats().AnnouncesFailed >= 3 }, deadline, 10*time.Millisecond,
		"a failed announce (there is no other node) is tried again")
	a.Add(x, y)
	require.ElementsMatch(t, []any{x, y}, toAny(a.IDs()))
	a.Set(y, z)
	require.ElementsMatch(t, []any{y, z}, toAny(a.IDs()))
	a.Remove(y, x)
	require.ElementsMatch(t, []any{z}, toAny(a.IDs()))
	a.Close()
	a.Close()
}

func toAny[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// TestHostileNodeWithPublicAddresses runs the hostile node and a client
// with AllowPrivate off, in a network namespace of this test's own whose
// loopback carries public-looking addresses (11.1.1.1, 11.1.1.2; the
// namespace has no route anywhere else): private-range peers are refused.
func TestHostileNodeWithPublicAddresses(t *testing.T) {
	ns := makeNetns(t, "11.1.1.1", "11.1.1.2")

	bad := badValues()
	for _, s := range []string{
		"10.0.0.1:80", "172.16.0.1:80", "192.168.1.1:80", "127.0.0.1:80", "169.254.1.1:80",
		"100.64.0.1:80", "[fe80::1]:80", "[fc00::1]:80", "[::1]:80", "[::ffff:10.0.0.1]:80", "192.0.2.1:80",
	} {
		bad = append(bad, nodeAddr(s))
	}
	// The client's own address is as good as any other.
	good := map[netip.AddrPort]bool{netip.MustParseAddrPort("11.1.1.2:80"): true}
	values := append([]krpc.NodeAddr(nil), bad...)
	values = append(values, nodeAddr("11.1.1.2:80"))
	for i := range 50 {
		for port := range 3 {
			ap := netip.MustParseAddrPort(fmt.Sprintf("11.2.0.%d:%d", 1+i, 6000+port))
			good[ap] = true
			values = append(values, nodeAddr(ap.String()))
		}
	}
	var hconn net.PacketConn
	var client *dht.Node
	inNetns(t, ns, func() (err error) {
		if hconn, err = net.ListenPacket("udp", "11.1.1.1:0"); err != nil {
			return err
		}
		client, err = dht.Start(context.Background(), dht.Config{
			Listen: "11.1.1.2:0", Bootstrap: []string{hconn.LocalAddr().String()}, Logf: t.Logf,
		})
		return err
	})
	h := startHostile(t, hconn, &hostileNode{values: values, nodes: []krpc.NodeInfo{
		{ID: krpc.RandomNodeID(), Addr: nodeAddr("10.9.9.9:6881")}, // never queried: a private address
	}, token: "tok"})
	t.Cleanup(func() { require.NoError(t, client.Close()) })
	peers, err := client.Lookup(context.Background(), randomID(t))
	require.NoError(t, err)
	require.Positive(t, h.getPeers.Load())
	require.Len(t, peers, dht.DefaultMaxPeersPerNode, "one answering node adds MaxPeersPerNode peers")
	for _, p := range peers {
		require.True(t, good[p], "%v is not one of the public values", p)
	}
	st := client.Stats()
	require.GreaterOrEqual(t, st.PeersRefused, uint64(len(bad)))
	require.Zero(t, st.PacketsDropped)
}

// nsCount numbers this process's namespaces.
var nsCount atomic.Int64

// nsPrefix starts the name of every namespace these tests make.
const nsPrefix = "qxdht-"

// makeNetns makes a network namespace with loopback up and addrs on it,
// and deletes it when the test ends; it skips the test where namespaces
// cannot be made (not root, no iproute2).
func makeNetns(t *testing.T, addrs ...string) string {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2's ip is not installed")
	}
	netns.RemoveStale(nsPrefix)
	name := fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), nsCount.Add(1))
	if err := ip("netns", "add", name); err != nil {
		t.Skipf("cannot make a network namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := ip("netns", "del", name); err != nil {
			t.Errorf("deleting namespace %s: %v", name, err)
		}
	})
	require.NoError(t, ip("-n", name, "link", "set", "lo", "up"))
	for _, a := range addrs {
		require.NoError(t, ip("-n", name, "addr", "add", a+"/32", "dev", "lo"))
	}
	return name
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// inNetns runs fn on a thread in namespace ns: the sockets it opens stay
// there.
func inNetns(t *testing.T, ns string, fn func() error) {
	require.NoError(t, netns.Run(ns, fn), "in namespace %s", ns)
}
