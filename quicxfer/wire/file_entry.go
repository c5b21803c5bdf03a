package wire

import (
	"errors"
	"fmt"
	"io"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// FileEntry is one file in the answer to a ListRequest.
type FileEntry struct {
	Name string
	Size int64 // in bytes, 0 to manifest.MaxSize; must not be negative, else Append panics
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
// a payload that does not parse or a size over manifest.MaxSize (no
// manifest describes such a file). Errors from r are returned unchanged
// (see FromQUIC). A caller that keeps the entries of a whole list bounds it
// with a ListReader.
func ReadFileEntry(r Reader) (FileEntry, error) {
	length, err := readHeader(r, FrameFileEntry, io.EOF)
	if err != nil {
		return FileEntry{}, err
	}
	return readFileEntryPayload(r, length)
}

func readFileEntryPayload(r Reader, length uint64) (FileEntry, error) {
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
	if size > manifest.MaxSize {
		return FileEntry{}, fmt.Errorf("%w: %s %q: size %d over %d, the largest file a manifest describes", ErrMalformed, FrameFileEntry, name, size, int64(manifest.MaxSize))
	}
	if len(p) != idLen {
		return FileEntry{}, fmt.Errorf("%w: %s %q: %d bytes for a %d-byte content ID", ErrMalformed, FrameFileEntry, name, len(p), idLen)
	}
	return FileEntry{Name: name, Size: int64(size), ID: manifest.ID(p)}, nil
}

// Limits of a whole LIST answer, which ListReader applies by default: the
// frames of a list are small, but a seed could send them without end. A
// seed that serves more files than this, or longer names, cannot be listed
// whole; its files can still be fetched by name.
const (
	// MaxListEntries is the most FILE_ENTRY frames of one list.
	MaxListEntries = 1 << 20
	// MaxListBytes bounds the sum of the payload lengths of one list's
	// FILE_ENTRY frames: 64 MiB, more than a million names of 25 bytes.
	// What a client keeps of a list (names, sizes, IDs) is about this much.
	MaxListBytes = 64 << 20
)

// ErrListTooLarge is returned by ListReader.Next for a list over its limits.
var ErrListTooLarge = errors.New("file list too large")

// ListReader reads the FILE_ENTRY frames of a LIST answer, one at a time, and
// refuses a list of more than MaxEntries frames or MaxBytes of payload: the
// frame that would go over is refused from its header, before its payload
// is read or anything is allocated for it.
type ListReader struct {
	r Reader
	// MaxEntries and MaxBytes are the limits; NewListReader sets them to
	// MaxListEntries and MaxListBytes.
	MaxEntries int
	MaxBytes   int64

	entries int
	bytes   int64
}

// NewListReader returns a ListReader of the list on r with the default limits.
func NewListReader(r Reader) *ListReader {
	return &ListReader{r: r, MaxEntries: MaxListEntries, MaxBytes: MaxListBytes}
}

// Next returns the next entry. It returns io.EOF at the clean end of the
// list, an error wrapping ErrListTooLarge for a list over the limits, and
// otherwise ReadFileEntry's errors.
func (l *ListReader) Next() (FileEntry, error) {
	length, err := readHeader(l.r, FrameFileEntry, io.EOF)
	if err != nil {
		return FileEntry{}, err
	}
	if l.entries >= l.MaxEntries {
		return FileEntry{}, fmt.Errorf("%w: more than %d files", ErrListTooLarge, l.MaxEntries)
	}
	if length > uint64(l.MaxBytes-l.bytes) {
		return FileEntry{}, fmt.Errorf("%w: more than %d bytes of entries (%d files so far)", ErrListTooLarge, l.MaxBytes, l.entries)
	}
	e, err := readFileEntryPayload(l.r, length)
	if err != nil {
		return FileEntry{}, err
	}
	l.entries++
	l.bytes += int64(length)
	return e, nil
}

// Count returns how many entries Next has returned.
func (l *ListReader) Count() int { return l.entries }
