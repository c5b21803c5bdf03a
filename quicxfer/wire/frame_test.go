package wire

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/quic-go/quic-go/quicvarint"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

var allFrameTypes = []FrameType{FrameList, FrameGetManifest, FrameGetBlock, FrameAuth, FrameGetHave, FrameGetPeers,
	FrameGetRange, FrameFileEntry, FrameManifest, FrameBlock, FrameHave, FrameHaveAdd, FramePeers}

func TestFrameTypeString(t *testing.T) {
	for _, tc := range []struct {
		t    FrameType
		want string
	}{
		{FrameList, "LIST"},
		{FrameGetManifest, "GET_MANIFEST"},
		{FrameGetBlock, "GET_BLOCK"},
		{FrameAuth, "AUTH"},
		{FrameFileEntry, "FILE_ENTRY"},
		{FrameManifest, "MANIFEST"},
		{FrameBlock, "BLOCK"},
		{FrameGetHave, "GET_HAVE"},
		{FrameGetPeers, "GET_PEERS"},
		{FrameGetRange, "GET_RANGE"},
		{FrameHave, "HAVE"},
		{FrameHaveAdd, "HAVE_ADD"},
		{FramePeers, "PEERS"},
		{0x42, "frame type 0x42"},
	} {
		require.Equal(t, tc.want, tc.t.String())
	}
}

func TestMaxPayload(t *testing.T) {
	for _, tc := range []struct {
		t    FrameType
		want uint64
	}{
		{FrameList, 0},
		{FrameGetManifest, 1 + MaxNameLen},
		{FrameGetBlock, 32 + 8},
		{FrameAuth, 256},
		{FrameFileEntry, 8 + MaxNameLen + 8 + 32},
		{FrameManifest, 8 + MaxNameLen + manifest.MaxEncodedLen},
		{FrameBlock, manifest.MaxBlockSize},
		{FrameGetHave, 32},
		{FrameGetPeers, 32 + 2 + 1024},
		{FrameGetRange, 32 + 8 + 8 + 8},
		{FrameHave, 1 + 8 + manifest.MaxBlocks/8},
		{FrameHaveAdd, 1024 * 8},
		{FramePeers, 1 + 64*(2+1024)},
	} {
		got, ok := MaxPayload(tc.t)
		require.True(t, ok, "%s", tc.t)
		require.Equal(t, tc.want, got, "%s", tc.t)
	}
	for _, unknown := range []FrameType{0, 0x08, 0x10, 0x17, 0x21, quicvarint.Max} {
		_, ok := MaxPayload(unknown)
		require.False(t, ok, "%s", unknown)
	}
}

func TestFrameHeaderRoundTrip(t *testing.T) {
	for _, ft := range allFrameTypes {
		limit, _ := MaxPayload(ft)
		for _, length := range []uint64{0, 1, 63, 64, 16383, 16384, limit} {
			if length > limit {
				continue
			}
			b := AppendFrameHeader([]byte("prefix"), ft, length)
			require.Equal(t, "prefix", string(b[:6]))
			r := bytes.NewReader(append(b[6:], "rest"...))
			gotT, gotLen, err := ReadFrameHeader(r)
			require.NoError(t, err)
			require.Equal(t, ft, gotT)
			require.Equal(t, length, gotLen)
			require.Equal(t, 4, r.Len(), "read exactly the header")
		}
	}
}

func TestReadFrameHeaderTruncated(t *testing.T) {
	// A length of 16384 takes a 4-byte varint, so the header is 5 bytes.
	enc := AppendFrameHeader(nil, FrameBlock, 16384)
	require.Len(t, enc, 5)
	checkTruncations(t, enc, io.EOF, func(r Reader) error {
		_, _, err := ReadFrameHeader(r)
		return err
	})
}

