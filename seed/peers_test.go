package seed

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func TestPeerBookExpiry(t *testing.T) {
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := newPeerBook(c, PeerTTL)
	id, other := manifest.ID{1}, manifest.ID{2}
	require.True(t, b.touch(id, "quic://10.0.0.1:1"))
	require.False(t, b.touch(id, "quic://10.0.0.1:1"), "known")
	b.addPermanent(id, "quic://10.0.0.9:9")
	b.addAll("quic://10.0.0.8:8")
	require.Equal(t, []string{"quic://10.0.0.1:1", "quic://10.0.0.8:8", "quic://10.0.0.9:9"}, b.list(id, nil, 10))
	require.Equal(t, []string{"quic://10.0.0.8:8"}, b.list(other, nil, 10), "the operator's peers are for every file")
	require.Equal(t, []string{"quic://10.0.0.8:8"}, b.list(id, []string{"quic://10.0.0.1:1", "quic://10.0.0.9:9"}, 10))
	require.Len(t, b.list(id, nil, 2), 2)

	c.t = c.t.Add(PeerTTL - time.Second)
	b.touch(id, "quic://10.0.0.2:2")
	require.Len(t, b.list(id, nil, 10), 4, "still within the TTL")
	c.t = c.t.Add(2 * time.Second)
	require.Equal(t, []string{"quic://10.0.0.2:2", "quic://10.0.0.8:8", "quic://10.0.0.9:9"}, b.list(id, nil, 10),
		"an entry not heard from for over PeerTTL expires; permanent ones stay")
	require.True(t, b.touch(id, "quic://10.0.0.1:1"), "an expired peer that comes back is new again")
	c.t = c.t.Add(PeerTTL + time.Second)
	require.Equal(t, []string{"quic://10.0.0.8:8", "quic://10.0.0.9:9"}, b.list(id, nil, 10))
}
