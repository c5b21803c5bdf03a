package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/seed"
)

// Flags of get for sharing while downloading.
func serveFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "serve", Usage: "serve the blocks already verified to anyone while downloading, print this side's URL, and keep seeding after completion (until SIGINT/SIGTERM or --seed-time)"},
		&cli.StringFlag{Name: "listen", Value: "0.0.0.0:0", Usage: "with --serve: UDP address to serve on (`HOST:PORT`; port 0 picks a free one)"},
		&cli.DurationFlag{Name: "seed-time", Usage: "with --serve: keep seeding this long after completion (`DUR`; default: until SIGINT/SIGTERM)"},
		&cli.StringFlag{Name: "upload-limit", Value: "0", Usage: "with --serve: cap on what is uploaded to all peers together: a rate (0: none, 500KB/s, 12.5MB/s, 100Mbit/s) or a share of this side's link, N% of the fastest download rate measured"},
		&cli.StringFlag{Name: "state-dir", Usage: "with --serve: where the key and certificate of this side's URL are kept (default $XDG_STATE_HOME/quicxfer)"},
		&cli.IntFlag{Name: "max-peers", Value: quicxfer.DefaultMaxPeers, Usage: "most other sources learnt from the seeds (GET_PEERS) to use as well; 0: only the --seed URLs"},
		&cli.BoolFlag{Name: "lowest-first", Usage: "fetch blocks in file order rather than rarest first (for streaming)"},
	}
}

// swarmOptions applies the swarm flags of get to opts.
func swarmOptions(c *cli.Context, opts *quicxfer.Options) error {
	n := c.Int("max-peers")
	if n < 0 || n > 1024 {
		return usagef("--max-peers: want 0 to 1024, got %d", n)
	}
	opts.MaxPeers = n
	if n == 0 {
		opts.MaxPeers = -1
	}
	opts.LowestFirst = c.Bool("lowest-first")
	return nil
}

// checkServeFlags checks the flags of get that go with --serve, before get
// does anything: a bad one is a usage error, as it is for seed.
func checkServeFlags(c *cli.Context) error {
	if !c.Bool("serve") {
		for _, f := range []string{"listen", "seed-time", "upload-limit", "state-dir"} {
			if onCommandLine(c, f) {
				return usagef("--%s goes with --serve", f)
			}
		}
		return nil
	}
	if err := checkHostPort(c.String("listen")); err != nil {
		return usagef("--listen%s: %v", fromEnv(c, "listen"), err)
	}
	if c.Duration("seed-time") < 0 {
		return usagef("--seed-time: must not be negative")
	}
	if _, _, err := parseUploadLimit(c.String("upload-limit")); err != nil {
		return usagef("--upload-limit%s: %v", fromEnv(c, "upload-limit"), err)
	}
	return nil
}

// sharing is a seed that serves a download while it runs, and after.
type sharing struct {
	srv    *seed.Server
	sharer *seed.DownloadSharer
	cancel context.CancelFunc
	done   chan error
}

// startSharing starts a server with no files of its own, serving what the
// download gives it, and prints its URL on stdout as a seed does.
func startSharing(ctx context.Context, c *cli.Context, opts seed.Options, what string) (*sharing, error) {
	sh, err := newSharing(ctx, c, opts)
	if err != nil {
		return nil, err
	}
	sh.announce(c, what)
	return sh, nil
}

// newSharing is startSharing without the line: the caller prints it with
// announce once it knows what it serves.
func newSharing(ctx context.Context, c *cli.Context, opts seed.Options) (*sharing, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	opts.NoPaths = true
	srv, err := seed.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	sh := &sharing{srv: srv, sharer: srv.NewDownloadSharer(), cancel: cancel, done: make(chan error, 1)}
	go func() { sh.done <- srv.Serve(sctx) }()
	return sh, nil
}

