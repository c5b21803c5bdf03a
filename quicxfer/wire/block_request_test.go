package wire

import (
	"bytes"
	"testing"

	"github.com/quic-go/quic-go/quicvarint"
	"github.com/stretchr/testify/require"
)

func TestBlockRequestEncoding(t *testing.T) {
	id := testID(5)
	require.Equal(t, append(append([]byte{0x03, 33}, id[:]...), 7), (&BlockRequest{ID: id, Index: 7}).Append(nil))
	require.Equal(t, append(append([]byte{0x03, 34}, id[:]...), 0x40, 64), (&BlockRequest{ID: id, Index: 64}).Append(nil))
}

func TestBlockRequestBadPayload(t *testing.T) {
	id := testID(5)
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"ID only", id[:]},
		{"short ID", id[:31]},
		{"truncated index", append(id[:], 0x40)},
		{"trailing byte", append(id[:], 1, 2)},
		{"non-minimal index", quicvarint.AppendWithLen(id[:], 1, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := append(AppendFrameHeader(nil, FrameGetBlock, uint64(len(tc.payload))), tc.payload...)
			_, err := ReadRequest(bytes.NewReader(enc))
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func BenchmarkBlockRequest(b *testing.B) {
	req := &BlockRequest{ID: testID(1), Index: 1234}
	buf := make([]byte, 0, 64)
	r := bytes.NewReader(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf = req.Append(buf[:0])
		r.Reset(buf)
		got, err := ReadRequest(r)
		if err != nil || got.(*BlockRequest).Index != req.Index {
			b.Fatal(got, err)
		}
	}
}
