package seed

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quicxfer/quicxfer/internal/randfile"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func randBytes(n int, seed uint64) []byte { return randfile.Bytes(n, seed) }

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

func buildManifest(t testing.TB, path string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.BuildFile(context.Background(), path, 1)
	require.NoError(t, err)
	return m
}

func fileByName(t testing.TB, s *Server, name string) File {
	t.Helper()
	for _, f := range s.Files() {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("seed does not serve %q", name)
	return File{}
}

const bs = manifest.MinBlockSize

func TestServesFilesAndTree(t *testing.T) {
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	big := randBytes(2*bs+bs/3, 1) // three blocks, the last short
	small := []byte("hello, seed\n")
	writeFile(t, filepath.Join(tree, "big.bin"), big)
	writeFile(t, filepath.Join(tree, "a", "b", "c.txt"), small)
	writeFile(t, filepath.Join(tree, "empty"), nil)
	single := filepath.Join(tmp, "elsewhere", "single.dat")
	writeFile(t, single, randBytes(1000, 2))

	s := startForTest(t, Options{Paths: []string{tree, single}})
	conn := dial(t, s)

	entries := list(t, conn)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	require.Equal(t, []string{"a/b/c.txt", "big.bin", "empty", "single.dat"}, names)

	paths := map[string]string{
		"a/b/c.txt":  filepath.Join(tree, "a", "b", "c.txt"),
		"big.bin":    filepath.Join(tree, "big.bin"),
		"empty":      filepath.Join(tree, "empty"),
		"single.dat": single,
	}
	for _, e := range entries {
		t.Run(e.Name, func(t *testing.T) {
			want := buildManifest(t, paths[e.Name])
			require.Equal(t, want.Size, e.Size)
			require.Equal(t, want.ID(), e.ID)
			require.Equal(t, paths[e.Name], fileByName(t, s, e.Name).Path)

			byName, err := getManifest(t, conn, &wire.ManifestRequest{Name: e.Name})
			require.NoError(t, err)
			require.Equal(t, e.Name, byName.Name)
			require.Equal(t, want, byName.Manifest)

			byID, err := getManifest(t, conn, &wire.ManifestRequest{ID: e.ID, ByID: true})
			require.NoError(t, err)
			require.Equal(t, want, byID.Manifest)

			data, err := os.ReadFile(paths[e.Name])
			require.NoError(t, err)
			for i := range want.NumBlocks() {
				got, err := getBlock(t, conn, e.ID, uint64(i), want.BlockLen(i))
				require.NoError(t, err)
				off := want.BlockOffset(i)
				require.True(t, bytes.Equal(data[off:off+want.BlockLen(i)], got), "block %d", i)
				require.NoError(t, want.Verify(i, got))
			}
			_, err = getBlock(t, conn, e.ID, uint64(want.NumBlocks()), 0)
			requireCode(t, err, wire.ErrCodeBadRequest)
		})
	}
	st := s.Stats()
	require.EqualValues(t, 3+1+1, st.BlocksSent) // big 3, c.txt 1, single 1, empty 0
	require.EqualValues(t, len(big)+len(small)+1000, st.BytesSent)
}

func TestRequestErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), randBytes(bs+10, 3))
	writeFile(t, filepath.Join(t.TempDir(), "secret"), []byte("x"))
	s := startForTest(t, Options{Paths: []string{dir}})
	conn := dial(t, s)
	id := fileByName(t, s, "f").ID

	_, err := getManifest(t, conn, &wire.ManifestRequest{Name: "nope"})
	requireCode(t, err, wire.ErrCodeNotFound)
	_, err = getManifest(t, conn, &wire.ManifestRequest{ID: manifest.ID{1}, ByID: true})
	requireCode(t, err, wire.ErrCodeNotFound)
	_, err = getBlock(t, conn, manifest.ID{1}, 0, bs)
	requireCode(t, err, wire.ErrCodeNotFound)
	_, err = getBlock(t, conn, id, 2, 0)
	requireCode(t, err, wire.ErrCodeBadRequest)
	_, err = getBlock(t, conn, id, 1<<40, 0)
	requireCode(t, err, wire.ErrCodeBadRequest)
	for _, name := range []string{"../secret", "a/../f", "/f", "..", "./f", "f\x00"} {
		_, err = getManifest(t, conn, &wire.ManifestRequest{Name: name})
		requireCode(t, err, wire.ErrCodeBadRequest)
	}

	// Still serving.
	got, err := getBlock(t, conn, id, 1, 10)
	require.NoError(t, err)
	require.Len(t, got, 10)
	st := s.Stats()
	require.EqualValues(t, 3, st.RejectedByReason[wire.ErrCodeNotFound])
	require.EqualValues(t, 8, st.RejectedByReason[wire.ErrCodeBadRequest])
}

