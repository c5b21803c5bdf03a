package wire

import (
	"fmt"
	"io"
)

// AppendBlockHeader appends the header of a Block frame whose payload, the
// block's bytes, is length bytes long. The caller sends the bytes after it.
// length must be in [0, manifest.MaxBlockSize] for a receiver to accept it.
func AppendBlockHeader(b []byte, length int) []byte {
	return AppendFrameHeader(b, FrameBlock, uint64(length))
}

// ReadBlockHeader reads the header of the Block frame that answers a
// BlockRequest or a RangeRequest and checks that its payload is want bytes:
// the block's length per the manifest, or the range's Length. The caller then reads exactly want bytes from r with
// io.ReadFull (an io.EOF from that read is also a truncated frame). An end of
// stream before or inside the header is io.ErrUnexpectedEOF, a frame of
// another type is ErrUnexpectedFrame, and a length other than want is
// ErrWrongLength. Errors from r are returned unchanged (see FromQUIC).
func ReadBlockHeader(r Reader, want int64) error {
	length, err := readHeader(r, FrameBlock, io.ErrUnexpectedEOF)
	if err != nil {
		return err
	}
	if want < 0 || length != uint64(want) {
		return fmt.Errorf("%w: %d bytes, want %d", ErrWrongLength, length, want)
	}
	return nil
}
