package wire

import "fmt"

// MaxTokenLen is the longest access token an AUTH frame carries, in bytes.
const MaxTokenLen = 256

// AuthRequest presents an access token to a private seed. The answer is an
// empty stream (FIN) when the seed accepts it, or a reset with
// ErrCodeUnauthorized.
type AuthRequest struct {
	Token []byte // 1 to MaxTokenLen bytes
}

// Append appends the frame. It does not check the token's length.
func (m *AuthRequest) Append(b []byte) []byte {
	b = AppendFrameHeader(b, FrameAuth, uint64(len(m.Token)))
	return append(b, m.Token...)
}

func (m *AuthRequest) requestType() FrameType { return FrameAuth }

// parse decodes the payload, whose length the header check bounded by
// MaxTokenLen.
func (m *AuthRequest) parse(p []byte) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: %s: empty token", ErrMalformed, FrameAuth)
	}
	*m = AuthRequest{Token: p}
	return nil
}

// CheckToken reports whether t can be sent in an AUTH frame: 1 to
// MaxTokenLen bytes.
func CheckToken(t []byte) error {
	if len(t) == 0 || len(t) > MaxTokenLen {
		return fmt.Errorf("an access token must be 1 to %d bytes, not %d", MaxTokenLen, len(t))
	}
	return nil
}
