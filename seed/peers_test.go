package seed

import (
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func TestPeerBookExpiry(t *testing.T) {
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := newPeerBook(c, PeerTTL)
	id, other := manifest.ID{1}, manifest.ID{2}
	require.True(t, b.touch(id, "quic://10.0.0.1:1", "10.0.0.1"))
	require.False(t, b.touch(id, "quic://10.0.0.1:1", "10.0.0.1"), "known")
	b.addPermanent(id, "quic://10.0.0.9:9")
	b.addAll("quic://10.0.0.8:8")
	require.Equal(t, []string{"quic://10.0.0.8:8", "quic://10.0.0.9:9", "quic://10.0.0.1:1"}, b.list(id, nil, 10),
		"permanent ones first")
	require.Equal(t, []string{"quic://10.0.0.8:8"}, b.list(other, nil, 10), "the operator's peers are for every file")
	require.Equal(t, []string{"quic://10.0.0.8:8"}, b.list(id, []string{"quic://10.0.0.1:1", "quic://10.0.0.9:9"}, 10))
	require.Equal(t, []string{"quic://10.0.0.8:8", "quic://10.0.0.9:9"}, b.list(id, nil, 2))

	c.t = c.t.Add(PeerTTL - time.Second)
	b.touch(id, "quic://10.0.0.2:2", "10.0.0.2")
	require.Len(t, b.list(id, nil, 10), 4, "still within the TTL")
	c.t = c.t.Add(2 * time.Second)
	require.Equal(t, []string{"quic://10.0.0.8:8", "quic://10.0.0.9:9", "quic://10.0.0.2:2"}, b.list(id, nil, 10),
		"an entry not heard from for over PeerTTL expires; permanent ones stay")
	require.True(t, b.touch(id, "quic://10.0.0.1:1", "10.0.0.1"), "an expired peer that comes back is new again")
	c.t = c.t.Add(PeerTTL + time.Second)
	require.Equal(t, []string{"quic://10.0.0.8:8", "quic://10.0.0.9:9"}, b.list(id, nil, 10))
}

// One address keeps at most maxPeersPerAddr registrations (the newest), a
// content ID at most maxPeersPerID, and the permanent sources are in every
// answer however many registered.
func TestPeerBookBounds(t *testing.T) {
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := newPeerBook(c, PeerTTL)
	id := manifest.ID{1}
	b.addPermanent(id, "quic://10.9.9.9:9")
	b.addAll("quic://10.8.8.8:8")
	for port := 1; port <= 1000; port++ {
		c.t = c.t.Add(time.Millisecond)
		b.touch(id, "quic://10.0.0.1:"+strconv.Itoa(port), "10.0.0.1")
	}
	require.Equal(t, []string{"quic://10.8.8.8:8", "quic://10.9.9.9:9", "quic://10.0.0.1:1000", "quic://10.0.0.1:999"},
		sorted2(b.list(id, nil, 100)), "one address keeps its two newest")

	for i := range 1000 {
		c.t = c.t.Add(time.Millisecond)
		b.touch(id, fmt.Sprintf("quic://10.1.%d.%d:1", i/256, i%256), fmt.Sprintf("10.1.%d.%d", i/256, i%256))
	}
	require.Len(t, b.reg[id], maxPeersPerID)
	require.NotNil(t, b.reg[id]["quic://10.1.3.231:1"], "the newest stays")
	require.Nil(t, b.reg[id]["quic://10.0.0.1:1000"], "the oldest made room")
	for range 20 {
		got := b.list(id, nil, wire.MaxPeers)
		require.Len(t, got, wire.MaxPeers)
		require.Equal(t, []string{"quic://10.8.8.8:8", "quic://10.9.9.9:9"}, got[:2], "the permanent ones are always listed")
	}

	// Expiry forgets the entries and the content ID's map, also when
	// another content ID registers.
	c.t = c.t.Add(PeerTTL + time.Second)
	b.touch(manifest.ID{2}, "quic://10.0.0.5:5", "10.0.0.5")
	require.NotContains(t, b.reg, id)
	require.Len(t, b.reg, 1)
	require.Equal(t, []string{"quic://10.8.8.8:8", "quic://10.9.9.9:9"}, b.list(id, nil, 100))
	c.t = c.t.Add(PeerTTL + time.Second)
	require.Equal(t, []string{"quic://10.8.8.8:8"}, b.list(manifest.ID{2}, nil, 100))
	require.Empty(t, b.reg, "no per-ID map is left behind")
}

func sorted2(urls []string) []string {
	head := append([]string(nil), urls[:min(2, len(urls))]...)
	rest := append([]string(nil), urls[min(2, len(urls)):]...)
	sort.Strings(rest)
	return append(head, rest...)
}
