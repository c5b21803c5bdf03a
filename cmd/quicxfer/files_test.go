package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/internal/collide"
	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

func countVerified(s *partial.State) int {
	n, _ := s.Verified()
	return n
}

// TestManifestOutNeverDestroys: `manifest --out` replaces a manifest file
// and nothing else: not FILE itself (under any name), not another file, not
// a symbolic link's target.
func TestManifestOutNeverDestroys(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "F")
	data := writeRandom(t, f, 8<<20, 30)
	hard := filepath.Join(dir, "H")
	require.NoError(t, os.Link(f, hard))
	soft := filepath.Join(dir, "S")
	require.NoError(t, os.Symlink(f, soft))
	other := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(other, []byte("my notes"), 0o644))
	victim := filepath.Join(dir, "victim.qxm")
	require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o644))
	link := filepath.Join(dir, "link.qxm")
	require.NoError(t, os.Symlink(victim, link))

	for _, tc := range []struct {
		name, out, want string
	}{
		{"FILE itself", f, "is FILE itself"},
		{"a hard link to FILE", hard, "is FILE itself"},
		{"a symbolic link to FILE", soft, "is FILE itself"},
		{"another file", other, "is not a quicxfer manifest file"},
		{"a symbolic link", link, "is a symbolic link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireOneLine(t, run(t, "manifest", "--out", tc.out, f), tc.want)
		})
	}
	got, err := os.ReadFile(f)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got), "FILE is intact")
	for p, want := range map[string]string{other: "my notes", victim: "precious"} {
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, want, string(got))
	}

	mfile := filepath.Join(dir, "F.qxm")
	first := run(t, "manifest", "--out", mfile, f)
	require.Zero(t, first.code, first.stderr)
	again := run(t, "manifest", "--out", mfile, f)
	require.Zero(t, again.code, "a manifest file is replaced: %s", again.stderr)
	require.Equal(t, first.stdout, again.stdout)
	m, err := manifest.ReadFile(mfile)
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(first.stdout), m.ID().String())
}

// TestGetRefusesSymlinkedFiles: a symbolic link where one of the download's
// files belongs is refused in one line; its target is never written and the
// link is left as it is.
func TestGetRefusesSymlinkedFiles(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "f.bin"), 300000, 31)
	u := startSeed(t, dir)
	for _, suffix := range []string{".qxpart", ".qxstate", ".qxstate.tmp", ".qxcmd", ".qxcmd.tmp"} {
		t.Run(suffix, func(t *testing.T) {
			victim := filepath.Join(t.TempDir(), "victim")
			require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o600))
			out := filepath.Join(t.TempDir(), "f.bin")
			require.NoError(t, os.Symlink(victim, out+suffix))
			r := run(t, "get", "--seed", u, "-o", out, "--quiet", "f.bin")
			requireOneLine(t, r, out+suffix+" is a symbolic link")
			got, err := os.ReadFile(victim)
			require.NoError(t, err)
			require.Equal(t, "precious", string(got))
			require.True(t, atomicfile.IsSymlink(out+suffix), "the link is left alone")
			require.NoFileExists(t, out)
		})
	}
}

// TestGetKeepsOtherPartial: a partial download of another file at OUT is
// refused in one line naming --discard-partial, and kept; with the flag it
// is thrown away.
func TestGetKeepsOtherPartial(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), 600000, 32)
	u := startSeed(t, dir)
	out := filepath.Join(t.TempDir(), "f.bin")

	otherData := writeRandom(t, filepath.Join(t.TempDir(), "other"), 500000, 33)
	om, err := manifest.Build(context.Background(), bytes.NewReader(otherData), int64(len(otherData)), 0)
	require.NoError(t, err)
	p, _, err := partial.Open(out, om, partial.Options{})
	require.NoError(t, err)
	require.NoError(t, p.WriteBlock(0, otherData[:om.BlockLen(0)]))
	require.NoError(t, p.Close())
	part, err := os.ReadFile(partial.PartPath(out))
	require.NoError(t, err)

	r := run(t, "get", "--seed", u, "-o", out, "--quiet", "f.bin")
	requireOneLine(t, r, "holds a partial download of a different file (content ID "+om.ID().String())
	require.Contains(t, r.stderr, "--discard-partial")
	got, err := os.ReadFile(partial.PartPath(out))
	require.NoError(t, err)
	require.True(t, bytes.Equal(part, got), "kept as it was")

	r = run(t, "get", "--seed", u, "-o", out, "--quiet", "--discard-partial", "f.bin")
	require.Zero(t, r.code, r.stderr)
	got, err = os.ReadFile(out)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
}

