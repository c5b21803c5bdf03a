package wire

import "fmt"

// Request is a request frame: *ListRequest, *ManifestRequest,
// *BlockRequest, *RangeRequest, *AuthRequest, *HaveRequest or *PeersRequest.
type Request interface {
	// Append appends the whole frame, header included.
	Append(b []byte) []byte
	requestType() FrameType
}

// ReadRequest reads the one request frame of a request stream. The stream
// must hold a request: an end of stream before or inside it is
// io.ErrUnexpectedEOF. A response frame type is ErrUnexpectedFrame; see
// ReadFrameHeader for the other header errors, and each request type for its
// payload errors (ErrMalformed, ErrBadName). Errors from r are returned
// unchanged (see FromQUIC). ReadRequest does not read past the frame.
func ReadRequest(r Reader) (Request, error) {
	t, length, err := ReadFrameHeader(r)
	if err != nil {
		return nil, noEOF(err)
	}
	if !t.isRequest() {
		return nil, fmt.Errorf("%w: %s, want a request", ErrUnexpectedFrame, t)
	}
	p, err := readPayload(r, length)
	if err != nil {
		return nil, err
	}
	switch t {
	case FrameList:
		return &ListRequest{}, nil // the length limit is 0
	case FrameGetManifest:
		m := &ManifestRequest{}
		if err := m.parse(p); err != nil {
			return nil, err
		}
		return m, nil
	case FrameAuth:
		m := &AuthRequest{}
		if err := m.parse(p); err != nil {
			return nil, err
		}
		return m, nil
	case FrameGetHave:
		m := &HaveRequest{}
		if err := m.parse(p); err != nil {
			return nil, err
		}
		return m, nil
	case FrameGetPeers:
		m := &PeersRequest{}
		if err := m.parse(p); err != nil {
			return nil, err
		}
		return m, nil
	case FrameGetRange:
		m := &RangeRequest{}
		if err := m.parse(p); err != nil {
			return nil, err
		}
		return m, nil
	default: // FrameGetBlock
		m := &BlockRequest{}
		if err := m.parse(p); err != nil {
			return nil, err
		}
		return m, nil
	}
}

// ListRequest asks for the list of files a seed serves. The answer is zero
// or more FileEntry frames (see ReadFileEntry).
type ListRequest struct{}

// Append appends the frame.
func (m *ListRequest) Append(b []byte) []byte { return AppendFrameHeader(b, FrameList, 0) }

func (m *ListRequest) requestType() FrameType { return FrameList }
