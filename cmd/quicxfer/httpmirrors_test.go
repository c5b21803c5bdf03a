package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/nginxtest"
	"github.com/quicxfer/quicxfer/internal/socks5test"
	"github.com/quicxfer/quicxfer/internal/testkit"
)

// nginxMirrors serves data as NAME from n nginx servers, each its own
// mirror: their URLs.
func nginxMirrors(t *testing.T, n int, name string, data []byte) []string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "pub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "pub", name), data, 0o644))
	var urls []string
	for range n {
		urls = append(urls, nginxtest.Start(t, root, "").URL+"/pub/"+name)
	}
	return urls
}

// liar serves a file of data's size with other bytes, honouring ranges.
func liar(t *testing.T, name string, data []byte) string {
	t.Helper()
	other := bytes.Clone(data)
	for i := range other {
		other[i] ^= 0xa5
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(other))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/pub/" + name
}

type mirrorsJSON struct {
	Name     string `json:"name"`
	Verified *bool  `json:"verified"`
	Size     int64  `json:"size"`
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	Seeds    []struct {
		URL       string `json:"url"`
		Bytes     int64  `json:"bytes"`
		BadBlocks int64  `json:"bad_blocks"`
		Note      string `json:"note"`
	} `json:"seeds"`
}

func parseMirrorsJSON(t *testing.T, stdout string) mirrorsJSON {
	t.Helper()
	var j mirrorsJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &j), stdout)
	require.NotNil(t, j.Verified, "--json always has \"verified\": %s", stdout)
	return j
}

// TestGetHTTPMirrorsAlone: `get URL URL URL` from nginx mirrors, no seed
// and no manifest: without a hash the file is exact and --json says
// "verified": false; with --checksum, or the line of --checksum-file for
// OUT's name, "verified": true; a checksum the file does not match fails
// with one line and leaves no OUT; a malformed one is a usage error.
func TestGetHTTPMirrorsAlone(t *testing.T) {
	data := writeRandom(t, filepath.Join(t.TempDir(), "src"), 3<<20+123, 70)
	urls := nginxMirrors(t, 3, "debian-13.iso", data)
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])

	wd := t.TempDir()
	r := runEnv(t, wd, nil, append([]string{"get", "--json"}, urls...)...)
	require.Zero(t, r.code, r.stderr)
	j := parseMirrorsJSON(t, r.stdout)
	require.False(t, *j.Verified)
	require.Len(t, j.Seeds, 3)
	requireFile(t, filepath.Join(wd, "debian-13.iso"), data)

	r = runEnv(t, wd, nil, append([]string{"get", "-o", "checked.iso", "--checksum", "sha-256=" + hexSum}, urls...)...)
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stderr, "verified against its published hash")
	requireFile(t, filepath.Join(wd, "checked.iso"), data)

	sums := filepath.Join(t.TempDir(), "SHA256SUMS")
	other := sha256.Sum256([]byte("x"))
	require.NoError(t, os.WriteFile(sums, fmt.Appendf(nil, "%x  other.iso\n%s  sums.iso\n", other, hexSum), 0o644))
	r = runEnv(t, wd, nil, "get", "--json", "-o", "sums.iso", "--checksum-file", sums, "--mirror", urls[0], "--mirror", urls[1])
	require.Zero(t, r.code, r.stderr)
	require.True(t, *parseMirrorsJSON(t, r.stdout).Verified)
	requireFile(t, filepath.Join(wd, "sums.iso"), data)

	// No line for OUT's name.
	r = runEnv(t, wd, nil, "get", "-o", "unlisted.iso", "--checksum-file", sums, urls[0])
	require.Equal(t, 1, r.code, r.stderr)
	requireOneLine(t, r, "unlisted.iso")

	// The wrong hash: one line, nothing at OUT.
	r = runEnv(t, wd, nil, append([]string{"get", "--json", "-o", "wrong.iso", "--checksum", "sha-256=" + hex.EncodeToString(other[:])}, urls...)...)
	require.Equal(t, 1, r.code, r.stderr)
	require.False(t, *parseMirrorsJSON(t, r.stdout).Verified)
	require.Contains(t, r.stderr, "does not match its checksum")
	_, err := os.Stat(filepath.Join(wd, "wrong.iso"))
	require.ErrorIs(t, err, os.ErrNotExist)

	for _, bad := range []string{"sha-256=zz", "crc32=1234", "sha-256", "md5=" + hexSum} {
		r = runEnv(t, wd, nil, "get", "-o", "bad.iso", "--checksum", bad, urls[0])
		require.Equal(t, 2, r.code, "--checksum %s: %s", bad, r.stderr)
		requireOneLine(t, r, "--checksum")
	}
}

