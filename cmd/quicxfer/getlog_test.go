package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGetLogs: -v and --log-level debug add the download's decisions as
// "quicxfer: debug:" lines on standard error (never on --json-progress's
// standard output): here the manifest vote, a seed whose pin does not
// match left out and dropped (never retried), and the good one joining. Without them there
// is no debug line; --log-level error leaves no message at all; a bad level
// is a usage error.
func TestGetLogs(t *testing.T) {
	src := t.TempDir()
	data := writeRandom(t, filepath.Join(src, "f.bin"), 600<<10, 52)
	u := startSeed(t, src)
	// A seed with a wrong pin is refused at once (no waiting for a timeout).
	bad := strings.Split(u, "?")[0] + "?pin=" + strings.Repeat("A", 43)

	for _, flags := range [][]string{{"-v"}, {"--verbose"}, {"--log-level", "debug"}} {
		out := filepath.Join(t.TempDir(), "x.bin")
		args := append(append([]string{"get", "--seed", u, "--seed", bad, "--json-progress", "-o", out}, flags...), "f.bin")
		r := run(t, args...)
		require.Zero(t, r.code, r.stderr)
		requireFile(t, out, data)
		require.Contains(t, r.stderr, "quicxfer: debug: OUT "+out+"; seeds: 2, mirrors: 0; no rate limit; a source is dropped after 6 failures in a row", flags)
		require.Contains(t, r.stderr, "quicxfer: debug: source "+u+" joined")
		require.Contains(t, r.stderr, "quicxfer: debug: start: f.bin")
		require.Contains(t, r.stderr, "quicxfer: debug: vote: content ID ", "the manifest vote")
		require.Contains(t, r.stderr, "quicxfer: debug: vote: seed "+bad+" left out: pin mismatch", "the refused seed left out")
		require.Contains(t, r.stderr, "quicxfer: debug: source "+bad+" dropped: pin mismatch", "and dropped, not retried")
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			require.True(t, json.Valid([]byte(line)), "stdout is JSON events only: %q", line)
		}
		require.NotContains(t, r.stdout, "debug")
	}

	out := filepath.Join(t.TempDir(), "x.bin")
	r := run(t, "get", "--seed", u, "--seed", bad, "--quiet", "-o", out, "f.bin")
	require.Zero(t, r.code, r.stderr)
	require.NotContains(t, r.stderr, "debug")
	require.Contains(t, r.stderr, "going on without it", "the message that --log-level error leaves out")

	out = filepath.Join(t.TempDir(), "x.bin")
	r = run(t, "get", "--seed", u, "--seed", bad, "--quiet", "--log-level", "error", "-o", out, "f.bin")
	require.Zero(t, r.code, r.stderr)
	require.Empty(t, r.stderr)
	requireFile(t, out, data)

	requireUsage(t, run(t, "get", "--seed", u, "--log-level", "loud", "-o", out, "f.bin"), `--log-level: "loud": want debug, info, warn or error`)
}
