package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/testpki"
)

func TestGetServe(t *testing.T) {
	dir := t.TempDir()
	const size = 2 << 20
	data := writeRandom(t, filepath.Join(dir, "f.bin"), size, 11)
	origin := startSeed(t, "--rate-limit", "4MB/s", dir)

	// A downloads with --serve: it prints its own URL, then its JSON, and
	// keeps seeding after completion.
	outA := filepath.Join(t.TempDir(), "f.bin")
	a := startProc(t, "get", "--serve", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--upload-limit", "50MB/s",
		"--seed", origin, "-o", outA, "--quiet", "--json", "f.bin")
	aURL := a.url(t)
	require.True(t, strings.HasPrefix(aURL, "quic://127.0.0.1:"), aURL)
	var res getJSON
	require.NoError(t, json.Unmarshal([]byte(a.line(t)), &res))
	require.Equal(t, int64(size), res.Size)
	requireFile(t, outA, data)

	// B, given only A's URL, gets the file from A after A completed.
	outB := filepath.Join(t.TempDir(), "f.bin")
	r := run(t, "get", "--seed", aURL, "-o", outB, "--quiet", "--json", "f.bin")
	require.Zero(t, r.code, r.stderr)
	requireFile(t, outB, data)

	// C, given only the origin's URL, learns A from it (A registered).
	outC := filepath.Join(t.TempDir(), "f.bin")
	r = run(t, "get", "--seed", origin, "-o", outC, "--quiet", "--json", "f.bin")
	require.Zero(t, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
	var urls []string
	for _, s := range res.Seeds {
		urls = append(urls, s.URL)
	}
	require.Contains(t, urls, aURL, "C discovered A: %s", r.stderr)

	// A seeds until stopped, then exits 0: its download had succeeded.
	require.Zero(t, a.stop(t, syscall.SIGINT), a.stderr.String())

	// With --seed-time, it stops by itself.
	outD := filepath.Join(t.TempDir(), "f.bin")
	d := startProc(t, "get", "--serve", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--seed-time", "500ms",
		"--seed", origin, "-o", outD, "--quiet", "f.bin")
	d.url(t)
	require.Zero(t, d.wait(t), d.stderr.String())
	require.Contains(t, d.stderr.String(), "seeding for 500ms")
}

func TestGetServeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"get", "--seed", "quic://127.0.0.1:1", "--seed-time", "1s", "f"},
		{"get", "--seed", "quic://127.0.0.1:1", "--listen", "127.0.0.1:0", "f"},
		{"get", "--seed", "quic://127.0.0.1:1", "--serve", "--upload-limit", "fast", "f"},
		{"get", "--seed", "quic://127.0.0.1:1", "--serve", "--upload-limit", "0%", "f"},
		{"get", "--seed", "quic://127.0.0.1:1", "--serve", "--upload-limit", "150%", "f"},
		{"get", "--seed", "quic://127.0.0.1:1", "--max-peers", "-1", "f"},
		{"seed", "--id", "00", "dir"},
		{"seed", "--from", "quic://127.0.0.1:1", "dir"},
		{"seed", "--from", "quic://127.0.0.1:1", "--id", "xyz", "dir"},
		{"seed", "--from", "quic://127.0.0.1:1", "--name", "a", "d1", "d2"},
		{"seed", "--from", "http://x", "--name", "a", "d1"},
		{"seed", "--from", "quic://127.0.0.1:1", "--name", "../a", "d1"},
	} {
		r := run(t, args...)
		require.Equal(t, 2, r.code, "%v: %s", args, r.stderr)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line: %q", r.stderr)
	}
}

