package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sync/errgroup"

	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui"
	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// errNoDir is returned by getDir when no seed lists a file under the prefix.
var errNoDir = errors.New("no such directory on any seed")

// dirFile is one file of a directory download: what a directory download
// keeps of each entry of the seeds' lists, no more (a list may hold a
// million names).
type dirFile struct {
	name string // on the seeds
	rel  string // relative to the output directory, with '/': the end of name
	size int64  // as listed
}

// out is where f appears: rel under outdir.
func (f dirFile) out(outdir string) string { return filepath.Join(outdir, filepath.FromSlash(f.rel)) }

// getDir downloads every file the seeds list under prefix (every file if
// prefix is empty) into outdir, keeping the paths below prefix, a few files
// at a time over one shared client. Each file is an ordinary download with
// its own OUT.qxpart and OUT.qxstate, so each resumes on its own and a file
// already complete is verified and kept. base carries the seeds and the
// options every file shares. fallback says get tried prefix as a file
// first: then errNoDir is get's to report.
func getDir(c *cli.Context, prefix, outdir string, base quicxfer.Options, fallback bool) (err error) {
	if prefix != "" {
		if err := wire.CheckName(prefix); err != nil {
			return usagef("directory name %q: %v", prefix, err)
		}
	}
	parallel := c.Int("parallel")
	if parallel < 1 || parallel > 64 {
		return usagef("--parallel: want 1 to 64, got %d", parallel)
	}
	var view *ui.DirView
	if c.Bool("json-progress") {
		// An error before the display starts (no seed lists its files, no
		// such directory) is the one event, as for a single file; no such
		// directory after get looked for a file of that name is get's to
		// report, as that file's "not found".
		defer func() {
			var ue usageError
			if err != nil && view == nil && !errors.As(err, &ue) && !(fallback && errors.Is(err, errNoDir)) {
				ui.WriteDirError(c.App.Writer, outdir, err)
			}
		}()
	}
	client, err := quicxfer.NewClientWith(base.Auth)
	if err != nil {
		return err
	}
	defer client.Close()
	logf := func(format string, args ...any) { fmt.Fprintf(c.App.ErrWriter, "quicxfer: "+format+"\n", args...) }

	entries, err := listAll(c.Context, client, base.Seeds, prefix, logf)
	if err != nil {
		return err
	}
	files, refused := selectFiles(entries, prefix, outdir)
	entries = nil
	if len(files) == 0 && refused.n == 0 {
		if prefix == "" {
			return errors.New("the seeds serve no file")
		}
		return fmt.Errorf("%q: %w: %w", prefix, quicxfer.ErrNotFound, errNoDir)
	}
	if c.IsSet("id") {
		return usagef("--id names one file's content; it does not go with a directory or --all")
	}
	for _, r := range refused.shown {
		logf("%s", r)
	}
	if more := refused.n - len(refused.shown); more > 0 {
		logf("refusing %d more names the same way", more)
	}
	if err := os.MkdirAll(outdir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}

	label := prefix + "/"
	if prefix == "" {
		label = "all files"
	}
	rows := viewFiles(files)
	view = ui.NewDirView(ui.DirViewOptions{ViewOptions: viewOptions(c), Label: showName(label), OutDir: outdir, Files: rows, Parallel: parallel})

	start := time.Now()
	results := make([]*quicxfer.Result, len(files))
	errs := make([]error, len(files))
	var stop atomic.Bool // a failure that every later file would share
	var g errgroup.Group
	g.SetLimit(parallel)
	for i, f := range files {
		g.Go(func() error {
			if stop.Load() || c.Context.Err() != nil {
				errs[i] = errNotStarted
				return nil
			}
			if err := mkdirInside(outdir, filepath.Dir(f.rel)); err != nil {
				errs[i] = err
				view.FileEnd(i, nil, err)
				return nil
			}
			out := f.out(outdir)
			if err := partial.CheckPaths(out); err != nil {
				errs[i] = err
				view.FileEnd(i, nil, err)
				return nil
			}
			opts := base
			opts.Name, opts.Out, opts.Client = f.name, out, client
			opts.Logf = func(format string, args ...any) { view.Logf("%s: "+format, append([]any{showName(f.rel)}, args...)...) }
			opts.OnProgress = func(p quicxfer.Progress) { view.Progress(i, p) }
			opts.OnEvent = func(e quicxfer.Event) { view.Event(i, e) }
			writeRecord(c, out, f.name, c.Args().Slice()...)
			results[i], errs[i] = quicxfer.Download(c.Context, opts)
			endRecord(out)
			if r := results[i]; r != nil && r.Name == f.name {
				r.Name = f.name // the listed name's copy: one per file is kept
			}
			view.FileEnd(i, results[i], errs[i])
			if errs[i] != nil && (errors.Is(errs[i], quicxfer.ErrNoSeeds) || errors.Is(errs[i], context.Canceled)) {
				stop.Store(true)
			}
			return nil
		})
	}
	_ = g.Wait()
	elapsed := time.Since(start)

	failed, firstErr := 0, error(nil)
	for i, err := range errs {
		if err != nil {
			failed++
			if firstErr == nil || errors.Is(firstErr, errNotStarted) {
				firstErr = fmt.Errorf("%s: %w", showName(files[i].rel), err)
			}
		}
	}
	var err2 error
	switch {
	case c.Context.Err() != nil:
		err2 = fmt.Errorf("interrupted; %d of %d files complete, verified blocks of the others are saved: run the same command to resume: %w", len(files)-failed, len(files), c.Context.Err())
	case failed > 0 || refused.n > 0:
		if firstErr == nil {
			firstErr = errors.New(refused.shown[0])
		}
		err2 = fmt.Errorf("%d of %d files failed (%v)", failed+refused.n, len(files)+refused.n, firstErr)
	}
	j := ui.DirResultOf(outdir, rows, results, errs, elapsed, err2)
	view.Finish(j, err2)
	if c.Bool("json") {
		if jerr := json.NewEncoder(c.App.Writer).Encode(j); jerr != nil {
			return jerr
		}
	}
	if err2 == nil && !c.Bool("quiet") {
		ui.DirSummary(c.App.ErrWriter, outdir, rows, results, elapsed)
	}
	return err2
}

