package seed

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// File is one file the seed serves.
type File struct {
	Name string      // name on the wire, relative to the PATH it was found under
	Size int64       // bytes, when it was indexed
	ID   manifest.ID // content ID of its manifest
	Path string      // absolute path on disk (as found, symlinks not resolved)
}

// servedFile is a File with what serving it needs.
type servedFile struct {
	File
	root  *os.Root // the PATH's root: every open goes through it
	rel   string   // name inside root, in the OS's form
	man   *manifest.Manifest
	mtime int64              // modification time (ns) when indexed: with Size, what a reload compares
	reqs  prometheus.Counter // this name's quicxfer_seed_file_requests_total

	// A shared file (see Share) is read from data and serves only the
	// blocks in have; both are nil for a full file, opened through root.
	data io.ReaderAt
	have *haveSet

	encOnce sync.Once
	enc     []byte // the encoded ManifestResponse, made on first request
}

func (f *servedFile) manifestFrame() []byte {
	f.encOnce.Do(func() {
		resp := &wire.ManifestResponse{Name: f.Name, Manifest: f.man}
		f.enc = resp.Append(nil)
	})
	return f.enc
}

// openRegular opens rel under root for reading, and returns it with its
// FileInfo if it is a regular file. It never blocks on what it opens: the
// open is non-blocking (a FIFO opens at once, with no writer, where a plain
// open waits for one for ever, holding an OS thread), and anything but a
// regular file is closed again unread, with an error wrapping
// atomicfile.ErrNotRegular. Every file the seed reads under its PATHs is
// opened here.
func openRegular(root *os.Root, rel string) (*os.File, fs.FileInfo, error) {
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := atomicfile.Regular(f, f.Name())
	if err != nil {
		return nil, nil, err
	}
	return f, fi, nil
}

// dirFS is root's fs.FS whose ReadDir opens each directory non-blocking
// and as a directory only (O_DIRECTORY): os.Root's own FS opens it with a
// plain open, which a FIFO swapped in for the directory during the walk
// would block for ever.
type dirFS struct {
	fs.StatFS
	root *os.Root
}

func newDirFS(root *os.Root) dirFS { return dirFS{StatFS: root.FS().(fs.StatFS), root: root} }

func (d dirFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	f, err := d.root.OpenFile(filepath.FromSlash(name), os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	slices.SortFunc(des, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return des, err
}

// scanner finds the files under the served paths.
type scanner struct {
	log   *slog.Logger
	guard *guard // what is never served: the state directory, the keys
	roots []*os.Root
	files []*servedFile
	seen  map[string]string // name -> absolute path of the first file with it
	dirs  map[string]string // directory part of a name served ("a" of "a/b") -> the first name under it
	reuse []*os.Root        // at a reload, the previous roots by PATH (see openRoot)
	idx   int               // index of the PATH being scanned
}

// openRoot opens dir as a root, or, at a reload, returns the PATH's previous
// root if it is still the same directory, so that the files found keep it.
func (sc *scanner) openRoot(dir string) (*os.Root, error) {
	if sc.idx < len(sc.reuse) && sc.reuse[sc.idx] != nil {
		old := sc.reuse[sc.idx]
		a, err1 := old.Stat(".")
		b, err2 := os.Stat(dir)
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			return old, nil
		}
	}
	return os.OpenRoot(dir)
}

// closeNew closes the roots this scan opened, not those it reused.
func (sc *scanner) closeNew() {
	for _, r := range sc.roots {
		if r != nil && !slices.Contains(sc.reuse, r) {
			r.Close()
		}
	}
}

// scan opens an os.Root per PATH and lists the regular files under it. A
// PATH that does not exist is an error; a file under it that cannot be
// served is skipped with a warning.
func scan(paths []string, g *guard, log *slog.Logger) ([]*os.Root, []*servedFile, error) {
	sc := &scanner{log: log, guard: g, seen: make(map[string]string)}
	for i, p := range paths {
		sc.idx = i
		if err := sc.scanPath(p); err != nil {
			sc.closeNew()
			return nil, nil, err
		}
	}
	return sc.roots, sc.files, nil
}

func (sc *scanner) scanPath(p string) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return fmt.Errorf("serving %s: %w", p, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return fmt.Errorf("serving %s: %w", p, err)
	}
	if sc.guard.under(real) {
		return fmt.Errorf("serving %s: %w", p, ErrPrivateFile)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("serving %s: %w", p, err)
	}
	switch {
	case fi.Mode().IsRegular():
		root, err := sc.openRoot(filepath.Dir(real))
		if err != nil {
			return fmt.Errorf("serving %s: %w", p, err)
		}
		sc.roots = append(sc.roots, root)
		sc.add(root, filepath.Base(abs), filepath.Base(real), abs)
		return nil
	case fi.IsDir():
		root, err := sc.openRoot(real)
		if err != nil {
			return fmt.Errorf("serving %s: %w", p, err)
		}
		sc.roots = append(sc.roots, root)
		return fs.WalkDir(newDirFS(root), ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				sc.log.Warn("skipping what cannot be read", "path", filepath.Join(abs, name), "err", err)
				if d != nil && d.IsDir() && name != "." {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if sc.guard.isStateDirEntry(filepath.Join(real, name), d) {
					sc.log.Debug("not serving the state directory", "path", filepath.Join(abs, name))
					return fs.SkipDir
				}
				return nil
			}
			osName := filepath.FromSlash(name)
			if d.Type()&fs.ModeSymlink != 0 {
				// Stat through the root: a link that leaves it fails here
				// (and would fail at every later open too).
				st, err := root.Stat(osName)
				if err != nil {
					sc.log.Warn("skipping symlink", "path", filepath.Join(abs, osName), "err", err)
					return nil
				}
				if !st.Mode().IsRegular() {
					sc.log.Debug("skipping symlink to a non-regular file", "path", filepath.Join(abs, osName))
					return nil
				}
			} else if !d.Type().IsRegular() {
				sc.log.Debug("skipping non-regular file", "path", filepath.Join(abs, osName))
				return nil
			}
			sc.add(root, name, osName, filepath.Join(abs, osName))
			return nil
		})
	default:
		return fmt.Errorf("serving %s: not a regular file or directory", p)
	}
}

