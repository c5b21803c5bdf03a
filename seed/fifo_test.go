package seed

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/internal/testkit"

	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// hangGuard is how long a step that must not block may take before the
// test calls it blocked: far more than it takes on a slow, busy machine.
const hangGuard = 30 * time.Second

// mkfifo makes a FIFO at p and, when the test ends, opens it for writing a
// few times (without blocking), which lets any reader stuck opening it go
// on: a seed without the fix would keep its goroutines (and threads) there.
func mkfifo(t *testing.T, p string) {
	t.Helper()
	require.NoError(t, syscall.Mkfifo(p, 0o644))
	t.Cleanup(func() {
		for range 20 {
			if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestFIFOSwappedInAnswersFileChanged: a served file replaced by a FIFO
// after it was indexed is not opened as a reader that waits for a writer
// (which pinned a thread per request for ever, and kept the seed from
// shutting down): every request for its blocks answers FILE_CHANGED at
// once, nothing stays in flight, and Serve returns promptly when
// cancelled.
func TestFIFOSwappedInAnswersFileChanged(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.bin")
	writeFile(t, p, randBytes(2*bs, 41))
	okData := randBytes(100, 42)
	writeFile(t, filepath.Join(dir, "ok"), okData)
	s := newSeed(t, Options{Paths: []string{dir}, StateDir: t.TempDir()})
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()

	id := fileByName(t, s, "a.bin").ID
	require.NoError(t, os.Rename(p, filepath.Join(dir, "a.old")))
	mkfifo(t, p)

	conn := dial(t, s)
	for i := range 8 {
		_, err := getBlock(t, conn, id, uint64(i%2), bs)
		requireCode(t, err, wire.ErrCodeFileChanged)
	}
	got, err := getBlock(t, conn, fileByName(t, s, "ok").ID, 0, int64(len(okData)))
	require.NoError(t, err)
	require.Equal(t, okData, got)
	require.Eventually(t, func() bool { return s.Stats().StreamsActive == 0 }, hangGuard, 10*time.Millisecond,
		"requests still in flight")
	require.Equal(t, int64(8), s.Stats().RejectedByReason[wire.ErrCodeFileChanged])

	cancel()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return after its context ended")
	}
}

// TestFIFONotIndexed: a file that is a FIFO by the time it is hashed (it was
// a regular file when the PATH was listed) is skipped, not waited on.
func TestFIFONotIndexed(t *testing.T) {
	dir := t.TempDir()
	mkfifo(t, filepath.Join(dir, "p"))
	writeFile(t, filepath.Join(dir, "f"), []byte("regular"))
	root, err := os.OpenRoot(dir)
	require.NoError(t, err)
	defer root.Close()
	files := []*servedFile{
		{File: File{Name: "f", Path: filepath.Join(dir, "f")}, root: root, rel: "f"},
		{File: File{Name: "p", Path: filepath.Join(dir, "p")}, root: root, rel: "p"},
	}
	var kept []*servedFile
	testkit.NoHang(t, "indexing a FIFO", func() {
		kept, _, _, err = hashAll(context.Background(), files, nil, &manifestCache{dir: t.TempDir()}, indexOptions{workers: 2}, slog.New(slog.DiscardHandler))
	})
	require.NoError(t, err)
	require.Len(t, kept, 1)
	require.Equal(t, "f", kept[0].Name)

	// Opened directly: refused as not a regular file, without blocking.
	testkit.NoHang(t, "opening a FIFO", func() { _, _, err = openRegular(root, "p") })
	require.ErrorIs(t, err, atomicfile.ErrNotRegular)
	// A FIFO where the walk expects a directory (swapped in after its
	// parent was listed) is not opened as a reader that waits either.
	testkit.NoHang(t, "listing a FIFO as a directory", func() { _, err = fs.ReadDir(newDirFS(root), "p") })
	require.Error(t, err)
}

// TestFIFOAsManifestCacheEntry: a FIFO where a manifest cache entry
// belongs is damage to ignore (the file is hashed and the entry rewritten),
// not a read that waits for a writer for ever.
func TestFIFOAsManifestCacheEntry(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	p := filepath.Join(dir, "f")
	writeFile(t, p, randBytes(bs+5, 43))
	cacheDir, err := cacheDirOf(state)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(cacheDir, 0o700))
	cache := &manifestCache{dir: cacheDir}
	mkfifo(t, cache.entryPath(p))

	testkit.NoHang(t, "CachedManifest with a FIFO entry", func() { _, err = CachedManifest(state, p) })
	require.Error(t, err)
	require.True(t, errors.Is(err, errCacheDamaged), "%v", err)

	var s *Server
	testkit.NoHang(t, "starting a seed with a FIFO cache entry", func() {
		s, err = New(context.Background(), Options{Paths: []string{dir}, StateDir: state, Listen: "127.0.0.1:0"})
	})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, int64(1), s.Stats().FilesHashed)
	fi, err := os.Lstat(cache.entryPath(p))
	require.NoError(t, err)
	require.True(t, fi.Mode().IsRegular(), "entry rewritten: %v", fi.Mode())
	m, err := CachedManifest(state, p)
	require.NoError(t, err)
	require.Equal(t, fileByName(t, s, "f").ID, m.ID())
}
