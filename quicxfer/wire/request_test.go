package wire

import (
	"bytes"
	"io"
	"testing"

	"github.com/quic-go/quic-go/quicvarint"
	"github.com/stretchr/testify/require"
)

// testRequests holds one of every kind of request.
var testRequests = map[string]Request{
	"list":               &ListRequest{},
	"manifest by name":   &ManifestRequest{Name: "dir/file.iso"},
	"manifest by ID":     &ManifestRequest{ByID: true, ID: testID(1)},
	"block 0":            &BlockRequest{ID: testID(2)},
	"block 262143":       &BlockRequest{ID: testID(3), Index: 1<<18 - 1},
	"block max varint":   &BlockRequest{ID: testID(4), Index: quicvarint.Max},
	"range of one byte":  &RangeRequest{ID: testID(8), Index: 2, Offset: 1000, Length: 1},
	"range max varints":  &RangeRequest{ID: testID(9), Index: quicvarint.Max, Offset: quicvarint.Max - 1<<20, Length: 1 << 20},
	"manifest long name": &ManifestRequest{Name: string(bytes.Repeat([]byte("x"), MaxNameLen))},
	"auth":               &AuthRequest{Token: []byte("s3cret")},
	"auth longest token": &AuthRequest{Token: bytes.Repeat([]byte{0xff}, MaxTokenLen)},
	"have":               &HaveRequest{ID: testID(5)},
	"peers":              &PeersRequest{ID: testID(6)},
	"peers with self":    &PeersRequest{ID: testID(7), Self: "quic://10.0.0.5:4433?pin=" + testPinText},
}

func TestRequestRoundTrip(t *testing.T) {
	for name, req := range testRequests {
		t.Run(name, func(t *testing.T) {
			enc := req.Append([]byte("prefix"))
			require.Equal(t, "prefix", string(enc[:6]))
			r := bytes.NewReader(append(enc[6:], "more"...))
			got, err := ReadRequest(r)
			require.NoError(t, err)
			require.Equal(t, req, got)
			require.Equal(t, 4, r.Len(), "read exactly one frame")
		})
	}
}

func TestRequestTruncated(t *testing.T) {
	for name, req := range testRequests {
		t.Run(name, func(t *testing.T) {
			// A request stream must carry a request: even the empty
			// stream is truncated.
			checkTruncations(t, req.Append(nil), io.ErrUnexpectedEOF, func(r Reader) error {
				_, err := ReadRequest(r)
				return err
			})
		})
	}
}

func TestReadRequestRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  []byte
		want error
	}{
		{"file entry", (&FileEntry{Name: "a", Size: 1}).Append(nil), ErrUnexpectedFrame},
		{"manifest", (&ManifestResponse{Name: "a", Manifest: testManifest(1)}).Append(nil), ErrUnexpectedFrame},
		{"block", append(AppendBlockHeader(nil, 3), 1, 2, 3), ErrUnexpectedFrame},
		{"unknown type", AppendFrameHeader(nil, 0x08, 0), ErrUnknownFrame},
		{"unknown 2-byte type", AppendFrameHeader(nil, 0x1234, 1), ErrUnknownFrame},
		{"list with payload", AppendFrameHeader(nil, FrameList, 1), ErrFrameTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadRequest(bytes.NewReader(tc.enc))
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, ErrCodeBadRequest, CodeOf(err))
		})
	}
}

// TestReadRequestTooLarge checks that a request claiming more than its limit
// is refused from the header alone.
func TestReadRequestTooLarge(t *testing.T) {
	for _, ft := range []FrameType{FrameList, FrameGetManifest, FrameGetBlock, FrameAuth, FrameGetHave, FrameGetPeers, FrameGetRange} {
		limit, _ := MaxPayload(ft)
		for _, length := range []uint64{limit + 1, quicvarint.Max} {
			_, err := ReadRequest(&tripwire{t: t, header: AppendFrameHeader(nil, ft, length)})
			require.ErrorIs(t, err, ErrFrameTooLarge, "%s of %d bytes", ft, length)
		}
	}
}

func FuzzReadRequest(f *testing.F) {
	for _, req := range testRequests {
		// Long seeds make the fuzzer's minimization crawl; the
		// unit tests cover them.
		if enc := req.Append(nil); len(enc) < 256 {
			f.Add(enc)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{byte(FrameGetManifest), 2, kindByName, '/'})
	f.Add([]byte{byte(FrameGetManifest), 3, kindByName, '.', '.'})
	f.Add([]byte{byte(FrameGetManifest), 2, 7, 'a'})
	f.Add([]byte{byte(FrameGetManifest), 4, kindByName, 'a', '\n', 'b'}) // a control character
	f.Add(append(AppendFrameHeader(nil, FrameGetBlock, 34), make([]byte, 34)...))
	f.Add(append(AppendFrameHeader(nil, FrameGetRange, 35), make([]byte, 35)...)) // an empty range
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		req, err := ReadRequest(r)
		if err != nil {
			requireDecodeError(t, err)
			return
		}
		consumed := data[:len(data)-r.Len()]
		require.Equal(t, consumed, req.Append(nil), "one encoding per request")
		if m, ok := req.(*ManifestRequest); ok && !m.ByID {
			require.NoError(t, CheckName(m.Name))
		}
	})
}
