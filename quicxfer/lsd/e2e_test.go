package lsd

import (
	"crypto/sha256"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

func testID(s string) manifest.ID { return manifest.ID(sha256.Sum256([]byte(s))) }

// TestBetweenNamespaces: a seed announces in one network namespace, a
// download finds it from another, over a veth pair, on IPv4 and IPv6. The
// seed sends a single announce before the finder starts and none after it
// for an hour, so the finder can only find it by querying.
func TestBetweenNamespaces(t *testing.T) {
	if os.Getenv(envChild) != "" {
		findInNamespace(t)
		return
	}
	a, b := newNamespace(t, "a"), newNamespace(t, "b")
	inNamespace(t, a, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", b)
	for _, side := range []struct{ ns, dev, v4, v6 string }{
		{a, "veth0", "10.77.0.1/24", "fd77::1/64"},
		{b, "veth1", "10.77.0.2/24", "fd77::2/64"},
	} {
		inNamespace(t, side.ns, "ip", "addr", "add", side.v4, "dev", side.dev)
		inNamespace(t, side.ns, "ip", "-6", "addr", "add", side.v6, "dev", side.dev, "nodad")
		inNamespace(t, side.ns, "ip", "link", "set", side.dev, "multicast", "on", "up")
		inNamespace(t, side.ns, "ip", "route", "add", "224.0.0.0/4", "dev", side.dev)
	}

	id := testID("between namespaces")
	stop := startAnnounceRole(t, a, id, 4433)
	testInNamespace(t, b, "TestBetweenNamespaces", envID+"="+id.String(), envWant+"=10.77.0.1:4433,[fd77::1]:4433")
	st := stop()
	require.NotZero(t, st.Queries, "the announcer heard the finder's queries")
	require.NotZero(t, st.Replies, "and answered them")
}

// findInNamespace is TestBetweenNamespaces inside namespace b: with the
// default Config (every interface that can multicast, both of BEP 14's
// groups) it must find the seed at the addresses envWant lists.
func findInNamespace(t *testing.T) {
	id, err := manifest.ParseID(os.Getenv(envID))
	require.NoError(t, err)
	var want []netip.AddrPort
	for _, s := range strings.Split(os.Getenv(envWant), ",") {
		want = append(want, netip.MustParseAddrPort(s))
	}
	f, err := NewFinder(Config{Logf: t.Logf}, id)
	require.NoError(t, err)
	defer f.Close()
	got := waitPeers(t, f, id, want...)
	require.ElementsMatch(t, want, got)
	require.NotZero(t, f.Stats().Sent, "queries sent")
	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "Close is idempotent")
}

// TestLoopbackInNamespace: on the loopback interface of a namespace of its
// own (with multicast turned on there, never on the host's), a Finder
// started before the seed finds it, one that shares the seed's cookie
// ignores it, forged and malformed messages are counted and refused, and
// IDs added later are found.
func TestLoopbackInNamespace(t *testing.T) {
	if os.Getenv(envChild) == "" {
		ns := newNamespace(t, "lo")
		inNamespace(t, ns, "ip", "link", "set", "lo", "multicast", "on")
		// 127.0.0.1 has host scope, which the kernel does not take as the
		// source of a multicast: without an address of a wider scope the
		// announces would come from 0.0.0.0 (and be refused).
		inNamespace(t, ns, "ip", "addr", "add", "192.0.2.1/32", "dev", "lo")
		inNamespace(t, ns, "ip", "route", "add", "224.0.0.0/4", "dev", "lo")
		testInNamespace(t, ns, "TestLoopbackInNamespace")
		return
	}
	group := netip.MustParseAddrPort(Group4)
	cfg := Config{Interfaces: []string{"lo"}, Groups: []netip.AddrPort{group}, BurstGap: 200 * time.Millisecond, Logf: t.Logf}
	x, y, z := testID("x"), testID("y"), testID("z")

	other, err := NewFinder(cfg, x, z)
	require.NoError(t, err)
	defer other.Close()
	seedCookie := NewCookie()
	same := cfg
	same.Cookie = seedCookie
	self, err := NewFinder(same, x)
	require.NoError(t, err)
	defer self.Close()

	seed, err := NewAnnouncer(same, 4433, x)
	require.NoError(t, err)
	defer seed.Close()
	require.Equal(t, seedCookie, seed.Cookie())

	seedAddr := netip.MustParseAddrPort("192.0.2.1:4433")
	require.Equal(t, []netip.AddrPort{seedAddr}, waitPeers(t, other, x, seedAddr))
	waitFor(t, "the finder with the seed's cookie hears it", func() bool { return self.Stats().Own > 0 })
	require.Empty(t, self.Peers(x), "a finder ignores announces with its own cookie")
	require.Empty(t, other.Peers(z))

	// Forged traffic, from a plain socket: refused without harm, and a
	// well-formed announce from anyone is taken (the LAN is not trusted:
	// what a peer serves is checked against the ID).
	raw, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer raw.Close()
	lo, err := net.InterfaceByName("lo")
	require.NoError(t, err)
	require.NoError(t, ipv4.NewPacketConn(raw).SetMulticastInterface(lo))
	before := other.Stats()
	good := (&Message{Host: Group4, Port: 5555, Infohashes: []Infohash{InfohashOf(z)}}).Append(nil)
	for _, b := range [][]byte{
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		good[:len(good)-5],
		append(good[:len(good):len(good)], make([]byte, MaxMessageLen)...),
		good,
	} {
		_, err := raw.WriteToUDPAddrPort(b, group)
		require.NoError(t, err)
	}
	require.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5555")}, waitPeers(t, other, z, netip.MustParseAddrPort("127.0.0.1:5555")))
	after := other.Stats()
	require.GreaterOrEqual(t, after.Malformed-before.Malformed, uint64(2))
	require.GreaterOrEqual(t, after.TooLong-before.TooLong, uint64(1))

	// IDs added later: looked for, then announced.
	other.Add(y)
	seed.Add(y)
	require.Equal(t, []netip.AddrPort{seedAddr}, waitPeers(t, other, y, seedAddr))
	require.NotZero(t, seed.Stats().Sent)

	for _, c := range []interface{ Close() error }{seed, self, other} {
		require.NoError(t, c.Close())
		require.NoError(t, c.Close())
	}
}
