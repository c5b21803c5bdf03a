package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/quicxfer/dht"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/seed"
)

// The seed on the mainline DHT (seed --dht): a node of its own on its own
// UDP port (KRPC cannot share the QUIC socket) announces every served
// content ID with the seed's QUIC port, again before the DHT forgets it,
// and again after a reload changes what is served.

// dhtFlags are the flags of a DHT node, for seed and get: what --dht does
// there, and the node's address by default.
func dhtFlags(what, listen string) []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "dht", EnvVars: seedFlagEnv("dht"), Usage: what},
		&cli.StringFlag{Name: "dht-listen", EnvVars: seedFlagEnv("dht-listen"), Value: listen, Usage: "the DHT node's own UDP address (`HOST:PORT`; port 0 picks a free one; a seed's should stay fixed, so that the nodes that know it find it after a restart)"},
		&cli.StringSliceFlag{Name: "dht-bootstrap", EnvVars: seedFlagEnv("dht-bootstrap"), Usage: "a node (`HOST:PORT`) to join the DHT through, repeatable; replaces the public routers (" + fmt.Sprint(dht.DefaultBootstrap()) + ")"},
		&cli.BoolFlag{Name: "dht-private", EnvVars: seedFlagEnv("dht-private"), Usage: "take nodes and peers at loopback, private and link-local addresses (a DHT of your own on a LAN); refused by default"},
	}
}

// dhtConfig reads the DHT flags, the routing table kept under stateDir.
func dhtConfig(c *cli.Context, stateDir string, logs io.Writer) (dht.Config, error) {
	if err := checkHostPort(c.String("dht-listen")); err != nil {
		return dht.Config{}, usagef("--dht-listen%s: %v", fromEnv(c, "dht-listen"), err)
	}
	for _, b := range c.StringSlice("dht-bootstrap") {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return dht.Config{}, usagef("--dht-bootstrap %s: want HOST:PORT", showName(b))
		}
	}
	return dht.Config{
		Listen:       c.String("dht-listen"),
		Bootstrap:    c.StringSlice("dht-bootstrap"),
		StatePath:    filepath.Join(stateDir, "dht-table"),
		AllowPrivate: c.Bool("dht-private"),
		Logf:         func(format string, args ...any) { fmt.Fprintf(logs, "quicxfer: dht: "+format+"\n", args...) },
	}, nil
}

// checkSeedDHT refuses --dht for a private seed: it never announces.
func checkSeedDHT(c *cli.Context, opts seed.Options) error {
	switch {
	case !c.Bool("dht"):
		for _, f := range []string{"dht-listen", "dht-bootstrap", "dht-private"} {
			if c.IsSet(f) {
				return usagef("--%s goes with --dht", f)
			}
		}
	case len(opts.Tokens) > 0 || opts.ClientCAFile != "":
		return usagef("--dht: a private seed (--token, --client-ca) is never announced: anyone could find it")
	}
	return nil
}

// seedDHT is a seed's node and its announcer.
type seedDHT struct {
	node *dht.Node
	ann  *dht.Announcer
}

// startSeedDHT starts the node and announces every file s serves.
func startSeedDHT(ctx context.Context, cfg dht.Config, s *seed.Server) (*seedDHT, error) {
	node, err := dht.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("--dht: %w", err)
	}
	ann, err := node.NewAnnouncer(s.Addr().(*net.UDPAddr).Port)
	if err != nil {
		_ = node.Close()
		return nil, fmt.Errorf("--dht: %w", err)
	}
	d := &seedDHT{node: node, ann: ann}
	d.served(s)
	return d, nil
}

// served announces what s serves now (after a reload too), and no more
// what it stopped serving.
func (d *seedDHT) served(s *seed.Server) {
	var ids []manifest.ID
	for _, f := range s.Files() {
		ids = append(ids, f.ID)
	}
	d.ann.Set(ids...)
}

func (d *seedDHT) close() {
	d.ann.Close()
	closeDHT(d.node)
}

// closeDHT closes node, waiting for it at most 5 s: its last save, or a
// query just after its start that anacrolix cannot cancel, does not hold
// up the command's exit.
func closeDHT(node *dht.Node) {
	done := make(chan struct{})
	go func() { _ = node.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}
