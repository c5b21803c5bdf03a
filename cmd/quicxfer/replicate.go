package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/internal/partial"
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
			if c.IsSet(f) {
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

// replicate fills dir with one file from the --from seeds, serving the
// blocks it has meanwhile, then serves it as a full seed until stopped.
func replicate(c *cli.Context, opts seed.Options, dir string) error {
	ctx := c.Context
	from := c.StringSlice("from")
	var want *manifest.ID                 // the content ID asked for; nil: none
	if id, given, _ := idFlag(c); given { // checked
		want = &id
	}
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
	// Filled by an earlier run: the cache vouches for the file, so neither
	// the --from seeds (which may be gone) nor hashing are needed.
	if name, m := completeReplica(opts.StateDir, dir, want, c.String("name")); m != nil {
		out := filepath.Join(dir, filepath.FromSlash(name))
		sh, err := newSharing(ctx, c, opts)
		if err != nil {
			return err
		}
		if err := sh.sharer.Start(name, m, out, func(int) bool { return true }); err != nil {
			_ = sh.stop()
			return err
		}
		for _, u := range from {
			_ = sh.srv.AddPeer(m.ID(), u) // checked
		}
		sh.announce(c, fmt.Sprintf("seed ready, %s complete (content ID %s)", out, m.ID()))
		logf("%s is already complete (its manifest is cached); a full seed of it", out)
		<-ctx.Done()
		return sh.stop()
	}
	name, m, err := findManifest(ctx, client, from, want, c.String("name"))
	if err != nil {
		return err
	}
	id := m.ID()
	if p := filepath.Join(dir, filepath.FromSlash(name)); inStateDir(opts.StateDir, p) {
		return fmt.Errorf("filling %s: %s is in the seed's state directory, where nothing is written for a --from seed", dir, p)
	}
	out, err := replicaOut(dir, name)
	if err != nil {
		return fmt.Errorf("filling %s: %w", dir, err)
	}
	sh, err := newSharing(ctx, c, opts)
	if err != nil {
		return err
	}
	for _, u := range from {
		_ = sh.srv.AddPeer(id, u) // checked
	}
	sh.announce(c, fmt.Sprintf("seed ready, filling %s (content ID %s) from %d seeds", out, id, len(from)))
	res, err := quicxfer.Download(ctx, quicxfer.Options{
		Seeds: from, Name: name, ID: id, Out: out, Client: client,
		Share: sh.sharer, SelfURLs: sh.srv.URLs(), Logf: logf,
	})
	if err != nil {
		_ = sh.stop()
		if errors.Is(err, context.Canceled) && res != nil {
			return fmt.Errorf("interrupted; verified blocks are saved in %s.qxpart: run the same command to resume: %w", out, err)
		}
		return err
	}
	if err := sh.srv.RememberManifest(out, m); err != nil {
		logf("could not cache the manifest of %s: %v", out, err)
	}
	logf("%s complete and verified (%d bytes, %d resumed); now a full seed of it", out, res.Size, res.ResumedBytes)
	<-ctx.Done()
	return sh.stop()
}

// completeReplica returns the file under dir that an earlier run filled
// completely, by its name relative to dir, and its manifest: the one at
// name if name is given, else the first file whose cached manifest has
// content ID *id. A file counts only if the manifest cache of stateDir holds
// its manifest for its present size and modification time, and id, if
// given (not nil), matches.
func completeReplica(stateDir, dir string, id *manifest.ID, name string) (string, *manifest.Manifest) {
	match := func(rel string) *manifest.Manifest {
		if partial.IsWorkingFile(rel) || checkNoLinks(dir, rel) != nil {
			return nil // not a file this replica may serve
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		m, err := seed.CachedManifest(stateDir, p)
		if err != nil || m == nil || (id != nil && m.ID() != *id) || inStateDir(stateDir, p) {
			return nil
		}
		return m
	}
	if name != "" {
		return name, match(name)
	}
	var found string
	var fm *manifest.Manifest
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil // an unreadable entry is no replica
		}
		rel, rerr := filepath.Rel(dir, p)
		if rerr != nil {
			return nil
		}
		if m := match(filepath.ToSlash(rel)); m != nil {
			found, fm = filepath.ToSlash(rel), m
			return fs.SkipAll
		}
		return nil
	})
	return found, fm
}

