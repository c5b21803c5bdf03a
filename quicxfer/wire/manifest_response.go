package wire

import (
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// ManifestResponse answers a ManifestRequest: a file's name and manifest.
type ManifestResponse struct {
	Name     string
	Manifest *manifest.Manifest
}

// Append appends the frame. The name is not checked; a receiver refuses a
// name that CheckName refuses.
func (m *ManifestResponse) Append(b []byte) []byte {
	n := varintLen(uint64(len(m.Name))) + len(m.Name) + manifestLen(m.Manifest)
	b = AppendFrameHeader(b, FrameManifest, uint64(n))
	start := len(b)
	b = appendName(b, m.Name)
	b = m.Manifest.AppendBinary(b)
	if len(b)-start != n {
		panic(fmt.Sprintf("wire: manifest frame of %d bytes, announced %d", len(b)-start, n))
	}
	return b
}

// manifestLen is the length of m.AppendBinary's output: a version byte, two
// varints and 8+32 bytes per block.
func manifestLen(m *manifest.Manifest) int {
	return 1 + varintLen(uint64(m.Size)) + varintLen(uint64(m.BlockSize)) + len(m.Blocks)*(8+sha256.Size)
}

// ReadManifestResponse reads the answer to a ManifestRequest. The stream must
// hold it: an end of stream before or inside the frame is
// io.ErrUnexpectedEOF. A frame of another type is ErrUnexpectedFrame, a name
// CheckName refuses is ErrBadName, and a manifest that manifest.Decode
// refuses, or that is not in its canonical encoding, is ErrMalformed (also
// matching manifest.ErrMalformed where Decode said so). Errors from r are
// returned unchanged (see FromQUIC).
//
// It does not check the manifest's content ID; a caller that asked by ID
// must compare Manifest.ID() with it.
func ReadManifestResponse(r Reader) (ManifestResponse, error) {
	length, err := readHeader(r, FrameManifest, io.ErrUnexpectedEOF)
	if err != nil {
		return ManifestResponse{}, err
	}
	p, err := readPayload(r, length)
	if err != nil {
		return ManifestResponse{}, err
	}
	name, p, err := parseName(p)
	if err != nil {
		return ManifestResponse{}, fmt.Errorf("%s: %w", FrameManifest, err)
	}
	m, err := manifest.Decode(p)
	if err != nil {
		return ManifestResponse{}, fmt.Errorf("%w: %s %q: %w", ErrMalformed, FrameManifest, name, err)
	}
	// Decode refuses varints longer than they must be, and checks that the
	// block hashes fill the rest: this only restates that the payload is
	// the one encoding of m.
	if manifestLen(m) != len(p) {
		return ManifestResponse{}, fmt.Errorf("%w: %s %q: manifest not in canonical encoding", ErrMalformed, FrameManifest, name)
	}
	return ManifestResponse{Name: name, Manifest: m}, nil
}
