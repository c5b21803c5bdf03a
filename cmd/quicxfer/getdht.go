package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/quicxfer/quicxfer/internal/units"
	"github.com/quicxfer/quicxfer/quicxfer/dht"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// get --id with no source (or with --dht): the seeds of the content ID are
// looked up on the mainline DHT. What the DHT gives is an address, no pin:
// such a seed is dialled without checking its certificate, which is safe
// because every block is checked against the content ID the user gave.
// At most dhtMaxSeeds peers are dialled; the DHT node refuses addresses
// outside the public ranges unless --dht-private.

const (
	// dhtMaxSeeds bounds the peers from the DHT one get dials.
	dhtMaxSeeds = 16
	// dhtLookupTimeout bounds the lookup before the download starts.
	dhtLookupTimeout = 30 * time.Second
	// dhtLookups is the most traversals of that lookup.
	dhtLookups = 3
)

// dhtSeeds looks id up and returns the seed URLs of up to dhtMaxSeeds
// peers, once the lookup has ended, or the most were found, or its time is
// up with at least one.
func dhtSeeds(ctx context.Context, cfg dht.Config, id manifest.ID, logs io.Writer) ([]string, error) {
	node, err := dht.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("--dht: %w", err)
	}
	defer closeDHT(node)
	lctx, cancel := context.WithTimeout(ctx, dhtLookupTimeout)
	defer cancel()
	var urls []string
	seen := map[netip.AddrPort]bool{}
	// The first traversal of a node that knows only its bootstrap nodes
	// may end before the nodes closest to the key (which hold most
	// announces): it also fills the table, so the next one starts nearer.
	// Up to dhtLookups traversals, until one adds nobody.
	for range dhtLookups {
		before := len(urls)
		err = node.LookupFunc(lctx, id, func(p netip.AddrPort) bool {
			if !seen[p] {
				seen[p] = true
				u := wire.URL{Host: p.Addr().Unmap().String(), Port: p.Port()}
				urls = append(urls, u.String())
			}
			return len(urls) < dhtMaxSeeds
		})
		if err != nil || len(urls) == before || len(urls) >= dhtMaxSeeds || lctx.Err() != nil {
			break
		}
	}
	switch {
	case len(urls) > 0:
		fmt.Fprintf(logs, "quicxfer: the DHT gave %d %s of content ID %s\n", len(urls), units.Plural(len(urls), "seed"), id)
		return urls, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return nil, fmt.Errorf("looking content ID %s up on the DHT: %w", id, err)
	}
	return nil, fmt.Errorf("no seed of content ID %s was found on the DHT (%d nodes in its table); give a --seed URL", id, node.Stats().Nodes)
}