// errNotStarted marks a file left alone after a failure every file shares.
var errNotStarted = errors.New("not started")

// listed is what a directory download keeps of a seed's list entry.
type listed struct {
	name string
	size int64
}

// listAll asks every seed for its list and returns the union of the
// entries under prefix ("" for all): one entry per name, the first seed's
// where they differ (each file's download then settles which manifest to
// use, as for a single file). Each list is read as it arrives, keeping only
// the names under prefix and their sizes, and a list is bounded
// (wire.MaxListEntries, wire.MaxListBytes). Seeds that cannot be listed are
// reported and skipped; it fails only if none can.
func listAll(parent context.Context, client *quicxfer.Client, seeds []string, prefix string, logf func(string, ...any)) ([]listed, error) {
	ctx, cancel := context.WithTimeout(parent, 30*time.Second)
	defer cancel()
	lists := make([][]listed, len(seeds))
	errs := make([]error, len(seeds))
	var wg sync.WaitGroup
	for i, s := range seeds {
		u, err := wire.ParseURL(s)
		if err != nil {
			return nil, usagef("%v", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := client.Dial(ctx, u)
			if err != nil {
				errs[i] = err
				return
			}
			defer conn.Close()
			errs[i] = conn.ListEach(ctx, func(e wire.FileEntry) error {
				if prefix == "" || strings.HasPrefix(e.Name, prefix+"/") {
					lists[i] = append(lists[i], listed{e.Name, e.Size})
				}
				return nil
			})
			if errs[i] != nil {
				lists[i] = nil
			}
		}()
	}
	wg.Wait()
	if err := parent.Err(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var all []listed
	var firstErr error
	for i, l := range lists {
		if errs[i] != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("seed %s: listing files: %s", seeds[i], quicxfer.Describe(errs[i]))
			}
			logf("seed %s: listing files: %s; going on without its list", seeds[i], quicxfer.Describe(errs[i]))
			continue
		}
		for _, e := range l {
			if !seen[e.name] {
				seen[e.name] = true
				all = append(all, e)
			}
		}
		lists[i] = nil
	}
	if firstErr != nil && len(all) == 0 {
		return nil, fmt.Errorf("%w: %v", quicxfer.ErrNoSeeds, firstErr)
	}
	return all, nil
}