func TestReadFrameHeaderUnknownType(t *testing.T) {
	for _, typ := range []uint64{0, 0x08, 0x17, 0x1234, quicvarint.Max} {
		// The unknown frame claims a huge payload; it must not be read.
		r := &tripwire{t: t, header: AppendFrameHeader(nil, FrameType(typ), quicvarint.Max)}
		gotT, gotLen, err := ReadFrameHeader(r)
		require.ErrorIs(t, err, ErrUnknownFrame)
		require.Equal(t, FrameType(typ), gotT, "the type comes with the error")
		require.Equal(t, uint64(quicvarint.Max), gotLen, "the length comes with the error")
	}
}

func TestReadFrameHeaderTooLarge(t *testing.T) {
	for _, ft := range allFrameTypes {
		limit, _ := MaxPayload(ft)
		for _, length := range []uint64{limit + 1, quicvarint.Max} {
			r := &tripwire{t: t, header: AppendFrameHeader(nil, ft, length)}
			_, _, err := ReadFrameHeader(r)
			require.ErrorIs(t, err, ErrFrameTooLarge, "%s of %d bytes", ft, length)
			require.ErrorContains(t, err, ft.String())
		}
	}
}

func TestReadFrameHeaderNonMinimalVarint(t *testing.T) {
	for name, enc := range map[string][]byte{
		"type":   append(quicvarint.AppendWithLen(nil, uint64(FrameList), 2), 0),
		"length": quicvarint.AppendWithLen([]byte{byte(FrameGetBlock)}, 5, 8),
	} {
		_, _, err := ReadFrameHeader(bytes.NewReader(enc))
		require.ErrorIs(t, err, ErrMalformed, name)
	}
}

func TestReadEnd(t *testing.T) {
	require.NoError(t, ReadEnd(bytes.NewReader(nil)))
	require.ErrorIs(t, ReadEnd(bytes.NewReader([]byte{1})), ErrUnexpectedFrame)
}

func TestReadPayload(t *testing.T) {
	data := make([]byte, 3*payloadChunk+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, n := range []int{0, 1, payloadChunk, payloadChunk + 1, len(data)} {
		got, err := readPayload(bytes.NewReader(data), uint64(n))
		require.NoError(t, err, n)
		require.Equal(t, data[:n], got, n)
		if n > 0 {
			_, err = readPayload(bytes.NewReader(data[:n-1]), uint64(n))
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, n)
			_, err = readPayload(bytes.NewReader(nil), uint64(n))
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "empty, %d", n)
		}
	}
}

// TestReadPayloadMemory checks that a peer announcing the largest manifest
// frame and sending almost nothing does not make the reader allocate it.
func TestReadPayloadMemory(t *testing.T) {
	enc := AppendFrameHeader(nil, FrameManifest, maxManifestPayload)
	enc = append(enc, 1, 2, 3)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadManifestResponse(bytes.NewReader(enc))
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated for a %d-byte claim", maxManifestPayload)
}

func FuzzReadFrameHeader(f *testing.F) {
	for _, ft := range allFrameTypes {
		f.Add(AppendFrameHeader(nil, ft, 0))
		limit, _ := MaxPayload(ft)
		f.Add(AppendFrameHeader(nil, ft, limit))
		f.Add(AppendFrameHeader(nil, ft, limit+1))
	}
	f.Add([]byte{})
	f.Add([]byte{0x40})
	f.Add([]byte{0x40, 0x01, 0x00})
	f.Add(AppendFrameHeader(nil, 0x77, 12))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		ft, length, err := ReadFrameHeader(r)
		consumed := data[:len(data)-r.Len()]
		switch {
		case err == nil:
			limit, ok := MaxPayload(ft)
			require.True(t, ok)
			require.LessOrEqual(t, length, limit)
			require.Equal(t, consumed, AppendFrameHeader(nil, ft, length), "one encoding per header")
		case err == io.EOF:
			require.Empty(t, data)
		default:
			requireDecodeError(t, err)
		}
	})
}
