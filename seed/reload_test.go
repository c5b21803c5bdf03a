package seed

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

func names(entries []wire.FileEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name)
	}
	return out
}

// A reload while a download runs: the download completes, the new file is
// listed, the removed one is gone (not found by name or content ID), the
// changed one has its new content ID, the unchanged one keeps its manifest.
func TestReloadDuringDownload(t *testing.T) {
	dir := t.TempDir()
	big := randBytes(40*bs, 21) // 40 blocks, 5.2 MB: at 4 MB/s more than a second
	writeFile(t, filepath.Join(dir, "big.bin"), big)
	writeFile(t, filepath.Join(dir, "old.bin"), randBytes(1000, 22))
	writeFile(t, filepath.Join(dir, "sub", "changed.bin"), randBytes(2000, 23))
	writeFile(t, filepath.Join(dir, "same.bin"), randBytes(3000, 24))
	var logs syncbuf.Buffer
	s := startForTest(t, Options{
		Paths: []string{dir}, RateLimit: 4e6, MetricsListen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	oldID := fileByName(t, s, "old.bin").ID
	changedID := fileByName(t, s, "sub/changed.bin").ID
	sameBefore := s.set.Load().byName["same.bin"]
	require.Contains(t, scrape(t, s), `quicxfer_seed_file_requests_total{file="old.bin"}`)

	started := make(chan struct{})
	var once sync.Once
	type outcome struct {
		res *quicxfer.Result
		err error
	}
	done := make(chan outcome, 1)
	out := filepath.Join(t.TempDir(), "big.bin")
	go func() {
		res, err := quicxfer.Download(t.Context(), quicxfer.Options{
			Seeds: []string{s.URL()}, Name: "big.bin", Out: out,
			ProgressInterval: 10 * time.Millisecond,
			OnProgress: func(p quicxfer.Progress) {
				if p.Verified > 0 {
					once.Do(func() { close(started) })
				}
			},
		})
		done <- outcome{res, err}
	}()
	select {
	case <-started:
	case o := <-done:
		t.Fatalf("download ended before it made progress: %v", o.err)
	case <-time.After(30 * time.Second):
		t.Fatal("download made no progress")
	}

	newData := randBytes(5000, 25)
	writeFile(t, filepath.Join(dir, "new.bin"), newData)
	require.NoError(t, os.Remove(filepath.Join(dir, "old.bin")))
	writeFile(t, filepath.Join(dir, "sub", "changed.bin"), randBytes(2500, 26))

	res, err := s.Reload(t.Context())
	require.NoError(t, err)
	select {
	case o := <-done:
		t.Fatalf("the download ended before the reload did (%v); the test proves nothing", o.err)
	default:
	}
	require.Equal(t, 4, res.Files)
	require.Equal(t, 1, res.Added)
	require.Equal(t, 1, res.Removed)
	require.Equal(t, 1, res.Changed)
	require.Equal(t, 2, res.Hashed, "only the new and the changed file are hashed")
	require.EqualValues(t, 40*bs+5000+2500+3000, res.Bytes)
	require.Contains(t, logs.String(), "msg=reloaded files=4")
	require.Contains(t, logs.String(), "added=1 removed=1 changed=1")

	o := <-done
	require.NoError(t, o.err)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, big, got)

	entries, err := listWith(t, quicxfer.ClientOptions{}, parseURL(t, s.URL()))
	require.NoError(t, err)
	require.Equal(t, []string{"big.bin", "new.bin", "same.bin", "sub/changed.bin"}, names(entries))
	require.Same(t, sameBefore, s.set.Load().byName["same.bin"], "an unchanged file keeps its manifest")
	require.NotEqual(t, changedID, fileByName(t, s, "sub/changed.bin").ID)
	require.Equal(t, buildManifest(t, filepath.Join(dir, "new.bin")).ID(), fileByName(t, s, "new.bin").ID)

	conn := dial(t, s)
	_, err = getManifest(t, conn, &wire.ManifestRequest{Name: "old.bin"})
	requireCode(t, err, wire.ErrCodeNotFound)
	_, err = getBlock(t, conn, oldID, 0, 1000)
	requireCode(t, err, wire.ErrCodeNotFound)
	_, err = getBlock(t, conn, changedID, 0, 2000)
	requireCode(t, err, wire.ErrCodeNotFound)
	b, err := getBlock(t, conn, fileByName(t, s, "new.bin").ID, 0, 5000)
	require.NoError(t, err)
	require.Equal(t, newData, b)

	m := scrape(t, s)
	require.NotContains(t, m, `quicxfer_seed_file_requests_total{file="old.bin"}`, "a removed file's series goes")
	require.Contains(t, m, `quicxfer_seed_file_requests_total{file="new.bin"}`)
	require.EqualValues(t, 1, m[`quicxfer_seed_reloads_total{result="ok"}`])
	require.EqualValues(t, 4, m["quicxfer_seed_files"])
}

// Requests and reloads at once, for the race detector; every list is one
// whole set.
func TestReloadConcurrent(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		writeFile(t, filepath.Join(dir, n), []byte(n))
	}
	s := startForTest(t, Options{Paths: []string{dir}, MetricsListen: "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			conn := dial(t, s)
			for ctx.Err() == nil {
				got := names(list(t, conn))
				require.True(t, sort.StringsAreSorted(got))
				require.Subset(t, got, []string{"a", "b", "c"})
				_, err := getManifest(t, conn, &wire.ManifestRequest{Name: "a"})
				require.NoError(t, err)
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			_ = s.Files()
			_ = scrape(t, s)
		}
	})
	for i := range 20 {
		x := filepath.Join(dir, "x")
		if i%2 == 0 {
			writeFile(t, x, randBytes(100+i, uint64(i)))
		} else {
			require.NoError(t, os.Remove(x))
		}
		_, err := s.Reload(t.Context())
		require.NoError(t, err)
	}
	cancel()
	wg.Wait()
	require.Len(t, s.Files(), 3) // x removed at the last reload
}