// workingName returns the suffix of quicxfer's own files
// (partial.WorkingSuffix) that a component of the '/'-separated rel ends
// with, or "". A directory download never writes a name that ends so, nor
// makes a directory of one: a seed could plant a forged OUT.qxpart and
// OUT.qxstate beside a file it also lists, or a .qxcmd whose command status
// shows.
func workingName(rel string) string {
	for _, elem := range strings.Split(rel, "/") {
		if suf := partial.WorkingSuffix(elem); suf != "" {
			return suf
		}
	}
	return ""
}

// maxRefusalsShown is how many refused names a directory download names,
// one line each; the others are counted.
const maxRefusalsShown = 10

// refusals are the names selectFiles refused: the first maxRefusalsShown
// as one-line reasons, and how many in all.
type refusals struct {
	shown []string
	n     int
}

func (r *refusals) add(format string, args ...any) {
	r.n++
	if len(r.shown) < maxRefusalsShown {
		r.shown = append(r.shown, fmt.Sprintf(format, args...))
	}
}

// selectFiles picks the entries under prefix ("" for all) and maps each to
// a path under outdir. A name that could land outside outdir is refused, and
// so is one that names one of quicxfer's own working files (workingName).
// Files come out sorted by name.
func selectFiles(entries []listed, prefix, outdir string) ([]dirFile, refusals) {
	var files []dirFile
	var refused refusals
	for _, e := range entries {
		rel := e.name
		if prefix != "" {
			var ok bool
			if rel, ok = strings.CutPrefix(e.name, prefix+"/"); !ok {
				continue
			}
		}
		if err := wire.CheckName(e.name); err != nil {
			refused.add("refusing %s: %v", quoteShort(e.name), err)
			continue
		}
		if err := wire.CheckName(rel); err != nil {
			refused.add("refusing %s: %v", quoteShort(e.name), err)
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			refused.add("refusing %s: it would be written outside %s", quoteShort(e.name), showName(outdir))
			continue
		}
		if suf := workingName(rel); suf != "" {
			refused.add("refusing %s: quicxfer keeps its partial downloads in names ending %s, and a directory download never writes one", quoteShort(e.name), suf)
			continue
		}
		files = append(files, dirFile{name: e.name, rel: rel, size: e.size})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files, refused
}

// mkdirInside creates rel's directories under root (which exists) one by
// one, refusing to go through anything that is not a plain directory: a
// symbolic link there (planted or left over) would send the files
// elsewhere.
func mkdirInside(root, rel string) error { return plainDirs(root, rel, true) }

// plainDirs walks rel's directories (rel is '/'- or OS-separated) under
// root, through an os.Root of it, so that nothing outside root is reached,
// and refuses anything on the way that is not a plain directory. With
// create, a missing directory is made; without, the walk stops there
// (nothing further down exists either).
func plainDirs(root, rel string, create bool) error {
	rel = filepath.ToSlash(rel)
	if rel == "." || rel == "" {
		return nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	p := "."
	for _, elem := range strings.Split(rel, "/") {
		p = filepath.Join(p, elem)
		fi, err := r.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if !create {
				return nil
			}
			if err := r.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			fi, err = r.Lstat(p)
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory (a symbolic link or a file); refusing to write through it", showName(filepath.Join(root, p)))
		}
	}
	return nil
}
