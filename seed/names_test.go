package seed

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// TestControlCharacterNamesNotServed: a file whose name (or a directory in
// whose path) holds a control character is neither listed nor served, as a
// tree entry or as a PATH of its own; each is skipped with one warning
// (its path escaped, on one line), and the other files are served.
func TestControlCharacterNamesNotServed(t *testing.T) {
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	writeFile(t, filepath.Join(tree, "ok.bin"), []byte("ok"))
	bad := []string{
		"evil\nquicxfer: forged line",
		"title\x1b]2;owned\x07",
		"csi\u009b2J",
		"del\x7f",
		"dir\r/inside",
	}
	for _, n := range bad {
		writeFile(t, filepath.Join(tree, filepath.FromSlash(n)), []byte("x"))
	}
	single := filepath.Join(tmp, "tab\there")
	writeFile(t, single, []byte("y"))

	var logs syncbuf.Buffer
	s := startForTest(t, Options{
		Paths:  []string{tree, single},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	var names []string
	for _, e := range list(t, dial(t, s)) {
		names = append(names, e.Name)
	}
	require.Equal(t, []string{"ok.bin"}, names)
	for _, f := range s.Files() {
		require.NoError(t, wire.CheckName(f.Name))
	}

	text := logs.String()
	t.Logf("log:\n%s", text)
	require.Equal(t, len(bad)+1, strings.Count(text, "skipping file whose name cannot be served"))
	require.Equal(t, len(bad)+1, strings.Count(text, "control character"))
	require.Equal(t, len(bad)+1, strings.Count(text, "\n"), "one line each: the names are escaped")
	require.NotContains(t, text, "\x1b")

	// Asked by name, it is a bad request: CheckName refuses it there too.
	_, err := getManifest(t, dial(t, s), &wire.ManifestRequest{Name: bad[0]})
	requireCode(t, err, wire.ErrCodeBadRequest)
}
