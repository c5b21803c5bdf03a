package seed

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheckStateDirAsNewWould: Check accepts a state directory exactly
// when New can use it: /proc (a directory, but nothing can be made in it),
// a symbolic link that leads nowhere (where New would make the directory),
// a manifests entry that is a dangling link or a file are refused by both;
// a missing directory under one that can be written, and an existing one,
// are accepted by both; Check leaves nothing behind.
func TestCheckStateDirAsNewWould(t *testing.T) {
	srv := t.TempDir()
	writeFile(t, filepath.Join(srv, "f"), []byte("x"))
	tmp := t.TempDir()

	dangling := filepath.Join(tmp, "dangling")
	require.NoError(t, os.Symlink(filepath.Join(tmp, "nonexistent"), dangling))
	danglingAbove := filepath.Join(dangling, "sub", "state")
	badCache := filepath.Join(tmp, "bad-cache")
	require.NoError(t, os.Mkdir(badCache, 0o700))
	require.NoError(t, os.Symlink(filepath.Join(tmp, "nowhere"), filepath.Join(badCache, "manifests")))
	fileCache := filepath.Join(tmp, "file-cache")
	require.NoError(t, os.Mkdir(fileCache, 0o700))
	writeFile(t, filepath.Join(fileCache, "manifests"), nil)

	bad := map[string]string{
		"dangling symlink":             dangling,
		"dangling symlink above":       danglingAbove,
		"manifests is a dangling link": badCache,
		"manifests is a file":          fileCache,
	}
	if fi, err := os.Stat("/proc"); err == nil && fi.IsDir() {
		bad["/proc"] = "/proc"
	}
	for name, state := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := Check(Options{Paths: []string{srv}, StateDir: state, Listen: "127.0.0.1:0"})
			require.Error(t, err)
			t.Log(err)
			s, nerr := New(context.Background(), Options{Paths: []string{srv}, StateDir: state, Listen: "127.0.0.1:0"})
			if nerr == nil {
				s.Close()
			}
			require.Error(t, nerr, "New uses what Check refused")
		})
	}

	good := map[string]string{
		"to be made": filepath.Join(tmp, "new", "a", "b"),
		"existing":   t.TempDir(),
		"via a link": filepath.Join(tmp, "link-to-dir"),
	}
	require.NoError(t, os.Symlink(t.TempDir(), good["via a link"]))
	for name, state := range good {
		t.Run(name, func(t *testing.T) {
			parent := filepath.Dir(state)
			if _, err := os.Stat(parent); err != nil {
				parent = tmp // the nearest that exists
			}
			before, err := os.ReadDir(parent)
			require.NoError(t, err)
			var inside []os.DirEntry
			if _, err := os.Stat(state); err == nil {
				inside, err = os.ReadDir(state)
				require.NoError(t, err)
			}
			res, err := Check(Options{Paths: []string{srv}, StateDir: state, Listen: "127.0.0.1:0"})
			require.NoError(t, err)
			require.Equal(t, 1, res.Files)
			after, err := os.ReadDir(parent)
			require.NoError(t, err)
			require.Equal(t, before, after, "Check left something in %s", parent)
			if _, err := os.Stat(state); err == nil {
				now, err := os.ReadDir(state)
				require.NoError(t, err)
				require.Equal(t, inside, now, "Check left something in %s", state)
			}
			s, err := New(context.Background(), Options{Paths: []string{srv}, StateDir: state, Listen: "127.0.0.1:0"})
			require.NoError(t, err)
			require.NoError(t, s.Close())
		})
	}
}
