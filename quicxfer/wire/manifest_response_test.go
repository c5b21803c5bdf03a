package wire

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/quic-go/quic-go/quicvarint"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

func TestManifestResponseRoundTrip(t *testing.T) {
	empty := &manifest.Manifest{BlockSize: manifest.MinBlockSize, Blocks: []manifest.Block{}}
	for _, tc := range []ManifestResponse{
		{Name: "a", Manifest: testManifest(1)},
		{Name: "dir/file.bin", Manifest: testManifest(3)},
		{Name: "empty file", Manifest: empty},
		{Name: strings.Repeat("n", MaxNameLen), Manifest: testManifest(100)},
	} {
		enc := tc.Append([]byte("prefix"))
		r := bytes.NewReader(append(enc[6:], "more"...))
		got, err := ReadManifestResponse(r)
		require.NoError(t, err)
		require.Equal(t, tc.Name, got.Name)
		require.Equal(t, tc.Manifest.ID(), got.Manifest.ID())
		require.Equal(t, tc.Manifest.Size, got.Manifest.Size)
		require.Equal(t, tc.Manifest.BlockSize, got.Manifest.BlockSize)
		require.Equal(t, len(tc.Manifest.Blocks), len(got.Manifest.Blocks))
		if len(tc.Manifest.Blocks) > 0 {
			require.Equal(t, tc.Manifest.Blocks, got.Manifest.Blocks)
		}
		require.Equal(t, 4, r.Len(), "read exactly one frame")
	}
}

func TestManifestResponseTruncated(t *testing.T) {
	enc := (&ManifestResponse{Name: "dir/f", Manifest: testManifest(2)}).Append(nil)
	checkTruncations(t, enc, io.ErrUnexpectedEOF, func(r Reader) error {
		_, err := ReadManifestResponse(r)
		return err
	})
}

func TestManifestResponseBadNames(t *testing.T) {
	for name, bad := range badNames {
		t.Run(name, func(t *testing.T) {
			_, err := ReadManifestResponse(bytes.NewReader((&ManifestResponse{Name: bad, Manifest: testManifest(1)}).Append(nil)))
			require.ErrorIs(t, err, ErrBadName)
		})
	}
}

func TestManifestResponseBadManifest(t *testing.T) {
	m := testManifest(2)
	frame := func(name string, man []byte) []byte {
		p := append(quicvarint.Append(nil, uint64(len(name))), name...)
		p = append(p, man...)
		return append(AppendFrameHeader(nil, FrameManifest, uint64(len(p))), p...)
	}
	good := m.AppendBinary(nil)
	// The same manifest with its size written as an 8-byte varint.
	nonMinimal := append([]byte{good[0]}, quicvarint.AppendWithLen(nil, uint64(m.Size), 8)...)
	nonMinimal = append(nonMinimal, good[1+quicvarint.Len(uint64(m.Size)):]...)
	for _, tc := range []struct {
		name string
		man  []byte
	}{
		{"empty", nil},
		{"version", append([]byte{9}, good[1:]...)},
		{"missing block", good[:len(good)-40]},
		{"extra byte", append(good[:len(good):len(good)], 0)},
		{"non-minimal varint", nonMinimal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadManifestResponse(bytes.NewReader(frame("f", tc.man)))
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
	_, err := ReadManifestResponse(bytes.NewReader(frame("f", good)))
	require.NoError(t, err, "the frame helper builds a valid frame")
}

func TestManifestResponseRefuses(t *testing.T) {
	_, err := ReadManifestResponse(bytes.NewReader((&FileEntry{Name: "a"}).Append(nil)))
	require.ErrorIs(t, err, ErrUnexpectedFrame)
	_, err = ReadManifestResponse(bytes.NewReader(AppendFrameHeader(nil, 0x22, 0)))
	require.ErrorIs(t, err, ErrUnknownFrame)
	_, err = ReadManifestResponse(&tripwire{t: t, header: AppendFrameHeader(nil, FrameManifest, maxManifestPayload+1)})
	require.ErrorIs(t, err, ErrFrameTooLarge)
}

func FuzzReadManifestResponse(f *testing.F) {
	f.Add((&ManifestResponse{Name: "a", Manifest: testManifest(1)}).Append(nil))
	f.Add((&ManifestResponse{Name: "d/f", Manifest: testManifest(3)}).Append(nil))
	f.Add((&ManifestResponse{Name: "e", Manifest: &manifest.Manifest{BlockSize: manifest.MinBlockSize}}).Append(nil))
	f.Add([]byte{})
	f.Add((&ManifestResponse{Name: "esc\x1b[2J", Manifest: testManifest(1)}).Append(nil)) // a control character
	// A manifest whose size is a 2-byte varint where 1 byte does.
	short := (&ManifestResponse{Name: "e", Manifest: &manifest.Manifest{BlockSize: manifest.MinBlockSize}}).Append(nil)
	long := append(AppendFrameHeader(nil, FrameManifest, uint64(len(short)-1)), short[2:5]...)
	f.Add(append(append(long, 0x40, 0), short[6:]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		m, err := ReadManifestResponse(r)
		if err != nil {
			requireDecodeError(t, err)
			return
		}
		require.NoError(t, CheckName(m.Name))
		require.Equal(t, data[:len(data)-r.Len()], m.Append(nil), "one encoding per manifest")
	})
}

func BenchmarkManifestResponse1000(b *testing.B) {
	resp := &ManifestResponse{Name: "dir/file.iso", Manifest: testManifest(1000)}
	var buf []byte
	r := bytes.NewReader(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf = resp.Append(buf[:0])
		r.Reset(buf)
		got, err := ReadManifestResponse(r)
		if err != nil || len(got.Manifest.Blocks) != 1000 {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
