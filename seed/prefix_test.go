package seed

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/syncbuf"
)

// TestNameThatIsADirectoryOfAnother: with PATHs p1 holding the file x and
// p2 the file x/y, serving both "x" and "x/y" would list two names that no
// download into one directory can both hold; the later one (by PATH, as
// for duplicate names) is skipped with a warning, at start and at a
// reload, and served once the other is gone.
func TestNameThatIsADirectoryOfAnother(t *testing.T) {
	tmp := t.TempDir()
	p1, p2 := filepath.Join(tmp, "p1"), filepath.Join(tmp, "p2")
	writeFile(t, filepath.Join(p1, "x"), []byte("file x"))
	writeFile(t, filepath.Join(p1, "keep"), []byte("k"))
	writeFile(t, filepath.Join(p2, "x", "y"), []byte("file x/y"))
	writeFile(t, filepath.Join(p2, "x", "z", "w"), []byte("file x/z/w"))
	writeFile(t, filepath.Join(p2, "other"), []byte("o"))

	start := func(paths ...string) (*Server, *syncbuf.Buffer) {
		var logs syncbuf.Buffer
		s := startForTest(t, Options{Paths: paths, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		return s, &logs
	}
	fileNames := func(s *Server) []string {
		var out []string
		for _, f := range s.Files() {
			out = append(out, f.Name)
		}
		return out
	}

	// The file first: the names under it are skipped.
	s, logs := start(p1, p2)
	require.Equal(t, []string{"keep", "other", "x"}, names(list(t, dial(t, s))))
	require.Equal(t, 2, strings.Count(logs.String(), "a directory in its name is another file served"), logs.String())

	// The directory first: the file named like it is skipped.
	s, logs = start(p2, p1)
	require.Equal(t, []string{"keep", "other", "x/y", "x/z/w"}, names(list(t, dial(t, s))))
	require.Equal(t, 1, strings.Count(logs.String(), "its name is a directory of another file served"), logs.String())

	// At a reload: a file that appears under a name served as a file is
	// skipped too; once the file is gone, the names under it are served.
	require.NoError(t, os.RemoveAll(filepath.Join(p2, "x")))
	s, logs = start(p1, p2)
	require.Equal(t, []string{"keep", "other", "x"}, fileNames(s))
	writeFile(t, filepath.Join(p2, "x", "y"), []byte("file x/y"))
	_, err := s.Reload(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"keep", "other", "x"}, names(list(t, dial(t, s))))
	require.Equal(t, 1, strings.Count(logs.String(), "a directory in its name is another file served"), logs.String())
	require.NoError(t, os.Remove(filepath.Join(p1, "x")))
	_, err = s.Reload(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"keep", "other", "x/y"}, names(list(t, dial(t, s))))
}
