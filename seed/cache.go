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

	"github.com/cespare/xxhash/v2"

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

func (c *manifestCache) entryPath(abs string) string {
	h := sha256.Sum256([]byte(abs))
	return filepath.Join(c.dir, hex.EncodeToString(h[:16]))
}

// load returns the cached manifest for abs if it was made for this size and
// modification time; nil and no error if there is none or it is stale; nil
// and an error wrapping errCacheDamaged if the entry cannot be trusted.
func (c *manifestCache) load(abs string, size, mtime int64) (*manifest.Manifest, error) {
	p := c.entryPath(abs)
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if limit := int64(len(cacheMagic) + binary.MaxVarintLen64 + len(abs) + 16 + manifest.MaxEncodedLen + 8); fi.Size() > limit {
		return nil, fmt.Errorf("%w: %s: %d bytes", errCacheDamaged, p, fi.Size())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if len(b) < len(cacheMagic)+8 || !bytes.HasPrefix(b, []byte(cacheMagic)) {
		return nil, fmt.Errorf("%w: %s: bad header", errCacheDamaged, p)
	}
	body, sum := b[:len(b)-8], binary.BigEndian.Uint64(b[len(b)-8:])
	if xxhash.Sum64(body) != sum {
		return nil, fmt.Errorf("%w: %s: checksum", errCacheDamaged, p)
	}
	rest := body[len(cacheMagic):]
	plen, n := binary.Uvarint(rest)
	if n <= 0 || plen > uint64(len(rest)-n) {
		return nil, fmt.Errorf("%w: %s: path", errCacheDamaged, p)
	}
	rest = rest[n:]
	path := string(rest[:plen])
	rest = rest[plen:]
	if len(rest) < 16 {
		return nil, fmt.Errorf("%w: %s: truncated", errCacheDamaged, p)
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
	return writeFileAtomic(c.entryPath(abs), b, 0o600, false)
}
