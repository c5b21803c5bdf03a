package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// ReadFile reads a manifest file. It reads at most MaxFileLen bytes.
func ReadFile(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(MaxFileLen)+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > MaxFileLen {
		return nil, fmt.Errorf("%s: %w: larger than any manifest", path, ErrNotManifestFile)
	}
	m, err := UnmarshalFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// WriteFile writes m to path in the manifest file format, atomically: a
// temporary file beside it, synced, then renamed over path.
func (m *Manifest) WriteFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(m.MarshalFile()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
