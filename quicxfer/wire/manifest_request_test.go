package wire

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestManifestRequestEncoding(t *testing.T) {
	id := testID(9)
	require.Equal(t, append([]byte{0x02, 33, 1}, id[:]...), (&ManifestRequest{ByID: true, ID: id, Name: "ignored"}).Append(nil))
	require.Equal(t, []byte{0x02, 4, 0, 'a', '/', 'b'}, (&ManifestRequest{Name: "a/b", ID: id}).Append(nil))
}

func TestManifestRequestBadPayload(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		want    error
	}{
		{"empty", nil, ErrMalformed},
		{"unknown kind", []byte{2, 'a'}, ErrMalformed},
		{"short ID", append([]byte{kindByID}, make([]byte, 31)...), ErrMalformed},
		{"long ID", append([]byte{kindByID}, make([]byte, 33)...), ErrMalformed},
		{"empty name", []byte{kindByName}, ErrBadName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := append(AppendFrameHeader(nil, FrameGetManifest, uint64(len(tc.payload))), tc.payload...)
			_, err := ReadRequest(bytes.NewReader(enc))
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestManifestRequestBadNames(t *testing.T) {
	for name, bad := range badNames {
		t.Run(name, func(t *testing.T) {
			enc := (&ManifestRequest{Name: bad}).Append(nil)
			_, err := ReadRequest(bytes.NewReader(enc))
			if len(bad) > MaxNameLen {
				require.ErrorIs(t, err, ErrFrameTooLarge)
			} else {
				require.ErrorIs(t, err, ErrBadName)
			}
		})
	}
}
