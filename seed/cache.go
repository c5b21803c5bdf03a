package seed

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// manifestCache keeps one file per served file under StateDir/manifests,
// named by a hash of the file's absolute path. An entry is
//
//	magic | uvarint len(path) | path | size (8 bytes) | mtime ns (8 bytes) |
//	manifest (canonical encoding) | xxh64 of everything before (8 bytes)
//
// and counts only while the file's size and modification time are those
// recorded. The checksum catches a damaged entry, which is then ignored and
// rewritten: a flipped bit in a cached hash would otherwise make every
// client reject the seed's blocks.
type manifestCache struct {
	dir string
}

const cacheMagic = "quicxfer manifest cache 1\n"

var errCacheDamaged = errors.New("damaged manifest cache entry")

// cacheDirOf is where the manifest cache of a seed with this state
// directory lives: its "manifests", by the directory's real path.
func cacheDirOf(stateDir string) (string, error) {
	abs, err := filepath.Abs(stateDir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", err
	}
	return filepath.Join(abs, "manifests"), nil
}

func (c *manifestCache) entryPath(abs string) string {
	h := sha256.Sum256([]byte(abs))
	return filepath.Join(c.dir, hex.EncodeToString(h[:16]))
}

// loadFile is load for the file at path as it is now.
func (c *manifestCache) loadFile(path string) (*manifest.Manifest, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	return c.load(abs, fi.Size(), fi.ModTime().UnixNano())
}

// load returns the cached manifest for abs if it was made for this size and
// modification time; nil and no error if there is none or it is stale; nil
// and an error wrapping errCacheDamaged if the entry cannot be trusted.
func (c *manifestCache) load(abs string, size, mtime int64) (*manifest.Manifest, error) {
	p := c.entryPath(abs)
	path, rest, err := readEntry(p, len(abs))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if path != abs {
		return nil, nil // another path with the same hash prefix; treat as a miss
	}
	if int64(binary.BigEndian.Uint64(rest)) != size || int64(binary.BigEndian.Uint64(rest[8:])) != mtime {
		return nil, nil // stale
	}
	m, err := manifest.Decode(rest[16:])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errCacheDamaged, p, err)
	}
	if m.Size != size {
		return nil, fmt.Errorf("%w: %s: manifest for %d bytes, file has %d", errCacheDamaged, p, m.Size, size)
	}
	return m, nil
}

// readEntry reads the cache entry at p, for a path of at most maxPath
// bytes, checks its header and checksum, and returns the path it is for
// and what follows the path (size, mtime, manifest: at least 16 bytes).
//
// The entry is read bounded, without blocking, without following a symbolic
// link (the seed writes none), and only if it is a regular file; anything
// else there is damage.
func readEntry(p string, maxPath int) (path string, rest []byte, err error) {
	limit := int64(len(cacheMagic) + binary.MaxVarintLen64 + maxPath + 16 + manifest.MaxEncodedLen + 8)
	b, err := atomicfile.ReadFileNoFollow(p, limit)
	if errors.Is(err, atomicfile.ErrTooLarge) || errors.Is(err, atomicfile.ErrSymlink) || errors.Is(err, atomicfile.ErrNotRegular) {
		return "", nil, fmt.Errorf("%w: %w", errCacheDamaged, err)
	}
	if err != nil {
		return "", nil, err
	}
	if int64(len(b)) > limit {
		return "", nil, fmt.Errorf("%w: %s: more than %d bytes", errCacheDamaged, p, limit)
	}
	if len(b) < len(cacheMagic)+8 || !bytes.HasPrefix(b, []byte(cacheMagic)) {
		return "", nil, fmt.Errorf("%w: %s: bad header", errCacheDamaged, p)
	}
	body, sum := b[:len(b)-8], binary.BigEndian.Uint64(b[len(b)-8:])
	if xxhash.Sum64(body) != sum {
		return "", nil, fmt.Errorf("%w: %s: checksum", errCacheDamaged, p)
	}
	rest = body[len(cacheMagic):]
	plen, n := binary.Uvarint(rest)
	if n <= 0 || plen > uint64(len(rest)-n) {
		return "", nil, fmt.Errorf("%w: %s: path", errCacheDamaged, p)
	}
	rest = rest[n:]
	path, rest = string(rest[:plen]), rest[plen:]
	if len(rest) < 16 {
		return "", nil, fmt.Errorf("%w: %s: truncated", errCacheDamaged, p)
	}
	return path, rest, nil
}

// prune removes the entries of files that no longer exist, damaged entries,
// and temporary files that a crash left more than an hour ago. Entries of
// files that exist but are not served here are kept: another seed may share
// the state directory. It returns how many files it removed.
func (c *manifestCache) prune(now time.Time) (int, error) {
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, de := range des {
		p := filepath.Join(c.dir, de.Name())
		if strings.HasPrefix(de.Name(), ".") {
			if fi, err := de.Info(); err == nil && now.Sub(fi.ModTime()) > time.Hour && os.Remove(p) == nil {
				removed++
			}
			continue
		}
		if !de.Type().IsRegular() {
			continue
		}
		path, _, err := readEntry(p, maxCachedPath)
		if err == nil {
			if _, err = os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
				continue
			}
		} else if !errors.Is(err, errCacheDamaged) {
			continue
		}
		if os.Remove(p) == nil {
			removed++
		}
	}
	return removed, nil
}

// maxCachedPath bounds the path an entry may record (Linux's PATH_MAX).
const maxCachedPath = 4096

// store writes the entry for abs atomically. It does not fsync: an entry lost
// or emptied by a crash only costs hashing the file again.
func (c *manifestCache) store(abs string, size, mtime int64, m *manifest.Manifest) error {
	b := make([]byte, 0, len(cacheMagic)+binary.MaxVarintLen64+len(abs)+16+40*len(m.Blocks)+32)
	b = append(b, cacheMagic...)
	b = binary.AppendUvarint(b, uint64(len(abs)))
	b = append(b, abs...)
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	b = binary.BigEndian.AppendUint64(b, uint64(mtime))
	b = m.AppendBinary(b)
	b = binary.BigEndian.AppendUint64(b, xxhash.Sum64(b))
	p := c.entryPath(abs)
	// The cache directory is the seed's own: whatever else is at an
	// entry's name (a FIFO, a link: damage) goes, and the entry replaces
	// it (the write itself never goes through such a file).
	if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	// Not synced: a crash may leave an empty entry, which load refuses.
	return atomicfile.Write(p, b, atomicfile.Options{Perm: 0o600, NoSync: true})
}
