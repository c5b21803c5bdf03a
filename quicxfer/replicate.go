package quicxfer

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

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// ReplicaSeed is the seed that serves a replica while it fills and after
// (the CLI's is a seed.Server with its DownloadSharer): Replicate gives it
// the file's blocks, names the From seeds as its peers and, once the file
// is complete, has it cache the manifest.
type ReplicaSeed interface {
	// Sharer receives the file: Start, then Add as blocks are verified.
	Sharer() Sharer
	// URLs are where it serves.
	URLs() []string
	// AddPeer tells its clients that url serves the content id too.
	AddPeer(id manifest.ID, url string) error
	// RememberManifest caches m as the manifest of the complete file at
	// path, for ReplicateOptions.CachedManifest to find in a later run.
	RememberManifest(path string, m *manifest.Manifest) error
}

// ReplicateOptions says which file fills a replica's directory, from where.
type ReplicateOptions struct {
	From []string // the seeds to fill from (quic://...)
	// ID, if not zero, is the content ID of the file; with no Name the
	// file is asked for by it.
	ID   manifest.ID
	Name string // the file's name on the From seeds, and below Dir
	Dir  string // the replica's directory, made if needed
	// StateDir is the seed's state directory, where a replica writes
	// nothing and from where it serves nothing ("": none).
	StateDir string
	Client   *Client // dials the From seeds
	// Logf receives one-line messages for the user. Nil discards them.
	Logf func(format string, args ...any)
	// DescribeError says a source's error in the caller's words
	// (Options.DescribeError); nil: Describe.
	DescribeError func(error) string
	// CachedManifest returns the manifest cached for the complete file at
	// path, or nil if there is none for it as it is now (seed.CachedManifest).
	// Nil: no file is taken as complete already.
	CachedManifest func(path string) (*manifest.Manifest, error)
	// Serve starts the seed, once the file is known and Dir ready for it,
	// before it is filled.
	Serve func(r *Replica) (ReplicaSeed, error)
	// OnServing, if set, is called once the seed serves r: the complete
	// file, or the blocks there are while it fills.
	OnServing func(r *Replica)
}

// Replica is the file a replica serves.
type Replica struct {
	Name     string // on the seeds, and below Dir with '/'
	Manifest *manifest.Manifest
	Out      string // where it is
	// Complete: an earlier run filled it (its manifest is cached for it as
	// it is now), so neither the From seeds nor hashing were needed.
	Complete bool
}

// ReplicateResult sums up a Replicate.
type ReplicateResult struct {
	Replica
	// Download is the fill's result; nil if the file was complete already.
	Download *Result
}

// ManifestSearchError: no From seed gave the manifest of the file asked
// for. URL is the first seed asked, Err what went wrong with it.
type ManifestSearchError struct {
	URL string
	Err error
}

func (e *ManifestSearchError) Error() string {
	return fmt.Sprintf("no seed gave the file's manifest: %s: %s", e.URL, Describe(e.Err))
}

func (e *ManifestSearchError) Unwrap() error { return e.Err }

// StateDirError: the file would be written in the seed's state directory
// (a Dir that holds it, and a name that leads in).
type StateDirError struct {
	Dir, Path string
}

func (e *StateDirError) Error() string {
	return fmt.Sprintf("filling %s: %s is in the seed's state directory, where a replica writes nothing", e.Dir, e.Path)
}

// Replicate fills opts.Dir with one file from the From seeds, serving the
// blocks it has meanwhile through the seed that opts.Serve starts, and
// returns once the file is complete and verified; the seed then serves it
// whole (stopping it is the caller's). A file an earlier run filled is
// served at once. The file goes under Dir at the name asked for (with only
// an ID, the name the first matching seed gives), never through a
// symbolic link, never into the state directory.
//
// It fails with a *BadOptionsError, a *ManifestSearchError, a
// *StateDirError, the error of making Dir ready or of Serve, or the fill's
// Download error (with the result so far: its verified blocks are kept, to
// resume).
func Replicate(ctx context.Context, opts ReplicateOptions) (*ReplicateResult, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	// Filled by an earlier run: the cache vouches for the file, so neither
	// the From seeds (which may be gone) nor hashing are needed.
	if name, m := completeReplica(opts.StateDir, opts.Dir, opts.ID, opts.Name, opts.CachedManifest); m != nil {
		r := Replica{Name: name, Manifest: m, Out: filepath.Join(opts.Dir, filepath.FromSlash(name)), Complete: true}
		srv, err := opts.Serve(&r)
		if err != nil {
			return nil, err
		}
		if err := srv.Sharer().Start(name, m, r.Out, func(int) bool { return true }); err != nil {
			return nil, err
		}
		opts.serving(srv, &r)
		logf("%s is already complete (its manifest is cached); a full seed of it", r.Out)
		return &ReplicateResult{Replica: r}, nil
	}
	name, m, err := findManifest(ctx, opts.Client, opts.From, opts.ID, opts.Name)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &InterruptedError{While: "while asking the seeds for the file's manifest: nothing was written", Err: ctx.Err()}
		}
		return nil, err
	}
	if p := filepath.Join(opts.Dir, filepath.FromSlash(name)); inStateDir(opts.StateDir, p) {
		return nil, &StateDirError{Dir: opts.Dir, Path: p}
	}
	out, err := replicaOut(opts.Dir, name)
	if err != nil {
		return nil, fmt.Errorf("filling %s: %w", opts.Dir, err)
	}
	r := Replica{Name: name, Manifest: m, Out: out}
	srv, err := opts.Serve(&r)
	if err != nil {
		return nil, err
	}
	opts.serving(srv, &r)
	res, err := Download(ctx, Options{
		Seeds: opts.From, Name: name, ID: m.ID(), Out: out, Client: opts.Client,
		Share: srv.Sharer(), SelfURLs: srv.URLs(), Logf: logf, DescribeError: opts.DescribeError,
	})
	if err != nil {
		return &ReplicateResult{Replica: r, Download: res}, err
	}
	if err := srv.RememberManifest(out, m); err != nil {
		logf("could not cache the manifest of %s: %v", out, err)
	}
	logf("%s complete and verified (%d bytes, %d resumed); now a full seed of it", out, res.Size, res.ResumedBytes)
	return &ReplicateResult{Replica: r, Download: res}, nil
}

