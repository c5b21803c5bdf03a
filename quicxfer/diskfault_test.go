package quicxfer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// Disk faults: each ends the download with one clear line, leaves no OUT and
// a partial state that resumes, and once the fault is cleared the same
// download completes.

// faultAt runs a download that calls fault once frac of the file is
// verified, and returns its error, which must not be nil. A download that
// hangs fails the test.
func faultAt(t *testing.T, opts quicxfer.Options, frac float64, fault func()) (*quicxfer.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var once sync.Once
	opts.ProgressInterval = 10 * time.Millisecond
	opts.OnProgress = func(p quicxfer.Progress) {
		if float64(p.Verified) >= frac*float64(p.Size) {
			once.Do(fault)
		}
	}
	res, err := quicxfer.Download(ctx, opts)
	require.Error(t, err, "the download went through the fault")
	require.NotErrorIs(t, err, context.DeadlineExceeded, "the download hung after the fault")
	requireOneLine(t, err)
	_, serr := os.Stat(opts.Out)
	require.ErrorIs(t, serr, os.ErrNotExist, "OUT must not exist after a failed download")
	return res, err
}

func requireOneLine(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	t.Logf("error: %s", msg)
	require.NotEmpty(t, msg)
	require.NotContains(t, msg, "\n", "one line")
	require.NotContains(t, msg, "panic")
}

// requireResumable checks that what the failed run left is a partial
// download that a new run would resume: a state that decodes, for this
// file, whose every bit names a block whose data is on disk and good. It
// returns the bytes the state records.
func requireResumable(t *testing.T, out string, data []byte, m *manifest.Manifest) int64 {
	t.Helper()
	b, err := os.ReadFile(partial.StatePath(out))
	require.NoError(t, err, "the state file is still there")
	st, err := partial.DecodeState(b)
	require.NoError(t, err, "the state file is whole")
	require.Equal(t, m.ID(), st.ID)
	part, err := os.ReadFile(partial.PartPath(out))
	require.NoError(t, err)
	var n int64
	for i := range m.NumBlocks() {
		if !st.Has(i) {
			continue
		}
		n += m.BlockLen(i)
		off, end := m.BlockOffset(i), m.BlockOffset(i)+m.BlockLen(i)
		require.Equal(t, data[off:end], part[off:end], "block %d is recorded but its data is not on disk", i)
	}
	return n
}

// readOnly makes dir refuse new files, in a way that also binds root, and
// returns the function that undoes it (also run at cleanup). It skips the
// test when it cannot.
func readOnly(t *testing.T, dir string) (undo func()) {
	t.Helper()
	// Each way: the commands that make dir read-only, and the one that undoes them.
	type way struct {
		do   [][]string
		undo []string
	}
	var ways []way
	if os.Geteuid() != 0 {
		ways = []way{{[][]string{{"chmod", "0555", dir}}, []string{"chmod", "0755", dir}}}
	} else {
		// Permission bits do not stop root; an immutable directory does, or
		// else a read-only bind mount of it over itself.
		ways = []way{
			{[][]string{{"chattr", "+i", dir}}, []string{"chattr", "-i", dir}},
			{[][]string{{"mount", "--bind", dir, dir}, {"mount", "-o", "remount,bind,ro", dir}}, []string{"umount", dir}},
		}
	}
	var tried []string
	for _, w := range ways {
		var once sync.Once
		undo = func() {
			once.Do(func() {
				if out, err := exec.Command(w.undo[0], w.undo[1:]...).CombinedOutput(); err != nil {
					t.Errorf("%s: %v: %s", strings.Join(w.undo, " "), err, out)
				}
			})
		}
		ok := true
		for i, c := range w.do {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				tried = append(tried, fmt.Sprintf("%s: %v: %s", strings.Join(c, " "), err, bytes.TrimSpace(out)))
				if i > 0 {
					undo()
				}
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		t.Cleanup(undo)
		probe := filepath.Join(dir, ".probe")
		f, err := os.Create(probe)
		if err != nil {
			return undo
		}
		f.Close()
		os.Remove(probe)
		undo()
		tried = append(tried, strings.Join(w.do[0], " ")+": did not stop a new file")
	}
	t.Skipf("cannot make %s read-only: %s", dir, strings.Join(tried, "; "))
	return nil
}

func TestReadOnlyOutputDir(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 48*manifest.MinBlockSize+77, 40)
	m, err := manifest.BuildFile(context.Background(), filepath.Join(dir, "f.bin"), 1)
	require.NoError(t, err)
	_, urls := startSeeds(t, dir, 4e6)

	t.Run("from the start", func(t *testing.T) {
		outDir := t.TempDir()
		out := filepath.Join(outDir, "f.bin")
		undo := readOnly(t, outDir)
		opts := quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out}
		_, err := quicxfer.Download(t.Context(), opts)
		require.Error(t, err)
		requireOneLine(t, err)
		require.Contains(t, err.Error(), outDir, "the error names where")
		undo()
		res, err := quicxfer.Download(t.Context(), opts)
		require.NoError(t, err)
		requireFile(t, out, data)
		require.Zero(t, res.ResumedBytes)
	})

	t.Run("during the download", func(t *testing.T) {
		outDir := t.TempDir()
		out := filepath.Join(outDir, "f.bin")
		opts := quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out, SyncInterval: 100 * time.Millisecond}
		var undo func()
		_, err := faultAt(t, opts, 0.3, func() { undo = readOnly(t, outDir) })
		require.Contains(t, err.Error(), outDir, "the error names where")
		kept := requireResumable(t, out, data, m)
		undo()
		res, err := quicxfer.Download(t.Context(), opts)
		require.NoError(t, err)
		requireFile(t, out, data)
		require.GreaterOrEqual(t, res.ResumedBytes, kept, "what was recorded is kept")
		require.Positive(t, res.ResumedBytes)
	})
}

