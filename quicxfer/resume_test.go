package quicxfer_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/collide"
	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// plantPartial writes, with the partial package, a partial download of data
// at out holding the blocks in have, every one recorded in the state, and
// then replaces block forged with bytes that keep its xxh64: what a hostile
// seed plants (get --all writing names that end in .qxpart and .qxstate),
// or anyone who can write beside OUT.
func plantPartial(t *testing.T, out string, data []byte, have []int, forged int) {
	t.Helper()
	m, err := manifest.Build(t.Context(), bytes.NewReader(data), int64(len(data)), 0)
	require.NoError(t, err)
	part, _, err := partial.Open(out, m, partial.Options{})
	require.NoError(t, err)
	for _, i := range have {
		off := m.BlockOffset(i)
		require.NoError(t, part.WriteBlock(i, data[off:off+m.BlockLen(i)]))
	}
	require.NoError(t, part.Close())

	off := m.BlockOffset(forged)
	bad, err := collide.XXH64(data[off:off+m.BlockLen(forged)], 5)
	require.NoError(t, err)
	require.True(t, m.CheckXXH(forged, bad), "the forged block keeps its xxh64")
	f, err := os.OpenFile(partial.PartPath(out), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(bad, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// TestResumedBlockProvenBySHA256: a resumed block is never trusted on its
// xxh64. A planted part file whose block keeps the xxh64 of the published
// one is caught by SHA-256 (while the other blocks download), fetched again,
// and OUT at the end is the published file.
func TestResumedBlockProvenBySHA256(t *testing.T) {
	for _, tc := range []struct {
		name string
		have []int // blocks planted, of 8
	}{
		{"every block planted", []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{"half planted, half to fetch", []int{0, 2, 4, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const bs = manifest.MinBlockSize
			data := writeFile(t, dir, "f.bin", 8*bs, 40)
			_, urls := startSeeds(t, dir, 0)
			out := filepath.Join(t.TempDir(), "f.bin")
			plantPartial(t, out, data, tc.have, 4)

			var l testkit.Logs
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out, Logf: l.Logf})
			require.NoError(t, err)
			t.Log(l.String())
			requireFile(t, out, data)
			require.Contains(t, l.String(), "to be proven with SHA-256")
			require.Contains(t, l.String(), "1 resumed block(s) failed their SHA-256 check (4); fetching them again")
			want := int64(len(tc.have)-1) * bs
			require.Equal(t, want, res.ResumedBytes, "the forged block is not counted as resumed")
			require.GreaterOrEqual(t, res.FetchedBytes, int64(len(data))-want, "the forged block was fetched")
		})
	}
}

// TestOtherPartialKept: a partial download of another file at OUT is kept
// and the download refused, unless DiscardPartial.
func TestOtherPartialKept(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.bin", 8<<20, 7)
	dataB := writeFile(t, dir, "b.bin", 8<<20, 8)
	_, urls := startSeeds(t, dir, 8e6)
	out := filepath.Join(t.TempDir(), "out.bin")
	interruptAt(t, quicxfer.Options{Seeds: urls, Name: "a.bin", Out: out}, 0.5)
	part, state := mustReadFile(t, partial.PartPath(out)), mustReadFile(t, partial.StatePath(out))

	_, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: urls, Name: "b.bin", Out: out})
	require.ErrorIs(t, err, quicxfer.ErrOtherPartial)
	require.Contains(t, err.Error(), "it is kept")
	require.True(t, bytes.Equal(part, mustReadFile(t, partial.PartPath(out))), "a.bin's partial data is untouched")
	require.Equal(t, state, mustReadFile(t, partial.StatePath(out)))
	require.NoFileExists(t, out)

	var l testkit.Logs
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: urls, Name: "b.bin", Out: out, Logf: l.Logf, DiscardPartial: true})
	require.NoError(t, err)
	requireFile(t, out, dataB)
	require.Zero(t, res.ResumedBytes, "nothing of a.bin is mixed into b.bin")
	require.Contains(t, l.String(), "different file")
}

func mustReadFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