// findManifest asks the seeds, in turn, for the manifest by name (or, with
// no name, by content ID), and returns the first that matches: the name
// asked for and, if given (not nil), the content ID. A name a seed gives
// (asked by content ID) must be one that may be written: not a download's
// working file.
func findManifest(ctx context.Context, client *quicxfer.Client, from []string, id *manifest.ID, name string) (string, *manifest.Manifest, error) {
	var firstErr error
	for _, raw := range from {
		u, _ := wire.ParseURL(raw) // checked
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := askManifest(dctx, client, u, id, name)
		cancel()
		switch {
		case err != nil:
		case name != "" && resp.Name != name:
			err = fmt.Errorf("asked for %q, it answered with the file %q", name, resp.Name)
		case id != nil && resp.Manifest.ID() != *id:
			err = fmt.Errorf("serves %q with content ID %s, not %s", resp.Name, resp.Manifest.ID(), *id)
		case partial.IsWorkingFile(resp.Name):
			err = fmt.Errorf("answered with the file %q, a name ending in %s, which is a download's own file", resp.Name, strings.Join(partial.WorkingSuffixes(), ", "))
		}
		if err == nil {
			return resp.Name, resp.Manifest, nil
		}
		if ctx.Err() != nil {
			return "", nil, ctx.Err()
		}
		if firstErr == nil {
			// The client names get's flags; here they are seed's --from-...
			msg := strings.ReplaceAll(quicxfer.Describe(err), "--client-cert and --client-key", "--from-client-cert and --from-client-key")
			firstErr = fmt.Errorf("%s: %s", raw, msg)
		}
	}
	return "", nil, fmt.Errorf("no --from seed gave the file's manifest: %w", firstErr)
}

func askManifest(ctx context.Context, client *quicxfer.Client, u wire.URL, id *manifest.ID, name string) (wire.ManifestResponse, error) {
	conn, err := client.Dial(ctx, u)
	if err != nil {
		return wire.ManifestResponse{}, err
	}
	defer conn.Close()
	req := wire.ManifestRequest{Name: name}
	if name == "" {
		req = wire.ManifestRequest{ByID: true, ID: *id} // with no name, an ID is given (checkReplicateFlags)
	}
	return conn.Manifest(ctx, req)
}

// replicaOut makes the directories of name (a checked name on the wire)
// under dir, which it makes if needed, and returns the path of the file.
// The directories are made one by one through an os.Root of dir, so
// nothing is made outside it, and none is gone through that is not a plain
// directory: a symbolic link there (planted or left over) would send the
// file elsewhere. The file and its working files must not be symbolic
// links either.
func replicaOut(dir, name string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := plainDirs(dir, path.Dir(name), true); err != nil {
		return "", err
	}
	out := filepath.Join(dir, filepath.FromSlash(name))
	if err := partial.CheckPaths(out); err != nil {
		return "", err
	}
	return out, nil
}

// checkNoLinks checks that name under dir is reached through plain
// directories only (those that exist), and that neither the file nor any
// of its working files is a symbolic link (or anything but a plain file).
func checkNoLinks(dir, name string) error {
	if err := plainDirs(dir, path.Dir(name), false); err != nil {
		return err
	}
	return partial.CheckPaths(filepath.Join(dir, filepath.FromSlash(name)))
}

// inStateDir reports whether path is in the state directory stateDir (""
// for the default), both taken with their symbolic links resolved as far
// as they exist: a replica never writes there (nor serves from there), as
// it would with DIR holding the state directory and a name that leads in.
func inStateDir(stateDir, path string) bool {
	if stateDir == "" {
		d, err := seed.DefaultStateDir()
		if err != nil {
			return false
		}
		stateDir = d
	}
	sd, err1 := resolveExisting(stateDir)
	p, err2 := resolveExisting(path)
	if err1 != nil || err2 != nil {
		return false
	}
	return p == sd || strings.HasPrefix(p, sd+string(filepath.Separator))
}

// resolveExisting returns p absolute, with the symbolic links of the part
// of it that exists resolved and the rest as it is.
func resolveExisting(p string) (string, error) {
	p, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var rest []string
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = append([]string{filepath.Base(p)}, rest...)
		p = parent
	}
}