// TestDiskFull downloads into a tmpfs too small for the file, then grows it.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	outDir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", outDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", outDir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", outDir, err, out)
		}
	})
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 8<<20+3, 41)
	m, err := manifest.BuildFile(context.Background(), filepath.Join(dir, "f.bin"), 1)
	require.NoError(t, err)
	_, urls := startSeeds(t, dir, 0)
	out := filepath.Join(outDir, "f.bin")
	opts := quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out}

	_, err = faultAt(t, opts, 2, func() {})
	require.ErrorIs(t, err, syscall.ENOSPC)
	requireResumable(t, out, data, m)

	// Clear the fault: make room.
	grow := exec.Command("mount", "-o", "remount,size=32m", outDir)
	outb, err := grow.CombinedOutput()
	require.NoError(t, err, "%s", outb)
	var l testkit.Logs
	opts.Logf = l.Logf
	res, err := quicxfer.Download(t.Context(), opts)
	require.NoError(t, err)
	requireFile(t, out, data)
	t.Logf("resumed %d of %d bytes after the disk was full\n%s", res.ResumedBytes, len(data), l.String())
	require.Positive(t, res.ResumedBytes, "what fitted is kept")
}

// TestOutDirRemoved removes OUT's directory, with the partial files in it,
// while the download runs. The data is gone with it; the download must say
// so and stop, not finish into nothing. Once the directory is back, the same
// download completes.
func TestOutDirRemoved(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 48*manifest.MinBlockSize+5, 42)
	_, urls := startSeeds(t, dir, 4e6)
	outDir := filepath.Join(t.TempDir(), "downloads")
	require.NoError(t, os.Mkdir(outDir, 0o755))
	out := filepath.Join(outDir, "f.bin")
	opts := quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out, SyncInterval: 100 * time.Millisecond}

	// Moved away first, then removed: the download's syncer may create its
	// state's temporary file while a plain RemoveAll empties the directory,
	// and the final rmdir would then fail (ENOTEMPTY), as rm -rf can.
	_, err := faultAt(t, opts, 0.3, func() {
		gone := outDir + ".removed"
		require.NoError(t, os.Rename(outDir, gone))
		require.NoError(t, os.RemoveAll(gone))
	})
	require.ErrorIs(t, err, os.ErrNotExist)
	_, serr := os.Stat(outDir)
	require.ErrorIs(t, serr, os.ErrNotExist, "the download does not re-create what the user removed")

	require.NoError(t, os.Mkdir(outDir, 0o755))
	res, err := quicxfer.Download(t.Context(), opts)
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Zero(t, res.ResumedBytes)
}
