package partial

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/quicxfer/quicxfer/internal/bitset"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// StateVersion is the format version written into the state file of a
// download whose manifest has every block's hashes; LearnStateVersion into
// that of one that learns them (Options.Learn), which records the xxh64 of
// every durable block besides its bit.
const (
	StateVersion      = 1
	LearnStateVersion = 2
)

// Block sizes of a learning download (Options.Learn): a Metalink's pieces
// may have any length, not a power of two, and the file's blocks are its
// pieces.
const (
	MinLearnBlockSize = 16 << 10
	MaxLearnBlockSize = manifest.MaxBlockSize
)

// stateMagic opens every state file.
const stateMagic = "QXSTATE\n"

const (
	// stateHeaderLen is magic, version, content ID, size, block size and block count.
	stateHeaderLen = len(stateMagic) + 1 + len(manifest.ID{}) + 3*8
	// MaxStateLen bounds the encoding of any valid state: the header, the
	// bitmap and the xxh64s of manifest.MaxBlocks blocks and the checksum.
	MaxStateLen = stateHeaderLen + manifest.MaxBlocks/8 + 8*manifest.MaxBlocks + sha256.Size
)

// ErrBadState is wrapped by DecodeState for bytes that are not a valid state:
// truncated, extended, edited, or written by another format version.
var ErrBadState = errors.New("malformed state file")

// State is the decoded content of a state file: which file the partial
// download is of, and which of its blocks are durably on disk.
type State struct {
	ID        manifest.ID
	Size      int64
	BlockSize int64
	NumBlocks int
	// Bitmap holds (NumBlocks+7)/8 bytes; bit i, counted from the least
	// significant bit of each byte, is block i. Bits past NumBlocks are zero.
	Bitmap []byte
	// XXH, in the state of a learning download (nil otherwise), holds
	// NumBlocks xxh64s: block i's, as it was written, where its bit is
	// set; zero elsewhere.
	XXH []uint64
}

// EncodedStateLen returns the length of the encoding of a state of n blocks
// (with learn, of a learning download's).
func EncodedStateLen(n int, learn bool) int {
	l := stateHeaderLen + bitmapLen(n) + sha256.Size
	if learn {
		l += 8 * n
	}
	return l
}

// Has reports whether block i's bit is set.
func (s *State) Has(i int) bool { return i >= 0 && i < s.NumBlocks && bitset.Bytes(s.Bitmap).Get(i) }

// Append appends the encoding of s to b:
//
//	magic "QXSTATE\n" (8) | version (1) | content ID (32) | size (8, BE) |
//	block size (8, BE) | block count (8, BE) | bitmap ((n+7)/8) |
//	[version 2: n xxh64s (8 each, BE)] | SHA-256 of everything before (32)
//
// A state with XXH is written as version 2 (LearnStateVersion), one without
// as version 1. s must be consistent (a bitmap of (NumBlocks+7)/8 bytes,
// XXH nil or of NumBlocks); Append does not check, DecodeState does.
func (s *State) Append(b []byte) []byte {
	start := len(b)
	b = append(b, stateMagic...)
	if s.XXH != nil {
		b = append(b, LearnStateVersion)
	} else {
		b = append(b, StateVersion)
	}
	b = append(b, s.ID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Size))
	b = binary.BigEndian.AppendUint64(b, uint64(s.BlockSize))
	b = binary.BigEndian.AppendUint64(b, uint64(s.NumBlocks))
	b = append(b, s.Bitmap...)
	for _, x := range s.XXH {
		b = binary.BigEndian.AppendUint64(b, x)
	}
	sum := sha256.Sum256(b[start:])
	return append(b, sum[:]...)
}

// DecodeState parses a state file. It refuses, with an error wrapping
// ErrBadState, anything that is not exactly one valid encoding: the length is
// checked against the header before anything is allocated, the geometry must
// be one a manifest can have, the bits past the last block must be zero, and
// the checksum must match.
func DecodeState(b []byte) (*State, error) {
	if len(b) < stateHeaderLen+sha256.Size {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the smallest state (%d)", ErrBadState, len(b), stateHeaderLen+sha256.Size)
	}
	if string(b[:len(stateMagic)]) != stateMagic {
		return nil, fmt.Errorf("%w: not a quicxfer state file", ErrBadState)
	}
	p := b[len(stateMagic):]
	if p[0] != StateVersion && p[0] != LearnStateVersion {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrBadState, p[0])
	}
	learn := p[0] == LearnStateVersion
	p = p[1:]
	var s State
	p = p[copy(s.ID[:], p):]
	size, bs, n := binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:]), binary.BigEndian.Uint64(p[16:])
	if size > manifest.MaxSize {
		return nil, fmt.Errorf("%w: size %d too large", ErrBadState, size)
	}
	if !validBlockSize(bs) && !(learn && validLearnBlockSize(bs)) {
		return nil, fmt.Errorf("%w: block size %d", ErrBadState, bs)
	}
	if want := uint64(manifest.NumBlocksFor(int64(size), int64(bs))); n != want || n > manifest.MaxBlocks {
		return nil, fmt.Errorf("%w: %d blocks, want %d for size %d", ErrBadState, n, want, size)
	}
	if want := EncodedStateLen(int(n), learn); len(b) != want {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadState, len(b), want)
	}
	body := len(b) - sha256.Size
	if sha256.Sum256(b[:body]) != [sha256.Size]byte(b[body:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadState)
	}
	bm := b[stateHeaderLen : stateHeaderLen+bitmapLen(int(n))]
	if r := n % 8; r != 0 && bm[len(bm)-1]>>r != 0 {
		return nil, fmt.Errorf("%w: bits set past the last block", ErrBadState)
	}
	s.Size, s.BlockSize, s.NumBlocks = int64(size), int64(bs), int(n)
	s.Bitmap = make([]byte, len(bm))
	copy(s.Bitmap, bm)
	if learn {
		xs := b[stateHeaderLen+len(bm) : body]
		s.XXH = make([]uint64, n)
		for i := range s.XXH {
			s.XXH[i] = binary.BigEndian.Uint64(xs[8*i:])
		}
	}
	return &s, nil
}

// validLearnBlockSize reports whether bs is a block size a learning
// download can have: any length from MinLearnBlockSize to
// MaxLearnBlockSize.
func validLearnBlockSize(bs uint64) bool {
	return bs >= MinLearnBlockSize && bs <= MaxLearnBlockSize
}

// validBlockSize reports whether bs is a block size a manifest can have.
func validBlockSize(bs uint64) bool {
	return bs >= manifest.MinBlockSize && bs <= manifest.MaxBlockSize && bits.OnesCount64(bs) == 1
}

func bitmapLen(n int) int { return bitset.ByteLen(n) }
