package seed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// DownloadSharer shares a download in progress through a Server: it has the
// methods of quicxfer.Sharer, so a downloader hands it its blocks as they
// become durable and the server serves them (quicxfer get --serve, seed
// --from).
type DownloadSharer struct {
	srv *Server

	mu     sync.Mutex
	file   *os.File
	shared *Shared
	id     manifest.ID
}

// NewDownloadSharer returns a sharer that serves through s.
func (s *Server) NewDownloadSharer() *DownloadSharer {
	return &DownloadSharer{srv: s}
}

// Start opens path read-only (the open file stays valid when the download
// renames it at the end) and shares it under name. Only one Start succeeds.
// A symbolic link at path is refused: the download writes its own file
// there, never through a link.
func (d *DownloadSharer) Start(name string, m *manifest.Manifest, path string, have func(int) bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.file != nil {
		return errors.New("already sharing a download")
	}
	// Without following a link, without blocking, a regular file only.
	f, err := atomicfile.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, atomicfile.ErrSymlink) {
		return fmt.Errorf("sharing %s: a symbolic link; refusing to share what it points to", path)
	}
	if err != nil {
		return fmt.Errorf("sharing %s: %w", path, err)
	}
	sh, err := d.srv.Share(name, m, f, have)
	if err != nil {
		f.Close()
		return err
	}
	d.file, d.shared, d.id = f, sh, m.ID()
	return nil
}

// Add makes blocks available.
func (d *DownloadSharer) Add(blocks []int) {
	if sh := d.Shared(); sh != nil {
		sh.Add(blocks...)
	}
}

// Source records url, a source of the download that answered, as another
// source the server tells its clients about (it expires after PeerTTL
// without news).
func (d *DownloadSharer) Source(id manifest.ID, url string) { _ = d.srv.TouchPeer(id, url) }

// Shared returns the shared file, nil before Start.
func (d *DownloadSharer) Shared() *Shared {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.shared
}

// ID returns the content ID shared (zero before Start).
func (d *DownloadSharer) ID() manifest.ID {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.id
}

// Close closes the file. The server must no longer serve it (closed first).
func (d *DownloadSharer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.file == nil {
		return nil
	}
	err := d.file.Close()
	d.file = nil
	return err
}

// RememberManifest stores m in the manifest cache as the manifest of the
// file at path (as it is now: size and modification time), so that a seed
// that serves it later finds it there instead of hashing the file again. The
// caller vouches that the file matches m (every block was verified).
func (s *Server) RememberManifest(path string, m *manifest.Manifest) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return err
	}
	if fi.Size() != m.Size {
		return fmt.Errorf("%s is %d bytes, its manifest says %d", abs, fi.Size(), m.Size)
	}
	c := &manifestCache{dir: s.swarm.cacheDir}
	return c.store(abs, fi.Size(), fi.ModTime().UnixNano(), m)
}

// CachedManifest returns the manifest that the cache of a seed whose
// Options.StateDir is stateDir ("" for DefaultStateDir) holds for the file
// at path as it is now (same size and modification time), or nil if there
// is none. It needs no running seed.
func CachedManifest(stateDir, path string) (*manifest.Manifest, error) {
	if stateDir == "" {
		d, err := DefaultStateDir()
		if err != nil {
			return nil, err
		}
		stateDir = d
	}
	dir, err := cacheDirOf(stateDir)
	if err != nil {
		return nil, err
	}
	return (&manifestCache{dir: dir}).loadFile(path)
}
