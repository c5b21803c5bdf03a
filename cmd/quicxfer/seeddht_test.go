package main

import (
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/dht"
	"github.com/quicxfer/quicxfer/quicxfer/dht/dhttest"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// seed --dht announces every file it serves on the DHT it joins through
// --dht-bootstrap (a private one on loopback here: no packet leaves the
// machine), with its QUIC port: a node of that DHT finds it by content ID.
func TestSeedAnnouncesOnDHT(t *testing.T) {
	nw := dhttest.Start(t, 6, dht.Config{})
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "a.bin"), 1<<20, 71)
	writeRandom(t, filepath.Join(dir, "b.bin"), 1<<20, 72)
	var args []string
	for _, b := range nw.Bootstrap(2) {
		args = append(args, "--dht-bootstrap", b)
	}
	u := startSeed(t, append([]string{"--dht", "--dht-private", "--dht-listen", "127.0.0.1:0"}, append(args, dir)...)...)
	su, err := wire.ParseURL(u)
	require.NoError(t, err)
	want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), su.Port)
	for _, name := range []string{"a.bin", "b.bin"} {
		m, err := manifest.BuildFile(t.Context(), filepath.Join(dir, name), 1)
		require.NoError(t, err)
		waitFor(t, name+" found on the DHT", func() bool {
			peers, err := nw.Nodes[len(nw.Nodes)-1].Lookup(t.Context(), m.ID())
			return err == nil && slices.Contains(peers, want)
		})
	}
}

func TestSeedDHTRefused(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "a.bin"), 1000, 73)
	requireUsage(t, run(t, "seed", "--dht", "--token", "s3cret", "--listen", "127.0.0.1:0", dir), "private seed", "never announced")
	requireUsage(t, run(t, "seed", "--dht-bootstrap", "127.0.0.1:1", "--listen", "127.0.0.1:0", dir), "--dht-bootstrap goes with --dht")
	requireUsage(t, run(t, "seed", "--dht", "--dht-bootstrap", "nohostport", "--listen", "127.0.0.1:0", dir), "--dht-bootstrap", "HOST:PORT")
}
