package dht_test

import (
	"context"
	"crypto/rand"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/dht"
	"github.com/quicxfer/quicxfer/quicxfer/dht/dhttest"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// deadline is how long a test polls for what must happen eventually.
const deadline = 30 * time.Second

func randomID(t testing.TB) manifest.ID {
	var id manifest.ID
	_, err := rand.Read(id[:])
	require.NoError(t, err)
	return id
}

func loopback(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
}

// announce starts an Announcer for port on nd with id.
func announce(t *testing.T, nd *dht.Node, port int, id manifest.ID) *dht.Announcer {
	a, err := nd.NewAnnouncer(port)
	require.NoError(t, err)
	a.Add(id)
	t.Cleanup(a.Close)
	return a
}

// lookupUntil looks id up from nd until the result satisfies ok.
func lookupUntil(t *testing.T, nd *dht.Node, id manifest.ID, what string, ok func([]netip.AddrPort) bool) []netip.AddrPort {
	t.Helper()
	var last []netip.AddrPort
	require.Eventually(t, func() bool {
		peers, err := nd.Lookup(context.Background(), id)
		require.NoError(t, err)
		last = peers
		return ok(peers)
	}, deadline, 100*time.Millisecond, "%s; last lookup: %v", what, &last)
	return last
}

func containsAll(peers []netip.AddrPort, want ...netip.AddrPort) bool {
	for _, w := range want {
		if !slices.Contains(peers, w) {
			return false
		}
	}
	return true
}

func TestThreeSeedsFoundFromOneBootstrapNode(t *testing.T) {
	nw := dhttest.Start(t, 6, dht.Config{})
	id := randomID(t)
	seeds := []netip.AddrPort{loopback(7001), loopback(7002), loopback(7003)}
	for i, s := range seeds {
		announce(t, nw.Nodes[i], int(s.Port()), id)
	}
	client := dhttest.StartNode(t, dht.Config{Bootstrap: nw.Bootstrap(1)})

	peers := lookupUntil(t, client, id, "the three seeds", func(p []netip.AddrPort) bool {
		return containsAll(p, seeds...)
	})
	require.Len(t, peers, 3, "no peer but the seeds announced %v", id)

	// The streaming form gives a peer before the lookup ends.
	var first netip.AddrPort
	require.NoError(t, client.LookupFunc(context.Background(), id, func(ap netip.AddrPort) bool {
		first = ap
		return false
	}))
	require.Contains(t, seeds, first)

	st := client.Stats()
	require.GreaterOrEqual(t, st.Lookups, uint64(2))
	require.GreaterOrEqual(t, st.PeersFound, uint64(4))
	require.Positive(t, st.Nodes)
	for i := range seeds {
		require.Positive(t, nw.Nodes[i].Stats().Announces, "seed %d", i)
	}
	stored := 0
	for _, nd := range nw.Nodes {
		stored += nd.Stats().StoredPeers
	}
	require.GreaterOrEqual(t, stored, 3, "the seeds' announces are stored somewhere")
}

func TestStoppedSeedExpires(t *testing.T) {
	nw := dhttest.Start(t, 6, dht.Config{PeerTTL: 2 * time.Second, AnnounceInterval: 500 * time.Millisecond})
	id := randomID(t)
	a, b, c := loopback(7101), loopback(7102), loopback(7103)
	announce(t, nw.Nodes[0], int(a.Port()), id)
	announce(t, nw.Nodes[1], int(b.Port()), id)
	stopping := announce(t, nw.Nodes[2], int(c.Port()), id)
	client := dhttest.StartNode(t, dht.Config{Bootstrap: nw.Bootstrap(1)})

	lookupUntil(t, client, id, "all three seeds", func(p []netip.AddrPort) bool {
		return containsAll(p, a, b, c)
	})
	stopping.Close()
	lookupUntil(t, client, id, "the two seeds that still announce, not the one that stopped", func(p []netip.AddrPort) bool {
		return containsAll(p, a, b) && !slices.Contains(p, c)
	})
}

func TestRestartFromState(t *testing.T) {
	nw := dhttest.Start(t, 5, dht.Config{})
	id := randomID(t)
	seed := loopback(7201)
	announce(t, nw.Nodes[0], int(seed.Port()), id)
	state := filepath.Join(t.TempDir(), "dht-state")

	first, err := dht.Start(context.Background(), dht.Config{
		Listen: "127.0.0.1:0", AllowPrivate: true, Bootstrap: nw.Bootstrap(1), StatePath: state, Logf: t.Logf,
	})
	require.NoError(t, err)
	lookupUntil(t, first, id, "the seed", func(p []netip.AddrPort) bool { return slices.Contains(p, seed) })
	nodeID := first.ID()
	require.NoError(t, first.Close())
	require.NoError(t, first.Close(), "Close is idempotent")
	require.FileExists(t, state)

	// No bootstrap node: only what was saved.
	second := dhttest.StartNode(t, dht.Config{NoBootstrap: true, StatePath: state})
	require.Equal(t, nodeID, second.ID(), "the node ID is kept")
	lookupUntil(t, second, id, "the seed, from the saved table", func(p []netip.AddrPort) bool { return slices.Contains(p, seed) })
}

func TestNoNodesToStartFrom(t *testing.T) {
	nd := dhttest.StartNode(t, dht.Config{NoBootstrap: true})
	_, err := nd.Lookup(context.Background(), randomID(t))
	require.ErrorIs(t, err, dht.ErrNoNodes)
	err = nd.Announce(context.Background(), randomID(t), 7301)
	require.ErrorIs(t, err, dht.ErrNoNodes)
	require.Equal(t, uint64(1), nd.Stats().AnnouncesFailed)
}
