package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestZeroIDRefused: the all-zero content ID, which no manifest has, is
// refused as a usage error, given as --id or as QUICXFER_ID, to get (with
// seeds, with a manifest file and a mirror, for a directory) and to seed
// --from; it was taken for no --id at all, and the download went ahead
// with whatever the sources served.
func TestZeroIDRefused(t *testing.T) {
	src := t.TempDir()
	f := filepath.Join(src, "f.bin")
	writeRandom(t, f, 300<<10, 31)
	u := startSeed(t, src)
	mfile := filepath.Join(t.TempDir(), "f.qxm")
	m := run(t, "manifest", "--out", mfile, f)
	require.Zero(t, m.code, m.stderr)
	mirror := httptest.NewServer(http.FileServer(http.Dir(src)))
	t.Cleanup(mirror.Close)

	zero := strings.Repeat("0", 64)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "x.bin")
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		from string
	}{
		{"get --id", nil, []string{"get", "--id", zero, "--seed", u, "-o", out, "f.bin"}, ""},
		{"get QUICXFER_ID", []string{"QUICXFER_ID=" + zero}, []string{"get", "--seed", u, "-o", out, "f.bin"}, " (from QUICXFER_ID)"},
		{"get --manifest --mirror", nil, []string{"get", "--id", zero, "--manifest", mfile, "--mirror", mirror.URL + "/f.bin", "-o", out}, ""},
		{"get --all", nil, []string{"get", "--id", zero, "--seed", u, "--all", "-o", outDir}, ""},
		{"seed --from", nil, []string{"seed", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--from", u, "--id", zero, outDir}, ""},
		{"seed --from QUICXFER_ID", []string{"QUICXFER_ID=" + zero}, []string{"seed", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--from", u, "--name", "f.bin", outDir}, " (from QUICXFER_ID)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBounded(t, tc.env, tc.args...)
			requireUsage(t, r, "--id"+tc.from+": the all-zero content ID")
			requireNothingIn(t, outDir)
		})
	}
}

// TestGetNameIsURL: a URL where NAME goes is a usage error that says where
// it belongs (--seed for a seed's, --mirror for an HTTP(S) one), without a
// password it holds, and before anything is fetched or written.
func TestGetNameIsURL(t *testing.T) {
	src := t.TempDir()
	writeRandom(t, filepath.Join(src, "f.bin"), 1000, 32)
	u := startSeed(t, src)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "x.bin")

	r := runBounded(t, nil, "get", "--seed", u, "-o", out, u)
	requireUsage(t, r, "is a URL", "--seed URL", "quicxfer ls")
	// An http(s) URL is a mirror: with a seed, NAME is still needed.
	r = runBounded(t, nil, "get", "--seed", u, "-o", out, "https://user:hunter2@mirror.example/f.bin")
	requireUsage(t, r, "NAME", "mirrors")
	require.NotContains(t, r.stderr, "hunter2")
	r = runBounded(t, nil, "get", "--seed", u, "-o", outDir, u+"/")
	requireUsage(t, r, "is a URL", "--seed URL")
	requireNothingIn(t, outDir)
}

// TestAddressFlagsAreUsageErrors: a HOST:PORT flag that cannot be an
// address (a port past 65535, none, a host that is neither an IP address
// nor a host name) is a usage error naming the flag, for get --serve's
// --listen as for seed's --listen and --metrics, from the command line or
// the environment, before anything is fetched or bound.
func TestAddressFlagsAreUsageErrors(t *testing.T) {
	src := t.TempDir()
	writeRandom(t, filepath.Join(src, "f.bin"), 1000, 33)
	u := startSeed(t, src)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "x.bin")
	getServe := func(listen string) []string {
		return []string{"get", "--serve", "--listen", listen, "--seed", u, "-o", out, "f.bin"}
	}
	seedWith := func(flag, addr string) []string {
		return []string{"seed", "--state-dir", t.TempDir(), "--listen", "127.0.0.1:0", flag, addr, src}
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"get --serve --listen port", nil, getServe("127.0.0.1:99999"), []string{"--listen: ", "bad port"}},
		{"get --serve --listen no port", nil, getServe("127.0.0.1"), []string{"--listen: ", "want HOST:PORT"}},
		{"get --serve --listen bad IPv4", nil, getServe("10.0.0.256:0"), []string{"--listen: ", "bad host"}},
		{"get --serve --listen from env", []string{"QUICXFER_LISTEN=127.0.0.1:65536"},
			[]string{"get", "--serve", "--seed", u, "-o", out, "f.bin"}, []string{"--listen (from QUICXFER_LISTEN): ", "bad port"}},
		{"seed --listen port", nil, seedWith("--listen", "127.0.0.1:99999"), []string{"--listen: ", "bad port"}},
		{"seed --listen host", nil, seedWith("--listen", "bad host:0"), []string{"--listen: ", "bad host"}},
		{"seed --metrics port", nil, seedWith("--metrics", "127.0.0.1:70000"), []string{"--metrics: ", "bad port"}},
		{"seed --metrics from env", []string{"QUICXFER_METRICS=127.0.0.1:-1"},
			[]string{"seed", "--state-dir", t.TempDir(), "--listen", "127.0.0.1:0", src}, []string{"--metrics (from QUICXFER_METRICS): ", "bad port"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBounded(t, tc.env, tc.args...)
			requireUsage(t, r, tc.want...)
			requireNothingIn(t, outDir)
		})
	}
}