func (sc *scanner) add(root *os.Root, name, rel, abs string) {
	if partial.IsWorkingFile(name) {
		// A download's own files (data, state, the command that resumes it,
		// which holds local paths and URLs): never served.
		sc.log.Debug("not serving a download's working file", "path", abs)
		return
	}
	if err := wire.CheckName(name); err != nil {
		sc.log.Warn("skipping file whose name cannot be served", "path", abs, "err", err)
		return
	}
	if first, dup := sc.seen[name]; dup {
		sc.log.Warn("skipping file: another path is served under the same name", "name", name, "path", abs, "served", first)
		return
	}
	// A name that is a directory of another ("x" and "x/y", from two
	// PATHs) could never both be downloaded into one directory: the later
	// one is skipped.
	if under, ok := sc.dirs[name]; ok {
		sc.log.Warn("skipping file: its name is a directory of another file served", "name", name, "path", abs, "other", under)
		return
	}
	for i := range len(name) {
		if name[i] != '/' {
			continue
		}
		if first, ok := sc.seen[name[:i]]; ok {
			sc.log.Warn("skipping file: a directory in its name is another file served", "name", name, "path", abs, "file", name[:i], "served", first)
			return
		}
	}
	if sc.dirs == nil {
		sc.dirs = make(map[string]string)
	}
	for i := range len(name) {
		if name[i] == '/' {
			if _, ok := sc.dirs[name[:i]]; !ok {
				sc.dirs[name[:i]] = name
			}
		}
	}
	sc.seen[name] = abs
	sc.files = append(sc.files, &servedFile{File: File{Name: name, Path: abs}, root: root, rel: rel})
}

