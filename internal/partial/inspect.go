package partial

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// CommandPath returns the path of the file in which the get command records
// how it was called for out, so that the state of a partial download can say
// which command resumes it. This package never reads or writes it; it is
// listed here with the other files of a download.
func CommandPath(out string) string { return out + CommandSuffix }

// Inspection is what Inspect found at an output path, read without opening
// anything for writing and without taking the download's lock.
type Inspection struct {
	Out        string
	OutExists  bool        // out itself exists (a finished download, or another file)
	OutMode    fs.FileMode // what out is (a symbolic link followed): only a regular file can be a finished download
	OutSize    int64
	PartExists bool
	PartSize   int64
	// State is the decoded state file; nil when it is missing (StateErr
	// wraps fs.ErrNotExist) or does not decode (StateErr wraps ErrBadState).
	State    *State
	StateErr error
	// Running reports that a process holds the part file's lock, that is, a
	// download is writing it now; LockPID is that process if known. Both
	// come from /proc/locks and are false and 0 where it cannot be read.
	Running bool
	LockPID int
	// Refused is CheckPaths's error: why a download at out would refuse
	// to start (a working file that is a symbolic link, a hard link, a
	// FIFO, ..., or a name too long); nil if it would not.
	Refused error
}

// Exists reports whether anything of a download is at out.
func (in *Inspection) Exists() bool {
	return in.OutExists || in.PartExists || !errors.Is(in.StateErr, fs.ErrNotExist)
}

// Inspect reports what is at out: out itself, its part file and its state.
// It only stats and reads: it never creates, changes or locks anything, so
// it is safe while a download runs (the state file is replaced by rename, so
// a read sees the old state or the new one). It reads nothing but a regular
// file (a FIFO never blocks it) and follows no symbolic link to read. It
// returns an error only for failures other than a missing file or a
// malformed state: a state file that is not a regular file, for one.
func Inspect(out string) (*Inspection, error) {
	in := &Inspection{Out: out}
	if fi, err := os.Stat(out); err == nil {
		in.OutExists, in.OutMode, in.OutSize = true, fi.Mode(), fi.Size()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	pi, err := os.Stat(PartPath(out))
	switch {
	case err == nil:
		in.PartExists, in.PartSize = true, pi.Size()
		in.LockPID, in.Running = flockHolder(pi)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	in.Refused = CheckPaths(out)
	in.State, in.StateErr = readState(StatePath(out))
	if in.StateErr != nil && !errors.Is(in.StateErr, fs.ErrNotExist) && !errors.Is(in.StateErr, ErrBadState) {
		return nil, fmt.Errorf("reading %s: %w", StatePath(out), in.StateErr)
	}
	return in, nil
}

// flockHolder looks up, in /proc/locks, a flock held on the file fi
// describes, and returns the holder's pid (0 if unknown) and whether there
// is one. It never takes a lock itself: even a shared lock taken for a
// moment would make a download starting at that moment fail with ErrLocked.
func flockHolder(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return parseLocks(bufio.NewScanner(f), uint64(st.Dev), st.Ino)
}

// parseLocks scans lines of /proc/locks, such as
//
//	3: FLOCK  ADVISORY  WRITE 4242 00:2f:1234 0 EOF
//
// (device major and minor in hex, the inode in decimal) for a flock on the
// file dev and ino name. Lines of waiting requests ("->") are skipped.
func parseLocks(sc *bufio.Scanner, dev, ino uint64) (int, bool) {
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), ino)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" {
			continue
		}
		if fields[5] == want {
			pid, _ := strconv.Atoi(fields[4])
			return max(pid, 0), true
		}
	}
	return 0, false
}

// Verified returns how many blocks the state records as verified and
// durable, and their bytes.
func (s *State) Verified() (blocks int, bytes int64) {
	for i := range s.NumBlocks {
		if s.Has(i) {
			blocks++
			bytes += s.blockLen(i)
		}
	}
	return blocks, bytes
}

func (s *State) blockLen(i int) int64 {
	return min(s.BlockSize, s.Size-int64(i)*s.BlockSize)
}
