package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/testpki"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// lyingOrigin is a seed that answers every manifest request with resp,
// whatever was asked, and refuses everything else. It returns its URL.
func lyingOrigin(t *testing.T, resp wire.ManifestResponse) string {
	t.Helper()
	ca := testpki.NewCA(t, "liar")
	pair, _, _ := ca.Issue(t, true, net.IPv4(127, 0, 0, 1))
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair}, NextProtos: []string{wire.ALPN},
	}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				for {
					str, err := conn.AcceptStream(ctx)
					if err != nil {
						return
					}
					req, err := wire.ReadRequest(bufio.NewReader(str))
					if _, ok := req.(*wire.ManifestRequest); err != nil || !ok {
						str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeNotFound))
						str.CancelRead(quic.StreamErrorCode(wire.ErrCodeNotFound))
						continue
					}
					_, _ = str.Write(resp.Append(nil))
					_ = str.Close()
				}
			}()
		}
	}()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		<-done
	})
	addr := ln.Addr().(*net.UDPAddr)
	return wire.URL{Host: "127.0.0.1", Port: uint16(addr.Port), Pin: wire.PinOf(pair.Leaf), HasPin: true}.String()
}

// TestSeedFromNameAsAsked: seed --from stores the file under the name it
// asked for, never under the one an origin answers with: an origin that
// answers with another name is refused (a one-line error, nothing
// written), and --name with --id asks by name, so an origin serving the
// same content under two names fills the one asked for.
func TestSeedFromNameAsAsked(t *testing.T) {
	src := t.TempDir()
	data := writeRandom(t, filepath.Join(src, "a.bin"), 1<<20, 41)
	require.NoError(t, os.WriteFile(filepath.Join(src, "b.bin"), data, 0o644))
	m, err := manifest.BuildFile(t.Context(), filepath.Join(src, "a.bin"), 1)
	require.NoError(t, err)

	for _, lie := range []string{"other.bin", "f.bin.qxcmd"} {
		liar := lyingOrigin(t, wire.ManifestResponse{Name: lie, Manifest: m})
		bdir := t.TempDir()
		for _, args := range [][]string{{"--name", "f.bin"}, {"--id", m.ID().String()}} {
			if args[0] == "--id" && lie == "other.bin" {
				continue // asked by content ID, any name that may be written is the file's
			}
			r := runRefused(t, append(append([]string{"seed", "--from", liar}, args...), "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), bdir)...)
			require.Equal(t, 1, r.code, "%v: %s", args, r.stderr)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			if args[0] == "--name" {
				require.Contains(t, r.stderr, `asked for "f.bin", it answered with the file "`+lie+`"`)
			} else {
				require.Contains(t, r.stderr, `"f.bin.qxcmd", a name ending in`)
			}
			requireEmptyDir(t, bdir)
		}
	}

	origin := startSeed(t, src)
	bdir := t.TempDir()
	b := startProc(t, "seed", "--from", origin, "--id", m.ID().String(), "--name", "b.bin", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), bdir)
	b.url(t)
	waitFor(t, "B to say it is a full seed", func() bool { return strings.Contains(b.stderr.String(), "now a full seed") })
	requireFile(t, filepath.Join(bdir, "b.bin"), data)
	_, err = os.Stat(filepath.Join(bdir, "a.bin"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Zero(t, b.stop(t, syscall.SIGTERM), b.stderr.String())

	r := runRefused(t, "seed", "--from", origin, "--name", "x.qxpart", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), t.TempDir())
	require.Equal(t, 2, r.code, r.stderr)
	require.Contains(t, r.stderr, "a download's own file")
}

// TestSeedFromNoSymlinks: seed --from makes DIR's subdirectories without
// going through a symbolic link, and does not write through one where the
// file or its part file belongs; nothing lands outside DIR.
func TestSeedFromNoSymlinks(t *testing.T) {
	src := t.TempDir()
	writeRandom(t, filepath.Join(src, "sub", "f.bin"), 1<<20, 42)
	origin := startSeed(t, src)

	outside := t.TempDir()
	bdir := t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(bdir, "sub")))
	r := runRefused(t, "seed", "--from", origin, "--name", "sub/f.bin", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), bdir)
	require.Equal(t, 1, r.code, r.stderr)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	require.Contains(t, r.stderr, "is not a directory (a symbolic link or a file); refusing to write through it")
	requireEmptyDir(t, outside)

	// A link inside DIR to a directory inside DIR is refused the same way.
	bdir = t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(bdir, "real"), 0o755))
	require.NoError(t, os.Symlink("real", filepath.Join(bdir, "sub")))
	r = runRefused(t, "seed", "--from", origin, "--name", "sub/f.bin", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), bdir)
	require.Equal(t, 1, r.code, r.stderr)
	requireEmptyDir(t, filepath.Join(bdir, "real"))

	// The part file a symbolic link to a file outside: refused, the file untouched.
	bdir = t.TempDir()
	victim := filepath.Join(outside, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("keep me"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(bdir, "sub"), 0o755))
	require.NoError(t, os.Symlink(victim, filepath.Join(bdir, "sub", "f.bin.qxpart")))
	r = runRefused(t, "seed", "--from", origin, "--name", "sub/f.bin", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), bdir)
	require.Equal(t, 1, r.code, r.stderr)
	require.Contains(t, r.stderr, "f.bin.qxpart is a symbolic link; refusing to write through it")
	got, err := os.ReadFile(victim)
	require.NoError(t, err)
	require.Equal(t, "keep me", string(got))
}

