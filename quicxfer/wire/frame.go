package wire

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/quic-go/quic-go/quicvarint"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// ALPN is the ALPN protocol ID of this protocol; it names the version.
const ALPN = "quicxfer/1"

// MaxNameLen is the longest file name, in bytes.
const MaxNameLen = 4096

// idLen is the encoded length of a content ID.
const idLen = 32

var _ manifest.ID = [idLen]byte{} // fails to compile if idLen is wrong

// Decoding errors. Readers return them wrapped, with detail; test with
// errors.Is. A seed answers any of them with ErrCodeBadRequest (see CodeOf).
var (
	// ErrUnknownFrame is returned for a frame type this version does not define.
	ErrUnknownFrame = errors.New("unknown frame type")
	// ErrUnexpectedFrame is returned for a known frame type that is not
	// allowed where it was read, or for data after the last frame.
	ErrUnexpectedFrame = errors.New("unexpected frame")
	// ErrFrameTooLarge is returned for a payload length over MaxPayload.
	ErrFrameTooLarge = errors.New("frame too large")
	// ErrWrongLength is returned by ReadBlockHeader for a block of the wrong length.
	ErrWrongLength = errors.New("wrong block length")
	// ErrBadName is returned for a file name that CheckName refuses.
	ErrBadName = errors.New("bad file name")
	// ErrMalformed is returned for a frame whose payload does not parse.
	ErrMalformed = errors.New("malformed frame")
)

// FrameType is the type of a frame.
type FrameType uint64

// Frame types.
const (
	FrameList        FrameType = 0x01
	FrameGetManifest FrameType = 0x02
	FrameGetBlock    FrameType = 0x03
	FrameAuth        FrameType = 0x04
	FrameGetHave     FrameType = 0x05
	FrameGetPeers    FrameType = 0x06
	FrameGetRange    FrameType = 0x07
	FrameFileEntry   FrameType = 0x11
	FrameManifest    FrameType = 0x12
	FrameBlock       FrameType = 0x13
	FrameHave        FrameType = 0x14
	FrameHaveAdd     FrameType = 0x15
	FramePeers       FrameType = 0x16
)

// Largest payload of each frame type.
const (
	maxListPayload        = 0
	maxGetManifestPayload = 1 + MaxNameLen
	maxGetBlockPayload    = idLen + 8
	maxAuthPayload        = MaxTokenLen
	maxFileEntryPayload   = 8 + MaxNameLen + 8 + idLen
	maxManifestPayload    = 8 + MaxNameLen + manifest.MaxEncodedLen
	maxBlockPayload       = manifest.MaxBlockSize
	maxGetHavePayload     = idLen
	maxGetPeersPayload    = idLen + 2 + MaxURLLen
	maxGetRangePayload    = idLen + 3*8
	maxHavePayload        = 1 + 8 + manifest.MaxBlocks/8
	maxHaveAddPayload     = MaxHaveAdd * 8
	maxPeersPayload       = 1 + MaxPeers*(2+MaxURLLen)
)

// String returns the frame type's name, as in the protocol description.
func (t FrameType) String() string {
	switch t {
	case FrameList:
		return "LIST"
	case FrameGetManifest:
		return "GET_MANIFEST"
	case FrameGetBlock:
		return "GET_BLOCK"
	case FrameAuth:
		return "AUTH"
	case FrameFileEntry:
		return "FILE_ENTRY"
	case FrameManifest:
		return "MANIFEST"
	case FrameBlock:
		return "BLOCK"
	case FrameGetHave:
		return "GET_HAVE"
	case FrameGetPeers:
		return "GET_PEERS"
	case FrameGetRange:
		return "GET_RANGE"
	case FrameHave:
		return "HAVE"
	case FrameHaveAdd:
		return "HAVE_ADD"
	case FramePeers:
		return "PEERS"
	}
	return fmt.Sprintf("frame type 0x%x", uint64(t))
}

// isRequest reports whether t is a request frame type.
func (t FrameType) isRequest() bool {
	return t == FrameList || t == FrameGetManifest || t == FrameGetBlock || t == FrameAuth ||
		t == FrameGetHave || t == FrameGetPeers || t == FrameGetRange
}

// MaxPayload returns the largest payload length allowed for frames of type t,
// and false if t is not a frame type of this version.
func MaxPayload(t FrameType) (uint64, bool) {
	switch t {
	case FrameList:
		return maxListPayload, true
	case FrameGetManifest:
		return maxGetManifestPayload, true
	case FrameGetBlock:
		return maxGetBlockPayload, true
	case FrameAuth:
		return maxAuthPayload, true
	case FrameFileEntry:
		return maxFileEntryPayload, true
	case FrameManifest:
		return maxManifestPayload, true
	case FrameBlock:
		return maxBlockPayload, true
	case FrameGetHave:
		return maxGetHavePayload, true
	case FrameGetPeers:
		return maxGetPeersPayload, true
	case FrameGetRange:
		return maxGetRangePayload, true
	case FrameHave:
		return maxHavePayload, true
	case FrameHaveAdd:
		return maxHaveAddPayload, true
	case FramePeers:
		return maxPeersPayload, true
	}
	return 0, false
}