// TestOutAppearedNotReplaced: a file created at OUT while the download runs
// is not replaced at the end; the verified data stays in the part file and
// the same download finishes once OUT is moved away, fetching nothing.
func TestOutAppearedNotReplaced(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 4<<20, 41)
	_, urls := startSeeds(t, dir, 8e6)
	out := filepath.Join(t.TempDir(), "f.bin")
	var planted atomic.Bool
	opts := quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out, ProgressInterval: 10 * time.Millisecond}
	opts.OnProgress = func(p quicxfer.Progress) {
		if p.Verified > 0 && !planted.Swap(true) {
			require.NoError(t, os.WriteFile(out, []byte("the user's own file"), 0o644))
		}
	}
	_, err := quicxfer.Download(t.Context(), opts)
	require.True(t, planted.Load())
	require.ErrorIs(t, err, quicxfer.ErrOutAppeared)
	t.Log(err)
	require.Equal(t, "the user's own file", string(mustReadFile(t, out)), "never replaced")
	require.True(t, bytes.Equal(data, mustReadFile(t, partial.PartPath(out))), "the verified file is kept in the part file")

	require.NoError(t, os.Rename(out, out+".mine"))
	opts.OnProgress = nil
	res, err := quicxfer.Download(t.Context(), opts)
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Equal(t, int64(len(data)), res.ResumedBytes)
	require.Zero(t, res.FetchedBytes)
}

// TestSymlinkedPartialFilesRefused: a symbolic link where one of the
// download's files belongs is refused; its target is never written.
func TestSymlinkedPartialFilesRefused(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "f.bin", 300000, 42)
	_, urls := startSeeds(t, dir, 0)
	for _, suffix := range []string{".qxpart", ".qxstate", ".qxstate.tmp", ".qxcmd.tmp"} {
		t.Run(suffix, func(t *testing.T) {
			victim := filepath.Join(t.TempDir(), "victim")
			require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o600))
			out := filepath.Join(t.TempDir(), "f.bin")
			require.NoError(t, os.Symlink(victim, out+suffix))
			_, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out})
			require.ErrorIs(t, err, quicxfer.ErrSymlink)
			require.Contains(t, err.Error(), out+suffix+" is a symbolic link")
			require.Equal(t, "precious", string(mustReadFile(t, victim)))
			require.NoFileExists(t, out)
		})
	}
}

// TestFailedStartLeavesNothing: a download that fails before its first
// block (its only source unreachable) leaves no empty part or state file.
func TestFailedStartLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 300000, 43)
	m, err := manifest.Build(t.Context(), bytes.NewReader(data), int64(len(data)), 0)
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "f.bin")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer cancel()
	_, err = quicxfer.Download(ctx, quicxfer.Options{
		Manifest: m, Mirrors: []string{"http://127.0.0.1:1/f.bin"}, Out: out, MaxRetries: 1,
	})
	require.ErrorIs(t, err, quicxfer.ErrNoSeeds)
	for _, p := range partial.Paths(out) {
		require.NoFileExists(t, p)
	}
}

// TestForgedCompleteOutRefused: an OUT of the right size whose block keeps
// the published xxh64 is not taken for the complete file (the check hashes
// every block with SHA-256, through the content ID), and is not touched.
func TestForgedCompleteOutRefused(t *testing.T) {
	dir := t.TempDir()
	const bs = manifest.MinBlockSize
	data := writeFile(t, dir, "f.bin", 3*bs, 44)
	_, urls := startSeeds(t, dir, 0)
	forged, err := collide.XXH64(data[bs:2*bs], 1)
	require.NoError(t, err)
	bad := append(append(append([]byte(nil), data[:bs]...), forged...), data[2*bs:]...)
	out := filepath.Join(t.TempDir(), "f.bin")
	require.NoError(t, os.WriteFile(out, bad, 0o644))
	_, err = quicxfer.Download(t.Context(), quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out})
	require.ErrorIs(t, err, quicxfer.ErrOutExists)
	require.True(t, bytes.Equal(bad, mustReadFile(t, out)), "never overwritten")
}
