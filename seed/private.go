package seed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/quicxfer/quicxfer/internal/partial"
)

// What a seed never serves, whatever its PATHs hold.
var (
	// ErrPrivateFile is the reason a file is not served: it is the seed's
	// own, under its state directory (its key, its manifest cache) or its
	// TLS key, reached through a symbolic link or a hard link.
	ErrPrivateFile = errors.New("the seed's own file (its state directory or its key) is never served")
	// ErrWorkingFile is the reason a file is not served or shared: it is a
	// download's working file (partial.IsWorkingFile: .qxpart, .qxstate,
	// .qxcmd and their .tmp), whose record holds local paths and URLs.
	ErrWorkingFile = errors.New("a download's working file (.qxpart, .qxstate, .qxcmd) is never served")
)

// fileKey is a file's identity: device and inode.
type fileKey struct{ dev, ino uint64 }

func keyOf(fi fs.FileInfo) (fileKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{dev: uint64(st.Dev), ino: st.Ino}, true
}

// guard decides, for every file the seed opens to index or serve, whether
// it may be served: it looks at the file opened, not at the name it was
// reached by, so that no symbolic link in a PATH (planted before the scan
// or swapped in later) and no hard link leads to the seed's own files.
type guard struct {
	stateDir string    // the state directory's resolved absolute path; "" for none
	stateKey *fileKey  // the state directory's identity (nil if it cannot be read): also when mounted elsewhere
	keys     []fileKey // the TLS key files (the self-signed one, the operator's)
}

// newGuard returns the guard of a seed whose state directory resolves to
// stateDir and whose private keys are keyFiles (missing ones are skipped:
// the self-signed key before it is made).
func newGuard(stateDir string, keyFiles ...string) *guard {
	g := &guard{}
	if stateDir != "" {
		g.stateDir = filepath.Clean(stateDir)
		if fi, err := os.Stat(g.stateDir); err == nil {
			if id, ok := keyOf(fi); ok {
				g.stateKey = &id
			}
		}
	}
	for _, k := range keyFiles {
		if k == "" {
			continue
		}
		if fi, err := os.Stat(k); err == nil {
			if id, ok := keyOf(fi); ok {
				g.keys = append(g.keys, id)
			}
		}
	}
	return g
}

// keyFiles are the private keys of a seed with options o: the operator's
// and the self-signed one in the state directory (which a seed with
// --key keeps too, from an earlier start).
func keyFiles(o Options) []string {
	return []string{o.KeyFile, filepath.Join(o.StateDir, keyFileName)}
}

// under reports whether path, absolute and resolved, is the state
// directory or inside it: by name, or because one of its directories is the
// state directory (a bind mount of it).
func (g *guard) under(path string) bool {
	if g == nil || g.stateDir == "" {
		return false
	}
	if path == g.stateDir || strings.HasPrefix(path, g.stateDir+string(filepath.Separator)) {
		return true
	}
	if g.stateKey == nil {
		return false
	}
	for p := path; ; {
		if g.isStateDir(p) {
			return true
		}
		parent := filepath.Dir(p)
		if parent == p {
			return false
		}
		p = parent
	}
}

// isStateDirEntry reports whether the directory d found at path (resolved)
// is the state directory: its path, or its identity (a bind mount).
func (g *guard) isStateDirEntry(path string, d fs.DirEntry) bool {
	if g == nil || g.stateDir == "" {
		return false
	}
	if path == g.stateDir {
		return true
	}
	if g.stateKey == nil {
		return false
	}
	fi, err := d.Info()
	if err != nil {
		return false
	}
	id, ok := keyOf(fi)
	return ok && id == *g.stateKey
}

// isStateDir reports whether the directory at path is the state directory.
func (g *guard) isStateDir(path string) bool {
	if g == nil || g.stateKey == nil {
		return false
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.IsDir() {
		return false
	}
	id, ok := keyOf(fi)
	return ok && id == *g.stateKey
}

// check returns nil if f, a file just opened to be indexed or served, may
// be served; else an error wrapping ErrPrivateFile or ErrWorkingFile. abs
// is the path f was opened by (as found, links not resolved): the fallback
// where /proc/self/fd cannot say where f is.
func (g *guard) check(f *os.File, abs string) error {
	if g == nil {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	id, ok := keyOf(fi)
	if ok {
		for _, k := range g.keys {
			if k == id {
				return fmt.Errorf("%s: %w", abs, ErrPrivateFile)
			}
		}
	}
	real, err := realPath(f, fi, abs)
	if err != nil {
		return err
	}
	if g.under(real) {
		return fmt.Errorf("%s (%s): %w", abs, real, ErrPrivateFile)
	}
	if partial.IsWorkingFile(real) {
		return fmt.Errorf("%s (%s): %w", abs, real, ErrWorkingFile)
	}
	return nil
}

// realPath returns where the open file f is: what /proc/self/fd says, or,
// where that cannot be read, abs with its links resolved if that is still
// f. A file whose place cannot be told is not served.
func realPath(f *os.File, fi fs.FileInfo, abs string) (string, error) {
	var real string
	var rerr error
	if rc, err := f.SyscallConn(); err == nil {
		err = rc.Control(func(fd uintptr) {
			real, rerr = os.Readlink("/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10))
		})
		if err == nil && rerr == nil && filepath.IsAbs(real) {
			// A file removed since it was opened reads "PATH (deleted)";
			// PATH is where it was, which is what counts.
			return strings.TrimSuffix(real, " (deleted)"), nil
		}
	}
	r, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("%s: cannot tell where the file is: %w", abs, err)
	}
	if after, err := os.Stat(r); err != nil || !os.SameFile(fi, after) {
		return "", fmt.Errorf("%s: cannot tell where the file is (it moved while opened)", abs)
	}
	return r, nil
}

// notServable reports whether err is a guard's refusal.
func notServable(err error) bool {
	return errors.Is(err, ErrPrivateFile) || errors.Is(err, ErrWorkingFile)
}
