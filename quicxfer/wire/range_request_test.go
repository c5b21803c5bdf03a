package wire

import (
	"bytes"
	"io"
	"testing"

	"github.com/quic-go/quic-go/quicvarint"
	"github.com/stretchr/testify/require"
)

func TestRangeRequestEncoding(t *testing.T) {
	id := testID(5)
	require.Equal(t, append(append([]byte{0x07, 35}, id[:]...), 7, 0, 1), (&RangeRequest{ID: id, Index: 7, Length: 1}).Append(nil))
	require.Equal(t, append(append([]byte{0x07, 40}, id[:]...), 0x40, 64, 0x40, 0x80, 0x80, 0x10, 0x00, 0x00),
		(&RangeRequest{ID: id, Index: 64, Offset: 128, Length: 1 << 20}).Append(nil))
}

func TestRangeRequestRoundTrip(t *testing.T) {
	for name, req := range map[string]*RangeRequest{
		"one byte":             {ID: testID(1), Length: 1},
		"largest block":        {ID: testID(2), Index: 3, Offset: 0, Length: 16 << 20},
		"longest range":        {ID: testID(3), Length: quicvarint.Max},
		"last byte of varints": {ID: testID(4), Index: quicvarint.Max, Offset: quicvarint.Max - 1, Length: 1},
	} {
		t.Run(name, func(t *testing.T) {
			enc := req.Append(nil)
			got, err := ReadRequest(bytes.NewReader(enc))
			require.NoError(t, err)
			require.Equal(t, req, got)
			limit, _ := MaxPayload(FrameGetRange)
			require.LessOrEqual(t, uint64(len(enc)-2), limit)
		})
	}
}

func TestRangeRequestTruncated(t *testing.T) {
	req := &RangeRequest{ID: testID(6), Index: 1 << 20, Offset: 1 << 14, Length: 1 << 30}
	checkTruncations(t, req.Append(nil), io.ErrUnexpectedEOF, func(r Reader) error {
		_, err := ReadRequest(r)
		return err
	})
}

func TestRangeRequestBadPayload(t *testing.T) {
	id := testID(5)
	fields := func(vs ...uint64) []byte {
		b := append([]byte(nil), id[:]...)
		for _, v := range vs {
			b = quicvarint.Append(b, v)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"ID only", id[:]},
		{"short ID", id[:31]},
		{"no offset", fields(7)},
		{"no length", fields(7, 0)},
		{"truncated length", append(fields(7, 0), 0x40)},
		{"trailing byte", append(fields(7, 0, 1), 2)},
		{"non-minimal index", quicvarint.AppendWithLen(id[:], 1, 2)},
		{"non-minimal offset", append(quicvarint.AppendWithLen(fields(1), 0, 2), 1)},
		{"non-minimal length", quicvarint.AppendWithLen(fields(1, 0), 1, 4)},
		{"zero length", fields(1, 0, 0)},
		{"zero length at an offset", fields(1, 100, 0)},
		{"end past the varints", fields(1, quicvarint.Max, 1)},
		{"sum overflows", fields(1, 1<<61, 1<<61)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := append(AppendFrameHeader(nil, FrameGetRange, uint64(len(tc.payload))), tc.payload...)
			_, err := ReadRequest(bytes.NewReader(enc))
			require.ErrorIs(t, err, ErrMalformed)
			require.Equal(t, ErrCodeBadRequest, CodeOf(err))
		})
	}
}

func BenchmarkRangeRequest(b *testing.B) {
	req := &RangeRequest{ID: testID(1), Index: 1234, Offset: 256 << 10, Length: 256 << 10}
	buf := make([]byte, 0, 64)
	r := bytes.NewReader(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf = req.Append(buf[:0])
		r.Reset(buf)
		got, err := ReadRequest(r)
		if err != nil || *got.(*RangeRequest) != *req {
			b.Fatal(got, err)
		}
	}
}
