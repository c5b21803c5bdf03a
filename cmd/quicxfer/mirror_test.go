package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quicxfer/quicxfer/internal/paced"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// startHTTPMirror serves data at /pub/NAME over HTTP on 127.0.0.1, at most
// bytesPerSec over all connections, with http.ServeContent (ranges).
func startHTTPMirror(t *testing.T, name string, data []byte, bytesPerSec float64) string {
	t.Helper()
	lim := rate.NewLimiter(rate.Limit(bytesPerSec), 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pub/"+name {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(&paced.ResponseWriter{ResponseWriter: w, Lim: lim, Ctx: r.Context()}, r, "", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/pub/" + name
}

// TestGetMirrors drives the binary: `manifest --out` writes the manifest
// and prints the same ID as `manifest`; `get` mixes a seed and two mirrors,
// and then uses the mirrors alone with --manifest; in --json every mirror
// has an entry of the same shape as a seed's.
func TestGetMirrors(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "isos", "a.iso")
	data := writeRandom(t, src, 3<<20+11, 40)
	u := startSeed(t, "--rate-limit", "6MB/s", dir)
	m1 := startHTTPMirror(t, "a.iso", data, 6e6)
	m2 := startHTTPMirror(t, "a.iso", data, 3e6)

	mfile := filepath.Join(t.TempDir(), "a.iso.qxm")
	man := run(t, "manifest", "--out", mfile, src)
	require.Zero(t, man.code, man.stderr)
	plain := run(t, "manifest", src)
	require.Equal(t, plain.stdout, man.stdout, "--out prints the same content ID")
	id := strings.TrimSpace(plain.stdout)

	// A seed and two mirrors, manifest from the seed.
	out := filepath.Join(t.TempDir(), "a.iso")
	r := run(t, "get", "--seed", u, "--mirror", m1, "--mirror", m2, "-o", out, "--json", "isos/a.iso")
	require.Zero(t, r.code, r.stderr)
	j := requireJSON(t, r.stdout, len(data), []string{u, m1, m2})
	for _, s := range j.Seeds {
		require.Positive(t, s.Bytes, "every source carried a share: %+v", j.Seeds)
	}
	requireFile(t, out, data)
	require.Contains(t, r.stderr, m1, "the summary names the mirrors")

	// Mirrors alone, the manifest from the file, no NAME: OUT is named
	// after the first mirror's URL, in the current directory.
	wd := t.TempDir()
	cmd := exec.Command(bin, "get", "--manifest", mfile, "--mirror", m1, "--mirror", m2, "--json", "--quiet")
	cmd.Dir = wd
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	requireJSON(t, stdout.String(), len(data), []string{m1, m2})
	requireFile(t, filepath.Join(wd, "a.iso"), data)

	// The manifest file with --id: the same ID is fine, another is refused.
	out2 := filepath.Join(t.TempDir(), "b.iso")
	r = run(t, "get", "--manifest", mfile, "--id", id, "--mirror", m2, "--seed", u, "-o", out2, "--quiet", "whatever-name")
	require.Zero(t, r.code, r.stderr)
	other := strings.Repeat("ab", 32)
	r = run(t, "get", "--manifest", mfile, "--id", other, "--mirror", m2, "-o", filepath.Join(t.TempDir(), "c"), "--quiet")
	require.Equal(t, 1, r.code, r.stderr)
	require.Contains(t, r.stderr, other)
}

// requireJSON checks get's --json: the size, and one entry per source in
// the order given, whose bytes add up to the file.
func requireJSON(t *testing.T, stdout string, size int, urls []string) getJSON {
	t.Helper()
	var j getJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &j), stdout)
	require.Equal(t, int64(size), j.Size)
	require.Len(t, j.Seeds, len(urls))
	var sum int64
	for i, s := range j.Seeds {
		require.Equal(t, urls[i], s.URL)
		require.Zero(t, s.BadBlocks)
		sum += s.Bytes
	}
	require.Equal(t, j.Size, sum)
	// The same keys for every entry, seed or mirror.
	var raw struct {
		Seeds []map[string]any `json:"seeds"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &raw))
	for _, e := range raw.Seeds {
		for _, k := range []string{"url", "bytes", "blocks", "bad_blocks", "received_bytes"} {
			require.Contains(t, e, k)
		}
	}
	return j
}

// TestGetMirrorErrors: wrong calls are usage errors (2), a manifest file
// that is damaged or not one fails in one line (1), and nothing is written.
func TestGetMirrorErrors(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "f.bin")
	data := writeRandom(t, src, 300<<10, 41)
	m := startHTTPMirror(t, "f.bin", data, 100e6)
	mfile := filepath.Join(dir, "f.qxm")
	r := run(t, "manifest", "--out", mfile, src)
	require.Zero(t, r.code, r.stderr)
	good, err := os.ReadFile(mfile)
	require.NoError(t, err)
	truncated := filepath.Join(dir, "truncated.qxm")
	require.NoError(t, os.WriteFile(truncated, good[:len(good)-7], 0o644))
	flipped := filepath.Join(dir, "flipped.qxm")
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 1
	require.NoError(t, os.WriteFile(flipped, bad, 0o644))

	outDir := t.TempDir()
	out := filepath.Join(outDir, "o")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"mirror, bad checksum", []string{"get", "--checksum", "sha-256=zz", m, "-o", out}, 2, "--checksum"},
		{"mirror, two Metalinks", []string{"get", "a.meta4", "b.metalink", "-o", out}, 2, "one Metalink"},
		{"mirror, missing Metalink", []string{"get", "--metalink", filepath.Join(dir, "nope.meta4"), "-o", out}, 1, "nope.meta4"},
		{"mirror, not a Metalink", []string{"get", "--metalink", src, "-o", out}, 1, "not a Metalink"},
		{"mirror, missing checksum file", []string{"get", "--checksum-file", filepath.Join(dir, "SUMS"), m, "-o", out}, 1, "SUMS"},
		{"no source", []string{"get", "--manifest", mfile, "-o", out}, 2, "--seed"},
		{"no NAME, no manifest", []string{"get", "--seed", "quic://127.0.0.1:1", "-o", out}, 2, "NAME"},
		{"no NAME, URL names no file", []string{"get", "--manifest", mfile, "--mirror", "http://127.0.0.1:1/"}, 2, "-o OUT"},
		{"truncated manifest", []string{"get", "--manifest", truncated, "--mirror", m, "-o", out}, 1, "--manifest"},
		{"damaged manifest", []string{"get", "--manifest", flipped, "--mirror", m, "-o", out}, 1, "damaged"},
		{"not a manifest", []string{"get", "--manifest", src, "--mirror", m, "-o", out}, 1, "not a quicxfer manifest file"},
		{"missing manifest", []string{"get", "--manifest", filepath.Join(dir, "nope"), "--mirror", m, "-o", out}, 1, "nope"},
		{"not an http URL", []string{"get", "--manifest", mfile, "--mirror", "ftp://127.0.0.1/f.bin", "-o", out}, 1, "mirror URL"},
		{"manifest --out to nowhere", []string{"manifest", "--out", filepath.Join(dir, "no", "such", "dir"), src}, 1, "manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			require.Equal(t, tc.code, r.code, r.stderr)
			require.Contains(t, r.stderr, tc.want)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line: %q", r.stderr)
			require.NotContains(t, r.stderr, "panic")
			entries, err := os.ReadDir(outDir)
			require.NoError(t, err)
			require.Empty(t, entries, "nothing written")
		})
	}
}
