package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// manifest --link prints the file's link after its content ID, with the
// seeds given; get LINK downloads from the link alone, its name as OUT.
func TestLinkRoundTrip(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), 3<<20, 61)
	u := startSeed(t, dir)

	r := run(t, "manifest", "--link", "--seed", u, filepath.Join(dir, "f.bin"))
	require.Zero(t, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2)
	id, l := lines[0], lines[1]
	require.Equal(t, id, strings.TrimSpace(run(t, "manifest", filepath.Join(dir, "f.bin")).stdout), "the first line is the content ID, as without --link")
	require.True(t, strings.HasPrefix(l, "qx:?id="+id+"&name=f.bin&size=3145728&seed=quic://127.0.0.1:"), l)

	work := t.TempDir()
	r = runEnv(t, work, nil, "get", "-q", l)
	require.Zero(t, r.code, r.stderr)
	requireFile(t, filepath.Join(work, "f.bin"), data)

	// The link's content ID is --id: another file under the same name is
	// refused.
	other := t.TempDir()
	writeRandom(t, filepath.Join(other, "f.bin"), 3<<20, 62)
	u2 := startSeed(t, other)
	r = run(t, "manifest", "--link", "--seed", u2, filepath.Join(dir, "f.bin"))
	require.Zero(t, r.code, r.stderr)
	bad := strings.Split(strings.TrimSpace(r.stdout), "\n")[1]
	r = runEnv(t, t.TempDir(), nil, "get", "-q", "--retries", "1", bad)
	require.NotZero(t, r.code)
	require.Contains(t, r.stderr, id[:8])
}

func TestLinkRefused(t *testing.T) {
	requireUsage(t, run(t, "get", "qx:?id=zz"), "invalid link")
	requireUsage(t, run(t, "manifest", "--seed", "quic://127.0.0.1:1", "f"), "--seed and --mirror are for --link")
	requireUsage(t, run(t, "get", "--id", strings.Repeat("ab", 32), "qx:?id="+strings.Repeat("cd", 32)+"&name=f&seed=quic://127.0.0.1:9"), "differ")
}
