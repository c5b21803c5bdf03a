package lsd

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func testConfig(t *testing.T, c Config) Config {
	t.Helper()
	c, err := c.withDefaults()
	require.NoError(t, err)
	return c
}

func TestScheduleBurstThenInterval(t *testing.T) {
	c := testConfig(t, Config{})
	s := newSchedule(&c)
	require.True(t, s.add(ih1, t0))
	require.False(t, s.add(ih1, t0.Add(time.Second)), "added already: left as it is")
	_, ok := s.wake()
	require.True(t, ok)

	var sent []time.Duration // when ih1 was sent, from t0
	for now := t0; now.Before(t0.Add(3*time.Minute + 5*time.Second)); now = now.Add(100 * time.Millisecond) {
		if hs := s.due(now); len(hs) > 0 {
			require.Equal(t, []Infohash{ih1}, hs)
			sent = append(sent, now.Sub(t0))
		}
	}
	// DefaultBurst sends DefaultBurstGap apart, then one a DefaultInterval.
	require.Equal(t, []time.Duration{0, 2 * time.Second, 4 * time.Second,
		4*time.Second + time.Minute, 4*time.Second + 2*time.Minute, 4*time.Second + 3*time.Minute}, sent)

	s.remove(ih1)
	_, ok = s.wake()
	require.False(t, ok)
	require.Empty(t, s.due(t0.Add(time.Hour)))
}

func TestScheduleQueries(t *testing.T) {
	c := testConfig(t, Config{Burst: 1, ReplyGap: 10 * time.Second})
	s := newSchedule(&c)
	s.add(ih1, t0)
	s.add(ih2, t0)
	require.ElementsMatch(t, []Infohash{ih1, ih2}, s.due(t0))
	at, _ := s.wake()
	require.Equal(t, t0.Add(time.Minute), at)

	require.False(t, s.queried(InfohashOf(testID("not announced")), t0))
	// A query 3 s after the last send: answered at ReplyGap after it.
	require.True(t, s.queried(ih1, t0.Add(3*time.Second)))
	at, _ = s.wake()
	require.Equal(t, t0.Add(10*time.Second), at)
	require.False(t, s.queried(ih1, t0.Add(4*time.Second)), "already brought forward")
	require.Empty(t, s.due(t0.Add(9*time.Second)))
	require.Equal(t, []Infohash{ih1}, s.due(t0.Add(10*time.Second)), "only the queried one")
	// A query long after the last send: answered at once.
	require.True(t, s.queried(ih2, t0.Add(30*time.Second)))
	require.Equal(t, []Infohash{ih2}, s.due(t0.Add(30*time.Second)))
	at, _ = s.wake()
	require.Equal(t, t0.Add(10*time.Second+time.Minute), at, "ih1's steady state goes on from its answer")
}

func TestTable(t *testing.T) {
	c := testConfig(t, Config{MaxPeers: 6, PeerTTL: time.Minute})
	tb := newTable(&c)
	x, y := testID("x"), testID("y")
	p := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

	require.False(t, tb.heard(x, p("10.0.0.1:1"), t0), "not looked for")
	require.Empty(t, tb.peers(x, t0))
	tb.want(x)
	require.True(t, tb.heard(x, p("10.0.0.1:1"), t0))
	require.False(t, tb.heard(x, p("10.0.0.1:1"), t0.Add(30*time.Second)), "known: refreshed")
	for i := 2; i <= 10; i++ {
		tb.heard(x, p(fmt.Sprintf("10.0.0.1:%d", i)), t0)
	}
	require.Len(t, tb.peers(x, t0), MaxPeersPerIP, "one address fills at most MaxPeersPerIP")
	require.True(t, tb.heard(x, p("[fe80::1%eth0]:7"), t0))
	require.True(t, tb.heard(x, p("10.0.0.2:1"), t0))
	require.False(t, tb.heard(x, p("10.0.0.3:1"), t0), "full")
	require.Equal(t, []netip.AddrPort{p("10.0.0.1:1"), p("10.0.0.1:2"), p("10.0.0.1:3"), p("10.0.0.1:4"), p("10.0.0.2:1"), p("[fe80::1%eth0]:7")},
		tb.peers(x, t0.Add(59*time.Second)))
	// A minute after t0 all but the refreshed one are gone, and room is made.
	require.Equal(t, []netip.AddrPort{p("10.0.0.1:1")}, tb.peers(x, t0.Add(time.Minute)))
	require.True(t, tb.heard(x, p("10.0.0.3:1"), t0.Add(time.Minute)))
	require.Empty(t, tb.peers(x, t0.Add(time.Hour)))

	tb.want(y)
	require.True(t, tb.heard(y, p("10.0.0.1:1"), t0))
	tb.drop(y)
	require.Empty(t, tb.peers(y, t0))
	require.False(t, tb.heard(y, p("10.0.0.1:1"), t0))
}

