package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// TestCertWords: a seed's certificate that does not check out is said with
// what to add (the pin, --ca; --from-ca for seed --from), wherever it is in
// the chain, and the chain still matches.
func TestCertWords(t *testing.T) {
	cve := &tls.CertificateVerificationError{Err: x509.HostnameError{Host: "127.0.0.1", Certificate: &x509.Certificate{}}}
	mirrorErr := &url.Error{Op: "Get", URL: "https://m.example/f", Err: cve}
	for _, tc := range []struct {
		name string
		err  error
		w    flagWords
		cli  string
	}{
		{"no pin", fmt.Errorf("quic://a: %w", cve), clientFlags, "quic://a: this seed's certificate is not trusted: add its pin (?pin=...) or --ca"},
		{"no pin, seed --from", cve, fromFlags, "this seed's certificate is not trusted: add its pin (?pin=...) or --from-ca"},
		{"mirror", mirrorErr, clientFlags, `Get "https://m.example/f": the mirror's certificate is not trusted: give its CA with --ca`},
		{"wrong pin", fmt.Errorf("dialing: %w", wire.ErrPinMismatch), clientFlags, "dialing: pin mismatch: its certificate does not match the ?pin= in the URL (a wrong URL, or not the seed you think)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := cliError(tc.err, tc.w)
			require.Equal(t, tc.cli, e.Error())
			require.ErrorIs(t, e, tc.err)
			require.NotContains(t, describe(tc.err, tc.w), "x509")
		})
	}
	require.Equal(t, "pin mismatch: its certificate does not match the ?pin= in the URL (a wrong URL, or not the seed you think)", describe(wire.ErrPinMismatch, clientFlags))
}

// getResult is --json's object as these tests read it.
type getResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Seeds []struct {
		URL    string `json:"url"`
		Bytes  int64  `json:"bytes"`
		Blocks int64  `json:"blocks"`
		Note   string `json:"note"`
	} `json:"seeds"`
}

func parseResult(t *testing.T, stdout string) getResult {
	t.Helper()
	var j getResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &j), stdout)
	return j
}

// closedPort is the address of a TCP port on 127.0.0.1 that nothing
// listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// TestActionableMessages: what a get that cannot start says is what to do,
// in one line, never Go's internals (x509, "no usable seed" of mirrors), and
// --json lists every source given, however early it ended.
func TestActionableMessages(t *testing.T) {
	src := t.TempDir()
	writeRandom(t, filepath.Join(src, "f.bin"), 300<<10, 71)
	u := startSeed(t, src)
	noPin := strings.Split(u, "?")[0]
	work := t.TempDir()
	out := filepath.Join(work, "x.bin")

	t.Run("a seed without a pin", func(t *testing.T) {
		r := run(t, "get", "--seed", noPin, "--json", "--quiet", "-o", out, "f.bin")
		requireOneLine(t, r, "this seed's certificate is not trusted: add its pin (?pin=...) or --ca")
		require.NotContains(t, r.stderr, "x509")
		j := parseResult(t, r.stdout)
		require.Contains(t, j.Error, "add its pin (?pin=...) or --ca")
		require.Len(t, j.Seeds, 1)
		require.Equal(t, noPin, j.Seeds[0].URL)
		require.Zero(t, j.Seeds[0].Bytes)
		require.Contains(t, j.Seeds[0].Note, "not trusted")
		requireOneLine(t, run(t, "ls", "--seed", noPin), "this seed's certificate is not trusted: add its pin (?pin=...) or --ca")
	})
	t.Run("a wrong pin", func(t *testing.T) {
		r := run(t, "get", "--seed", noPin+"?pin="+strings.Repeat("A", 43), "--quiet", "-o", out, "f.bin")
		requireOneLine(t, r, "pin mismatch")
	})
	t.Run("mirrors alone", func(t *testing.T) {
		mfile := filepath.Join(work, "f.qxm")
		require.Zero(t, run(t, "manifest", "--out", mfile, filepath.Join(src, "f.bin")).code)
		dead := "http://" + closedPort(t) + "/f.bin"
		r := run(t, "get", "--manifest", mfile, "--mirror", dead, "--retries", "1", "--quiet", "--json", "-o", out)
		require.Equal(t, exitFailure, r.code, r.stderr)
		require.Contains(t, r.stderr, "quicxfer: no usable mirror: ")
		require.NotContains(t, r.stderr, "seed")
		j := parseResult(t, r.stdout)
		require.NotContains(t, j.Error, "seed")
		require.Len(t, j.Seeds, 1)
	})
	t.Run("every source listed on an early error", func(t *testing.T) {
		dead := "http://" + closedPort(t) + "/f.bin"
		r := run(t, "get", "--seed", u, "--seed", noPin, "--mirror", dead, "--manifest", filepath.Join(work, "nosuch.qxm"), "--json", "--quiet", "-o", out, "f.bin")
		requireOneLine(t, r, "--manifest: ")
		j := parseResult(t, r.stdout)
		require.False(t, j.OK)
		var urls []string
		for _, s := range j.Seeds {
			urls = append(urls, s.URL)
			require.Zero(t, s.Bytes)
			require.Zero(t, s.Blocks)
			require.Contains(t, s.Note, "nosuch.qxm")
		}
		require.Equal(t, []string{u, noPin, dead}, urls)
	})
}

// TestStatusNotDownloaded: status of a file that no get made (no working
// files, no mark) says so in one line, exit 1, instead of "complete"; a
// file a get finished is complete, with its content ID.
func TestStatusNotDownloaded(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "plain.bin")
	require.NoError(t, os.WriteFile(plain, []byte("someone's file"), 0o644))
	if _, _, unsupported := doneMark(plain); unsupported {
		t.Skip("this file system keeps no user attributes: status cannot tell, and says complete")
	}
	r := run(t, "status", plain)
	requireOneLine(t, r, plain+" exists but was not downloaded by quicxfer (no state)")
	require.Equal(t, exitFailure, r.code)
	require.NotContains(t, r.stdout, "complete")

	src := t.TempDir()
	data := writeRandom(t, filepath.Join(src, "f.bin"), 300<<10, 72)
	u := startSeed(t, src)
	out := filepath.Join(t.TempDir(), "f.bin")
	g := run(t, "get", "--seed", u, "--quiet", "--json", "-o", out, "f.bin")
	require.Zero(t, g.code, g.stderr)
	requireFile(t, out, data)
	st := statusOf(t, out)
	require.Equal(t, "complete", st.State)
	var j struct {
		ContentID string `json:"content_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(g.stdout), &j))
	require.Equal(t, j.ContentID, st.ContentID)
}
