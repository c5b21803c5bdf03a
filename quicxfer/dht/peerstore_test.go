package dht

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/stretchr/testify/require"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func testStore(t *testing.T, mod func(*Config)) (*peerStore, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := Config{PeerTTL: 30 * time.Minute, now: clock.now}
	if mod != nil {
		mod(&c)
	}
	c = c.withDefaults()
	return newPeerStore(c, addrPolicy{}), clock
}

func na(s string) krpc.NodeAddr {
	ap := netip.MustParseAddrPort(s)
	return krpc.NodeAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}
}

// stored returns what GetPeers gives for ih, as AddrPorts.
func stored(s *peerStore, ih [20]byte) map[netip.AddrPort]bool {
	out := map[netip.AddrPort]bool{}
	for _, p := range s.GetPeers(ih) {
		a, ok := netip.AddrFromSlice(p.IP)
		if !ok {
			panic(fmt.Sprintf("malformed IP %v", p.IP))
		}
		out[netip.AddrPortFrom(a, uint16(p.Port))] = true
	}
	return out
}

func TestPeerStoreKeysByIPAndPort(t *testing.T) {
	s, _ := testStore(t, nil)
	ih := [20]byte{1}
	s.AddPeer(ih, na("8.8.8.8:1000"))
	s.AddPeer(ih, na("8.8.8.8:1001"))
	s.AddPeer(ih, na("8.8.4.4:1000"))
	s.AddPeer(ih, na("8.8.4.4:1000")) // again: a refresh
	// The 16-byte form of an IPv4 address, as a dual-stack socket gives it.
	s.AddPeer(ih, krpc.NodeAddr{IP: net.ParseIP("9.9.9.9").To16(), Port: 53})
	require.Equal(t, map[netip.AddrPort]bool{
		netip.MustParseAddrPort("8.8.8.8:1000"): true,
		netip.MustParseAddrPort("8.8.8.8:1001"): true,
		netip.MustParseAddrPort("8.8.4.4:1000"): true,
		netip.MustParseAddrPort("9.9.9.9:53"):   true,
	}, stored(s, ih))
	for _, p := range s.GetPeers(ih) {
		require.Len(t, p.IP, 4, "IPv4 peers go out in the 4-byte form")
	}
	require.Empty(t, s.GetPeers([20]byte{2}))
	keys, peers, accepted, refused := s.counts()
	require.Equal(t, 1, keys)
	require.Equal(t, 4, peers)
	require.Equal(t, uint64(5), accepted)
	require.Zero(t, refused)
}

func TestPeerStoreRefusesBadAddresses(t *testing.T) {
	s, _ := testStore(t, nil)
	ih := [20]byte{1}
	for _, bad := range []krpc.NodeAddr{
		na("10.0.0.1:80"),
		na("127.0.0.1:80"),
		na("0.0.0.0:80"),
		na("224.0.0.1:80"),
		{IP: net.IP{8, 8, 8, 8}, Port: 0},
		{IP: net.IP{8, 8, 8, 8}, Port: -1},
		{IP: net.IP{8, 8, 8, 8}, Port: 65536},
		{IP: net.IP{8, 8, 8}, Port: 80},
		{IP: nil, Port: 80},
	} {
		s.AddPeer(ih, bad)
	}
	require.Empty(t, s.GetPeers(ih))
	keys, peers, _, refused := s.counts()
	require.Zero(t, keys)
	require.Zero(t, peers)
	require.Equal(t, uint64(9), refused)
}

func TestPeerStoreExpiry(t *testing.T) {
	s, clock := testStore(t, func(c *Config) { c.PeerTTL = 10 * time.Minute })
	ih := [20]byte{1}
	s.AddPeer(ih, na("8.8.8.8:1"))
	clock.advance(6 * time.Minute)
	s.AddPeer(ih, na("8.8.8.8:2"))
	clock.advance(5 * time.Minute) // 11 and 5 minutes old
	require.Equal(t, map[netip.AddrPort]bool{netip.MustParseAddrPort("8.8.8.8:2"): true}, stored(s, ih))
	s.AddPeer(ih, na("8.8.8.8:2")) // re-announced: good for another TTL
	clock.advance(9 * time.Minute)
	require.Len(t, stored(s, ih), 1)
	clock.advance(time.Minute)
	require.Empty(t, stored(s, ih))
	keys, peers, _, _ := s.counts()
	require.Zero(t, keys, "an empty key is dropped")
	require.Zero(t, peers)

	// Keys nobody asks for expire too, by the sweep that an announce runs.
	for i := range 10 {
		s.AddPeer([20]byte{byte(10 + i)}, na("8.8.8.8:1"))
	}
	clock.advance(11 * time.Minute)
	s.AddPeer([20]byte{99}, na("8.8.8.8:1"))
	keys, peers, _, _ = s.counts()
	require.Equal(t, 1, keys)
	require.Equal(t, 1, peers)
}

func TestPeerStoreBounds(t *testing.T) {
	s, clock := testStore(t, func(c *Config) {
		c.StoreMaxKeys = 3
		c.StoreMaxPeersPerKey = 5
		c.MaxPeersPerIP = 2
		c.StoreReturnPeers = 4
	})
	ih := [20]byte{1}

	// One IP: its two newest ports.
	for port := 1; port <= 10; port++ {
		s.AddPeer(ih, na(fmt.Sprintf("8.8.8.8:%d", port)))
		clock.advance(time.Second)
	}
	require.Equal(t, map[netip.AddrPort]bool{
		netip.MustParseAddrPort("8.8.8.8:9"):  true,
		netip.MustParseAddrPort("8.8.8.8:10"): true,
	}, stored(s, ih))

	// Many IPs: the key keeps its five newest peers, and answers with four.
	for i := 1; i <= 20; i++ {
		s.AddPeer(ih, na(fmt.Sprintf("9.9.9.%d:1", i)))
		clock.advance(time.Second)
	}
	_, peers, _, _ := s.counts()
	require.Equal(t, 5, peers)
	got := stored(s, ih)
	require.Len(t, got, 4)
	for ap := range got {
		var i int
		_, err := fmt.Sscanf(ap.Addr().String(), "9.9.9.%d", &i)
		require.NoError(t, err)
		require.Greater(t, i, 15, "only the five newest are kept")
	}

	// Keys: new ones are refused while the store is full.
	s.AddPeer([20]byte{2}, na("8.8.8.8:1"))
	s.AddPeer([20]byte{3}, na("8.8.8.8:1"))
	s.AddPeer([20]byte{4}, na("8.8.8.8:1"))
	keys, _, _, refused := s.counts()
	require.Equal(t, 3, keys)
	require.Equal(t, uint64(1), refused)
	require.Empty(t, s.GetPeers([20]byte{4}))
	// Once the others expire there is room again.
	clock.advance(31 * time.Minute)
	s.AddPeer([20]byte{4}, na("8.8.8.8:1"))
	require.Len(t, stored(s, [20]byte{4}), 1)
}