func TestIntake(t *testing.T) {
	c := testConfig(t, Config{Cookie: "mine", MaxRate: 2})
	var st counters
	in := newIntake(&c, &st)
	from := netip.MustParseAddrPort("10.0.0.9:50000")
	good := (&Message{Port: 7, Infohashes: []Infohash{ih1}, Cookie: "theirs"}).Append(nil)

	m, ip, ok := in.take(good, from, t0)
	require.True(t, ok)
	require.Equal(t, netip.MustParseAddr("10.0.0.9"), ip, "the sender's address; its port is not the one announced")
	require.Equal(t, uint16(7), m.Port)

	_, _, ok = in.take(good, netip.MustParseAddrPort("[::ffff:10.0.0.9]:1"), t0)
	require.True(t, ok)
	_, _, ok = in.take(good, from, t0)
	require.False(t, ok, "over the rate: dropped")
	require.Equal(t, uint64(1), st.stats().RateLimited)

	now := t0.Add(time.Second) // 2 more tokens
	_, _, ok = in.take(make([]byte, MaxMessageLen+1), from, now)
	require.False(t, ok)
	_, _, ok = in.take((&Message{Port: 7, Infohashes: []Infohash{ih1}, Cookie: "mine"}).Append(nil), from, now)
	require.False(t, ok)
	now = now.Add(time.Second)
	_, _, ok = in.take([]byte("garbage"), from, now)
	require.False(t, ok)
	_, _, ok = in.take(good, netip.MustParseAddrPort("0.0.0.0:1"), now)
	require.False(t, ok)
	require.Equal(t, Stats{Received: 7, TooLong: 1, RateLimited: 1, Own: 1, Malformed: 2}, st.stats(),
		"a datagram too long is dropped before the rate is counted")
}

// TestFinderHandle drives a Finder's logic without sockets: peers come
// from the sender's address and the announced port, for the IDs looked for
// only, bounded a ID; queries and other IDs add nothing.
func TestFinderHandle(t *testing.T) {
	f := newFinder(testConfig(t, Config{MaxRate: 1e6}))
	x, z := testID("x"), testID("z")
	f.Add(x)
	announce := func(port uint16, ids ...Infohash) []byte {
		return (&Message{Port: port, Infohashes: ids, Cookie: "seed"}).Append(nil)
	}
	f.handle(announce(4433, InfohashOf(z), InfohashOf(x)), netip.MustParseAddrPort("[fe80::2%eth0]:6771"))
	require.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("[fe80::2%eth0]:4433")}, f.Peers(x))
	require.Empty(t, f.Peers(z))
	select {
	case <-f.Changed():
	default:
		t.Fatal("Changed did not fire")
	}
	f.handle(announce(0, InfohashOf(x)), netip.MustParseAddrPort("10.0.0.1:1"))
	require.Len(t, f.Peers(x), 1, "a query names no peer")
	for i := range 200 {
		f.handle(announce(4433, InfohashOf(x)), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 6771))
	}
	require.Len(t, f.Peers(x), DefaultMaxPeers)
	st := f.Stats()
	require.Equal(t, uint64(DefaultMaxPeers), st.PeersFound)
	require.Equal(t, uint64(1), st.Queries)
	f.Remove(x)
	require.Empty(t, f.Peers(x))
}

