package partial

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
)

// ErrNameTooLong is wrapped by CheckPaths's error (a *NameTooLongError) when
// the name of one of a download's working files would be longer than its
// file system allows.
var ErrNameTooLong = errors.New("name too long")

// NameTooLongError says that the working file Path of the download at Out
// would have a name of Len bytes, more than the Max its directory's file
// system allows. It wraps ErrNameTooLong.
type NameTooLongError struct {
	Out, Path string
	Len, Max  int
}

func (e *NameTooLongError) Error() string {
	return fmt.Sprintf("%s: the name of its working file OUT%s would be %d bytes, longer than the %d its file system allows (%v)",
		e.Out, strings.TrimPrefix(e.Path, e.Out), e.Len, e.Max, ErrNameTooLong)
}

func (e *NameTooLongError) Unwrap() error { return ErrNameTooLong }

// defaultNameMax is NAME_MAX where the file system does not say.
const defaultNameMax = 255

// CheckPaths checks, before anything of the download at out is created,
// that the download can keep its working files (Paths): every name fits its
// file system (a *NameTooLongError), and each working file that exists is a
// plain file (atomicfile.CheckPlain): a symbolic link, a FIFO, a device, a
// directory or a file with another hard link there is refused with the
// error of atomicfile, and nothing is ever written to it. Out itself is
// refused only if it is a symbolic link: a complete OUT is the user's file.
func CheckPaths(out string) error {
	work := workingPaths(out)
	max := nameMax(filepath.Dir(out))
	for _, p := range work {
		if n := len(filepath.Base(p)); n > max {
			return &NameTooLongError{Out: out, Path: p, Len: n, Max: max}
		}
	}
	if err := atomicfile.CheckNotSymlink(out); err != nil {
		return err
	}
	for _, p := range work {
		if err := atomicfile.CheckPlain(p); err != nil {
			return err
		}
	}
	return nil
}

// nameMax returns the longest file name dir's file system allows.
func nameMax(dir string) int {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Namelen <= 0 {
		return defaultNameMax
	}
	return int(st.Namelen)
}

// workingPaths returns the working files of the download at out: Paths
// without out itself.
func workingPaths(out string) []string {
	ps := make([]string, len(workingSuffixes))
	for i, s := range workingSuffixes {
		ps[i] = out + s
	}
	return ps
}
