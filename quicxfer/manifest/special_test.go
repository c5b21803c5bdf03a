package manifest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/testkit"
	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
)

// TestSpecialFilesRefused: BuildFile (the input of `quicxfer manifest`)
// and ReadFile (--manifest MFILE) refuse a FIFO or a device at once, and
// ReadFile a file larger than any manifest without reading it.
func TestSpecialFilesRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o644))
	paths := []string{fifo}
	// A device node of the test's own, never a real one.
	dev := filepath.Join(dir, "null")
	if err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err == nil {
		paths = append(paths, dev)
	} else {
		t.Logf("no device node: %v", err)
	}
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(fifo, link))
	paths = append(paths, link)
	for _, p := range paths {
		testkit.NoHang(t, "the call", func() {
			_, err := BuildFile(context.Background(), p, 1)
			require.ErrorIs(t, err, atomicfile.ErrNotRegular, p)
			require.ErrorContains(t, err, "not a regular file")
			_, err = ReadFile(p)
			require.ErrorIs(t, err, atomicfile.ErrNotRegular, p)
		})
	}

	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(int64(MaxFileLen)+1))
	require.NoError(t, f.Close())
	_, err = ReadFile(sparse)
	require.ErrorIs(t, err, ErrNotManifestFile)
	require.ErrorContains(t, err, "larger than any manifest")
}