// A PATH that disappears serves nothing until it is back; a Reload after
// Close says so.
func TestReloadPathGone(t *testing.T) {
	tmp := t.TempDir()
	single := filepath.Join(tmp, "one", "single.dat")
	writeFile(t, single, []byte("single"))
	tree := filepath.Join(tmp, "tree")
	writeFile(t, filepath.Join(tree, "t"), []byte("t"))
	s, err := New(t.Context(), Options{Paths: []string{single, tree}, Listen: "127.0.0.1:0", StateDir: t.TempDir()})
	require.NoError(t, err)

	require.NoError(t, os.Remove(single))
	res, err := s.Reload(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, res.Removed)
	require.Equal(t, []File{fileByName(t, s, "t")}, s.Files())

	writeFile(t, single, []byte("single again"))
	res, err = s.Reload(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, res.Added)
	require.EqualValues(t, len("single again"), fileByName(t, s, "single.dat").Size)

	// The directory itself replaced: a new root, the old one closed. A
	// response still holding a file of the old set opens the same content
	// through the new one; gone content is gone.
	oldT, oldRoot := s.set.Load().byName["t"], s.roots[1]
	require.NoError(t, os.RemoveAll(tree))
	writeFile(t, filepath.Join(tree, "u"), []byte("u"))
	writeFile(t, filepath.Join(tree, "sub", "t2"), []byte("t"))
	res, err = s.Reload(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, res.Added)
	require.Equal(t, 1, res.Removed)
	fileByName(t, s, "u")
	_, err = oldRoot.Stat(".")
	require.ErrorIs(t, err, os.ErrClosed, "the replaced root is closed")
	fh, err := s.openData(oldT)
	require.NoError(t, err)
	got, err := io.ReadAll(fh)
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	require.Equal(t, "t", string(got))
	require.NoError(t, os.Remove(filepath.Join(tree, "sub", "t2")))
	_, err = s.Reload(t.Context())
	require.NoError(t, err)
	_, err = s.openData(oldT)
	require.ErrorIs(t, err, fs.ErrNotExist, "answered as a file changed")

	require.NoError(t, s.Close())
	_, err = s.Reload(t.Context())
	require.True(t, errors.Is(err, ErrClosed), "%v", err)
}

// A reload leaves out an on-disk file whose name or content ID a shared file
// has: LIST shows the shared one once, and the seed warns once.
func TestReloadLeavesOutSharedNames(t *testing.T) {
	dir := t.TempDir()
	shared := randBytes(2*bs, 31)
	m, err := manifest.Build(t.Context(), bytes.NewReader(shared), int64(len(shared)), 1)
	require.NoError(t, err)
	var logs syncbuf.Buffer
	s := startForTest(t, Options{Paths: []string{dir},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	_, err = s.Share("a.bin", m, bytes.NewReader(shared), nil)
	require.NoError(t, err)

	writeFile(t, filepath.Join(dir, "a.bin"), randBytes(1000, 32)) // same name, other content
	writeFile(t, filepath.Join(dir, "copy.bin"), shared)           // same content, other name
	writeFile(t, filepath.Join(dir, "b.bin"), randBytes(1000, 33)) // no clash
	for range 2 {
		res, err := s.Reload(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, res.Files)
	}
	got := list(t, dial(t, s))
	require.Equal(t, []string{"a.bin", "b.bin"}, names(got))
	require.Equal(t, m.ID(), got[0].ID, "the shared a.bin")
	require.Equal(t, m.ID(), fileByName(t, s, "a.bin").ID)
	require.Equal(t, 2, strings.Count(logs.String(), "not serving a file"), "one warning per file: %s", logs.String())
}
