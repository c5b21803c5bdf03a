package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/internal/units"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/seed"
)

func replicateFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "from", EnvVars: seedFlagEnv("from"), Usage: "fill DIR from the seed at `URL` (repeat for more), serving what is there meanwhile, then seed it"},
		&cli.StringFlag{Name: "id", EnvVars: seedFlagEnv("id"), Usage: "with --from: the content `ID` of the file to fill DIR with"},
		&cli.StringFlag{Name: "name", EnvVars: seedFlagEnv("name"), Usage: "with --from: the `NAME` of the file on the --from seeds (instead of, or with, --id)"},
		&cli.StringFlag{Name: "from-client-cert", EnvVars: seedFlagEnv("from-client-cert"), Usage: "with --from: client certificate `FILE` (PEM) to present to --from seeds that ask for one (mutual TLS)"},
		&cli.StringFlag{Name: "from-client-key", EnvVars: seedFlagEnv("from-client-key"), Usage: "with --from: private key `FILE` (PEM) of --from-client-cert"},
		&cli.StringFlag{Name: "from-ca", EnvVars: seedFlagEnv("from-ca"), Usage: "with --from: CA certificates `FILE` (PEM) to check --from seeds whose URL has no pin (default: the system's roots)"},
		&cli.StringSliceFlag{Name: "peer", EnvVars: seedFlagEnv("peer"), Usage: "tell clients that the seed at `URL` serves the same files (repeat for more)"},
	}
}

func checkReplicateFlags(c *cli.Context) error {
	if len(c.StringSlice("from")) == 0 {
		for _, f := range []string{"id", "name", "from-client-cert", "from-client-key", "from-ca"} {
			if onCommandLine(c, f) {
				return usagef("--%s goes with --from", f)
			}
		}
		return nil
	}
	if c.NArg() != 1 {
		return usagef("seed --from: give exactly one DIR to fill")
	}
	_, hasID, err := idFlag(c)
	if err != nil {
		return err
	}
	if !hasID && c.String("name") == "" {
		return usagef("seed --from: give --id ID or --name NAME")
	}
	if n := c.String("name"); n != "" {
		if err := wire.CheckName(n); err != nil {
			return usagef("--name %q: %v", n, err)
		}
		if partial.IsWorkingFile(n) {
			return usagef("--name %q: a name ending in %s is a download's own file, never served", n, strings.Join(partial.WorkingSuffixes(), ", "))
		}
	}
	for _, u := range c.StringSlice("from") {
		if _, err := wire.ParseURL(u); err != nil {
			return usagef("--from: %v", err)
		}
	}
	return nil
}

// replicate fills dir with one file from the --from seeds with
// quicxfer.Replicate, serving the blocks it has meanwhile, then serves it as
// a full seed until stopped.
func replicate(c *cli.Context, opts seed.Options, dir string) error {
	ctx := c.Context
	from := c.StringSlice("from")
	id, _, _ := idFlag(c) // checked; zero: none
	logf := func(format string, args ...any) { fmt.Fprintf(c.App.ErrWriter, "quicxfer: "+format+"\n", args...) }
	// A replica serves whoever its own flags let in. One that needs a
	// client certificate to fill itself holds a private seed's file and,
	// without credentials of its own, would give it (and the --from URLs)
	// to anyone: refused, as get --serve with --client-cert is.
	if c.String("from-client-cert") != "" && len(opts.Tokens) == 0 && opts.ClientCAFile == "" {
		return usagef("seed --from with --from-client-cert: the replica would serve a private seed's file to anyone; make it private too with --token (or --token-file) or --client-ca")
	}

	// A private replica of a private seed presents its own first token to
	// the --from seeds: the members of a private swarm share a token. With
	// mutual TLS it presents --from-client-cert.
	var co quicxfer.ClientOptions
	if len(opts.Tokens) > 0 {
		co.Token = []byte(opts.Tokens[0])
	}
	if err := clientTLS(c, "from-", &co); err != nil {
		return err
	}
	client, err := quicxfer.NewClientWith(co)
	if err != nil {
		return err
	}
	defer client.Close()
	stateDir := opts.StateDir
	if stateDir == "" {
		stateDir, _ = seed.DefaultStateDir() // none found: "", none to keep out of
	}
	var sh *sharing
	res, err := quicxfer.Replicate(ctx, quicxfer.ReplicateOptions{
		From: from, ID: id, Name: c.String("name"), Dir: dir, StateDir: stateDir, Client: client, Logf: logf,
		DescribeError:  func(err error) string { return describe(err, fromFlags) },
		CachedManifest: func(p string) (*manifest.Manifest, error) { return seed.CachedManifest(opts.StateDir, p) },
		Serve: func(*quicxfer.Replica) (quicxfer.ReplicaSeed, error) {
			s, err := newSharing(ctx, c, opts)
			if err != nil {
				return nil, err
			}
			sh = s
			return replicaSeed{s.srv, s.sharer}, nil
		},
		OnServing: func(r *quicxfer.Replica) {
			if r.Complete {
				sh.announce(c, fmt.Sprintf("seed ready, %s complete (content ID %s)", r.Out, r.Manifest.ID()))
			} else {
				sh.announce(c, fmt.Sprintf("seed ready, filling %s (content ID %s) from %d %s", r.Out, r.Manifest.ID(), len(from), units.Plural(len(from), "seed")))
			}
		},
	})
	if err != nil {
		if sh != nil {
			_ = sh.stop()
		}
		return replicateErr(err, res)
	}
	<-ctx.Done()
	return sh.stop()
}

// replicateErr is the error of a replica that could not be filled (res,
// if not nil, is how far it got) in the command's words.
func replicateErr(err error, res *quicxfer.ReplicateResult) error {
	var (
		me *quicxfer.ManifestSearchError
		se *quicxfer.StateDirError
	)
	switch {
	case errors.As(err, &me):
		raw, err := me.URL, me.Err
		firstErr := fmt.Errorf("%s: %s", raw, describe(err, fromFlags))
		return fmt.Errorf("no --from seed gave the file's manifest: %w", firstErr)
	case errors.As(err, &se):
		return fmt.Errorf("filling %s: %s is in the seed's state directory, where nothing is written for a --from seed", se.Dir, se.Path)
	case errors.Is(err, context.Canceled) && res != nil && res.Download != nil:
		return fmt.Errorf("interrupted; verified blocks are saved in %s.qxpart: run the same command to resume: %w", res.Out, err)
	}
	return cliError(err, fromFlags)
}

// replicaSeed is the seed of a replica as quicxfer.Replicate sees it.
type replicaSeed struct {
	*seed.Server
	sharer *seed.DownloadSharer
}

func (r replicaSeed) Sharer() quicxfer.Sharer { return r.sharer }