// announce prints the server's URL on stdout as a seed does: "quicxfer
// WHAT: URL", then the URLs for other hosts.
func (sh *sharing) announce(c *cli.Context, what string) {
	urls := sh.srv.URLs()
	line := fmt.Sprintf("quicxfer %s: %s", what, urls[0])
	if len(urls) > 1 {
		line += " (from other hosts: "
		for _, u := range urls[1:] {
			line += u + " "
		}
		line += ")"
	}
	fmt.Fprintln(c.App.Writer, line)
}

// stop shuts the server down gracefully and closes the shared file.
func (sh *sharing) stop() error {
	sh.cancel()
	err := <-sh.done
	_ = sh.srv.Close()
	_ = sh.sharer.Close()
	if errors.Is(err, seed.ErrClosed) {
		err = nil
	}
	return err
}

// seedOn keeps serving after the download until ctx ends or seedTime (if
// positive) passes, and registers again with the sources every
// DefaultPeersInterval so that they keep listing this side.
func (sh *sharing) seedOn(ctx context.Context, errw io.Writer, auth quicxfer.ClientOptions, sources []string, id manifest.ID, seedTime time.Duration) {
	if seedTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, seedTime)
		defer cancel()
		fmt.Fprintf(errw, "quicxfer: seeding for %s (Ctrl-C stops)\n", seedTime)
	} else {
		fmt.Fprintf(errw, "quicxfer: seeding until stopped (Ctrl-C)\n")
	}
	client, err := quicxfer.NewClientWith(auth)
	if err != nil {
		<-ctx.Done()
		return
	}
	defer client.Close()
	quicxfer.Announce(ctx, client, sources, id, sh.srv.URLs(), 5*time.Second)
	t := time.NewTicker(quicxfer.DefaultPeersInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			quicxfer.Announce(ctx, client, sources, id, sh.srv.URLs(), 5*time.Second)
		}
	}
}

// usedSources returns the URLs of the sources a download used.
func usedSources(res *quicxfer.Result) []string {
	var out []string
	for _, s := range res.Seeds {
		if s.Blocks > 0 || s.Note == "" {
			out = append(out, s.URL)
		}
	}
	return out
}

// parseUploadLimit reads --upload-limit: a rate (bytes per second, 0 for
// none) or a share of the link, "N%" with 0 < N <= 100. For a share, bps is
// the cap until the link has been measured.
func parseUploadLimit(s string) (bps, share float64, err error) {
	if pct, ok := strings.CutSuffix(strings.TrimSpace(s), "%"); ok {
		n, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || !(n > 0 && n <= 100) {
			return 0, 0, fmt.Errorf("a share of the link is more than 0%% and at most 100%%, got %q", s)
		}
		return uploadShareFloor, n / 100, nil
	}
	bps, err = parseRate(s)
	return bps, 0, err
}

// uploadShareFloor is the upload cap of a --serve downloader whose
// --upload-limit is a share, until its link has been measured (and its
// lowest cap after): enough for peers to start, little on any link.
const uploadShareFloor = 256 << 10

// uploadShare keeps a --serve downloader's uploads at a share of its link.
// The link's speed is taken to be the fastest download rate measured over
// a second or more so far (a lower bound on it); the cap follows that
// measure up and never down, and stays once the download is done.
type uploadShare struct {
	share float64
	set   func(bps float64) // the server's SetRateLimit

	started      bool
	lastT        time.Duration
	lastVerified int64
	peak         float64 // bytes/s
}

// progress takes a snapshot of the download (Options.OnProgress).
func (u *uploadShare) progress(p quicxfer.Progress) {
	if !u.started || p.Elapsed < u.lastT {
		u.started, u.lastT, u.lastVerified = true, p.Elapsed, p.Verified
		return
	}
	dt := p.Elapsed - u.lastT
	if dt < time.Second {
		return
	}
	r := float64(p.Verified-u.lastVerified) / dt.Seconds()
	u.lastT, u.lastVerified = p.Elapsed, p.Verified
	if r > u.peak {
		u.peak = r
		u.set(max(u.share*r, uploadShareFloor))
	}
}
