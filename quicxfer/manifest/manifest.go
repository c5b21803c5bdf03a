package manifest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/quic-go/quic-go/quicvarint"
)

// Block size rule: the smallest power of two from MinBlockSize to MaxBlockSize
// that keeps a file under TargetBlocks blocks (syncthing's rule).
const (
	MinBlockSize = 128 << 10
	MaxBlockSize = 16 << 20
	TargetBlocks = 2000
	// MaxBlocks bounds what a decoder accepts, and so what it allocates.
	MaxBlocks = 1 << 18
	// MaxSize is the largest file a manifest can describe (4 TiB).
	MaxSize = MaxBlocks * MaxBlockSize
	// blockHashLen is the encoded size of one Block.
	blockHashLen = 8 + sha256.Size
	// MaxEncodedLen bounds the canonical encoding of any valid manifest.
	MaxEncodedLen = 1 + 2*8 + MaxBlocks*blockHashLen
)

const encodingVersion = 1

// idDomain separates content IDs from any other SHA-256 use.
const idDomain = "quicxfer manifest v1\n"

var (
	// ErrHashMismatch is returned by Verify when a block's bytes do not match the manifest.
	ErrHashMismatch = errors.New("block hash mismatch")
	// ErrMalformed is returned by Decode for an encoding that is not a valid manifest.
	ErrMalformed = errors.New("malformed manifest")
	// ErrTooLarge is returned for a file larger than MaxSize.
	ErrTooLarge = errors.New("file too large for a manifest")
)

// ID is a content ID: the SHA-256 of a manifest's canonical encoding.
type ID [sha256.Size]byte

// String returns the ID as 64 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero ID (no ID).
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses the text form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return ID{}, fmt.Errorf("content ID %q: want %d hex digits", s, 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("content ID %q: not hex", s)
	}
	return id, nil
}

// Block holds the hashes of one block.
type Block struct {
	XXH uint64
	SHA [sha256.Size]byte
}

// Manifest describes a file's content as hashed blocks.
type Manifest struct {
	Size      int64
	BlockSize int64
	Blocks    []Block
}

// BlockSizeFor returns the block size used for a file of the given size.
func BlockSizeFor(size int64) int64 {
	bs := int64(MinBlockSize)
	for bs < MaxBlockSize && size > bs*TargetBlocks {
		bs <<= 1
	}
	return bs
}

// NumBlocksFor returns how many blocks a file of size has with block size bs.
func NumBlocksFor(size, bs int64) int {
	return int((size + bs - 1) / bs)
}

// NumBlocks returns the number of blocks.
func (m *Manifest) NumBlocks() int { return len(m.Blocks) }

// BlockOffset returns the byte offset of block i in the file.
func (m *Manifest) BlockOffset(i int) int64 { return int64(i) * m.BlockSize }

// BlockLen returns the length of block i; the last block may be short.
func (m *Manifest) BlockLen(i int) int64 {
	off := m.BlockOffset(i)
	return min(m.BlockSize, m.Size-off)
}

// ID returns the content ID.
func (m *Manifest) ID() ID {
	h := sha256.New()
	h.Write([]byte(idDomain))
	h.Write(m.AppendBinary(make([]byte, 0, 32+len(m.Blocks)*blockHashLen)))
	var id ID
	h.Sum(id[:0])
	return id
}

// AppendBinary appends the canonical encoding: a version byte, the size and
// block size as QUIC varints, then for every block its xxh64 (8 bytes, big
// endian) and its SHA-256 (32 bytes). The block count is implied by the size.
func (m *Manifest) AppendBinary(b []byte) []byte {
	b = append(b, encodingVersion)
	b = quicvarint.Append(b, uint64(m.Size))
	b = quicvarint.Append(b, uint64(m.BlockSize))
	for _, blk := range m.Blocks {
		b = binary.BigEndian.AppendUint64(b, blk.XXH)
		b = append(b, blk.SHA[:]...)
	}
	return b
}

// Decode parses a canonical encoding. It checks the size and block size
// before it allocates, and accepts only the one block size BlockSizeFor
// gives and varints in their shortest form, so that every file has a single
// valid manifest and every manifest a single encoding (the one AppendBinary
// writes, whose hash is the content ID).
func Decode(b []byte) (*Manifest, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if b[0] != encodingVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrMalformed, b[0])
	}
	b = b[1:]
	size, b, err := parseVarint(b, "size")
	if err != nil {
		return nil, err
	}
	bs, b, err := parseVarint(b, "block size")
	if err != nil {
		return nil, err
	}
	if size > MaxSize {
		return nil, fmt.Errorf("%w: size %d: %w", ErrMalformed, size, ErrTooLarge)
	}
	if bs != uint64(BlockSizeFor(int64(size))) {
		return nil, fmt.Errorf("%w: block size %d is not %d for size %d", ErrMalformed, bs, BlockSizeFor(int64(size)), size)
	}
	nblocks := NumBlocksFor(int64(size), int64(bs))
	if len(b) != nblocks*blockHashLen {
		return nil, fmt.Errorf("%w: %d bytes of block hashes, want %d", ErrMalformed, len(b), nblocks*blockHashLen)
	}
	m := &Manifest{Size: int64(size), BlockSize: int64(bs), Blocks: make([]Block, nblocks)}
	for i := range m.Blocks {
		m.Blocks[i].XXH = binary.BigEndian.Uint64(b)
		copy(m.Blocks[i].SHA[:], b[8:blockHashLen])
		b = b[blockHashLen:]
	}
	return m, nil
}

// parseVarint parses the QUIC varint field what at the start of b, which
// must be in its shortest form.
func parseVarint(b []byte, what string) (uint64, []byte, error) {
	v, n, err := quicvarint.Parse(b)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s: truncated", ErrMalformed, what)
	}
	if quicvarint.Len(v) != n {
		return 0, nil, fmt.Errorf("%w: %s: %d-byte varint for %d, not its shortest form", ErrMalformed, what, n, v)
	}
	return v, b[n:], nil
}

// HashBlock returns the hashes of one block's bytes.
func HashBlock(data []byte) Block {
	return Block{XXH: xxhash.Sum64(data), SHA: sha256.Sum256(data)}
}

// CheckXXH reports whether data has block i's length and xxh64. It is the
// fast check for data already on disk; Verify is the proof.
func (m *Manifest) CheckXXH(i int, data []byte) bool {
	return int64(len(data)) == m.BlockLen(i) && xxhash.Sum64(data) == m.Blocks[i].XXH
}

// Verify checks that data is block i: its length, its xxh64 (cheap, rejects
// most damage early) and its SHA-256. It returns an error wrapping
// ErrHashMismatch if not.
func (m *Manifest) Verify(i int, data []byte) error {
	if i < 0 || i >= len(m.Blocks) {
		return fmt.Errorf("block %d out of range [0,%d)", i, len(m.Blocks))
	}
	if want := m.BlockLen(i); int64(len(data)) != want {
		return fmt.Errorf("block %d: %d bytes, want %d: %w", i, len(data), want, ErrHashMismatch)
	}
	if xxhash.Sum64(data) != m.Blocks[i].XXH {
		return fmt.Errorf("block %d: xxh64: %w", i, ErrHashMismatch)
	}
	if sha256.Sum256(data) != m.Blocks[i].SHA {
		return fmt.Errorf("block %d: sha256: %w", i, ErrHashMismatch)
	}
	return nil
}
