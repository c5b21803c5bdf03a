package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
)

// A manifest file (what `quicxfer manifest --out FILE` writes and
// `quicxfer get --manifest FILE` reads) is
//
//	fileMagic | canonical encoding (AppendBinary) | content ID (32 bytes)
//
// The magic line says what the file is; the canonical encoding is the very
// bytes a seed sends, so the file's content ID is the one a seed reports; the
// trailing ID makes the file check itself: a file damaged anywhere, truncated
// or extended no longer hashes to its own last 32 bytes.
const fileMagic = "quicxfer manifest file v1\n"

// MaxFileLen bounds what ReadFile reads.
const MaxFileLen = len(fileMagic) + MaxEncodedLen + len(ID{})

// ErrNotManifestFile is returned by ReadFile and UnmarshalFile for a file that
// is not a manifest file, or one that is damaged or truncated.
var ErrNotManifestFile = errors.New("not a quicxfer manifest file")

// ErrNotReplaceable is wrapped by WriteFile's and CheckReplaceable's error
// for a path that exists and is not a manifest file: it is never replaced.
var ErrNotReplaceable = errors.New("exists and is not a quicxfer manifest file; not replacing it")

// MarshalFile returns m in the manifest file format.
func (m *Manifest) MarshalFile() []byte {
	b := append([]byte(fileMagic), m.AppendBinary(nil)...)
	id := m.ID()
	return append(b, id[:]...)
}

// UnmarshalFile parses the manifest file format. Any damage gives an error
// wrapping ErrNotManifestFile.
func UnmarshalFile(b []byte) (*Manifest, error) {
	if !bytes.HasPrefix(b, []byte(fileMagic)) {
		return nil, fmt.Errorf("%w (it does not start with %q)", ErrNotManifestFile, fileMagic[:len(fileMagic)-1])
	}
	b = b[len(fileMagic):]
	if len(b) < len(ID{}) {
		return nil, fmt.Errorf("%w: truncated", ErrNotManifestFile)
	}
	body, sum := b[:len(b)-len(ID{})], ID(b[len(b)-len(ID{}):])
	m, err := Decode(body)
	if err != nil {
		return nil, fmt.Errorf("%w: damaged or truncated (%w)", ErrNotManifestFile, err)
	}
	if m.ID() != sum {
		return nil, fmt.Errorf("%w: damaged (its content does not match its checksum)", ErrNotManifestFile)
	}
	return m, nil
}

// ReadFile reads a manifest file (a symbolic link is followed). It reads at
// most MaxFileLen bytes, and nothing but a regular file (a FIFO does not
// block it; the error wraps atomicfile.ErrNotRegular).
func ReadFile(path string) (*Manifest, error) {
	b, err := atomicfile.ReadFile(path, int64(MaxFileLen))
	if errors.Is(err, atomicfile.ErrTooLarge) {
		return nil, fmt.Errorf("%s: %w: larger than any manifest", path, ErrNotManifestFile)
	}
	if err != nil {
		return nil, err
	}
	m, err := UnmarshalFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// WriteFile writes m to path in the manifest file format, atomically: a new
// temporary file beside it, synced, then renamed to path. It replaces only a
// manifest file (one that starts with the format's magic line, damaged or
// not): anything else at path is refused with an error wrapping
// ErrNotReplaceable, a symbolic link with an *atomicfile.SymlinkError, and a
// file that appears at path while it writes is not replaced either.
func (m *Manifest) WriteFile(path string) error {
	exists, err := checkReplaceable(path)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, m.MarshalFile(), atomicfile.Options{Perm: 0o644, NoReplace: !exists})
}

// CheckReplaceable returns nil if WriteFile may write path: nothing is there,
// or a manifest file is. Else it returns what WriteFile would: an error
// wrapping ErrNotReplaceable, or an *atomicfile.SymlinkError. It lets a caller
// refuse before it spends the time to hash a file.
func CheckReplaceable(path string) error {
	_, err := checkReplaceable(path)
	return err
}

// checkReplaceable is CheckReplaceable; it also reports whether path exists.
func checkReplaceable(path string) (bool, error) {
	f, err := atomicfile.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case errors.Is(err, atomicfile.ErrNotRegular):
		return true, fmt.Errorf("%s %w", path, ErrNotReplaceable)
	case err != nil:
		return true, err
	}
	defer f.Close()
	head := make([]byte, len(fileMagic))
	if _, err := io.ReadFull(f, head); err != nil || string(head) != fileMagic {
		return true, fmt.Errorf("%s %w", path, ErrNotReplaceable)
	}
	return true, nil
}