// TestGetHTTPMirrorsLiar: beside two nginx mirrors, one that serves
// another file of the same size: with no checksum it is left out (its
// bytes differ from the others'), and the file is exact.
func TestGetHTTPMirrorsLiar(t *testing.T) {
	data := writeRandom(t, filepath.Join(t.TempDir(), "src"), 2<<20, 71)
	urls := append(nginxMirrors(t, 2, "f.bin", data), liar(t, "f.bin", data))
	out := filepath.Join(t.TempDir(), "f.bin")
	r := run(t, append([]string{"get", "--json", "-o", out}, urls...)...)
	require.Zero(t, r.code, r.stderr)
	requireFile(t, out, data)
	j := parseMirrorsJSON(t, r.stdout)
	require.Zero(t, j.Seeds[2].Bytes)
	require.Contains(t, j.Seeds[2].Note, "differ")
	require.Contains(t, r.stderr, "differ")
}

// meta4 writes testkit.Meta4's Metalink to path.
func meta4(t *testing.T, path string, pieceLen int, files ...testkit.Meta4File) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, testkit.Meta4(pieceLen, files...), 0o644))
}

// TestGetMetalink: a Metalink 4 with piece hashes (of an odd length) and
// one lying mirror among nginx ones, as a positional FILE.meta4 and with
// --metalink URL: every piece is verified before it is kept, the liar's
// are rejected, the file is exact, each mirror has its entry in --json; a
// multi-file Metalink downloads like a directory; a hostile one (a "../"
// name) is refused with one line and nothing written.
func TestGetMetalink(t *testing.T) {
	data := writeRandom(t, filepath.Join(t.TempDir(), "src"), 3<<20+99, 72)
	urls := nginxMirrors(t, 2, "foo.iso", data)
	bad := liar(t, "foo.iso", data)
	dir := t.TempDir()
	ml := filepath.Join(dir, "foo.iso.meta4")
	meta4(t, ml, 300_000, testkit.Meta4File{Name: "foo.iso", Data: data, URLs: []string{bad, urls[0], urls[1]}})

	wd := t.TempDir()
	r := runEnv(t, wd, nil, "get", "--json", ml)
	require.Zero(t, r.code, r.stderr)
	requireFile(t, filepath.Join(wd, "foo.iso"), data)
	j := parseMirrorsJSON(t, r.stdout)
	require.True(t, *j.Verified)
	require.Len(t, j.Seeds, 3)
	require.Equal(t, bad, j.Seeds[0].URL, "the Metalink's priority order")
	require.Positive(t, j.Seeds[0].BadBlocks)
	require.Zero(t, j.Seeds[0].Bytes)
	require.Contains(t, r.stderr, "metaurl")

	// The Metalink from a URL (nginx serves it), into -o.
	root := t.TempDir()
	require.NoError(t, os.Rename(ml, filepath.Join(root, "foo.iso.meta4")))
	mlURL := nginxtest.Start(t, root, "").URL + "/foo.iso.meta4"
	out := filepath.Join(t.TempDir(), "x.iso")
	r = run(t, "get", "--metalink", mlURL, "-o", out)
	require.Zero(t, r.code, r.stderr)
	requireFile(t, out, data)

	// Several files: a directory.
	data2 := writeRandom(t, filepath.Join(t.TempDir(), "src2"), 1<<20, 73)
	urls2 := nginxMirrors(t, 1, "b.bin", data2)
	multi := filepath.Join(dir, "set.meta4")
	meta4(t, multi, 256<<10, testkit.Meta4File{Name: "foo.iso", Data: data, URLs: urls}, testkit.Meta4File{Name: "sub/b.bin", Data: data2, URLs: urls2})
	outDir := filepath.Join(t.TempDir(), "set")
	r = run(t, "get", "--quiet", "-o", outDir, multi)
	require.Zero(t, r.code, r.stderr)
	requireFile(t, filepath.Join(outDir, "foo.iso"), data)
	requireFile(t, filepath.Join(outDir, "sub", "b.bin"), data2)

	// Hostile names: refused before anything is written.
	hostile := filepath.Join(dir, "evil.meta4")
	meta4(t, hostile, 256<<10, testkit.Meta4File{Name: "../evil.iso", Data: data, URLs: urls})
	wd2 := t.TempDir()
	r = runEnv(t, wd2, nil, "get", hostile)
	require.Equal(t, 1, r.code, r.stderr)
	requireOneLine(t, r, "evil.iso")
	requireEmptyDir(t, wd2)
}

