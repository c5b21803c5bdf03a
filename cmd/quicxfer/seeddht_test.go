package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
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

// get --id with no source finds the seeds on the DHT and downloads from
// all of them; their certificates are not pinned, the content ID checks
// every block.
func TestGetByIDFromDHT(t *testing.T) {
	nw := dhttest.Start(t, 8, dht.Config{})
	data := make([][]byte, 0)
	var id string
	for i := range 3 {
		dir := t.TempDir()
		data = append(data, writeRandom(t, filepath.Join(dir, fmt.Sprintf("name%d.bin", i)), 8<<20, 80))
		args := []string{"--dht", "--dht-private", "--dht-listen", "127.0.0.1:0", "--rate-limit", "2MB/s"}
		for _, b := range nw.Bootstrap(2) {
			args = append(args, "--dht-bootstrap", b)
		}
		startSeed(t, append(args, dir)...)
		if id == "" {
			id = strings.TrimSpace(run(t, "manifest", filepath.Join(dir, "name0.bin")).stdout)
		}
	}
	mid, err := manifest.ParseID(id)
	require.NoError(t, err)
	waitFor(t, "the three seeds on the DHT", func() bool {
		peers, err := nw.Nodes[0].Lookup(t.Context(), mid)
		return err == nil && len(peers) >= 3
	})

	out := filepath.Join(t.TempDir(), "got.bin")
	r := run(t, "get", "--json", "-q", "--id", id, "--dht-private", "--dht-listen", "127.0.0.1:0", "--dht-bootstrap", nw.Bootstrap(1)[0], "-o", out)
	require.Zero(t, r.code, r.stderr)
	requireFile(t, out, data[0])
	require.Contains(t, r.stderr, "the DHT gave 3 seeds")
	var res struct {
		Seeds []struct {
			URL   string `json:"url"`
			Bytes int64  `json:"bytes"`
		} `json:"seeds"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
	require.Len(t, res.Seeds, 3)
	for _, s := range res.Seeds {
		require.Positive(t, s.Bytes, "every seed found sent blocks: %s", s.URL)
	}

	// Nothing on the DHT for another ID: one line, no hang.
	r = runBounded(t, nil, "get", "--id", strings.Repeat("ab", 32), "--dht-private", "--dht-listen", "127.0.0.1:0", "--dht-bootstrap", nw.Bootstrap(1)[0], "-o", filepath.Join(t.TempDir(), "x"))
	requireOneLine(t, r, "no seed of content ID abab")
}
