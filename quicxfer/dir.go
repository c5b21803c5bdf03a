package quicxfer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// Errors a caller of DownloadDir branches on.
var (
	// ErrNoDir: no seed lists a file under the prefix. It comes wrapped
	// with ErrNotFound.
	ErrNoDir = errors.New("no such directory on any seed")
	// ErrNoFiles: asked for every file (no prefix), and the seeds serve none.
	ErrNoFiles = errors.New("the seeds serve no file")
	// ErrIDForDir: DirOptions.Base has an ID, and the name is a directory:
	// a content ID names one file's content.
	ErrIDForDir = errors.New("a content ID names one file's content; it does not go with a directory")
	// ErrNotStarted is a file's error (DirResult.Errs) when it was left
	// alone after a failure that every file shares (ErrNoSeeds), or after
	// the context ended.
	ErrNotStarted = errors.New("not started")
)

// Defaults and limits of DirOptions.Parallel.
const (
	DefaultParallel = 3
	MaxParallel     = 64
)

// BadOptionsError is a call refused for what it was asked (a seed URL that
// does not parse, a bad directory name, a number out of range) before any
// seed is asked or anything made.
type BadOptionsError struct{ Err error }

func (e *BadOptionsError) Error() string { return e.Err.Error() }

func (e *BadOptionsError) Unwrap() error { return e.Err }

// DirOptions says which directory to download from where, and where to.
// Every callback may be nil; OnEvent, OnProgress, FileLogf, OnFileStart and
// OnFileDone are called from up to Parallel downloads at once.
type DirOptions struct {
	// Base are every file's Options: the seeds (whose lists are merged),
	// access, tuning. DownloadDir sets each file's Name, Out, Logf,
	// OnProgress and OnEvent, and its Client if Base has none (one client
	// is made with Base.Auth and shared by every file).
	Base Options
	// Prefix is the directory, a name on the seeds: every file listed
	// under Prefix+"/" is downloaded, keeping its path below Prefix. ""
	// is every file the seeds serve.
	Prefix string
	// OutDir is where the files appear; it is made if needed.
	OutDir string
	// Parallel is how many files are fetched at once, 1 to MaxParallel
	// (0: DefaultParallel).
	Parallel int

	// Described, if not nil, are the files to download (a multi-file
	// Metalink's) in place of those the seeds list under Prefix: each with
	// its own mirrors (tried before Base.Mirrors), size and hashes; seeds,
	// if any, are asked for each by its name.
	Described []DescribedFile

	// Logf receives one-line messages about the directory (a seed whose
	// list could not be read). Nil discards them.
	Logf func(format string, args ...any)
	// OnFiles is called once, when the seeds' lists are merged and
	// checked and OutDir exists, before any file starts: files are what
	// will be downloaded, in this order (the i of the other callbacks and
	// of DirResult), refused the names refused. An error stops
	// DownloadDir, which returns it.
	OnFiles func(files []DirFile, refused Refusals) error
	// OnFileStart is called just before file i's Download starts (its
	// directory made, its paths checked).
	OnFileStart func(i int)
	// OnEvent, OnProgress and FileLogf receive file i's Download's events,
	// snapshots and messages (Options.OnEvent, OnProgress and Logf).
	OnEvent    func(i int, e Event)
	OnProgress func(i int, p Progress)
	FileLogf   func(i int, format string, args ...any)
	// OnFileDone is called once for each file that ended: its Download
	// returned, or it could not start (a symbolic link where its directory
	// or working files belong; OnFileStart was not called then). It is
	// not called for a file left not started (ErrNotStarted).
	OnFileDone func(i int, res *Result, err error)
}

// DescribedFile is a file of a directory that a description gives (a
// Metalink): its name, relative to the output directory, and what
// Options.Mirrors, Size, Checksum and Pieces would say of it.
type DescribedFile struct {
	Name     string
	Mirrors  []string
	Size     int64
	Checksum *verify.Hash
	Pieces   *PieceHashes
}

// DirResult sums up a directory download.
type DirResult struct {
	Files   []DirFile
	Results []*Result // per file; nil where its Download returned none
	Errs    []error   // per file; nil where it is complete and verified
	Refused Refusals
	Elapsed time.Duration // from the first file's start to the last one's end
}

// DirError is the error of a directory download in which files failed or
// names were refused, or that the context ended: the DirResult returned
// with it says which.
type DirError struct {
	Files   int // files to download (refused names not counted)
	Failed  int // of them, those that failed or were not started
	Refused int // names refused
	// File is the first failed file's path below OutDir (Rel; the first
	// that did not just go unstarted, if any did more), Err its error.
	// With no file failed, File is "" and Err the first refusal (a
	// *RefusedError).
	File string
	Err  error
	// Interrupted is the context's error if it ended (the files not
	// complete keep their verified blocks, to resume).
	Interrupted error
}