// TestGetHTTPMirrorsInterrupted: Ctrl-C in the middle of a get from mirrors
// alone with a checksum, and from a Metalink, keeps what was verified; the
// same command resumes and ends with the exact file, verified.
func TestGetHTTPMirrorsInterrupted(t *testing.T) {
	data := writeRandom(t, filepath.Join(t.TempDir(), "src"), 12<<20, 74)
	sum := sha256.Sum256(data)
	u1, u2 := startHTTPMirror(t, "big.iso", data, 2e6), startHTTPMirror(t, "big.iso", data, 1e6)
	ml := filepath.Join(t.TempDir(), "big.meta4")
	meta4(t, ml, 256<<10, testkit.Meta4File{Name: "big.iso", Data: data, URLs: []string{u1, u2}})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"checksum", []string{"--checksum", "sha-256=" + hex.EncodeToString(sum[:]), u1, u2}},
		{"Metalink", []string{ml}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "big.iso")
			args := append([]string{"get", "--json", "-o", out}, tc.args...)
			p := startProc(t, args...)
			waitVerified(t, out)
			code := p.stop(t, os.Interrupt)
			requireInterrupted(t, code, collect(p), p.stderr.String(), "interrupted; verified blocks are saved in "+out+".qxpart: run the same command to resume")
			st := run(t, "status", out)
			require.Zero(t, st.code, st.stderr)
			require.Contains(t, st.stdout, "no content ID")
			require.NotContains(t, st.stdout, "content ID  ")
			require.Contains(t, st.stdout, tc.args[len(tc.args)-1], "the command to resume names the mirrors (or the Metalink)")
			r := run(t, args...)
			require.Zero(t, r.code, r.stderr)
			requireFile(t, out, data)
			j := parseMirrorsJSON(t, r.stdout)
			require.True(t, *j.Verified)
			var resumed struct {
				Resumed int64 `json:"resumed_bytes"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &resumed))
			require.Positive(t, resumed.Resumed)
		})
	}
}

// TestGetMetalinkAndSeed: a Metalink's mirrors and a seed together: the
// seed gives the manifest (asked for the Metalink's file name), every
// source's blocks are verified against it, and the Metalink's whole-file
// hash is checked too.
func TestGetMetalinkAndSeed(t *testing.T) {
	src := t.TempDir()
	data := writeRandom(t, filepath.Join(src, "foo.iso"), 3<<20, 75)
	u := startSeed(t, "--rate-limit", "4MB/s", src)
	urls := nginxMirrors(t, 2, "foo.iso", data)
	ml := filepath.Join(t.TempDir(), "foo.meta4")
	meta4(t, ml, 0, testkit.Meta4File{Name: "foo.iso", Data: data, URLs: urls})
	out := filepath.Join(t.TempDir(), "foo.iso")
	r := run(t, "get", "--json", "--metalink", ml, "--seed", u, "-o", out)
	require.Zero(t, r.code, r.stderr)
	requireFile(t, out, data)
	j := parseMirrorsJSON(t, r.stdout)
	require.True(t, *j.Verified)
	require.Len(t, j.Seeds, 3)
	require.Equal(t, u, j.Seeds[0].URL)

	// The Metalink's hash is not the seed's file: the get fails at the end.
	other := filepath.Join(t.TempDir(), "other.meta4")
	meta4(t, other, 0, testkit.Meta4File{Name: "foo.iso", Data: data[1:], URLs: urls})
	r = run(t, "get", "--quiet", "--metalink", other, "--seed", u, "-o", filepath.Join(t.TempDir(), "foo.iso"))
	require.Equal(t, 1, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	require.Contains(t, lines[len(lines)-1], "does not match its sha-256 checksum")
}

// TestGetAllProxy: mirrors through a SOCKS5 proxy, from --all-proxy or
// ALL_PROXY (an http:// ALL_PROXY, meant for curl, is left to HTTPS_PROXY);
// bad values of --all-proxy and --http3 are usage errors.
func TestGetAllProxy(t *testing.T) {
	data := writeRandom(t, filepath.Join(t.TempDir(), "src"), 1<<20, 76)
	u := startHTTPMirror(t, "f.bin", data, 100e6)
	clean := []string{"NO_PROXY=", "no_proxy=", "ALL_PROXY=", "all_proxy="}
	px := socks5test.New(t, socks5test.Options{User: "me", Password: "secret"})
	work := t.TempDir()
	r := runEnv(t, work, clean, "get", "--quiet", "--all-proxy", px.URL("socks5h"), "-o", "a.bin", u)
	require.Zero(t, r.code, r.stderr)
	requireFile(t, filepath.Join(work, "a.bin"), data)
	require.Positive(t, px.Conns())

	px2 := socks5test.New(t, socks5test.Options{})
	r = runEnv(t, work, append(clean, "ALL_PROXY="+px2.URL("socks5")), "get", "--quiet", "-o", "b.bin", u)
	require.Zero(t, r.code, r.stderr)
	require.Positive(t, px2.Conns())
	r = runEnv(t, work, append(clean, "ALL_PROXY=http://127.0.0.1:1"), "get", "--quiet", "-o", "c.bin", u)
	require.Zero(t, r.code, r.stderr)

	for _, args := range [][]string{
		{"--all-proxy", "http://127.0.0.1:1"},
		{"--all-proxy", "socks5://"},
		{"--http3", "sometimes"},
		{"--http3", "always", "--all-proxy", px.URL("socks5")},
	} {
		r = runEnv(t, work, clean, append(append([]string{"get", "-o", "d.bin"}, args...), u)...)
		require.Equal(t, 2, r.code, "%v: %s", args, r.stderr)
		requireOneLine(t, r, args[0])
		require.NotContains(t, r.stderr, "secret")
	}
}