// AppendFrameHeader appends the header of a frame of type t whose payload is
// length bytes. It does not check length against MaxPayload.
func AppendFrameHeader(b []byte, t FrameType, length uint64) []byte {
	b = quicvarint.Append(b, uint64(t))
	return quicvarint.Append(b, length)
}

// ReadFrameHeader reads a frame header. A clean end of stream before the
// first byte is io.EOF; an end inside the header is io.ErrUnexpectedEOF. An
// unknown type is ErrUnknownFrame (the type and length are returned with it);
// a length over MaxPayload is ErrFrameTooLarge; a varint not in its shortest
// form is ErrMalformed. Nothing past the header is read.
func ReadFrameHeader(r io.ByteReader) (FrameType, uint64, error) {
	typ, err := readVarint(r)
	if err != nil {
		return 0, 0, err // io.EOF only if nothing was read
	}
	t := FrameType(typ)
	length, err := readVarint(r)
	if err != nil {
		return 0, 0, noEOF(err)
	}
	limit, ok := MaxPayload(t)
	if !ok {
		return t, length, fmt.Errorf("%w 0x%x", ErrUnknownFrame, typ)
	}
	if length > limit {
		return 0, 0, fmt.Errorf("%w: %s frame of %d bytes, limit %d", ErrFrameTooLarge, t, length, limit)
	}
	return t, length, nil
}

// Reader is what frames are read from, typically a *bufio.Reader around a
// stream. Reads of a payload use io.ReadFull; header varints are read a byte
// at a time.
type Reader interface {
	io.Reader
	io.ByteReader
}

// ReadEnd checks that r is at a clean end of stream: it returns nil at
// io.EOF, an error wrapping ErrUnexpectedFrame if more data follows, and any
// other read error unchanged. Use it after the last frame a stream may carry.
func ReadEnd(r io.ByteReader) error {
	_, err := r.ReadByte()
	switch err {
	case io.EOF:
		return nil
	case nil:
		return fmt.Errorf("%w: data after the last frame", ErrUnexpectedFrame)
	}
	return err
}

// readVarint reads a QUIC varint that must be in its shortest form. It
// returns r's error as is for the first byte, and io.ErrUnexpectedEOF for an
// end of stream after it.
func readVarint(r io.ByteReader) (uint64, error) {
	first, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	n := 1 << (first >> 6)
	v := uint64(first & 0x3f)
	for range n - 1 {
		c, err := r.ReadByte()
		if err != nil {
			return 0, noEOF(err)
		}
		v = v<<8 | uint64(c)
	}
	if quicvarint.Len(v) != n {
		return 0, fmt.Errorf("%w: %d-byte varint for %d", ErrMalformed, n, v)
	}
	return v, nil
}

// appendVarint appends v as a QUIC varint.
func appendVarint(b []byte, v uint64) []byte { return quicvarint.Append(b, v) }

// varintLen is the encoded length of v.
func varintLen(v uint64) int { return quicvarint.Len(v) }

// parseVarint parses a QUIC varint in its shortest form at the start of b.
func parseVarint(b []byte) (uint64, []byte, error) {
	v, n, err := quicvarint.Parse(b)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: truncated varint", ErrMalformed)
	}
	if quicvarint.Len(v) != n {
		return 0, nil, fmt.Errorf("%w: %d-byte varint for %d", ErrMalformed, n, v)
	}
	return v, b[n:], nil
}

// noEOF turns io.EOF, which would mean a clean end of stream, into
// io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// payloadChunk is how much readPayload allocates before the bytes arrive.
const payloadChunk = 64 << 10

// readPayload reads an n-byte payload whose length has been checked against
// MaxPayload. Up to payloadChunk it allocates n bytes at once; beyond, the
// buffer grows as the bytes arrive, so a peer that announces a large frame and
// sends little costs little memory.
func readPayload(r io.Reader, n uint64) ([]byte, error) {
	if n <= payloadChunk {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, noEOF(err)
		}
		return b, nil
	}
	b := make([]byte, 0, payloadChunk)
	for uint64(len(b)) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, int(min(n, 2*uint64(cap(b)))-uint64(len(b))))
		}
		end := len(b) + int(min(n-uint64(len(b)), uint64(cap(b)-len(b))))
		if _, err := io.ReadFull(r, b[len(b):end]); err != nil {
			return nil, noEOF(err)
		}
		b = b[:end]
	}
	return b, nil
}

// readHeader reads the header of the next frame and checks its type is want.
// An end of stream before the header is returned as eof.
func readHeader(r io.ByteReader, want FrameType, eof error) (uint64, error) {
	t, length, err := ReadFrameHeader(r)
	if err == io.EOF {
		return 0, eof
	}
	if err != nil {
		return 0, err
	}
	if t != want {
		return 0, fmt.Errorf("%w: %s, want %s", ErrUnexpectedFrame, t, want)
	}
	return length, nil
}
