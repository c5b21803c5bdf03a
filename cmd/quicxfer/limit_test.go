package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLimitRateFlag: get --limit-rate (and aria2's --max-download-limit,
// QUICXFER_LIMIT_RATE) takes seed --rate-limit's units; a bad value is a
// usage error in one line that names the flag (or the variable) before
// anything starts; 0 is no limit.
func TestLimitRateFlag(t *testing.T) {
	src := t.TempDir()
	data := writeRandom(t, filepath.Join(src, "f.bin"), 600<<10, 51)
	u := startSeed(t, src)
	work := t.TempDir()

	r := runEnv(t, work, nil, "get", "--seed", u, "--limit-rate", "fast", "-o", "x.bin", "f.bin")
	requireUsage(t, r, "--limit-rate", `"fast"`)
	r = runEnv(t, work, nil, "get", "--seed", u, "--limit-rate", "-5MB/s", "-o", "x.bin", "f.bin")
	requireUsage(t, r, "--limit-rate")
	r = runEnv(t, work, []string{"QUICXFER_LIMIT_RATE=12parsecs"}, "get", "--seed", u, "-o", "x.bin", "f.bin")
	requireUsage(t, r, "--limit-rate (from QUICXFER_LIMIT_RATE)")
	requireEmptyDir(t, work)

	for _, c := range []struct {
		args []string
		want string // what the debug log says of the limit
	}{
		{[]string{"--limit-rate", "0"}, "no rate limit"},
		{nil, "no rate limit"},
		{[]string{"--limit-rate", "20MB/s"}, "rate limit 20.0 MB/s, all sources together"},
		{[]string{"--max-download-limit", "100Mbit/s"}, "rate limit 12.5 MB/s"},
	} {
		out := filepath.Join(t.TempDir(), "x.bin")
		r := run(t, append(append([]string{"get", "--seed", u, "-v", "--quiet", "-o", out}, c.args...), "f.bin")...)
		require.Zero(t, r.code, r.stderr)
		require.Contains(t, r.stderr, "quicxfer: debug: OUT "+out+"; seeds: 1, mirrors: 0; "+c.want, c.args)
		requireFile(t, out, data)
	}
	out := filepath.Join(t.TempDir(), "x.bin")
	r = runEnv(t, "", []string{"QUICXFER_LIMIT_RATE=4MiB/s"}, "get", "--seed", u, "-v", "--quiet", "-o", out, "f.bin")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stderr, "rate limit 4.2 MB/s")
}
