package wire

import (
	"fmt"
	"io"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// FileEntry is one file in the answer to a ListRequest.
type FileEntry struct {
	Name string
	Size int64 // in bytes; must not be negative, else Append panics
	ID   manifest.ID
}

// Append appends the frame. The name is not checked; a receiver refuses a
// name that CheckName refuses.
func (e *FileEntry) Append(b []byte) []byte {
	n := varintLen(uint64(len(e.Name))) + len(e.Name) + varintLen(uint64(e.Size)) + idLen
	b = AppendFrameHeader(b, FrameFileEntry, uint64(n))
	b = appendName(b, e.Name)
	b = appendVarint(b, uint64(e.Size))
	return append(b, e.ID[:]...)
}

// ReadFileEntry reads the next entry of a list. It returns io.EOF at a clean
// end of the list (the stream's end before a frame), io.ErrUnexpectedEOF for
// an end inside a frame, an error wrapping ErrUnexpectedFrame for a frame of
// another type, ErrBadName for a name CheckName refuses and ErrMalformed for
// a payload that does not parse. Errors from r are returned unchanged (see
// FromQUIC).
func ReadFileEntry(r Reader) (FileEntry, error) {
	length, err := readHeader(r, FrameFileEntry, io.EOF)
	if err != nil {
		return FileEntry{}, err
	}
	p, err := readPayload(r, length)
	if err != nil {
		return FileEntry{}, err
	}
	name, p, err := parseName(p)
	if err != nil {
		return FileEntry{}, fmt.Errorf("%s: %w", FrameFileEntry, err)
	}
	size, p, err := parseVarint(p)
	if err != nil {
		return FileEntry{}, fmt.Errorf("%s %q: size: %w", FrameFileEntry, name, err)
	}
	if len(p) != idLen {
		return FileEntry{}, fmt.Errorf("%w: %s %q: %d bytes for a %d-byte content ID", ErrMalformed, FrameFileEntry, name, len(p), idLen)
	}
	return FileEntry{Name: name, Size: int64(size), ID: manifest.ID(p)}, nil
}
