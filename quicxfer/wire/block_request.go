package wire

import (
	"fmt"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// BlockRequest asks for block Index of the file with content ID ID. The
// answer is one Block frame (see ReadBlockHeader).
type BlockRequest struct {
	ID    manifest.ID
	Index uint64 // at most 2^62-1 (a varint), else Append panics
}

// Append appends the frame.
func (m *BlockRequest) Append(b []byte) []byte {
	b = AppendFrameHeader(b, FrameGetBlock, uint64(idLen+varintLen(m.Index)))
	b = append(b, m.ID[:]...)
	return appendVarint(b, m.Index)
}

func (m *BlockRequest) requestType() FrameType { return FrameGetBlock }

// parse decodes the payload.
func (m *BlockRequest) parse(p []byte) error {
	if len(p) < idLen {
		return fmt.Errorf("%w: %s: %d bytes", ErrMalformed, FrameGetBlock, len(p))
	}
	id := manifest.ID(p[:idLen])
	index, rest, err := parseVarint(p[idLen:])
	if err != nil {
		return fmt.Errorf("%s: block index: %w", FrameGetBlock, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %s: %d trailing bytes", ErrMalformed, FrameGetBlock, len(rest))
	}
	*m = BlockRequest{ID: id, Index: index}
	return nil
}
