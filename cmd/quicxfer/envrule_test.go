package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOperatorVariables: the variables of the seed's systemd environment
// file (contrib/systemd/seed.env), exported in the shell, never make an
// otherwise valid command fail: get without --serve ignores QUICXFER_LISTEN
// and QUICXFER_STATE_DIR (they go with --serve), seed without --from
// ignores QUICXFER_ID and QUICXFER_NAME; with --serve the variable applies
// and a bad value is named.
func TestOperatorVariables(t *testing.T) {
	src := t.TempDir()
	want := writeRandom(t, filepath.Join(src, "f.bin"), 200<<10, 44)
	u := startSeed(t, src)
	work := t.TempDir()
	env := []string{"QUICXFER_LISTEN=0.0.0.0:4433", "QUICXFER_STATE_DIR=" + filepath.Join(work, "no", "such"), "QUICXFER_RATE_LIMIT=0",
		"QUICXFER_SEED_TIME=1h", "QUICXFER_UPLOAD_LIMIT=10MB/s"}
	r := runGuarded(t, work, env, "get", "--seed", u, "-o", "a.bin", "--quiet", "f.bin")
	require.Zero(t, r.code, r.stderr)
	requireFile(t, filepath.Join(work, "a.bin"), want)

	r = runBounded(t, []string{"QUICXFER_LISTEN=127.0.0.1:65536"}, "get", "--serve", "--seed", u, "-o", filepath.Join(work, "b.bin"), "f.bin")
	requireUsage(t, r, "--listen (from QUICXFER_LISTEN): ", "bad port")
	requireUsage(t, runBounded(t, nil, "get", "--listen", "127.0.0.1:0", "--seed", u, "-o", filepath.Join(work, "b.bin"), "f.bin"), "--listen goes with --serve")

	r = runBounded(t, []string{"QUICXFER_ID=" + "00", "QUICXFER_NAME=f.bin"}, "seed", "--check", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), src)
	require.Zero(t, r.code, r.stderr)
}
