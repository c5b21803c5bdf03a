package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOutputDirectory: -o DIR (existing, or ending in / and then made)
// puts the file in DIR under its own base name, as cp does; --dir DIR is
// OUT's directory (aria2's -d), with -o NAME below it; -o into a directory
// that does not exist is refused in one line that names it, before
// anything is written.
func TestOutputDirectory(t *testing.T) {
	src := t.TempDir()
	data := writeRandom(t, filepath.Join(src, "isos", "a.bin"), 1<<20+3, 41)
	writeRandom(t, filepath.Join(src, "docs", "one.txt"), 5000, 42)
	two := writeRandom(t, filepath.Join(src, "docs", "sub", "two.txt"), 7000, 43)
	u := startSeed(t, src)

	t.Run("existing directory", func(t *testing.T) {
		work := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(work, "into"), 0o755))
		r := runEnv(t, work, nil, "get", "--seed", u, "-o", "into", "--quiet", "isos/a.bin")
		require.Zero(t, r.code, r.stderr)
		requireFile(t, filepath.Join(work, "into", "a.bin"), data)
	})
	t.Run("trailing slash makes the directory", func(t *testing.T) {
		work := t.TempDir()
		r := runEnv(t, work, nil, "get", "--seed", u, "-o", "new/deeper/", "--quiet", "isos/a.bin")
		require.Zero(t, r.code, r.stderr)
		requireFile(t, filepath.Join(work, "new", "deeper", "a.bin"), data)
	})
	t.Run("--dir", func(t *testing.T) {
		work := t.TempDir()
		r := runEnv(t, work, nil, "get", "--seed", u, "--dir", "dl", "--quiet", "isos/a.bin")
		require.Zero(t, r.code, r.stderr)
		requireFile(t, filepath.Join(work, "dl", "a.bin"), data)
		r = runEnv(t, work, nil, "get", "--seed", u, "-d", "dl2", "-o", "b.bin", "--quiet", "isos/a.bin")
		require.Zero(t, r.code, r.stderr)
		requireFile(t, filepath.Join(work, "dl2", "b.bin"), data)
		requireUsage(t, runEnv(t, work, nil, "get", "--seed", u, "-d", "dl3", "-o", "/abs.bin", "isos/a.bin"), "absolute", "--dir")
	})
	t.Run("missing directory", func(t *testing.T) {
		work := t.TempDir()
		r := runEnv(t, work, nil, "get", "--seed", u, "-o", "nosuch/x.bin", "--quiet", "isos/a.bin")
		requireOneLine(t, r, "-o nosuch/x.bin: there is no directory nosuch")
		require.NotContains(t, r.stderr, ".qxpart")
		requireEmptyDir(t, work)
	})
	t.Run("directory download into DIR/", func(t *testing.T) {
		work := t.TempDir()
		r := runEnv(t, work, nil, "get", "--seed", u, "-o", "man/", "--quiet", "docs")
		require.Zero(t, r.code, r.stderr)
		requireFile(t, filepath.Join(work, "man", "sub", "two.txt"), two)
		r = runEnv(t, work, nil, "get", "--seed", u, "--dir", "top", "--quiet", "docs/")
		require.Zero(t, r.code, r.stderr)
		requireFile(t, filepath.Join(work, "top", "docs", "sub", "two.txt"), two)
	})
}

// TestOutputDirectoryStatus: a download into -o DIR/ that is interrupted
// is found by status (by OUT, and under DIR), and the command status names
// resumes it.
func TestOutputDirectoryStatus(t *testing.T) {
	src := t.TempDir()
	const size = 12 << 20
	data := writeRandom(t, filepath.Join(src, "big.bin"), size, 44)
	u := startSeed(t, "--rate-limit", "4MB/s", src)
	work := t.TempDir()
	out := filepath.Join(work, "into", "big.bin")
	cmd := startGet(t, work, nil, out, "get", "--seed", u, "-o", "into/", "--quiet", "big.bin")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	st := statusOf(t, out)
	require.Equal(t, "partial", st.State)
	require.Equal(t, []string{"quicxfer", "get", "--seed", u, "--output", "into/", "--quiet", "big.bin"}, st.ResumeArgs)
	under := run(t, "status", filepath.Join(work, "into"))
	require.Zero(t, under.code, under.stderr)
	require.Contains(t, under.stdout, out)

	r := runEnv(t, st.ResumeDir, nil, st.ResumeArgs[1:]...)
	require.Zero(t, r.code, r.stderr)
	requireFile(t, out, data)
}
