package dht

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/stretchr/testify/require"
)

func TestPeerFilter(t *testing.T) {
	c := Config{MaxPeers: 10, MaxPeersPerIP: 2, MaxPeersPerNode: 6}.withDefaults()
	f := newPeerFilter(c, addrPolicy{})
	hostile := na("11.0.0.1:6881")
	var values []krpc.NodeAddr
	for i := range 5 {
		values = append(values, na(fmt.Sprintf("8.8.8.8:%d", 100+i))) // one IP, many ports
	}
	values = append(values,
		na("10.0.0.1:1"), na("127.0.0.1:1"), na("0.0.0.0:1"), na("224.0.0.1:1"),
		krpc.NodeAddr{IP: net.IP{1, 2, 3}, Port: 1}, krpc.NodeAddr{IP: net.IP{9, 9, 9, 9}, Port: 0},
	)
	for i := range 20 {
		values = append(values, na(fmt.Sprintf("9.9.9.%d:1", i+1)))
	}
	fresh, refused := f.add(hostile, values)
	require.Equal(t, []netip.AddrPort{
		netip.MustParseAddrPort("8.8.8.8:100"), netip.MustParseAddrPort("8.8.8.8:101"),
		netip.MustParseAddrPort("9.9.9.1:1"), netip.MustParseAddrPort("9.9.9.2:1"),
		netip.MustParseAddrPort("9.9.9.3:1"), netip.MustParseAddrPort("9.9.9.4:1"),
	}, fresh, "two ports of one IP, six peers from one node")
	require.Equal(t, 3+6+16, refused)

	// The same answer again adds nothing; another node adds up to the max.
	fresh, _ = f.add(hostile, values)
	require.Empty(t, fresh)
	fresh, _ = f.add(na("12.0.0.1:6881"), values)
	require.Len(t, fresh, 4, "up to MaxPeers in all")
	require.True(t, f.full())
	fresh, refused = f.add(na("13.0.0.1:6881"), values)
	require.Empty(t, fresh)
	require.Zero(t, refused, "a full lookup reads no further")
}

func TestClosestKeepsTheNearestK(t *testing.T) {
	c := closest{key: [20]byte{0xff}}
	for i := range 20 {
		c.push(candidate{id: [20]byte{byte(i * 12)}, addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{8, 8, 8, byte(i)}), 1), token: "t"})
	}
	c.push(candidate{id: [20]byte{0xfe}, addr: netip.MustParseAddrPort("8.8.8.19:1"), token: "t"}) // same address again
	require.Len(t, c.nodes, announceK)
	for i := 1; i < len(c.nodes); i++ {
		a, b := distance(c.nodes[i-1].id, c.key), distance(c.nodes[i].id, c.key)
		require.LessOrEqual(t, a[0], b[0])
	}
	require.Equal(t, byte(19*12), c.nodes[0].id[0], "the nearest first")
}
