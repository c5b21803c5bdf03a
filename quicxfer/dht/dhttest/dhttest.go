// Package dhttest builds private mainline DHTs on loopback for tests and
// benchmarks: no packet leaves the machine, no public router is contacted.
package dhttest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/dht"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// fanout is how many earlier nodes a new node of a Network bootstraps from.
const fanout = 3

// readyTimeout bounds the wait for a Network's tables to fill.
const readyTimeout = 120 * time.Second

// Network is a private DHT of nodes on 127.0.0.1.
type Network struct {
	Nodes []*dht.Node
}

// Start starts n nodes on 127.0.0.1 with cfg (its Listen, Bootstrap and
// NoBootstrap are replaced; AllowPrivate is set; a zero SendRate becomes
// 1000, so that the bootstrap of many nodes at once is not rate-limited).
// The first node bootstraps from nobody, each later one from up to three
// random earlier ones. Start returns when every node's table holds at least
// min(n-1, 8) nodes, and closes them all when the test ends.
func Start(tb testing.TB, n int, cfg dht.Config) *Network {
	tb.Helper()
	if cfg.SendRate == 0 {
		cfg.SendRate = 1000
	}
	nw := &Network{}
	tb.Cleanup(func() { nw.close(tb) })
	for i := range n {
		c := cfg
		c.Bootstrap = nw.Bootstrap(fanout)
		c.NoBootstrap = i == 0
		nd, err := startNode(tb, c)
		if err != nil {
			tb.Fatal(err)
		}
		nw.Nodes = append(nw.Nodes, nd)
	}
	// anacrolix answers find_node with "good" nodes only (those that
	// answered it), and its maintainer pings the others once a minute: a
	// lookup toward a random key from each node whose table is still short
	// makes the nodes it meets answer it, and them learn of it.
	want := min(n-1, 8)
	deadline := time.Now().Add(readyTimeout)
	for {
		short := 0
		for _, nd := range nw.Nodes {
			if nd.Stats().Nodes >= want {
				continue
			}
			short++
			if time.Now().After(deadline) {
				tb.Fatalf("private DHT of %d nodes: node %v has %d nodes in its table after %v, want %d",
					n, nd.Addr(), nd.Stats().Nodes, readyTimeout, want)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := nd.Lookup(ctx, randomID())
			cancel()
			if err != nil && !errors.Is(err, dht.ErrNoNodes) {
				tb.Fatalf("private DHT: a lookup from node %v: %v", nd.Addr(), err)
			}
		}
		if short == 0 {
			return nw
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// randomID returns a random content ID.
func randomID() manifest.ID {
	var id manifest.ID
	for i := range id {
		id[i] = byte(rand.Uint32())
	}
	return id
}

// StartNode starts one node on 127.0.0.1 with cfg (Listen is replaced,
// AllowPrivate set, Logf set to tb's log unless given) and closes it when
// the test ends, failing the test if its Close fails. Its Bootstrap is
// cfg's: set NoBootstrap or Bootstrap, or it would try the public routers.
func StartNode(tb testing.TB, cfg dht.Config) *dht.Node {
	tb.Helper()
	nd, err := startNode(tb, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := nd.Close(); err != nil {
			tb.Errorf("closing DHT node %v: %v", nd.Addr(), err)
		}
	})
	return nd
}

func startNode(tb testing.TB, cfg dht.Config) (*dht.Node, error) {
	if !cfg.NoBootstrap && len(cfg.Bootstrap) == 0 {
		return nil, fmt.Errorf("dhttest: no Bootstrap and no NoBootstrap: the node would contact the public routers")
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.AllowPrivate = true
	if cfg.Logf == nil {
		cfg.Logf = tb.Logf
	}
	nd, err := dht.Start(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("starting a DHT node: %w", err)
	}
	return nd, nil
}

// Bootstrap returns the addresses of up to k random nodes of the network,
// for Config.Bootstrap.
func (nw *Network) Bootstrap(k int) []string {
	idx := rand.Perm(len(nw.Nodes))
	var out []string
	for _, i := range idx[:min(k, len(idx))] {
		out = append(out, nw.Nodes[i].Addr().String())
	}
	return out
}

// String describes the network for test logs.
func (nw *Network) String() string {
	nodes := 0
	for _, nd := range nw.Nodes {
		nodes += nd.Stats().Nodes
	}
	return fmt.Sprintf("private DHT of %d nodes (%.1f in a table on average)",
		len(nw.Nodes), float64(nodes)/float64(max(len(nw.Nodes), 1)))
}

// close closes every node at once (each Close waits for its maintainer).
func (nw *Network) close(tb testing.TB) {
	var wg sync.WaitGroup
	for _, nd := range nw.Nodes {
		wg.Go(func() {
			if err := nd.Close(); err != nil {
				tb.Errorf("closing DHT node %v: %v", nd.Addr(), err)
			}
		})
	}
	wg.Wait()
}
