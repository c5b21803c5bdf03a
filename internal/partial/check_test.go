package partial

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/internal/testkit"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
)

// workingNames are the endings of the files Open may write.
var workingNames = WorkingSuffixes()

// TestOpenRefusesHardLinks: a hard link to someone's file at any working
// file of a download (with or without a state beside it) is refused before
// anything is written; the file keeps its content and its other name.
func TestOpenRefusesHardLinks(t *testing.T) {
	for _, name := range workingNames {
		t.Run(name, func(t *testing.T) {
			d := newDownload(t, randomData(3*bs, 40))
			victim := filepath.Join(t.TempDir(), "victim")
			require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o644))
			link := d.out + name
			if err := os.Link(victim, link); err != nil {
				t.Skipf("no hard links here: %v", err)
			}
			_, _, err := Open(d.out, d.m, Options{})
			var he *atomicfile.HardLinkError
			require.ErrorAs(t, err, &he)
			require.Equal(t, link, he.Path)
			require.Equal(t, "precious", string(mustRead(t, victim)))
			for _, p := range Paths(d.out) {
				if p != link {
					require.NoFileExists(t, p, "nothing created")
				}
			}
			fi, err := os.Stat(victim)
			require.NoError(t, err)
			require.True(t, os.SameFile(fi, must(os.Stat(link))), "the link is left as it was")
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestOpenRefusesSpecialFiles: a FIFO, a directory or a device where a
// working file belongs is refused, at once (a FIFO does not block Open),
// and left where it is.
func TestOpenRefusesSpecialFiles(t *testing.T) {
	for _, kind := range []string{"fifo", "dir", "device"} {
		for _, name := range workingNames {
			t.Run(kind+name, func(t *testing.T) {
				d := newDownload(t, randomData(2*bs, 41))
				p := d.out + name
				switch kind {
				case "fifo":
					require.NoError(t, unix.Mkfifo(p, 0o644))
				case "dir":
					require.NoError(t, os.Mkdir(p, 0o755))
				case "device":
					// A device node of the test's own, never a real one.
					if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
						t.Skipf("mknod: %v", err)
					}
				}
				testkit.NoHang(t, "the call", func() {
					_, _, err := Open(d.out, d.m, Options{})
					require.ErrorIs(t, err, atomicfile.ErrNotRegular)
					require.ErrorContains(t, err, p+" is not a regular file")
				})
				_, err := os.Lstat(p)
				require.NoError(t, err, "left where it is")
				require.NoFileExists(t, d.out)
			})
		}
	}
}

// TestInspectFIFO: status's reading of a state that is a FIFO does not
// block: it is an error.
func TestInspectFIFO(t *testing.T) {
	d := newDownload(t, randomData(2*bs, 42))
	require.NoError(t, unix.Mkfifo(StatePath(d.out), 0o644))
	testkit.NoHang(t, "the call", func() {
		_, err := Inspect(d.out)
		require.ErrorIs(t, err, atomicfile.ErrNotRegular)
	})
}

// TestOpenRefusesLongNames: an OUT whose own name fits but whose working
// files' names would not is refused before anything is created.
func TestOpenRefusesLongNames(t *testing.T) {
	dir := t.TempDir()
	max := nameMax(dir)
	for _, n := range []int{max - len(".qxstate.tmp") + 1, max - len(".qxpart"), max} {
		t.Run("", func(t *testing.T) {
			out := filepath.Join(dir, strings.Repeat("a", n))
			f, err := os.Create(out) // the OS takes OUT itself
			require.NoError(t, err)
			require.NoError(t, f.Close())
			require.NoError(t, os.Remove(out))

			d := newDownload(t, randomData(2*bs, 43))
			_, _, err = Open(out, d.m, Options{})
			var ne *NameTooLongError
			require.ErrorAs(t, err, &ne)
			require.Equal(t, out, ne.Out)
			require.Equal(t, max, ne.Max)
			require.True(t, errors.Is(err, ErrNameTooLong))
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, ents, "nothing created")
		})
	}
	out := filepath.Join(dir, strings.Repeat("a", max-len(".qxstate.tmp")))
	d := newDownload(t, randomData(2*bs, 44))
	f, _, err := Open(out, d.m, Options{})
	require.NoError(t, err, "the longest OUT that fits")
	require.NoError(t, f.Close())
}
