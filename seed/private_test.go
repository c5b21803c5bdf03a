package seed

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// TestNeverServesWorkingFiles: a download's working files in a served
// directory (its data, its state, the record of the command that resumes
// it, which holds local paths and URLs, and their .tmp) are never listed,
// served by name, or reached through a link, at start-up or after a reload;
// nor does Share take such a name.
func TestNeverServesWorkingFiles(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "dir")
	writeFile(t, filepath.Join(dir, "f.iso"), []byte("the file"))
	for _, n := range []string{"x.qxpart", "x.qxstate", "x.qxstate.tmp", "x.qxcmd", "x.qxcmd.tmp", "sub/y.qxpart"} {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(n)), []byte(`{"args":["--token","s3cret"],"dir":"/home/me"}`))
	}
	require.NoError(t, os.Symlink("x.qxcmd", filepath.Join(dir, "alias")))
	lone := filepath.Join(tmp, "lone.qxcmd") // a file PATH named so
	writeFile(t, lone, []byte("{}"))

	s := startForTest(t, Options{Paths: []string{dir, lone}})
	conn := dial(t, s)
	require.Equal(t, []string{"f.iso"}, names(list(t, conn)))
	for _, n := range []string{"x.qxcmd", "x.qxpart", "sub/y.qxpart", "alias", "lone.qxcmd"} {
		_, err := getManifest(t, conn, &wire.ManifestRequest{Name: n})
		requireCode(t, err, wire.ErrCodeNotFound)
	}

	writeFile(t, filepath.Join(dir, "g.iso.qxstate"), []byte("QXSTATE\n"))
	writeFile(t, filepath.Join(dir, "g.iso"), []byte("another"))
	_, err := s.Reload(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"f.iso", "g.iso"}, names(list(t, conn)))

	m := buildManifest(t, filepath.Join(dir, "f.iso"))
	_, err = s.Share("h.qxpart", m, bytes.NewReader([]byte("the file")), nil)
	require.ErrorIs(t, err, ErrWorkingFile)
}

// TestNeverServesStateDir: the state directory inside the served tree is
// not served, however it is reached: a symbolic link to the seed's key, a
// hard link to it, a link to a manifest cache entry, a file replaced by a
// link to the key after it was indexed, a PATH inside the state directory.
func TestNeverServesStateDir(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	writeFile(t, filepath.Join(dir, "ok"), []byte("served"))
	// Made before the seed, so that the key exists to be linked to.
	s0, err := New(t.Context(), Options{Paths: []string{filepath.Join(dir, "ok")}, StateDir: state, Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	require.NoError(t, s0.Close())
	key := filepath.Join(state, keyFileName)
	keyPEM, err := os.ReadFile(key)
	require.NoError(t, err)
	require.NoError(t, os.Symlink(filepath.Join("state", keyFileName), filepath.Join(dir, "key.pem")))
	require.NoError(t, os.Symlink(key, filepath.Join(dir, "abs-key.pem")))
	require.NoError(t, os.Link(key, filepath.Join(dir, "hard.pem")))
	entries, err := os.ReadDir(filepath.Join(state, "manifests"))
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	require.NoError(t, os.Symlink(filepath.Join("state", "manifests", entries[0].Name()), filepath.Join(dir, "cache-entry")))
	// Indexed as a plain file, shorter than the key, then swapped for a link.
	late := filepath.Join(dir, "late")
	writeFile(t, late, bytes.Repeat([]byte("L"), 100))

	s := startForTest(t, Options{Paths: []string{dir}, StateDir: state})
	conn := dial(t, s)
	require.Equal(t, []string{"late", "ok"}, names(list(t, conn)))
	for _, n := range []string{"key.pem", "abs-key.pem", "hard.pem", "cache-entry", "state/" + keyFileName} {
		_, err := getManifest(t, conn, &wire.ManifestRequest{Name: n})
		requireCode(t, err, wire.ErrCodeNotFound)
	}

	id := fileByName(t, s, "late").ID
	require.NoError(t, os.Remove(late))
	require.NoError(t, os.Symlink(filepath.Join("state", keyFileName), late))
	got, err := getBlock(t, conn, id, 0, 100)
	requireCode(t, err, wire.ErrCodeFileChanged)
	require.NotEqual(t, keyPEM[:100], got)

	// A PATH inside the state directory, or the key itself, is refused.
	for _, p := range []string{state, filepath.Join(state, "manifests"), key, filepath.Join(dir, "key.pem")} {
		_, err = New(t.Context(), Options{Paths: []string{p}, StateDir: state, Listen: "127.0.0.1:0"})
		require.ErrorIs(t, err, ErrPrivateFile, p)
	}
	// Check sees what New would: only "ok" ("late" is a link to the key now).
	res, err := Check(Options{Paths: []string{dir}, StateDir: state, Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	require.Equal(t, 1, res.Files)
	require.Zero(t, res.Unreadable)
}

// TestNeverServesOperatorKey: the operator's --key in the served tree is
// not served either.
func TestNeverServesOperatorKey(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ok"), []byte("served"))
	// Any valid pair will do: a seed's self-signed one, made elsewhere.
	other := t.TempDir()
	s0, err := New(t.Context(), Options{Paths: []string{filepath.Join(dir, "ok")}, StateDir: other, Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	require.NoError(t, s0.Close())
	keyFile, certFile := filepath.Join(dir, "tls", "key.pem"), filepath.Join(dir, "tls", "cert.pem")
	for from, to := range map[string]string{keyFileName: keyFile, certFileName: certFile} {
		b, err := os.ReadFile(filepath.Join(other, from))
		require.NoError(t, err)
		writeFile(t, to, b)
	}
	s := startForTest(t, Options{Paths: []string{dir}, CertFile: certFile, KeyFile: keyFile})
	require.Equal(t, []string{"ok", "tls/cert.pem"}, names(list(t, dial(t, s))))
}

func TestGuardErrors(t *testing.T) {
	require.True(t, notServable(errors.Join(errors.New("x"), ErrPrivateFile)))
	require.True(t, notServable(ErrWorkingFile))
	require.False(t, notServable(os.ErrNotExist))
	var g *guard
	require.False(t, g.under("/"))
	require.False(t, newGuard("").under("/x"))
}
