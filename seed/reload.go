package seed

import (
	"context"
	"os"
	"sort"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// fileSet is what the seed serves at one time. Once published it never
// changes: Reload builds a new one and swaps Server.set, so a request sees
// one set whole, and a response in progress keeps its *servedFile (and that
// file's root) whatever the set has become meanwhile.
type fileSet struct {
	files  []*servedFile // sorted by name
	byName map[string]*servedFile
	byID   map[manifest.ID]*servedFile // the first file by name with that content
	bytes  int64
}

func newFileSet(files []*servedFile) *fileSet {
	set := &fileSet{
		files:  files,
		byName: make(map[string]*servedFile, len(files)),
		byID:   make(map[manifest.ID]*servedFile, len(files)),
	}
	for _, f := range files {
		set.byName[f.Name] = f
		if _, dup := set.byID[f.ID]; !dup {
			set.byID[f.ID] = f
		}
		set.bytes += f.Size
	}
	return set
}

// ReloadResult sums up a Reload.
type ReloadResult struct {
	Files     int   // files served after the reload
	Bytes     int64 // their total size
	Added     int   // names served now that were not before
	Removed   int   // names no longer served
	Changed   int   // names served before and now, with other content
	Hashed    int   // manifests hashed
	FromCache int   // manifests loaded from the cache
	Took      time.Duration
}

// Reload scans the PATHs again and swaps in the new set of files: new files
// are indexed (hashed, or loaded from the manifest cache), files whose size
// or modification time changed are indexed again, removed ones are no
// longer served (new requests for them get ErrCodeNotFound), and files that
// did not change keep their manifest. Connections and responses in progress
// are not disturbed: a response that started before the swap finishes from
// the file it started with. A PATH that can no longer be read serves
// nothing until a later reload finds it again, and is logged.
//
// One Reload runs at a time; the seed serves the previous set meanwhile.
// It logs one line with the counts. On error (ctx done, the server closed)
// the previous set stays.
func (s *Server) Reload(ctx context.Context) (ReloadResult, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.hardCtx.Err() != nil {
		return ReloadResult{}, ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.hardCtx, cancel)()

	start := time.Now()
	res, err := s.reload(ctx)
	res.Took = time.Since(start)
	if err != nil {
		s.metrics.reloadFailures.Add(1)
		if s.hardCtx.Err() != nil {
			err = ErrClosed
		}
		s.log.Error("reload failed; still serving the previous files", "err", err, "files", len(s.set.Load().files))
		return res, err
	}
	s.metrics.reloadsOK.Add(1)
	s.log.Info("reloaded",
		"files", res.Files, "bytes", res.Bytes, "added", res.Added, "removed", res.Removed, "changed", res.Changed,
		"hashed", res.Hashed, "from_cache", res.FromCache, "took", res.Took.Round(time.Millisecond))
	return res, nil
}

func (s *Server) reload(ctx context.Context) (ReloadResult, error) {
	old := s.set.Load()
	sc := &scanner{log: s.log, guard: s.guard, seen: make(map[string]string), reuse: s.roots}
	roots := make([]*os.Root, len(s.opts.Paths))
	for i, p := range s.opts.Paths {
		sc.idx = i
		n := len(sc.roots)
		if err := sc.scanPath(p); err != nil {
			s.log.Warn("reload: cannot serve this PATH now; its files are no longer served", "path", p, "err", err)
		}
		if len(sc.roots) > n {
			roots[i] = sc.roots[n]
		}
	}

	// A file still at the same place with the same size and modification
	// time keeps its servedFile (manifest, encoded manifest, counter).
	var kept, index []*servedFile
	for _, f := range sc.files {
		if o := old.byName[f.Name]; o != nil && o.root == f.root && o.rel == f.rel && o.Path == f.Path {
			fi, err := f.root.Stat(f.rel)
			if err == nil && fi.Mode().IsRegular() && fi.Size() == o.Size && fi.ModTime().UnixNano() == o.mtime {
				kept = append(kept, o)
				continue
			}
		}
		index = append(index, f)
	}
	indexed, hashed, cached, err := hashAll(ctx, index, s.guard, &manifestCache{dir: s.cacheDir}, s.opts.indexing(), s.log)
	if err != nil {
		sc.closeNew()
		return ReloadResult{}, err
	}
	files := append(kept, indexed...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })

	// Swapped in under swarm.mu, so that Share sees the old set or the new
	// one whole: a file whose name or content ID a shared file (Share) has
	// is left out, as Share leaves out what the set serves.
	s.swarm.init()
	s.swarm.mu.Lock()
	files = s.leaveOutShared(files)
	set := newFileSet(files)
	res := ReloadResult{Files: len(files), Bytes: set.bytes, Hashed: hashed, FromCache: cached}
	for _, f := range indexed {
		if set.byName[f.Name] != f {
			continue // left out
		}
		if o := old.byName[f.Name]; o == nil {
			res.Added++
		} else if o.ID != f.ID {
			res.Changed++
		}
	}
	var gone []string
	for _, o := range old.files {
		if set.byName[o.Name] == nil {
			res.Removed++
			gone = append(gone, o.Name)
		}
	}
	s.metrics.track(files)
	s.set.Store(set)
	s.metrics.untrack(gone)
	s.swarm.mu.Unlock()
	s.stats.filesHashed.Add(int64(hashed))
	s.stats.filesCached.Add(int64(cached))

	// A root replaced is closed now: a response that still holds a file of
	// the old set and has yet to open it opens the same content through the
	// new set instead (see openData); one already open keeps its own handle.
	for i, r := range s.roots {
		if r != nil && (i >= len(roots) || roots[i] != r) {
			r.Close()
		}
	}
	s.roots = roots
	return res, nil
}

// leaveOutShared returns files without those whose name or content ID a
// shared file has, warning once for each (until a reload finds it no longer
// in the way); s.swarm.mu is held.
func (s *Server) leaveOutShared(files []*servedFile) []*servedFile {
	out := files[:0:0]
	shadowed := make(map[string]bool)
	defer func() { s.swarm.shadowed = shadowed }()
	for _, f := range files {
		if sh := s.swarm.byName[f.Name]; sh != nil || s.swarm.byID[f.ID] != nil {
			if sh == nil {
				sh = s.swarm.byID[f.ID]
			}
			key := f.Path + "\x00" + f.Name
			if !s.swarm.shadowed[key] {
				s.log.Warn("not serving a file: a shared file (a download in progress) has its name or content",
					"path", f.Path, "name", f.Name, "shared", sh.Name)
			}
			shadowed[key] = true
			continue
		}
		out = append(out, f)
	}
	return out
}
