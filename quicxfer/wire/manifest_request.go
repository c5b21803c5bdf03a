package wire

import (
	"fmt"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// Kinds of GetManifest keys.
const (
	kindByName byte = 0
	kindByID   byte = 1
)

// ManifestRequest asks for a file's manifest, by name or, if ByID, by content
// ID. The answer is one ManifestResponse.
type ManifestRequest struct {
	Name string      // the file's name, if !ByID
	ID   manifest.ID // the content ID, if ByID
	ByID bool
}

// Append appends the frame. Only the field that ByID selects is encoded.
func (m *ManifestRequest) Append(b []byte) []byte {
	if m.ByID {
		b = AppendFrameHeader(b, FrameGetManifest, uint64(1+idLen))
		b = append(b, kindByID)
		return append(b, m.ID[:]...)
	}
	b = AppendFrameHeader(b, FrameGetManifest, uint64(1+len(m.Name)))
	b = append(b, kindByName)
	return append(b, m.Name...)
}

func (m *ManifestRequest) requestType() FrameType { return FrameGetManifest }

// parse decodes the payload. A name is checked with CheckName.
func (m *ManifestRequest) parse(p []byte) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: %s: empty payload", ErrMalformed, FrameGetManifest)
	}
	switch kind, key := p[0], p[1:]; kind {
	case kindByName:
		name := string(key)
		if err := CheckName(name); err != nil {
			return err
		}
		*m = ManifestRequest{Name: name}
	case kindByID:
		if len(key) != idLen {
			return fmt.Errorf("%w: %s: content ID of %d bytes", ErrMalformed, FrameGetManifest, len(key))
		}
		*m = ManifestRequest{ByID: true, ID: manifest.ID(key)}
	default:
		return fmt.Errorf("%w: %s: unknown kind %d", ErrMalformed, FrameGetManifest, kind)
	}
	return nil
}
