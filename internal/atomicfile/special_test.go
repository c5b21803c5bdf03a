package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/testkit"
	"golang.org/x/sys/unix"
)

func mkfifo(t *testing.T, p string) {
	t.Helper()
	require.NoError(t, unix.Mkfifo(p, 0o644))
}

// mknull makes a character device like /dev/null inside the test's own
// directory (never the real one), or skips.
func mknull(t *testing.T, p string) {
	t.Helper()
	if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod: %v", err)
	}
}

func nlink(t *testing.T, p string) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(p, &st))
	return uint64(st.Nlink)
}

func TestOpenFileRefusesHardLink(t *testing.T) {
	v, intact := victim(t)
	link := filepath.Join(t.TempDir(), "f")
	if err := os.Link(v, link); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	for _, flag := range []int{os.O_RDWR, os.O_WRONLY | os.O_TRUNC, os.O_RDWR | os.O_CREATE, os.O_RDWR | os.O_TRUNC | os.O_CREATE} {
		f, err := OpenFile(link, flag, 0o666)
		require.Nil(t, f)
		var he *HardLinkError
		require.ErrorAs(t, err, &he, "flag %#x", flag)
		require.Equal(t, link, he.Path)
		require.Equal(t, uint64(2), he.Links)
		require.ErrorIs(t, err, ErrHardLink)
	}
	intact() // O_TRUNC did not truncate before the check
	f, err := OpenFile(link, os.O_RDONLY, 0)
	require.NoError(t, err, "reading another name of a file is harmless")
	require.NoError(t, f.Close())
}

func TestOpenSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	mkfifo(t, fifo)
	dev := filepath.Join(dir, "null")
	mknull(t, dev)
	for _, p := range []string{fifo, dev} {
		for _, flag := range []int{os.O_RDONLY, os.O_WRONLY, os.O_RDWR, os.O_RDWR | os.O_CREATE, os.O_WRONLY | os.O_TRUNC} {
			testkit.NoHang(t, p, func() {
				f, err := OpenFile(p, flag, 0o666)
				require.Nil(t, f)
				var ne *NotRegularError
				require.ErrorAs(t, err, &ne, "%s flag %#x", p, flag)
				require.ErrorIs(t, err, ErrNotRegular)
			})
		}
		testkit.NoHang(t, p, func() {
			_, err := OpenRegular(p)
			require.ErrorIs(t, err, ErrNotRegular)
			_, err = ReadFile(p, 1<<20)
			require.ErrorIs(t, err, ErrNotRegular)
			_, err = ReadFileNoFollow(p, 1<<20)
			require.ErrorIs(t, err, ErrNotRegular)
		})
		// Through a symbolic link the user named, too.
		link := p + ".link"
		require.NoError(t, os.Symlink(p, link))
		testkit.NoHang(t, link, func() {
			_, err := ReadFile(link, 1<<20)
			require.ErrorIs(t, err, ErrNotRegular)
		})
	}
	fi, err := os.Lstat(fifo)
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeNamedPipe, "left as it was")
	require.ErrorContains(t, func() error { _, err := ReadFile(fifo, 10); return err }(), "fifo is not a regular file (a FIFO)")
}

func TestOpenFileBlocking(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
	for _, open := range []func() (*os.File, error){
		func() (*os.File, error) { return OpenFile(p, os.O_RDWR, 0) },
		func() (*os.File, error) { return OpenRegular(p) },
	} {
		f, err := open()
		require.NoError(t, err)
		fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
		require.NoError(t, err)
		require.Zero(t, fl&unix.O_NONBLOCK, "O_NONBLOCK is only for the open")
		require.NoError(t, f.Close())
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	require.NoError(t, os.WriteFile(small, []byte("0123456789"), 0o644))
	for name, read := range map[string]func(string, int64) ([]byte, error){"follow": ReadFile, "nofollow": ReadFileNoFollow} {
		t.Run(name, func(t *testing.T) {
			b, err := read(small, 10)
			require.NoError(t, err)
			require.Equal(t, "0123456789", string(b))

			_, err = read(small, 9)
			var te *TooLargeError
			require.ErrorAs(t, err, &te)
			require.Equal(t, small, te.Path)
			require.ErrorIs(t, err, ErrTooLarge)

			// A sparse file far beyond the limit is refused by its size,
			// before anything is read.
			sparse := filepath.Join(t.TempDir(), "sparse")
			f, err := os.Create(sparse)
			require.NoError(t, err)
			require.NoError(t, f.Truncate(64<<30))
			require.NoError(t, f.Close())
			testkit.NoHang(t, sparse, func() {
				_, err = read(sparse, 4<<20)
				require.ErrorIs(t, err, ErrTooLarge)
			})
		})
	}
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(small, link))
	b, err := ReadFile(link, 100)
	require.NoError(t, err, "a name the user gave is followed")
	require.Equal(t, "0123456789", string(b))
	_, err = ReadFileNoFollow(link, 100)
	requireSymlinkErr(t, err, link)
}

func TestCheckPlain(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(plain, nil, 0o644))
	require.NoError(t, CheckPlain(plain))
	require.NoError(t, CheckPlain(filepath.Join(dir, "missing")))

	hard := filepath.Join(dir, "hard")
	require.NoError(t, os.Link(plain, hard))
	require.ErrorIs(t, CheckPlain(hard), ErrHardLink)
	require.ErrorIs(t, CheckPlain(plain), ErrHardLink, "either name")

	fifo := filepath.Join(dir, "fifo")
	mkfifo(t, fifo)
	require.ErrorIs(t, CheckPlain(fifo), ErrNotRegular)
	require.ErrorIs(t, CheckPlain(dir), ErrNotRegular)

	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(plain, link))
	require.ErrorIs(t, CheckPlain(link), ErrSymlink)
}

// TestWriteTempNeverThroughOtherFiles: a file at the fixed temporary name
// that is not a plain file is refused, never written, truncated or removed.
func TestWriteTempNeverThroughOtherFiles(t *testing.T) {
	t.Run("a hard link", func(t *testing.T) {
		v, intact := victim(t)
		dir := t.TempDir()
		p, tmp := filepath.Join(dir, "f"), filepath.Join(dir, "f.tmp")
		require.NoError(t, os.Link(v, tmp))
		err := Write(p, []byte("evil"), Options{Temp: tmp})
		require.ErrorIs(t, err, ErrHardLink)
		intact()
		require.Equal(t, uint64(2), nlink(t, v), "the other name is left where it is")
		require.NoFileExists(t, p)
	})
	t.Run("a FIFO", func(t *testing.T) {
		dir := t.TempDir()
		p, tmp := filepath.Join(dir, "f"), filepath.Join(dir, "f.tmp")
		mkfifo(t, tmp)
		testkit.NoHang(t, tmp, func() {
			require.ErrorIs(t, Write(p, []byte("x"), Options{Temp: tmp}), ErrNotRegular)
		})
		fi, err := os.Lstat(tmp)
		require.NoError(t, err)
		require.NotZero(t, fi.Mode()&os.ModeNamedPipe)
	})
	t.Run("a FIFO at the path", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "f")
		mkfifo(t, p)
		require.ErrorIs(t, WriteFile(p, []byte("x"), 0o644), ErrNotRegular)
	})
	t.Run("a hard link at the path is replaced by name only", func(t *testing.T) {
		v, intact := victim(t)
		p := filepath.Join(t.TempDir(), "f")
		require.NoError(t, os.Link(v, p))
		require.NoError(t, WriteFile(p, []byte("new"), 0o644))
		intact()
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, "new", string(b))
	})
}