func (e *DirError) Error() string {
	if e.Interrupted != nil {
		return fmt.Sprintf("interrupted; %d of %d files complete", e.Files-e.Failed, e.Files)
	}
	first := e.Err
	if e.File != "" {
		first = fmt.Errorf("%s: %w", ShowName(e.File), e.Err)
	}
	return fmt.Sprintf("%d of %d files failed (%v)", e.Failed+e.Refused, e.Files+e.Refused, first)
}

// Unwrap is the context's error of an interrupted download.
func (e *DirError) Unwrap() error { return e.Interrupted }

// MaybeDir reports whether a Download that ended with res and err leaves
// its Name to be tried as a directory (DownloadDir with it as Prefix): no
// seed serves a file of that name, and nothing was downloaded. DownloadDir
// then returns ErrNoDir if it is no directory either, and the Download's
// error is the one to report.
func MaybeDir(res *Result, err error) bool {
	return res == nil && errors.Is(err, ErrNotFound)
}

// DownloadDir downloads every file the seeds list under opts.Prefix (every
// file if it is empty) into opts.OutDir, keeping the paths below Prefix, a
// few files at a time over one shared client:
//
//	list:   every seed's list, read as it arrives, merged (listAll)
//	select: names that could land outside OutDir, or that are quicxfer's
//	        own working files, refused (selectFiles); the rest by name
//	fetch:  Parallel at a time, each file's directories made through
//	        plain directories only (mkdirInside), then an ordinary Download
//	stop:   after a failure every later file would share (no usable seed,
//	        the context ended), the files not yet started are left alone
//
// Each file has its own OUT.qxpart and OUT.qxstate, so each resumes on its
// own, and a file already complete is verified and kept.
//
// Before any file starts, it fails with a *BadOptionsError, an error
// wrapping ErrNoSeeds (no seed's list could be read), ErrNotFound and
// ErrNoDir (nothing under Prefix), ErrNoFiles, ErrIDForDir, or the error
// of making OutDir or of OnFiles. Once the files ran, it returns their
// DirResult, and a *DirError if any file failed or any name was refused,
// or the context ended.
func DownloadDir(ctx context.Context, opts DirOptions) (*DirResult, error) {
	prefix, outdir, base := opts.Prefix, opts.OutDir, opts.Base
	if prefix != "" {
		if err := wire.CheckName(prefix); err != nil {
			return nil, &BadOptionsError{fmt.Errorf("directory name %q: %w", prefix, err)}
		}
	}
	parallel := cmp.Or(opts.Parallel, DefaultParallel)
	if parallel < 1 || parallel > MaxParallel {
		return nil, &BadOptionsError{fmt.Errorf("parallel downloads: want 1 to %d, got %d", MaxParallel, opts.Parallel)}
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	// Base.RateLimit is the directory's: one limiter that every file's
	// download pays into, however many run at once.
	opts.Base.limiter = newByteLimiter(opts.Base.RateLimit)
	client := base.Client
	if client == nil {
		c, err := NewClientWith(base.Auth)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		client = c
	}

	describe := base.DescribeError
	if describe == nil {
		describe = Describe
	}
	var files []DirFile
	var refused Refusals
	if opts.Described != nil {
		for _, d := range opts.Described {
			if err := wire.CheckName(d.Name); err != nil {
				return nil, &BadOptionsError{fmt.Errorf("file name %q: %w", d.Name, err)}
			}
			files = append(files, DirFile{Name: d.Name, Rel: d.Name, Size: d.Size})
		}
	} else {
		entries, err := listAll(ctx, client, base.Seeds, prefix, logf, describe)
		if err != nil {
			return nil, err
		}
		files, refused = selectFiles(entries, prefix, outdir)
	}
	if len(files) == 0 && refused.N == 0 {
		if prefix == "" {
			return nil, ErrNoFiles
		}
		return nil, fmt.Errorf("%q: %w: %w", prefix, ErrNotFound, ErrNoDir)
	}
	if !base.ID.IsZero() {
		return nil, ErrIDForDir
	}
	if err := os.MkdirAll(outdir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	if opts.OnFiles != nil {
		if err := opts.OnFiles(files, refused); err != nil {
			return nil, err
		}
	}

	start := time.Now()
	res := &DirResult{Files: files, Results: make([]*Result, len(files)), Errs: make([]error, len(files)), Refused: refused}
	var stop atomic.Bool // a failure that every later file would share
	var g errgroup.Group
	g.SetLimit(parallel)
	for i, f := range files {
		g.Go(func() error {
			if stop.Load() || ctx.Err() != nil {
				res.Errs[i] = ErrNotStarted
				return nil
			}
			res.Results[i], res.Errs[i] = downloadDirFile(ctx, opts, client, i, f)
			if err := res.Errs[i]; err != nil && (errors.Is(err, ErrNoSeeds) || errors.Is(err, context.Canceled)) {
				stop.Store(true)
			}
			return nil
		})
	}
	_ = g.Wait()
	res.Elapsed = time.Since(start)
	return res, res.err(ctx)
}

// downloadDirFile downloads file i of a directory download, f, and reports
// its end (OnFileDone).
func downloadDirFile(ctx context.Context, opts DirOptions, client *Client, i int, f DirFile) (*Result, error) {
	done := func(r *Result, err error) (*Result, error) {
		if opts.OnFileDone != nil {
			opts.OnFileDone(i, r, err)
		}
		return r, err
	}
	if err := mkdirInside(opts.OutDir, filepath.Dir(f.Rel)); err != nil {
		return done(nil, err)
	}
	out := f.Out(opts.OutDir)
	if err := partial.CheckPaths(out); err != nil {
		return done(nil, err)
	}
	fo := opts.Base
	fo.Name, fo.Out, fo.Client = f.Name, out, client
	if opts.Described != nil {
		d := opts.Described[i]
		fo.Mirrors = append(slices.Clone(d.Mirrors), fo.Mirrors...)
		fo.Size, fo.Checksum, fo.Pieces = d.Size, d.Checksum, d.Pieces
	}
	fo.Logf, fo.OnProgress, fo.OnEvent = nil, nil, nil
	if opts.FileLogf != nil {
		fo.Logf = func(format string, args ...any) { opts.FileLogf(i, format, args...) }
	}
	if opts.OnProgress != nil {
		fo.OnProgress = func(p Progress) { opts.OnProgress(i, p) }
	}
	if opts.OnEvent != nil {
		fo.OnEvent = func(e Event) { opts.OnEvent(i, e) }
	}
	if opts.OnFileStart != nil {
		opts.OnFileStart(i)
	}
	r, err := Download(ctx, fo)
	if r != nil && r.Name == f.Name {
		r.Name = f.Name // the listed name's copy: one per file is kept
	}
	return done(r, err)
}

// err is the DirError of a directory download that ran, or nil.
func (r *DirResult) err(ctx context.Context) error {
	e := &DirError{Files: len(r.Files), Refused: r.Refused.N, Interrupted: ctx.Err()}
	for i, err := range r.Errs {
		if err != nil {
			e.Failed++
			if e.Err == nil || errors.Is(e.Err, ErrNotStarted) {
				e.File, e.Err = r.Files[i].Rel, err
			}
		}
	}
	switch {
	case e.Interrupted != nil:
	case e.Failed > 0 || e.Refused > 0:
		if e.Err == nil {
			e.Err = r.Refused.Shown[0]
		}
	default:
		return nil
	}
	return e
}

// listAll asks every seed for its list and returns the union of the
// entries under prefix ("" for all): one entry per name, the first seed's
// where they differ (each file's download then settles which manifest to
// use, as for a single file). Each list is read as it arrives, keeping only
// the names under prefix and their sizes, and a list is bounded
// (wire.MaxListEntries, wire.MaxListBytes). Seeds that cannot be listed are
// reported (their errors said by describe) and skipped; it fails only if
// none can.
func listAll(parent context.Context, client *Client, seeds []string, prefix string, logf func(string, ...any), describe func(error) string) ([]listed, error) {
	urls := make([]wire.URL, len(seeds))
	for i, s := range seeds {
		u, err := wire.ParseURL(s)
		if err != nil {
			return nil, &BadOptionsError{err}
		}
		urls[i] = u
	}
	ctx, cancel := context.WithTimeout(parent, 30*time.Second)
	defer cancel()
	lists := make([][]listed, len(seeds))
	errs := make([]error, len(seeds))
	var wg sync.WaitGroup
	for i, u := range urls {
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
				firstErr = fmt.Errorf("seed %s: listing files: %s", seeds[i], describe(errs[i]))
			}
			logf("seed %s: listing files: %s; going on without its list", seeds[i], describe(errs[i]))
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
		return nil, fmt.Errorf("%w: %v", ErrNoSeeds, firstErr)
	}
	return all, nil
}
