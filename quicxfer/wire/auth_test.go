package wire

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAuthRequestEncoding(t *testing.T) {
	require.Equal(t, []byte{0x04, 0x06, 's', '3', 'c', 'r', 'e', 't'}, (&AuthRequest{Token: []byte("s3cret")}).Append(nil))
	long := bytes.Repeat([]byte{'t'}, MaxTokenLen)
	require.Equal(t, append([]byte{0x04, 0x41, 0x00}, long...), (&AuthRequest{Token: long}).Append(nil))
}

func TestAuthRequestBadPayload(t *testing.T) {
	_, err := ReadRequest(bytes.NewReader([]byte{0x04, 0x00}))
	require.ErrorIs(t, err, ErrMalformed)
	require.Equal(t, ErrCodeBadRequest, CodeOf(err))

	tooLong := append(AppendFrameHeader(nil, FrameAuth, MaxTokenLen+1), make([]byte, MaxTokenLen+1)...)
	_, err = ReadRequest(bytes.NewReader(tooLong))
	require.ErrorIs(t, err, ErrFrameTooLarge)
}

func TestCheckToken(t *testing.T) {
	require.NoError(t, CheckToken([]byte("x")))
	require.NoError(t, CheckToken(make([]byte, MaxTokenLen)))
	require.Error(t, CheckToken(nil))
	require.Error(t, CheckToken(make([]byte, MaxTokenLen+1)))
}
