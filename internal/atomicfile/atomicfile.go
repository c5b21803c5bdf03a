package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrSymlink is wrapped by every error that refuses a symbolic link where a
// file was to be opened or written.
var ErrSymlink = errors.New("is a symbolic link")

// ErrNotRegular is wrapped by OpenFile's error for a path that names a
// directory, a device, a FIFO or a socket.
var ErrNotRegular = errors.New("is not a regular file")

// SymlinkError says that Path is a symbolic link and was not followed. It
// wraps ErrSymlink.
type SymlinkError struct{ Path string }

func (e *SymlinkError) Error() string {
	return e.Path + " is a symbolic link; refusing to write through it"
}

func (e *SymlinkError) Unwrap() error { return ErrSymlink }

// OpenFile is os.OpenFile with O_NOFOLLOW: a symbolic link at path is
// refused with a *SymlinkError, and a path that is not a regular file with
// an error wrapping ErrNotRegular (with O_CREATE, only a regular file can be
// created).
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|unix.O_NOFOLLOW, perm)
	if err != nil {
		return nil, symlinkErr(path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s %w", path, ErrNotRegular)
	}
	return f, nil
}

// symlinkErr turns the ELOOP of an O_NOFOLLOW open, or the EEXIST of an
// O_EXCL create, at a symbolic link into a *SymlinkError; other errors are
// returned as they are.
func symlinkErr(path string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, fs.ErrExist) {
		if IsSymlink(path) {
			return &SymlinkError{path}
		}
	}
	return err
}

// IsSymlink reports whether path itself (not what it points at) is a
// symbolic link.
func IsSymlink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

// CheckNotSymlink returns a *SymlinkError if path is a symbolic link, and nil
// if it is anything else or does not exist.
func CheckNotSymlink(path string) error {
	if IsSymlink(path) {
		return &SymlinkError{path}
	}
	return nil
}

// Options tunes Write.
type Options struct {
	// Temp is the temporary file's path, in path's directory. A leftover
	// regular file there is removed first; a symbolic link is refused.
	// Empty: a fresh name beside path (".NAME.tmp" and random digits).
	Temp string
	// Perm is the new file's mode, before the umask (0 is 0o666).
	Perm os.FileMode
	// NoReplace refuses, with an error wrapping fs.ErrExist, to replace an
	// existing path (see RenameNoReplace).
	NoReplace bool
	// NoSync skips the fsyncs of the file and its directory: a crash may
	// then leave the old content, the new, or an empty file.
	NoSync bool
	// Dir, if set, is path's directory, open, for the fsync after the
	// rename; else it is opened for it.
	Dir *os.File
}

// WriteFile replaces path with data atomically and durably (Write with a
// fresh temporary name and mode perm).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, data, Options{Perm: perm})
}

// Write replaces path with data: a reader sees the old content or the new,
// never a part, and after a crash the name holds one of them. It never
// writes through a symbolic link: one at path (or at o.Temp) is refused with
// a *SymlinkError. The temporary file is removed if anything fails.
func Write(path string, data []byte, o Options) (err error) {
	if o.Perm == 0 {
		o.Perm = 0o666
	}
	if err := CheckNotSymlink(path); err != nil {
		return err
	}
	f, err := createTemp(path, o)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if !o.NoSync {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	if o.NoReplace {
		err = RenameNoReplace(tmp, path)
	} else {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	if o.NoSync {
		return nil
	}
	if o.Dir != nil {
		return o.Dir.Sync()
	}
	return SyncDir(filepath.Dir(path))
}

// createTemp creates the temporary file of Write, O_EXCL (which never
// follows a symbolic link).
func createTemp(path string, o Options) (*os.File, error) {
	if o.Temp == "" {
		base := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
		for range 100 {
			f, err := CreateExcl(base+strconv.FormatUint(uint64(rand.Uint32()), 10), o.Perm)
			if !errors.Is(err, fs.ErrExist) && !errors.Is(err, ErrSymlink) {
				return f, err
			}
		}
		return nil, fmt.Errorf("%s*: no free temporary name: %w", base, fs.ErrExist)
	}
	for range 2 {
		f, err := CreateExcl(o.Temp, o.Perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
		// A leftover of a write cut short (a symbolic link was refused
		// by CreateExcl): remove it and try once more.
		if err := os.Remove(o.Temp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%s: %w", o.Temp, fs.ErrExist)
}

// CreateExcl creates a new file at path (O_CREAT|O_EXCL|O_NOFOLLOW),
// opened for writing. It fails with an error wrapping fs.ErrExist if path
// exists, and with a *SymlinkError if it is a symbolic link.
func CreateExcl(path string, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, perm)
	if err != nil {
		return nil, symlinkErr(path, err)
	}
	return f, nil
}

// SyncDir fsyncs the directory dir, so that a rename or a new name in it is
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// RenameNoReplace renames oldpath to newpath unless newpath exists (as
// anything: a file, a directory, a symbolic link, dangling or not), in
// which case it fails with an error wrapping fs.ErrExist and changes
// nothing. It uses renameat2(RENAME_NOREPLACE); where the file system or
// the kernel does not support it, a hard link to newpath (which fails if
// newpath exists) and then the removal of oldpath. Where neither works it
// fails with an error that says so, and changes nothing.
func RenameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EOPNOTSUPP) {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return linkNoReplace(oldpath, newpath)
}

// linkNoReplace is RenameNoReplace by a hard link and an unlink.
func linkNoReplace(oldpath, newpath string) error {
	if err := os.Link(oldpath, newpath); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) && !errors.Is(le.Err, fs.ErrExist) {
			return fmt.Errorf("renaming %s to %s without replacing: the file system supports neither renameat2(RENAME_NOREPLACE) nor hard links: %w", oldpath, newpath, le.Err)
		}
		return err
	}
	if err := os.Remove(oldpath); err != nil {
		return fmt.Errorf("renaming %s to %s: linked, but removing the old name: %w", oldpath, newpath, err)
	}
	return nil
}
