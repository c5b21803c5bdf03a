package wire

import (
	"fmt"
	"io"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// Limits of a PEERS exchange.
const (
	// MaxURLLen is the longest source URL in a GET_PEERS or PEERS frame.
	MaxURLLen = 1024
	// MaxPeers is the most URLs in one PEERS frame.
	MaxPeers = 64
)

// PeersRequest asks a source for other sources of the file with content ID
// ID. If Self is not empty, the asker also serves that file at the URL Self
// and asks to be listed (see the package documentation). The answer is one
// PEERS frame (see ReadPeers).
type PeersRequest struct {
	ID   manifest.ID
	Self string // a seed URL (ParseURL), or empty
}

// Append appends the frame. Self is not checked; a receiver refuses a URL
// that ParseURL refuses or that is longer than MaxURLLen.
func (m *PeersRequest) Append(b []byte) []byte {
	b = AppendFrameHeader(b, FrameGetPeers, uint64(idLen+varintLen(uint64(len(m.Self)))+len(m.Self)))
	b = append(b, m.ID[:]...)
	b = appendVarint(b, uint64(len(m.Self)))
	return append(b, m.Self...)
}

func (m *PeersRequest) requestType() FrameType { return FrameGetPeers }

func (m *PeersRequest) parse(p []byte) error {
	if len(p) < idLen {
		return fmt.Errorf("%w: %s: %d bytes", ErrMalformed, FrameGetPeers, len(p))
	}
	id := manifest.ID(p[:idLen])
	self, rest, err := parseURLField(p[idLen:], true)
	if err != nil {
		return fmt.Errorf("%s: %w", FrameGetPeers, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %s: %d trailing bytes", ErrMalformed, FrameGetPeers, len(rest))
	}
	*m = PeersRequest{ID: id, Self: self}
	return nil
}

// parseURLField parses length (varint) | URL; the URL must parse with
// ParseURL, and may be empty only if emptyOK.
func parseURLField(p []byte, emptyOK bool) (string, []byte, error) {
	n, p, err := parseVarint(p)
	if err != nil {
		return "", nil, fmt.Errorf("URL length: %w", err)
	}
	if n > MaxURLLen {
		return "", nil, fmt.Errorf("%w: URL of %d bytes, limit %d", ErrMalformed, n, MaxURLLen)
	}
	if n > uint64(len(p)) {
		return "", nil, fmt.Errorf("%w: URL of %d bytes in %d", ErrMalformed, n, len(p))
	}
	u := string(p[:n])
	if u == "" && emptyOK {
		return "", p, nil
	}
	if _, err := ParseURL(u); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return u, p[n:], nil
}

// AppendPeers appends a PEERS frame listing urls. It panics for more than
// MaxPeers URLs or one longer than MaxURLLen; the URLs are not otherwise
// checked.
func AppendPeers(b []byte, urls []string) []byte {
	if len(urls) > MaxPeers {
		panic(fmt.Sprintf("wire: PEERS of %d URLs", len(urls)))
	}
	n := varintLen(uint64(len(urls)))
	for _, u := range urls {
		if len(u) > MaxURLLen {
			panic("wire: URL too long for PEERS")
		}
		n += varintLen(uint64(len(u))) + len(u)
	}
	b = AppendFrameHeader(b, FramePeers, uint64(n))
	b = appendVarint(b, uint64(len(urls)))
	for _, u := range urls {
		b = appendVarint(b, uint64(len(u)))
		b = append(b, u...)
	}
	return b
}

// ReadPeers reads the PEERS frame that answers a PeersRequest: count (at most
// MaxPeers) and as many URLs, each of which must parse with ParseURL. An end
// of stream before or inside it is io.ErrUnexpectedEOF, a frame of another
// type ErrUnexpectedFrame, anything else wrong ErrMalformed. Errors from r are
// returned unchanged (see FromQUIC).
func ReadPeers(r Reader) ([]string, error) {
	length, err := readHeader(r, FramePeers, io.ErrUnexpectedEOF)
	if err != nil {
		return nil, err
	}
	p, err := readPayload(r, length)
	if err != nil {
		return nil, err
	}
	count, p, err := parseVarint(p)
	if err != nil {
		return nil, fmt.Errorf("%s: count: %w", FramePeers, err)
	}
	if count > MaxPeers {
		return nil, fmt.Errorf("%w: %s: %d URLs, limit %d", ErrMalformed, FramePeers, count, MaxPeers)
	}
	urls := make([]string, 0, count)
	for range count {
		var u string
		u, p, err = parseURLField(p, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", FramePeers, err)
		}
		urls = append(urls, u)
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %s: %d trailing bytes", ErrMalformed, FramePeers, len(p))
	}
	return urls, nil
}
