package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLowestSpeedLimitFlag: --lowest-speed-limit takes a rate as seed
// --rate-limit does, and a bad one is a usage error in one line.
func TestLowestSpeedLimitFlag(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f"), 300<<10, 61)
	u := startSeed(t, dir)
	out := filepath.Join(t.TempDir(), "o")
	r := run(t, "get", "--seed", u, "-o", out, "--lowest-speed-limit", "slow", "f")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "--lowest-speed-limit")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line: %q", r.stderr)
	_, err := os.Stat(out)
	require.ErrorIs(t, err, os.ErrNotExist)

	for _, v := range []string{"0", "10KB/s"} {
		out := filepath.Join(t.TempDir(), "o")
		r := run(t, "get", "--seed", u, "-o", out, "-q", "--lowest-speed-limit", v, "f")
		require.Zero(t, r.code, r.stderr)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, data, got)
	}
}
