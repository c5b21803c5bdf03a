package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// victim makes a file that a symbolic link will point at, and returns its
// path and a check that it is intact.
func victim(t *testing.T) (string, func()) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(p, []byte("precious"), 0o644))
	return p, func() {
		t.Helper()
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, "precious", string(b), "the symlink's target was written")
	}
}

func requireSymlinkErr(t *testing.T, err error, path string) {
	t.Helper()
	var se *SymlinkError
	require.ErrorAs(t, err, &se)
	require.Equal(t, path, se.Path)
	require.ErrorIs(t, err, ErrSymlink)
	fi, lerr := os.Lstat(path)
	require.NoError(t, lerr)
	require.NotZero(t, fi.Mode()&fs.ModeSymlink, "the symlink itself is left alone")
}

func TestOpenFileRefusesSymlink(t *testing.T) {
	v, intact := victim(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "f")
	require.NoError(t, os.Symlink(v, link))
	for _, flag := range []int{os.O_RDONLY, os.O_RDWR, os.O_RDWR | os.O_CREATE, os.O_WRONLY | os.O_TRUNC} {
		f, err := OpenFile(link, flag, 0o666)
		require.Nil(t, f)
		requireSymlinkErr(t, err, link)
	}
	intact()

	dangling := filepath.Join(dir, "d")
	require.NoError(t, os.Symlink(filepath.Join(dir, "nothing"), dangling))
	_, err := OpenFile(dangling, os.O_RDWR|os.O_CREATE, 0o666)
	requireSymlinkErr(t, err, dangling)
	require.NoFileExists(t, filepath.Join(dir, "nothing"), "a dangling link is not followed to create its target")

	_, err = OpenFile(dir, os.O_RDONLY, 0)
	require.ErrorIs(t, err, ErrNotRegular)

	f, err := OpenFile(filepath.Join(dir, "new"), os.O_RDWR|os.O_CREATE, 0o666)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestCreateExcl(t *testing.T) {
	v, intact := victim(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "l")
	require.NoError(t, os.Symlink(v, link))
	_, err := CreateExcl(link, 0o666)
	requireSymlinkErr(t, err, link)
	intact()

	p := filepath.Join(dir, "p")
	f, err := CreateExcl(p, 0o666)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = CreateExcl(p, 0o666)
	require.ErrorIs(t, err, fs.ErrExist)
}

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"fresh temp", Options{}},
		{"fixed temp", Options{Temp: "f.tmp"}},
		{"no sync", Options{NoSync: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f")
			if tc.o.Temp != "" {
				tc.o.Temp = filepath.Join(dir, tc.o.Temp)
			}
			require.NoError(t, Write(p, []byte("one"), tc.o))
			require.NoError(t, Write(p, []byte("two"), tc.o), "replaces")
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.Equal(t, "two", string(b))
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, ents, 1, "no temporary file left")
		})
	}
}

func TestWriteRefusesSymlinks(t *testing.T) {
	t.Run("at the path", func(t *testing.T) {
		v, intact := victim(t)
		p := filepath.Join(t.TempDir(), "f")
		require.NoError(t, os.Symlink(v, p))
		requireSymlinkErr(t, WriteFile(p, []byte("evil"), 0o644), p)
		intact()
	})
	t.Run("at the temporary name", func(t *testing.T) {
		v, intact := victim(t)
		dir := t.TempDir()
		p, tmp := filepath.Join(dir, "f"), filepath.Join(dir, "f.tmp")
		require.NoError(t, os.Symlink(v, tmp))
		requireSymlinkErr(t, Write(p, []byte("evil"), Options{Temp: tmp}), tmp)
		intact()
		require.NoFileExists(t, p)
	})
	t.Run("a leftover temporary file is replaced", func(t *testing.T) {
		dir := t.TempDir()
		p, tmp := filepath.Join(dir, "f"), filepath.Join(dir, "f.tmp")
		require.NoError(t, os.WriteFile(tmp, []byte("half"), 0o644))
		require.NoError(t, Write(p, []byte("whole"), Options{Temp: tmp}))
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, "whole", string(b))
		require.NoFileExists(t, tmp)
	})
}

func TestWriteNoReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	require.NoError(t, Write(p, []byte("one"), Options{NoReplace: true}))
	err := Write(p, []byte("two"), Options{NoReplace: true})
	require.ErrorIs(t, err, fs.ErrExist)
	b, _ := os.ReadFile(p)
	require.Equal(t, "one", string(b))
	ents, _ := os.ReadDir(dir)
	require.Len(t, ents, 1, "the temporary file is removed")
}

func TestRenameNoReplace(t *testing.T) {
	for name, rename := range map[string]func(string, string) error{
		"renameat2": RenameNoReplace,
		"link":      linkNoReplace,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
			require.NoError(t, os.WriteFile(src, []byte("new"), 0o644))

			require.NoError(t, os.WriteFile(dst, []byte("theirs"), 0o644))
			require.ErrorIs(t, rename(src, dst), fs.ErrExist)
			b, _ := os.ReadFile(dst)
			require.Equal(t, "theirs", string(b), "never replaced")
			require.FileExists(t, src)
			require.NoError(t, os.Remove(dst))

			v, intact := victim(t)
			require.NoError(t, os.Symlink(v, dst))
			require.ErrorIs(t, rename(src, dst), fs.ErrExist)
			intact()
			require.True(t, IsSymlink(dst))
			require.NoError(t, os.Remove(dst))

			require.NoError(t, os.Symlink(filepath.Join(dir, "nothing"), dst))
			require.ErrorIs(t, rename(src, dst), fs.ErrExist, "a dangling link counts")
			require.NoError(t, os.Remove(dst))

			require.NoError(t, rename(src, dst))
			b, _ = os.ReadFile(dst)
			require.Equal(t, "new", string(b))
			require.NoFileExists(t, src)
			require.False(t, errors.Is(rename(src, dst), fs.ErrExist), "a missing source is not an existing target")
		})
	}
}
