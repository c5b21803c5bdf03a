package quicxfer_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/scriptseed"
	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/seed"
)

// dirCalls records what DownloadDir's callbacks were called with.
type dirCalls struct {
	mu       sync.Mutex
	files    [][]quicxfer.DirFile
	refused  []quicxfer.Refusals
	starts   map[int]int
	dones    map[int]int
	results  map[int]*quicxfer.Result
	errs     map[int]error
	eventFor map[int][]string // file i: the names its events carried
	progFor  map[int][]int64  // file i: the sizes its snapshots carried
}

// options fills in o's callbacks to record into d.
func (d *dirCalls) options(o quicxfer.DirOptions) quicxfer.DirOptions {
	d.starts, d.dones, d.results, d.errs = map[int]int{}, map[int]int{}, map[int]*quicxfer.Result{}, map[int]error{}
	d.eventFor, d.progFor = map[int][]string{}, map[int][]int64{}
	o.OnFiles = func(files []quicxfer.DirFile, refused quicxfer.Refusals) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.files, d.refused = append(d.files, files), append(d.refused, refused)
		return nil
	}
	o.OnFileStart = func(i int) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.starts[i]++
	}
	o.OnEvent = func(i int, e quicxfer.Event) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if e.Kind == quicxfer.EventStart {
			d.eventFor[i] = append(d.eventFor[i], e.Name)
		}
	}
	o.OnProgress = func(i int, p quicxfer.Progress) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.progFor[i] = append(d.progFor[i], p.Size)
	}
	o.OnFileDone = func(i int, r *quicxfer.Result, err error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.dones[i]++
		d.results[i], d.errs[i] = r, err
	}
	return o
}

// TestDownloadDirMergesSeedLists: DownloadDir takes the union of the seeds'
// lists under the prefix (a name on both seeds once, a name on one seed
// only fetched from it), keeps the paths below the prefix, and calls the
// per-file callbacks once per file with the index OnFiles gave it.
func TestDownloadDirMergesSeedLists(t *testing.T) {
	srcA, srcB := t.TempDir(), t.TempDir()
	shared := writeFile(t, srcA, "docs/a.bin", 300<<10, 1)
	onlyA := writeFile(t, srcA, "docs/sub/b.bin", 200<<10, 2)
	onlyB := writeFile(t, srcB, "docs/c.bin", 100<<10, 3)
	require.NoError(t, os.WriteFile(filepath.Join(srcB, "docs", "a.bin"), shared, 0o644))
	writeFile(t, srcB, "docsx/not.bin", 10, 4)
	_, urlsA := startSeeds(t, srcA, 0)
	_, urlsB := startSeeds(t, srcB, 0)

	out := filepath.Join(t.TempDir(), "out")
	var calls dirCalls
	var dirLogs testkit.Logs
	res, err := quicxfer.DownloadDir(t.Context(), calls.options(quicxfer.DirOptions{
		Base:   quicxfer.Options{Seeds: append(urlsA, urlsB...), MaxPeers: -1},
		Prefix: "docs", OutDir: out, Parallel: 2, Logf: dirLogs.Logf,
	}))
	require.NoError(t, err, dirLogs.String())
	want := []quicxfer.DirFile{
		{Name: "docs/a.bin", Rel: "a.bin", Size: 300 << 10},
		{Name: "docs/c.bin", Rel: "c.bin", Size: 100 << 10},
		{Name: "docs/sub/b.bin", Rel: "sub/b.bin", Size: 200 << 10},
	}
	require.Equal(t, want, res.Files)
	require.Equal(t, [][]quicxfer.DirFile{want}, calls.files, "OnFiles once, with the files in order")
	require.Zero(t, calls.refused[0].N)
	requireFile(t, filepath.Join(out, "a.bin"), shared)
	requireFile(t, filepath.Join(out, "c.bin"), onlyB)
	requireFile(t, filepath.Join(out, "sub", "b.bin"), onlyA)
	_, err = os.Stat(filepath.Join(out, "not.bin"))
	require.ErrorIs(t, err, os.ErrNotExist)

	for i, f := range want {
		require.NoError(t, res.Errs[i], f.Name)
		require.Equal(t, f.Name, res.Results[i].Name)
		require.Equal(t, 1, calls.starts[i], "OnFileStart once for %s", f.Name)
		require.Equal(t, 1, calls.dones[i], "OnFileDone once for %s", f.Name)
		require.Same(t, res.Results[i], calls.results[i])
		require.Equal(t, []string{f.Name}, calls.eventFor[i], "file %d's start event is %s's", i, f.Name)
		require.NotEmpty(t, calls.progFor[i])
		require.Equal(t, f.Size, calls.progFor[i][len(calls.progFor[i])-1], "file %d's last snapshot is %s's", i, f.Name)
	}
	require.Len(t, calls.starts, len(want))
	require.Len(t, calls.dones, len(want))
	var fromB int64
	for _, s := range res.Results[1].Seeds {
		if s.URL == urlsB[0] {
			fromB = s.Bytes
		}
	}
	require.Equal(t, int64(100<<10), fromB, "c.bin, on B only, came from B")
}

