package seed

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/quicvarint"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// getRange asks for bytes [off, off+length) of block i and reads the
// answer, which must be exactly length bytes.
func getRange(t testing.TB, conn *quic.Conn, id manifest.ID, i, off, length uint64) ([]byte, error) {
	t.Helper()
	_, r := send(t, conn, (&wire.RangeRequest{ID: id, Index: i, Offset: off, Length: length}).Append(nil))
	if err := wire.ReadBlockHeader(r, int64(length)); err != nil {
		return nil, wire.FromQUIC(err)
	}
	b := make([]byte, length)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, wire.FromQUIC(err)
	}
	return b, wire.FromQUIC(wire.ReadEnd(r))
}

func TestRange(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(2*bs+bs/3, 21) // three blocks, the last short
	writeFile(t, filepath.Join(dir, "f"), data)
	s := startForTest(t, Options{Paths: []string{dir}, MetricsListen: "127.0.0.1:0"})
	conn := dial(t, s)
	id := fileByName(t, s, "f").ID
	last := uint64(len(data) - 2*bs) // the last block's length

	var sent int
	for _, tc := range []struct {
		name               string
		index, off, length uint64
	}{
		{"first part", 0, 0, 1000},
		{"middle", 1, bs / 3, bs / 4},
		{"last part", 1, bs - 500, 500},
		{"one byte", 0, bs / 2, 1},
		{"first byte", 2, 0, 1},
		{"last byte", 1, bs - 1, 1},
		{"the whole block", 1, 0, bs},
		{"short tail of the last block", 2, last - 17, 17},
		{"the whole last block", 2, 0, last},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := getRange(t, conn, id, tc.index, tc.off, tc.length)
			require.NoError(t, err)
			start := tc.index*bs + tc.off
			require.True(t, bytes.Equal(data[start:start+tc.length], got), "bytes [%d, %d) of block %d", tc.off, tc.off+tc.length, tc.index)
			sent += len(got)
		})
	}
	st := s.Stats()
	require.EqualValues(t, 9, st.RangesSent)
	require.EqualValues(t, 0, st.BlocksSent, "a range is not a block, even one that spans its block")
	require.EqualValues(t, sent, st.BytesSent)
	m := scrape(t, s)
	require.EqualValues(t, 9, m["quicxfer_seed_ranges_sent_total"])
	require.EqualValues(t, 0, m["quicxfer_seed_blocks_sent_total"])
	require.EqualValues(t, sent, m["quicxfer_seed_bytes_sent_total"])
	require.EqualValues(t, 9, m[`quicxfer_seed_file_requests_total{file="f"}`])
}

// TestRangeRefused checks that a range outside its block, or one the wire
// refuses, is answered BAD_REQUEST as a bad block index is, an unknown
// content ID NOT_FOUND, and that the connection serves on.
func TestRangeRefused(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(bs+bs/2, 22) // two blocks, the last half a block
	writeFile(t, filepath.Join(dir, "f"), data)
	s := startForTest(t, Options{Paths: []string{dir}})
	conn := dial(t, s)
	id := fileByName(t, s, "f").ID

	for _, tc := range []struct {
		name               string
		id                 manifest.ID
		index, off, length uint64
		want               wire.ErrCode
	}{
		{"past the block's end", id, 0, bs - 10, 11, wire.ErrCodeBadRequest},
		{"at the block's end", id, 0, bs, 1, wire.ErrCodeBadRequest},
		{"longer than the block", id, 0, 0, bs + 1, wire.ErrCodeBadRequest},
		{"past the short last block", id, 1, 0, bs, wire.ErrCodeBadRequest},
		{"offset past the short last block", id, 1, bs / 2, 1, wire.ErrCodeBadRequest},
		{"zero length", id, 0, 0, 0, wire.ErrCodeBadRequest},
		{"block index out of range", id, 2, 0, 1, wire.ErrCodeBadRequest},
		{"huge block index", id, quicvarint.Max, 0, 1, wire.ErrCodeBadRequest},
		{"offset + length overflows", id, 0, quicvarint.Max, 1, wire.ErrCodeBadRequest},
		{"offset + length overflows, both large", id, 0, 1 << 61, 1 << 61, wire.ErrCodeBadRequest},
		{"largest offset and length", id, 0, quicvarint.Max - 1, 1, wire.ErrCodeBadRequest},
		{"unknown content ID", manifest.ID{1}, 0, 0, 1, wire.ErrCodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := getRange(t, conn, tc.id, tc.index, tc.off, tc.length)
			requireCode(t, err, tc.want)
			// The connection serves on.
			got, err := getRange(t, conn, id, 1, 10, 20)
			require.NoError(t, err)
			require.Equal(t, data[bs+10:bs+30], got)
		})
	}
	st := s.Stats()
	require.EqualValues(t, 11, st.RejectedByReason[wire.ErrCodeBadRequest])
	require.EqualValues(t, 1, st.RejectedByReason[wire.ErrCodeNotFound])
	require.EqualValues(t, 12, st.RangesSent)
	require.EqualValues(t, 12*20, st.BytesSent, "nothing of a refused range was sent")
}

// TestRangeAccess checks that a range goes through the checks a block
// does: a private seed's AUTH, and a shared file's available blocks.
func TestRangeAccess(t *testing.T) {
	const token = "s3cret"
	dir := t.TempDir()
	data := randBytes(3*bs, 23)
	path := filepath.Join(dir, "f")
	writeFile(t, path, data)

	t.Run("private", func(t *testing.T) {
		s := startForTest(t, Options{Paths: []string{dir}, Tokens: []string{token}})
		conn := dial(t, s)
		id := fileByName(t, s, "f").ID
		_, err := getRange(t, conn, id, 0, 0, 10)
		requireCode(t, err, wire.ErrCodeUnauthorized)
		require.NoError(t, auth(t, conn, token))
		got, err := getRange(t, conn, id, 0, 0, 10)
		require.NoError(t, err)
		require.Equal(t, data[:10], got)
	})

	t.Run("shared", func(t *testing.T) {
		m := buildManifest(t, path)
		s := startForTest(t, Options{NoPaths: true})
		_, err := s.Share("part", m, bytes.NewReader(data), func(i int) bool { return i == 1 })
		require.NoError(t, err)
		conn := dial(t, s)
		_, err = getRange(t, conn, m.ID(), 0, 0, 10)
		requireCode(t, err, wire.ErrCodeNotAvailable)
		got, err := getRange(t, conn, m.ID(), 1, 5, 10)
		require.NoError(t, err)
		require.Equal(t, data[bs+5:bs+15], got)
	})
}