// TestGetForgedResumeCaught: a planted OUT.qxpart/OUT.qxstate pair whose
// bits are all set and one of whose blocks keeps the published xxh64 does
// not make get exit 0 with the wrong bytes: the block fails its SHA-256 and
// is fetched again.
func TestGetForgedResumeCaught(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), 3*manifest.MinBlockSize, 34)
	u := startSeed(t, dir)
	out := filepath.Join(t.TempDir(), "f.bin")
	m, err := manifest.Build(context.Background(), bytes.NewReader(data), int64(len(data)), 0)
	require.NoError(t, err)
	p, _, err := partial.Open(out, m, partial.Options{})
	require.NoError(t, err)
	for i := range m.NumBlocks() {
		off := m.BlockOffset(i)
		require.NoError(t, p.WriteBlock(i, data[off:off+m.BlockLen(i)]))
	}
	require.NoError(t, p.Close())
	bad, err := collide.XXH64(data[m.BlockOffset(1):m.BlockOffset(2)], 0)
	require.NoError(t, err)
	f, err := os.OpenFile(partial.PartPath(out), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(bad, m.BlockOffset(1))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	r := run(t, "get", "--seed", u, "-o", out, "--quiet", "f.bin")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stderr, "failed their SHA-256 check (1)")
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got), "OUT is the published file")
}

// TestGetFailedStartLeavesNothing: a get whose only source is unreachable
// from the start leaves no empty OUT.qxpart, OUT.qxstate or OUT.qxcmd.
func TestGetFailedStartLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "f.bin")
	writeRandom(t, src, 300000, 35)
	mfile := filepath.Join(dir, "f.qxm")
	r := run(t, "manifest", "--out", mfile, src)
	require.Zero(t, r.code, r.stderr)
	out := filepath.Join(t.TempDir(), "f.bin")
	r = run(t, "get", "--manifest", mfile, "--mirror", "http://127.0.0.1:1/f.bin", "--retries", "1", "-o", out, "--quiet")
	require.NotZero(t, r.code)
	entries, err := os.ReadDir(filepath.Dir(out))
	require.NoError(t, err)
	require.Empty(t, entries, "nothing left behind: %s", r.stderr)
}

// TestGetKeepsOutThatAppeared: a file created at OUT while get runs is not
// replaced at the end; get says so in one line and exits 1, the verified
// file stays in OUT.qxpart, and the same command finishes it once OUT is
// moved away.
func TestGetKeepsOutThatAppeared(t *testing.T) {
	src := t.TempDir()
	data := writeRandom(t, filepath.Join(src, "f.bin"), 12<<20, 36)
	u := startSeed(t, "--rate-limit", "4MB/s", src)
	work := t.TempDir()
	out := filepath.Join(work, "f.bin")
	args := []string{"get", "--seed", u, "-o", out, "--quiet", "f.bin"}
	cmd := exec.Command(bin, args...)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	var err error
	exited := make(chan struct{})
	go func() { err = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	// Once a block is recorded, the download is under way: OUT appears.
	require.Eventually(t, func() bool {
		st, ierr := partial.Inspect(out)
		return ierr == nil && st.State != nil && countVerified(st.State) > 0
	}, 30*time.Second, 20*time.Millisecond, "no block recorded")
	require.NoError(t, os.WriteFile(out, []byte("the user's own file"), 0o644))
	<-exited
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 1, ee.ExitCode())
	r := cliResult{code: 1, stderr: stderr.String()}
	requireOneLine(t, r, "appeared while the download ran and was not replaced")
	require.Contains(t, r.stderr, "kept in "+partial.PartPath(out))
	got, rerr := os.ReadFile(out)
	require.NoError(t, rerr)
	require.Equal(t, "the user's own file", string(got), "never replaced")
	part, rerr := os.ReadFile(partial.PartPath(out))
	require.NoError(t, rerr)
	require.True(t, bytes.Equal(data, part), "the verified file is kept in OUT.qxpart")

	require.NoError(t, os.Rename(out, out+".mine"))
	r = run(t, args...)
	require.Zero(t, r.code, r.stderr)
	got, rerr = os.ReadFile(out)
	require.NoError(t, rerr)
	require.True(t, bytes.Equal(data, got))
}