// check refuses options Replicate cannot work with.
func (o *ReplicateOptions) check() error {
	bad := func(format string, args ...any) error { return &BadOptionsError{fmt.Errorf(format, args...)} }
	switch {
	case len(o.From) == 0:
		return bad("replicate: no seed to fill from")
	case o.Name == "" && o.ID.IsZero():
		return bad("replicate: neither a name nor a content ID")
	case o.Client == nil || o.Serve == nil:
		return bad("replicate: no Client or no Serve")
	}
	if o.Name != "" {
		if err := wire.CheckName(o.Name); err != nil {
			return bad("replicate: name %q: %w", o.Name, err)
		}
		if partial.IsWorkingFile(o.Name) {
			return bad("replicate: name %q: a download's own file", o.Name)
		}
	}
	for _, u := range o.From {
		if _, err := wire.ParseURL(u); err != nil {
			return &BadOptionsError{err}
		}
	}
	return nil
}

// serving names the From seeds as peers of the replica's seed, which now
// serves r, and says so (OnServing).
func (o *ReplicateOptions) serving(srv ReplicaSeed, r *Replica) {
	for _, u := range o.From {
		_ = srv.AddPeer(r.Manifest.ID(), u) // checked
	}
	if o.OnServing != nil {
		o.OnServing(r)
	}
}

// completeReplica returns the file under dir that an earlier run filled
// completely, by its name relative to dir, and its manifest: the one at
// name if name is given, else the first file whose cached manifest has
// content ID id. A file counts only if cached holds its manifest for its
// present size and modification time, and id, if given (not zero), matches.
func completeReplica(stateDir, dir string, id manifest.ID, name string, cached func(string) (*manifest.Manifest, error)) (string, *manifest.Manifest) {
	if cached == nil {
		return "", nil
	}
	match := func(rel string) *manifest.Manifest {
		if partial.IsWorkingFile(rel) || checkNoLinks(dir, rel) != nil {
			return nil // not a file this replica may serve
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		m, err := cached(p)
		if err != nil || m == nil || (!id.IsZero() && m.ID() != id) || inStateDir(stateDir, p) {
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
// asked for and, if given (not zero), the content ID. A name a seed gives
// (asked by content ID) must be one that may be written: not a download's
// working file.
func findManifest(ctx context.Context, client *Client, from []string, id manifest.ID, name string) (string, *manifest.Manifest, error) {
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
		case !id.IsZero() && resp.Manifest.ID() != id:
			err = fmt.Errorf("serves %q with content ID %s, not %s", resp.Name, resp.Manifest.ID(), id)
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
			firstErr = &ManifestSearchError{URL: raw, Err: err}
		}
	}
	return "", nil, firstErr
}

func askManifest(ctx context.Context, client *Client, u wire.URL, id manifest.ID, name string) (wire.ManifestResponse, error) {
	conn, err := client.Dial(ctx, u)
	if err != nil {
		return wire.ManifestResponse{}, err
	}
	defer conn.Close()
	req := wire.ManifestRequest{Name: name}
	if name == "" {
		req = wire.ManifestRequest{ByID: true, ID: id} // with no name, an ID is given (check)
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
// for none), both taken with their symbolic links resolved as far as they
// exist: a replica never writes there (nor serves from there), as it would
// with its directory holding the state directory and a name that leads in.
func inStateDir(stateDir, path string) bool {
	if stateDir == "" {
		return false
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