// hashAll gives every file its manifest, from the cache where it is still
// valid. Several files are hashed at once, and a lone large file with
// several workers, so that start-up uses every core; memory stays at about
// workers × the block size. A file that cannot be read, or keeps changing
// while it is hashed, is dropped with a warning. Progress is logged and
// reported as o says. It returns the files kept, sorted by name, and how
// many were hashed and how many came from the cache.
func hashAll(ctx context.Context, files []*servedFile, gd *guard, cache *manifestCache, o indexOptions, log *slog.Logger) (kept []*servedFile, hashed, cached int, err error) {
	parallel := max(1, min(o.workers, len(files)))
	perFile := max(1, o.workers/parallel)
	counts := &indexCounts{start: time.Now()}
	counts.files.Store(int64(len(files)))
	fcs := make([]*fileCount, len(files))
	for i, f := range files {
		var size int64
		if fi, err := f.root.Stat(f.rel); err == nil {
			size = fi.Size()
		}
		counts.bytes.Add(size)
		fcs[i] = counts.file(size)
	}
	stop, reported := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(reported)
		reportIndexing(ctx, counts, o, log, stop)
	}()
	end := func(complete bool) {
		close(stop)
		<-reported
		p := counts.snapshot(true)
		if o.onProgress != nil {
			o.onProgress(p)
		}
		if complete && counts.logged.Load() {
			log.Info("indexed", "progress", p.String(), "files", p.Files, "bytes", p.Bytes, "hashed_bytes", p.Hashed, "took", p.Elapsed.Round(time.Millisecond))
		}
	}

	var nHashed, nCached atomic.Int64
	ok := make([]bool, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i, f := range files {
		g.Go(func() error {
			fromCache, err := indexFile(gctx, f, gd, cache, perFile, fcs[i], o.wrap, log)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				fcs[i].skipped()
				log.Warn("skipping file", "path", f.Path, "err", err)
				return nil
			}
			fcs[i].done()
			ok[i] = true
			if fromCache {
				nCached.Add(1)
			} else {
				nHashed.Add(1)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		end(false)
		return nil, 0, 0, err
	}
	end(true)
	for i, f := range files {
		if ok[i] {
			kept = append(kept, f)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Name < kept[j].Name })
	return kept, int(nHashed.Load()), int(nCached.Load()), nil
}

// indexFile sets f's manifest, size and ID, counting what it reads in fc.
// It reports whether the manifest came from the cache.
func indexFile(ctx context.Context, f *servedFile, g *guard, cache *manifestCache, workers int, fc *fileCount, wrap func(string, io.ReaderAt) io.ReaderAt, log *slog.Logger) (fromCache bool, err error) {
	const attempts = 3
	for range attempts {
		m, fi, fromCache, err := tryIndex(ctx, f, g, cache, workers, fc, wrap, log)
		if err != nil {
			return false, err
		}
		if m == nil {
			fc.again()
			continue // changed while hashed
		}
		f.man, f.Size, f.ID, f.mtime = m, m.Size, m.ID(), fi.ModTime().UnixNano()
		if !fromCache {
			if err := cache.store(f.Path, fi.Size(), fi.ModTime().UnixNano(), m); err != nil {
				log.Warn("could not store manifest in cache", "path", f.Path, "err", err)
			}
		}
		return fromCache, nil
	}
	return false, fmt.Errorf("changed %d times while being hashed", attempts)
}

// tryIndex returns nil, nil if the file changed while it was hashed.
func tryIndex(ctx context.Context, f *servedFile, g *guard, cache *manifestCache, workers int, fc *fileCount, wrap func(string, io.ReaderAt) io.ReaderAt, log *slog.Logger) (*manifest.Manifest, fs.FileInfo, bool, error) {
	fh, fi, err := openRegular(f.root, f.rel)
	if err != nil {
		return nil, nil, false, err
	}
	defer fh.Close()
	if err := g.check(fh, f.Path); err != nil {
		return nil, nil, false, err
	}
	m, err := cache.load(f.Path, fi.Size(), fi.ModTime().UnixNano())
	if err != nil {
		log.Warn("ignoring manifest cache entry", "path", f.Path, "err", err)
	} else if m != nil {
		return m, fi, true, nil
	}
	start := time.Now()
	var r io.ReaderAt = fh
	if wrap != nil {
		r = wrap(f.Name, r)
	}
	m, err = manifest.Build(ctx, countingReaderAt{r, fc}, fi.Size(), workers)
	if err != nil {
		return nil, nil, false, err
	}
	after, err := f.root.Stat(f.rel)
	if err != nil {
		return nil, nil, false, err
	}
	if !os.SameFile(fi, after) || after.Size() != fi.Size() || !after.ModTime().Equal(fi.ModTime()) {
		log.Debug("file changed while hashed; hashing again", "path", f.Path)
		return nil, nil, false, nil
	}
	log.Debug("hashed", "path", f.Path, "size", fi.Size(), "took", time.Since(start))
	return m, fi, false, nil
}