// TestSeedFrom: B fills from A, is interrupted, resumes, then serves a
// client while A is gone.
func TestSeedFrom(t *testing.T) {
	dir := t.TempDir()
	const size = 8 << 20
	data := writeRandom(t, filepath.Join(dir, "isos", "f.bin"), size, 12)
	r := run(t, "manifest", filepath.Join(dir, "isos", "f.bin"))
	require.Zero(t, r.code, r.stderr)
	id := strings.Fields(r.stdout)[0]

	a := startProc(t, "seed", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--rate-limit", "4MB/s", dir)
	aURL := a.url(t)

	bdir := t.TempDir()
	bstate := t.TempDir()
	out := filepath.Join(bdir, "isos", "f.bin")
	args := []string{"seed", "--from", aURL, "--id", id, "--listen", "127.0.0.1:0", "--state-dir", bstate, bdir}
	b := startProc(t, args...)
	b.url(t)
	waitFor(t, "a quarter of the file", func() bool {
		fi, err := os.Stat(out + ".qxpart")
		return err == nil && allocated(fi) >= size/4
	})
	require.Equal(t, 130, b.stop(t, syscall.SIGINT), b.stderr.String())
	require.Contains(t, b.stderr.String(), "run the same command to resume")
	_, err := os.Stat(out)
	require.ErrorIs(t, err, os.ErrNotExist)

	b = startProc(t, args...)
	bURL := b.url(t)
	waitFor(t, "the file complete", func() bool { _, err := os.Stat(out); return err == nil })
	waitFor(t, "B to say it is a full seed", func() bool { return strings.Contains(b.stderr.String(), "now a full seed") })
	require.Regexp(t, `\([0-9]+ bytes, [1-9][0-9]+ resumed\)`, b.stderr.String(), "the second run resumed")
	requireFile(t, out, data)

	// The same command again, with A gone (by content ID, then by name):
	// complete, nothing to fetch or hash, and it serves a client.
	require.Zero(t, b.stop(t, syscall.SIGTERM), b.stderr.String())
	require.Zero(t, a.stop(t, syscall.SIGTERM), a.stderr.String())
	byName := []string{"seed", "--from", aURL, "--name", "isos/f.bin", "--listen", "127.0.0.1:0", "--state-dir", bstate, bdir}
	for _, args := range [][]string{args, byName} {
		b = startProc(t, args...)
		bURL = b.url(t)
		waitFor(t, "B to see the file complete", func() bool { return strings.Contains(b.stderr.String(), "already complete") })
		cout := filepath.Join(t.TempDir(), "f.bin")
		r = run(t, "get", "--seed", bURL, "-o", cout, "--quiet", "--json", "--max-peers", "0", "isos/f.bin")
		require.Zero(t, r.code, r.stderr)
		requireFile(t, cout, data)
		require.Zero(t, b.stop(t, syscall.SIGTERM), b.stderr.String())
	}

	// Later, a plain seed of B's directory finds the manifest in its cache.
	s := startProc(t, "seed", "--listen", "127.0.0.1:0", "--state-dir", bstate, "--log-level", "info", bdir)
	s.url(t)
	waitFor(t, "the seed's ready log", func() bool { return strings.Contains(s.stderr.String(), "seed ready") })
	require.Contains(t, s.stderr.String(), "from_cache=1")
	require.Zero(t, s.stop(t, syscall.SIGTERM))
}

// TestGetServePrivate: a file downloaded from a private seed is shared only
// with those who hold its token: the --serve side requires the token it
// was given; --serve with only a client certificate is refused.
func TestGetServePrivate(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), 1<<20, 13)
	state := t.TempDir()
	origin := startSeed(t, "--token", "s3cret-token", "--state-dir", state, dir)

	outA := filepath.Join(t.TempDir(), "f.bin")
	a := startProc(t, "get", "--serve", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--token", "s3cret-token",
		"--seed", origin, "-o", outA, "--quiet", "--json", "f.bin")
	aURL := a.url(t)
	a.line(t) // its JSON: done, now seeding
	requireFile(t, outA, data)

	requireTokenNeeded(t, aURL, "s3cret-token", data)

	// Any certificate will do to show the refusal: the seed's own.
	r := run(t, "get", "--serve", "--seed", origin, "--client-cert", filepath.Join(state, "seed-cert.pem"),
		"--client-key", filepath.Join(state, "seed-key.pem"), "-o", filepath.Join(t.TempDir(), "x"), "f.bin")
	require.Equal(t, 2, r.code, r.stderr)
	require.Contains(t, r.stderr, "--serve with --client-cert")
}

// TestSeedFromPrivate: a private replica of a private seed presents its own
// token to the --from seed, and requires it of its clients.
func TestSeedFromPrivate(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), 1<<20, 14)
	origin := startSeed(t, "--token", "swarm-token", dir)
	bdir := t.TempDir()
	b := startProc(t, "seed", "--from", origin, "--name", "f.bin", "--token", "swarm-token", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), bdir)
	bURL := b.url(t)
	waitFor(t, "B to say it is a full seed", func() bool { return strings.Contains(b.stderr.String(), "now a full seed") })

	requireTokenNeeded(t, bURL, "swarm-token", data)
	require.Zero(t, b.stop(t, syscall.SIGTERM), b.stderr.String())
}

// TestSeedFromMutualTLS: a replica presents --from-client-cert to a --from
// seed that requires client certificates; without one it stops at once with
// a one-line "not authorised". The replica is private too (a replica with
// --from-client-cert must be: TestSeedFromClientCertNeedsCredentials).
func TestSeedFromMutualTLS(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), 1<<20, 15)
	ca := testpki.NewCA(t, "replicas")
	_, certPEM, keyPEM := ca.Issue(t, false)
	origin := startSeed(t, "--client-ca", testpki.WritePEM(t, ca.PEM), dir)

	r := run(t, "seed", "--from", origin, "--name", "f.bin", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), t.TempDir())
	require.Equal(t, 1, r.code, r.stderr)
	require.Contains(t, r.stderr, "not authorised: this seed needs a client certificate (--from-client-cert and --from-client-key)")
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)

	b := startProc(t, "seed", "--from", origin, "--name", "f.bin", "--from-client-cert", testpki.WritePEM(t, certPEM),
		"--from-client-key", testpki.WritePEM(t, keyPEM), "--token", "replica-token", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), t.TempDir())
	bURL := b.url(t)
	waitFor(t, "B to say it is a full seed", func() bool { return strings.Contains(b.stderr.String(), "now a full seed") })
	requireTokenNeeded(t, bURL, "replica-token", data)
	require.Zero(t, b.stop(t, syscall.SIGTERM), b.stderr.String())

	r = run(t, "seed", "--from-ca", "x.pem", dir)
	require.Equal(t, 2, r.code, r.stderr)
	require.Contains(t, r.stderr, "--from-ca goes with --from")
}
