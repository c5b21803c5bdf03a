package wire

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

func TestBlockRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 1000, manifest.MinBlockSize} {
		data := bytes.Repeat([]byte{0xa5}, n)
		enc := append(AppendBlockHeader(nil, n), data...)
		r := bytes.NewReader(enc)
		require.NoError(t, ReadBlockHeader(r, int64(n)))
		buf := make([]byte, n)
		_, err := io.ReadFull(r, buf)
		require.NoError(t, err)
		require.Equal(t, data, buf)
		require.NoError(t, ReadEnd(r))
	}
}

func TestBlockHeaderTruncated(t *testing.T) {
	const n = manifest.MaxBlockSize
	checkTruncations(t, AppendBlockHeader(nil, n), io.ErrUnexpectedEOF, func(r Reader) error {
		return ReadBlockHeader(r, n)
	})
}

func TestBlockHeaderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  []byte
		want int64
		err  error
	}{
		{"shorter", AppendBlockHeader(nil, 99), 100, ErrWrongLength},
		{"longer", AppendBlockHeader(nil, 101), 100, ErrWrongLength},
		{"negative want", AppendBlockHeader(nil, 0), -1, ErrWrongLength},
		{"other frame", (&FileEntry{Name: "a"}).Append(nil), 100, ErrUnexpectedFrame},
		{"request", (&BlockRequest{}).Append(nil), 33, ErrUnexpectedFrame},
		{"unknown frame", AppendFrameHeader(nil, 0x17, 100), 100, ErrUnknownFrame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, ReadBlockHeader(bytes.NewReader(tc.enc), tc.want), tc.err)
		})
	}
	err := ReadBlockHeader(&tripwire{t: t, header: AppendBlockHeader(nil, manifest.MaxBlockSize+1)}, manifest.MaxBlockSize+1)
	require.ErrorIs(t, err, ErrFrameTooLarge)
}
