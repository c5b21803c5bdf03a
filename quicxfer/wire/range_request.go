package wire

import (
	"fmt"

	"github.com/quic-go/quic-go/quicvarint"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// RangeRequest asks for Length bytes at Offset within block Index of the
// file with content ID ID: bytes [Offset, Offset+Length) of the block. The
// answer is one Block frame of exactly Length bytes (see ReadBlockHeader).
// Length is at least 1 and Offset+Length at most 2^62-1; a seed refuses a
// range that does not lie within the block with ErrCodeBadRequest.
type RangeRequest struct {
	ID     manifest.ID
	Index  uint64 // at most 2^62-1 (a varint), else Append panics
	Offset uint64 // at most 2^62-1 (a varint), else Append panics
	Length uint64 // at most 2^62-1 (a varint), else Append panics
}

// Append appends the frame. It does not check Length and Offset+Length; a
// receiver refuses a frame that breaks those rules.
func (m *RangeRequest) Append(b []byte) []byte {
	b = AppendFrameHeader(b, FrameGetRange, uint64(idLen+varintLen(m.Index)+varintLen(m.Offset)+varintLen(m.Length)))
	b = append(b, m.ID[:]...)
	b = appendVarint(b, m.Index)
	b = appendVarint(b, m.Offset)
	return appendVarint(b, m.Length)
}

func (m *RangeRequest) requestType() FrameType { return FrameGetRange }

// parse decodes the payload.
func (m *RangeRequest) parse(p []byte) error {
	if len(p) < idLen {
		return fmt.Errorf("%w: %s: %d bytes", ErrMalformed, FrameGetRange, len(p))
	}
	id := manifest.ID(p[:idLen])
	index, rest, err := parseVarint(p[idLen:])
	if err != nil {
		return fmt.Errorf("%s: block index: %w", FrameGetRange, err)
	}
	offset, rest, err := parseVarint(rest)
	if err != nil {
		return fmt.Errorf("%s: offset: %w", FrameGetRange, err)
	}
	length, rest, err := parseVarint(rest)
	if err != nil {
		return fmt.Errorf("%s: length: %w", FrameGetRange, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %s: %d trailing bytes", ErrMalformed, FrameGetRange, len(rest))
	}
	if length == 0 {
		return fmt.Errorf("%w: %s: empty range", ErrMalformed, FrameGetRange)
	}
	// Both are varints, so the sum cannot wrap a uint64; it must still be a
	// varint itself.
	if offset+length > quicvarint.Max {
		return fmt.Errorf("%w: %s: offset %d + length %d overflows", ErrMalformed, FrameGetRange, offset, length)
	}
	*m = RangeRequest{ID: id, Index: index, Offset: offset, Length: length}
	return nil
}