func TestGarbage(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("data"))
	s := startForTest(t, Options{Paths: []string{dir}, RequestTimeout: 500 * time.Millisecond})
	conn := dial(t, s)

	for name, raw := range map[string][]byte{
		"garbage":        []byte("GET / HTTP/1.1\r\n\r\n"),
		"empty":          nil,
		"truncated":      (&wire.ManifestRequest{Name: "f"}).Append(nil)[:3],
		"response frame": (&wire.FileEntry{Name: "f"}).Append(nil),
		"trailing data":  append((&wire.ListRequest{}).Append(nil), 0x01, 0x00),
		"huge length":    {0x02, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		t.Run(name, func(t *testing.T) {
			_, r := send(t, conn, raw)
			_, err := r.ReadByte()
			requireCode(t, err, wire.ErrCodeBadRequest)
		})
	}

	t.Run("no FIN", func(t *testing.T) {
		str, err := conn.OpenStreamSync(context.Background())
		require.NoError(t, err)
		_, err = str.Write((&wire.ListRequest{}).Append(nil))
		require.NoError(t, err)
		str.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = str.Read(make([]byte, 1))
		requireCode(t, err, wire.ErrCodeBadRequest)
	})

	// Garbage datagrams at the port.
	udp, err := net.DialUDP("udp", nil, s.Addr().(*net.UDPAddr))
	require.NoError(t, err)
	for i := range 200 {
		_, err := udp.Write(randBytes(1+i*7%1400, uint64(i)))
		require.NoError(t, err)
	}
	udp.Close()

	// The same connection and a new one still work.
	require.Len(t, list(t, conn), 1)
	require.Len(t, list(t, dial(t, s)), 1)
}

func TestSymlinks(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	writeFile(t, outside, []byte("secret"))
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "real"), []byte("inside"))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "escape")))
	require.NoError(t, os.Symlink("../"+filepath.Base(filepath.Dir(outside))+"/secret", filepath.Join(dir, "escape-rel")))
	require.NoError(t, os.Symlink("real", filepath.Join(dir, "inside")))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.Symlink("../real", filepath.Join(dir, "sub", "up")))

	s := startForTest(t, Options{Paths: []string{dir}})
	conn := dial(t, s)
	var names []string
	for _, e := range list(t, conn) {
		names = append(names, e.Name)
	}
	require.Equal(t, []string{"inside", "real", "sub/up"}, names)
	for _, name := range []string{"escape", "escape-rel"} {
		_, err := getManifest(t, conn, &wire.ManifestRequest{Name: name})
		requireCode(t, err, wire.ErrCodeNotFound)
	}
	secretID := buildManifest(t, outside).ID()
	_, err := getManifest(t, conn, &wire.ManifestRequest{ID: secretID, ByID: true})
	requireCode(t, err, wire.ErrCodeNotFound)
	_, err = getBlock(t, conn, secretID, 0, 6)
	requireCode(t, err, wire.ErrCodeNotFound)

	got, err := getBlock(t, conn, fileByName(t, s, "sub/up").ID, 0, 6)
	require.NoError(t, err)
	require.Equal(t, "inside", string(got))
}

func TestScanRules(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(a, "dup"), []byte("from a"))
	writeFile(t, filepath.Join(b, "dup"), []byte("from b"))
	writeFile(t, filepath.Join(b, "back\\slash"), []byte("x"))
	writeFile(t, filepath.Join(b, "ok"), []byte("ok"))
	state := filepath.Join(b, "state")
	s := startForTest(t, Options{Paths: []string{a, b}, StateDir: state})

	var names []string
	for _, f := range s.Files() {
		names = append(names, f.Name)
	}
	// The state dir (with the seed's key) is under b, and not served.
	require.Equal(t, []string{"dup", "ok"}, names)
	require.Equal(t, filepath.Join(a, "dup"), fileByName(t, s, "dup").Path)
	require.FileExists(t, filepath.Join(state, keyFileName))

	_, err := New(context.Background(), Options{Paths: []string{filepath.Join(a, "missing")}, StateDir: t.TempDir(), Listen: "127.0.0.1:0"})
	require.Error(t, err)
	_, err = New(context.Background(), Options{StateDir: t.TempDir(), Listen: "127.0.0.1:0"})
	require.Error(t, err)
	_, err = New(context.Background(), Options{Paths: []string{a}, CertFile: "x", StateDir: t.TempDir(), Listen: "127.0.0.1:0"})
	require.Error(t, err)
}