// TestSeedFromClientCertNeedsCredentials: a replica that fills itself with
// a client certificate from a seed that requires one must require
// credentials of its own clients: without --token or --client-ca it is
// refused at once; with --client-ca only clients with such a certificate
// get the file.
func TestSeedFromClientCertNeedsCredentials(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), 1<<20, 43)
	ca := testpki.NewCA(t, "replicas")
	_, certPEM, keyPEM := ca.Issue(t, false)
	origin := startSeed(t, "--client-ca", testpki.WritePEM(t, ca.PEM), dir)
	certFile, keyFile := testpki.WritePEM(t, certPEM), testpki.WritePEM(t, keyPEM)

	bdir := t.TempDir()
	r := runRefused(t, "seed", "--from", origin, "--name", "f.bin", "--from-client-cert", certFile, "--from-client-key", keyFile,
		"--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), bdir)
	require.Equal(t, 2, r.code, r.stderr)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	require.Contains(t, r.stderr, "--from-client-cert")
	require.Contains(t, r.stderr, "--token")
	require.Contains(t, r.stderr, "--client-ca")
	requireEmptyDir(t, bdir)

	clientsCA := testpki.NewCA(t, "replica clients")
	_, ccert, ckey := clientsCA.Issue(t, false)
	b := startProc(t, "seed", "--from", origin, "--name", "f.bin", "--from-client-cert", certFile, "--from-client-key", keyFile,
		"--client-ca", testpki.WritePEM(t, clientsCA.PEM), "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), bdir)
	bURL := b.url(t)
	waitFor(t, "B to say it is a full seed", func() bool { return strings.Contains(b.stderr.String(), "now a full seed") })
	r = run(t, "get", "--seed", bURL, "--max-peers", "0", "-o", filepath.Join(t.TempDir(), "f.bin"), "--quiet", "f.bin")
	require.NotZero(t, r.code, "no certificate, no file from the replica")
	out := filepath.Join(t.TempDir(), "f.bin")
	r = run(t, "get", "--seed", bURL, "--max-peers", "0", "--client-cert", testpki.WritePEM(t, ccert), "--client-key", testpki.WritePEM(t, ckey),
		"-o", out, "--quiet", "f.bin")
	require.Zero(t, r.code, r.stderr)
	requireFile(t, out, data)
	require.Zero(t, b.stop(t, syscall.SIGTERM), b.stderr.String())
}

// TestSeedFromNotIntoStateDir: a replica whose DIR holds its state
// directory writes nothing into it, whatever name it is asked to fill.
func TestSeedFromNotIntoStateDir(t *testing.T) {
	src := t.TempDir()
	writeRandom(t, filepath.Join(src, "state", "manifests", "f.bin"), 1<<20, 44)
	origin := startSeed(t, src)
	bdir := t.TempDir()
	state := filepath.Join(bdir, "state")
	r := runRefused(t, "seed", "--from", origin, "--name", "state/manifests/f.bin", "--listen", "127.0.0.1:0", "--state-dir", state, bdir)
	require.Equal(t, 1, r.code, r.stderr)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	require.Contains(t, r.stderr, "is in the seed's state directory")
	_, err := os.Stat(filepath.Join(state, "manifests", "f.bin.qxpart"))
	require.ErrorIs(t, err, os.ErrNotExist)
	requireEmptyDir(t, state) // not even a directory made in it
}
