package dht

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAddrPolicy(t *testing.T) {
	for _, tc := range []struct {
		addr           string
		public, anyway bool // accepted without AllowPrivate; with it
	}{
		{"1.1.1.1", true, true},
		{"11.1.1.1", true, true},
		{"2a00:1450:4001:80b::200e", true, true},
		{"::ffff:8.8.8.8", true, true},
		{"127.0.0.1", false, true},
		{"127.5.6.7", false, true},
		{"::1", false, true},
		{"10.1.2.3", false, true},
		{"172.16.0.1", false, true},
		{"192.168.1.1", false, true},
		{"::ffff:192.168.1.1", false, true},
		{"169.254.1.1", false, true},
		{"fe80::1", false, true},
		{"fc00::1", false, true},
		{"100.64.0.1", false, true},
		{"192.0.2.1", false, true},
		{"198.51.100.1", false, true},
		{"203.0.113.1", false, true},
		{"198.18.0.1", false, true},
		{"2001:db8::1", false, true},
		{"0.0.0.0", false, false},
		{"0.1.2.3", false, false},
		{"::", false, false},
		{"224.0.0.1", false, false},
		{"239.192.152.143", false, false},
		{"ff02::1", false, false},
		{"255.255.255.255", false, false},
		{"240.0.0.1", false, false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			require.Equal(t, tc.public, addrPolicy{}.allowAddr(a))
			require.Equal(t, tc.anyway, addrPolicy{allowPrivate: true}.allowAddr(a))
			require.False(t, addrPolicy{allowPrivate: true}.allowAddrPort(netip.AddrPortFrom(a, 0)), "port 0")
			_, blocked := blocklist{addrPolicy{}}.Lookup(net.IP(a.AsSlice()))
			require.Equal(t, !tc.public, blocked, "the block list says what the policy says")
		})
	}
	require.False(t, addrPolicy{allowPrivate: true}.allowAddr(netip.Addr{}))
	_, blocked := blocklist{addrPolicy{allowPrivate: true}}.Lookup(net.IP{1, 2, 3})
	require.True(t, blocked, "a 3-byte IP is no address")
}

func TestCheckBootstrap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entry   string
		private bool
		ok      bool
	}{
		{"name", "router.example.org:6881", false, true},
		{"public IP", "1.2.3.4:6881", false, true},
		{"IPv6", "[2a00:1450::1]:6881", false, true},
		{"loopback refused", "127.0.0.1:6881", false, false},
		{"loopback allowed", "127.0.0.1:6881", true, true},
		{"no port", "1.2.3.4", false, false},
		{"port 0", "1.2.3.4:0", false, false},
		{"port too large", "1.2.3.4:65536", false, false},
		{"named port", "1.2.3.4:http", false, false},
		{"no host", ":6881", false, false},
		{"multicast even if private allowed", "224.0.0.1:6881", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Bootstrap: []string{tc.entry}}
			err := c.checkBootstrap(addrPolicy{allowPrivate: tc.private})
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				require.Contains(t, err.Error(), tc.entry)
			}
		})
	}
}

func TestKeyIsTheFirst20Bytes(t *testing.T) {
	var id [32]byte
	for i := range id {
		id[i] = byte(i)
	}
	k := Key(id)
	require.Equal(t, id[:20], k[:])
}