// TestDownloadDirRefusesUnsafeNames: names a seed lists that name
// quicxfer's working files (a file, or a directory on the way) are refused
// (and reported with the result, as a *DirError), never written (a name
// that wire.CheckName refuses does not get past the list); a file whose
// directory in OutDir is a symbolic link ends without starting; the other
// files are fetched.
func TestDownloadDirRefusesUnsafeNames(t *testing.T) {
	ok, linked := []byte("fine"), []byte("through a link")
	s := scriptseed.Start(t, scriptseed.Options{Files: map[string][]byte{
		"set/ok.bin":           ok,
		"set/sub/linked.bin":   linked,
		"set/x.bin.qxpart":     []byte("forged part"),
		"set/d.qxstate/in.bin": []byte("under a working name"),
	}})
	parent := t.TempDir()
	out, elsewhere := filepath.Join(parent, "out"), t.TempDir()
	require.NoError(t, os.MkdirAll(out, 0o755))
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(out, "sub")))

	var calls dirCalls
	res, err := quicxfer.DownloadDir(t.Context(), calls.options(quicxfer.DirOptions{
		Base: quicxfer.Options{Seeds: []string{s.URL()}, MaxPeers: -1}, Prefix: "set", OutDir: out,
	}))
	var de *quicxfer.DirError
	require.ErrorAs(t, err, &de)
	require.Equal(t, quicxfer.DirError{Files: 2, Failed: 1, Refused: 2, File: "sub/linked.bin", Err: res.Errs[1]}, *de)
	require.ErrorContains(t, de, "3 of 4 files failed (sub/linked.bin: ")
	require.Contains(t, res.Errs[1].Error(), "refusing to write through it")

	require.Equal(t, 2, res.Refused.N)
	require.Len(t, res.Refused.Shown, 2)
	reasons := map[string]error{}
	for _, r := range res.Refused.Shown {
		reasons[r.Name] = r.Err
	}
	var wn *quicxfer.WorkingNameError
	require.ErrorAs(t, reasons["set/x.bin.qxpart"], &wn)
	require.Equal(t, ".qxpart", wn.Suffix)
	require.ErrorAs(t, reasons["set/d.qxstate/in.bin"], &wn)

	requireFile(t, filepath.Join(out, "ok.bin"), ok)
	require.Equal(t, 1, calls.starts[0])
	require.Zero(t, calls.starts[1], "the file behind the link never started")
	require.Equal(t, 1, calls.dones[1], "but it ended once")
	require.Nil(t, calls.results[1])
	entries, err := os.ReadDir(elsewhere)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing written through the link")
	entries, err = os.ReadDir(parent)
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing written beside OutDir")
	_, err = os.Stat(filepath.Join(out, "x.bin.qxpart"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestDownloadDirStopsOnSharedFailure: once a file fails in a way every
// later file would (no usable seed), the files not yet started are left
// alone (ErrNotStarted, no callback), and the error names the file that
// failed, not one left alone.
func TestDownloadDirStopsOnSharedFailure(t *testing.T) {
	src := t.TempDir()
	for i, n := range []string{"d/1.bin", "d/2.bin", "d/3.bin"} {
		writeFile(t, src, n, 10<<10, uint64(10+i))
	}
	servers, urls := startSeeds(t, src, 0)
	out := t.TempDir()
	var calls dirCalls
	o := calls.options(quicxfer.DirOptions{
		// The seed goes away after it listed its files; a dial that cannot
		// be answered gives up after DialTimeout.
		Base:   quicxfer.Options{Seeds: urls, MaxPeers: -1, DialTimeout: 2 * time.Second},
		Prefix: "d", OutDir: out, Parallel: 1,
	})
	onFiles := o.OnFiles
	o.OnFiles = func(files []quicxfer.DirFile, refused quicxfer.Refusals) error {
		require.NoError(t, servers[0].Close())
		return onFiles(files, refused)
	}
	res, err := quicxfer.DownloadDir(t.Context(), o)
	var de *quicxfer.DirError
	require.ErrorAs(t, err, &de)
	require.Equal(t, 3, de.Files)
	require.Equal(t, 3, de.Failed)
	require.Equal(t, "1.bin", de.File)
	require.ErrorIs(t, de.Err, quicxfer.ErrNoSeeds)
	require.Nil(t, de.Interrupted)
	require.ErrorIs(t, res.Errs[0], quicxfer.ErrNoSeeds)
	require.ErrorIs(t, res.Errs[1], quicxfer.ErrNotStarted)
	require.ErrorIs(t, res.Errs[2], quicxfer.ErrNotStarted)
	require.Equal(t, map[int]int{0: 1}, calls.starts, "only the first file started")
	require.Equal(t, map[int]int{0: 1}, calls.dones)
}

// TestDownloadDirFallback: a name that is a directory on the seeds is no
// file (Download: ErrNotFound, no result), so MaybeDir says to try it as a
// directory, and DownloadDir fetches it; a name that is neither gets
// ErrNoDir (with ErrNotFound) from DownloadDir, before anything is made. A
// directory download refuses a content ID, and with no prefix and nothing
// listed says the seeds serve no file.
func TestDownloadDirFallback(t *testing.T) {
	src := t.TempDir()
	data := writeFile(t, src, "docs/a.bin", 50<<10, 21)
	_, urls := startSeeds(t, src, 0)
	base := quicxfer.Options{Seeds: urls, MaxPeers: -1}

	fo := base
	fo.Name, fo.Out = "docs/a.bin", filepath.Join(t.TempDir(), "a.bin")
	res, err := quicxfer.Download(t.Context(), fo)
	require.NoError(t, err)
	require.False(t, quicxfer.MaybeDir(res, err), "a file")

	out := filepath.Join(t.TempDir(), "docs")
	fo.Name, fo.Out = "docs", out
	res, err = quicxfer.Download(t.Context(), fo)
	require.ErrorIs(t, err, quicxfer.ErrNotFound)
	require.True(t, quicxfer.MaybeDir(res, err))
	dres, err := quicxfer.DownloadDir(t.Context(), quicxfer.DirOptions{Base: base, Prefix: "docs", OutDir: out})
	require.NoError(t, err)
	require.Len(t, dres.Files, 1)
	requireFile(t, filepath.Join(out, "a.bin"), data)

	none := filepath.Join(t.TempDir(), "none")
	fo.Name, fo.Out = "none", none
	res, err = quicxfer.Download(t.Context(), fo)
	require.True(t, quicxfer.MaybeDir(res, err))
	_, err = quicxfer.DownloadDir(t.Context(), quicxfer.DirOptions{Base: base, Prefix: "none", OutDir: none})
	require.ErrorIs(t, err, quicxfer.ErrNoDir)
	require.ErrorIs(t, err, quicxfer.ErrNotFound)
	_, err = os.Stat(none)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing made")

	withID := base
	withID.ID = manifest.ID{1}
	_, err = quicxfer.DownloadDir(t.Context(), quicxfer.DirOptions{Base: withID, Prefix: "docs", OutDir: none})
	require.ErrorIs(t, err, quicxfer.ErrIDForDir)
	_, err = os.Stat(none)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing made")

	empty := seedtest.Start(t, seed.Options{Paths: []string{t.TempDir()}})
	_, err = quicxfer.DownloadDir(t.Context(), quicxfer.DirOptions{Base: quicxfer.Options{Seeds: []string{empty.URL()}}, OutDir: none})
	require.ErrorIs(t, err, quicxfer.ErrNoFiles)

	var be *quicxfer.BadOptionsError
	_, err = quicxfer.DownloadDir(t.Context(), quicxfer.DirOptions{Base: quicxfer.Options{Seeds: []string{"http://x"}}, OutDir: none})
	require.ErrorAs(t, err, &be)
	_, err = quicxfer.DownloadDir(t.Context(), quicxfer.DirOptions{Base: base, Prefix: "../x", OutDir: none})
	require.ErrorAs(t, err, &be)
	_, err = quicxfer.DownloadDir(t.Context(), quicxfer.DirOptions{Base: base, OutDir: none, Parallel: quicxfer.MaxParallel + 1})
	require.ErrorAs(t, err, &be)
}
