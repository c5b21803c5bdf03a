package seed

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// TestSharerOpensOnlyItsOwnRegularFile: get --serve shares the download's
// own part file; a symbolic link there is refused, and a FIFO is refused at
// once instead of blocking the open until a writer comes.
func TestSharerOpensOnlyItsOwnRegularFile(t *testing.T) {
	srv := startForTest(t, Options{NoPaths: true})
	dir := t.TempDir()
	m := &manifest.Manifest{Size: 1, BlockSize: manifest.MinBlockSize, Blocks: make([]manifest.Block, 1)}
	have := func(int) bool { return false }

	victim := filepath.Join(dir, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("x"), 0o644))
	link := filepath.Join(dir, "link.qxpart")
	require.NoError(t, os.Symlink(victim, link))
	d := srv.NewDownloadSharer()
	defer d.Close()
	err := d.Start("f", m, link, have)
	require.ErrorContains(t, err, "a symbolic link; refusing to share what it points to")

	fifo := filepath.Join(dir, "fifo.qxpart")
	mkfifo(t, fifo)
	testkit.NoHang(t, "sharing a FIFO", func() { err = d.Start("f", m, fifo, have) })
	require.ErrorContains(t, err, "not a regular file")

	plain := filepath.Join(dir, "f.qxpart")
	require.NoError(t, os.WriteFile(plain, []byte("x"), 0o644))
	require.NoError(t, d.Start("f", m, plain, have))
}
