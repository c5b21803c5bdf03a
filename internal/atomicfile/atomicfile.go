package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrSymlink is wrapped by every error that refuses a symbolic link where a
// file was to be opened or written.
var ErrSymlink = errors.New("is a symbolic link")

// ErrNotRegular is wrapped by the error of every open or write that refuses
// a path naming a directory, a device, a FIFO or a socket.
var ErrNotRegular = errors.New("is not a regular file")

// ErrHardLink is wrapped by every error that refuses a file with more than
// one hard link where a file of quicxfer's own was to be written: the other
// name may be anyone's file.
var ErrHardLink = errors.New("has more than one hard link")

// ErrTooLarge is wrapped by ReadFile's error for a file larger than the
// limit it was given.
var ErrTooLarge = errors.New("is too large")

// SymlinkError says that Path is a symbolic link and was not followed. It
// wraps ErrSymlink.
type SymlinkError struct{ Path string }

func (e *SymlinkError) Error() string {
	return e.Path + " is a symbolic link; refusing to write through it"
}

func (e *SymlinkError) Unwrap() error { return ErrSymlink }

// NotRegularError says that Path is not a regular file (Mode says what it
// is) and was not opened. It wraps ErrNotRegular.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s %v (%s)", e.Path, ErrNotRegular, kind(e.Mode))
}

func (e *NotRegularError) Unwrap() error { return ErrNotRegular }

// kind names the type of a file that is not a regular file.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a file"
}

// HardLinkError says that Path has Links hard links, so that writing to it
// would change the file under its other names too. It wraps ErrHardLink.
type HardLinkError struct {
	Path  string
	Links uint64
}

func (e *HardLinkError) Error() string {
	return fmt.Sprintf("%s has %d hard links (another name of the same file); refusing to write to it", e.Path, e.Links)
}

func (e *HardLinkError) Unwrap() error { return ErrHardLink }

// TooLargeError says that Path holds more than Limit bytes and was not
// read. It wraps ErrTooLarge.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d bytes; refusing to read it", e.Path, e.Limit)
}

func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// OpenFile is os.OpenFile with O_NOFOLLOW and O_NONBLOCK, for the files
// quicxfer keeps itself: a symbolic link at path is refused with a
// *SymlinkError and anything that is not a regular file with a
// *NotRegularError, before it is opened where it can be told (a FIFO never
// blocks the open, a device is never opened). Opened for writing (O_WRONLY,
// O_RDWR), a file with more than one hard link is refused with a
// *HardLinkError, and O_TRUNC truncates only after these checks. O_NONBLOCK
// is cleared again unless flag asked for it.
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	return open(path, flag, perm, false)
}

// OpenRegular opens the regular file at path for reading, following a
// symbolic link (a name the user gave): anything else is refused with a
// *NotRegularError, and a FIFO does not block the open (O_NONBLOCK, cleared
// once the file is known to be regular).
func OpenRegular(path string) (*os.File, error) {
	return open(path, os.O_RDONLY, 0, true)
}

func open(path string, flag int, perm os.FileMode, follow bool) (*os.File, error) {
	stat, nofollow := os.Lstat, unix.O_NOFOLLOW
	if follow {
		stat, nofollow = os.Stat, 0
	}
	// Refuse what is not a regular file before opening it: opening a
	// device may have effects of its own.
	if fi, err := stat(path); err == nil && !fi.Mode().IsRegular() {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return nil, &SymlinkError{path}
		}
		return nil, &NotRegularError{path, fi.Mode()}
	}
	trunc := flag&os.O_TRUNC != 0
	f, err := os.OpenFile(path, flag&^os.O_TRUNC|nofollow|unix.O_NONBLOCK, perm)
	if err != nil {
		if !follow {
			return nil, symlinkErr(path, err)
		}
		return nil, err
	}
	fi, err := regular(f, path, flag&unix.O_NONBLOCK == 0)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		return nil, err
	}
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		if n := links(fi); n > 1 {
			return fail(&HardLinkError{path, n})
		}
	}
	if trunc {
		if err := f.Truncate(0); err != nil {
			return fail(err)
		}
	}
	return f, nil
}

// Regular finishes an open made with O_NONBLOCK (so that a FIFO could not
// block it) of what must be a regular file, named path in errors: it
// returns f's FileInfo if f is a regular file, with O_NONBLOCK cleared
// again, and otherwise closes f and returns a *NotRegularError.
func Regular(f *os.File, path string) (fs.FileInfo, error) {
	return regular(f, path, true)
}

// regular is Regular, which clears O_NONBLOCK only if block is set.
func regular(f *os.File, path string, block bool) (fs.FileInfo, error) {
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &NotRegularError{path, fi.Mode()}
	}
	if err == nil && block {
		// O_NONBLOCK means nothing to a regular file on most file
		// systems; cleared so that none reads it as "may return EAGAIN".
		err = Control(f, func(fd int) error { return unix.SetNonblock(fd, false) })
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return fi, nil
}

// links returns the number of hard links of the file fi describes (1 where
// it cannot tell).
func links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// Control runs fn on f's file descriptor (os.File.SyscallConn), returning
// fn's error or the one of getting at the descriptor.
func Control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// ReadFile reads the regular file at path, following a symbolic link (a
// file the user named, such as a certificate or a token file), and at most
// limit bytes of it: a larger file is refused with a *TooLargeError,
// anything but a regular file with a *NotRegularError, and a FIFO never
// blocks it.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	return readLimited(f, path, limit)
}

// ReadFileNoFollow is ReadFile for a file of quicxfer's own: a symbolic
// link at path is refused with a *SymlinkError, not followed.
func ReadFileNoFollow(path string, limit int64) ([]byte, error) {
	f, err := OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	return readLimited(f, path, limit)
}

// readLimited reads f, closing it, refusing more than limit bytes: by its
// size before reading anything, and by what it reads (it may be growing).
func readLimited(f *os.File, path string, limit int64) ([]byte, error) {
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, &TooLargeError{path, limit}
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{path, limit}
	}
	return b, nil
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

// CheckPlain returns nil if path does not exist or is a plain file: a
// regular file with one name, which quicxfer may write, replace or remove
// as its own. Else it returns a *SymlinkError, a *NotRegularError or a
// *HardLinkError; and the error of Lstat other than a missing file.
func CheckPlain(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return &SymlinkError{path}
	case !fi.Mode().IsRegular():
		return &NotRegularError{path, fi.Mode()}
	}
	if n := links(fi); n > 1 {
		return &HardLinkError{path, n}
	}
	return nil
}

// Options tunes Write.
type Options struct {
	// Temp is the temporary file's path, in path's directory. A leftover
	// plain file there (regular, one hard link: a write cut short) is
	// removed first; anything else is refused (CheckPlain), never written
	// through or removed.
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
// a *SymlinkError, and anything else at path that is not a regular file
// with a *NotRegularError. The data goes only into a file it created (see
// Options.Temp). The temporary file is removed if anything fails.
func Write(path string, data []byte, o Options) (err error) {
	if o.Perm == 0 {
		o.Perm = 0o666
	}
	if err := CheckPlain(path); err != nil && !errors.Is(err, ErrHardLink) {
		// Another name of the file at path keeps its content: the
		// rename replaces this name only.
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
		// A leftover of a write cut short: removed if it is a plain file,
		// else refused. CreateExcl never opens what is there.
		if err := CheckPlain(o.Temp); err != nil {
			return nil, err
		}
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