// TestAnnouncerHandle: queries for an announced ID bring it forward,
// announces and other IDs do not.
func TestAnnouncerHandle(t *testing.T) {
	a := newAnnouncer(testConfig(t, Config{Burst: 1, MaxRate: 1e6}), 4433)
	x := testID("x")
	a.Add(x)
	<-a.wake
	a.mu.Lock()
	require.Equal(t, []Infohash{InfohashOf(x)}, a.sched.due(time.Now()))
	a.mu.Unlock()
	from := netip.MustParseAddrPort("10.0.0.2:6771")
	a.handle((&Message{Port: 4433, Infohashes: []Infohash{InfohashOf(x)}}).Append(nil), from)
	a.handle((&Message{Port: 0, Infohashes: []Infohash{InfohashOf(testID("y"))}}).Append(nil), from)
	require.Zero(t, a.Stats().Replies)
	a.handle((&Message{Port: 0, Infohashes: []Infohash{InfohashOf(x)}}).Append(nil), from)
	require.Equal(t, uint64(1), a.Stats().Replies)
	require.Equal(t, uint64(2), a.Stats().Queries)
	a.mu.Lock()
	at, _ := a.sched.wake()
	a.mu.Unlock()
	require.WithinDuration(t, time.Now().Add(DefaultReplyGap), at, DefaultReplyGap, "answered within ReplyGap, not a minute")
	a.Remove(x)
	a.mu.Lock()
	require.False(t, a.sched.has(InfohashOf(x)))
	a.mu.Unlock()
}

func TestConfigRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		msg  string
	}{
		{"negative interval", Config{Interval: -1}, "LSD: negative interval"},
		{"negative burst", Config{Burst: -1}, "LSD: negative burst"},
		{"hop limit", Config{HopLimit: 256}, "LSD: hop limit 256: want 1 to 255"},
		{"unicast group", Config{Groups: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6771")}}, "LSD: group 10.0.0.1:6771: want a multicast address and a port"},
		{"group without port", Config{Groups: []netip.AddrPort{netip.MustParseAddrPort("239.1.1.1:0")}}, "LSD: group 239.1.1.1:0: want a multicast address and a port"},
		{"group twice", Config{Groups: []netip.AddrPort{netip.MustParseAddrPort(Group4), netip.MustParseAddrPort(Group4)}}, "LSD: group 239.192.152.143:6771 given twice"},
		{"cookie with a newline", Config{Cookie: "a\nb"}, `LSD: cookie "a\nb": want printable ASCII`},
		{"cookie with spaces around", Config{Cookie: " a"}, `LSD: cookie " a": space at an end`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.withDefaults()
			require.EqualError(t, err, tc.msg)
		})
	}
	_, err := NewAnnouncer(Config{}, 0)
	require.EqualError(t, err, "LSD: cannot announce port 0")
}

func TestConfigDefaults(t *testing.T) {
	c := testConfig(t, Config{Interval: time.Second})
	require.Equal(t, DefaultGroups(), c.Groups)
	require.Equal(t, 3*time.Second, c.PeerTTL, "three Intervals")
	require.Len(t, c.Cookie, 16)
	require.NoError(t, checkCookie(c.Cookie))
	require.Equal(t, 1, c.HopLimit)
}

func TestChooseInterfaces(t *testing.T) {
	all := []net.Interface{
		{Index: 1, Name: "lo", Flags: net.FlagUp | net.FlagLoopback},
		{Index: 2, Name: "eth0", Flags: net.FlagUp | net.FlagMulticast},
		{Index: 3, Name: "eth1", Flags: net.FlagMulticast},
		{Index: 4, Name: "wg0", Flags: net.FlagUp | net.FlagPointToPoint},
	}
	got, err := chooseInterfaces(all, nil)
	require.NoError(t, err)
	require.Equal(t, []net.Interface{all[1]}, got)
	got, err = chooseInterfaces(all, []string{"eth0"})
	require.NoError(t, err)
	require.Equal(t, []net.Interface{all[1]}, got)
	_, err = chooseInterfaces(all, []string{"eth9"})
	require.EqualError(t, err, `LSD: no network interface "eth9"`)
	_, err = chooseInterfaces(all, []string{"eth1"})
	require.EqualError(t, err, "LSD: network interface eth1 is down")
	_, err = chooseInterfaces(all, []string{"lo"})
	require.EqualError(t, err, "LSD: network interface lo cannot multicast")
	_, err = chooseInterfaces(all[:1], nil)
	require.EqualError(t, err, "LSD: no network interface is up and can multicast")
}
