package quicxfer_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/quicxfer/quicxfer/internal/quictest"
	"github.com/quicxfer/quicxfer/internal/randfile"
	"github.com/quicxfer/quicxfer/internal/scriptseed"
	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/seed"
)

const rangeBS = manifest.MinBlockSize

// dialURL connects a new client to the seed at raw; both close when the
// test ends.
func dialURL(t testing.TB, raw string) *quicxfer.Conn {
	t.Helper()
	client, err := quicxfer.NewClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	u, err := wire.ParseURL(raw)
	require.NoError(t, err)
	conn, err := client.Dial(t.Context(), u)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// fetchRange is FetchRange into a new buffer, returning it and the bytes
// onBytes was told of.
func fetchRange(t testing.TB, conn *quicxfer.Conn, id manifest.ID, index int, off int64, n int) ([]byte, int, error) {
	t.Helper()
	buf := make([]byte, n)
	told := 0
	err := conn.FetchRange(t.Context(), id, index, off, buf, func(k int) {
		require.LessOrEqual(t, k, 64<<10, "a piece of at most 64 KiB")
		told += k
	})
	return buf, told, err
}

func TestFetchRange(t *testing.T) {
	dir := t.TempDir()
	data := testkit.WriteRandom(t, filepath.Join(dir, "f"), 2*rangeBS+rangeBS/3, 31) // three blocks, the last short
	srv := seedtest.Start(t, seed.Options{Paths: []string{dir}})
	conn := dialURL(t, srv.URL())
	resp, err := conn.Manifest(t.Context(), wire.ManifestRequest{Name: "f"})
	require.NoError(t, err)
	m := resp.Manifest
	id := m.ID()
	last := m.BlockLen(2)

	for _, tc := range []struct {
		name  string
		index int
		off   int64
		n     int
	}{
		{"first part", 0, 0, 1000},
		{"middle", 1, rangeBS / 3, rangeBS / 4},
		{"last part", 1, rangeBS - 500, 500},
		{"one byte", 0, rangeBS / 2, 1},
		{"more than one read", 1, 100, rangeBS - 100},
		{"short tail of the last block", 2, last - 17, 17},
		{"the whole last block", 2, 0, int(last)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, told, err := fetchRange(t, conn, id, tc.index, tc.off, tc.n)
			require.NoError(t, err)
			start := m.BlockOffset(tc.index) + tc.off
			require.Equal(t, data[start:start+int64(tc.n)], got)
			require.Equal(t, tc.n, told)
		})
	}

	t.Run("one block over two connections", func(t *testing.T) {
		conns := []*quicxfer.Conn{conn, dialURL(t, srv.URL())}
		block := make([]byte, m.BlockLen(1))
		const parts = 4
		var g errgroup.Group
		for k := range parts {
			lo, hi := len(block)*k/parts, len(block)*(k+1)/parts
			g.Go(func() error {
				return conns[k%2].FetchRange(t.Context(), id, 1, int64(lo), block[lo:hi], nil)
			})
		}
		require.NoError(t, g.Wait())
		require.NoError(t, m.Verify(1, block))
	})

	t.Run("refused", func(t *testing.T) {
		_, _, err := fetchRange(t, conn, manifest.ID{1}, 0, 0, 10)
		require.ErrorIs(t, err, wire.ErrNotFound)
		require.NotErrorIs(t, err, quicxfer.ErrRangeUnsupported)

		// A range past its block's end is a bad request, which the client
		// cannot tell from an old seed's refusal of the frame: a caller
		// takes its ranges from the manifest.
		_, _, err = fetchRange(t, conn, id, 2, last-10, 11)
		require.ErrorIs(t, err, wire.ErrBadRequest)
		require.ErrorIs(t, err, quicxfer.ErrRangeUnsupported)

		// A range in no block at all is never sent.
		before := srv.Stats().Requests
		for _, r := range []struct {
			off int64
			n   int
		}{{0, 0}, {-1, 10}, {manifest.MaxBlockSize, 1}, {1, manifest.MaxBlockSize}} {
			_, _, err = fetchRange(t, conn, id, 0, r.off, r.n)
			require.Error(t, err, "[%d, +%d)", r.off, r.n)
			require.NotErrorIs(t, err, quicxfer.ErrRangeUnsupported)
		}
		require.Equal(t, before, srv.Stats().Requests, "nothing sent")

		got, _, err := fetchRange(t, conn, id, 0, 5, 5)
		require.NoError(t, err, "the connection serves on")
		require.Equal(t, data[5:10], got)
	})
	st := srv.Stats()
	require.EqualValues(t, 0, st.BlocksSent)
	require.EqualValues(t, 7+4+1, st.RangesSent)
}

// TestFetchRangeOldSeed checks that a seed that does not know GET_RANGE,
// and refuses it as any unknown frame (BAD_REQUEST), gives
// ErrRangeUnsupported, and that the connection still fetches whole blocks.
func TestFetchRangeOldSeed(t *testing.T) {
	data := randfile.Bytes(rangeBS+100, 32)
	old := scriptseed.Start(t, scriptseed.Options{Files: map[string][]byte{"f": data}})
	conn := dialURL(t, old.URL())
	resp, err := conn.Manifest(t.Context(), wire.ManifestRequest{Name: "f"})
	require.NoError(t, err)
	id := resp.Manifest.ID()

	_, told, err := fetchRange(t, conn, id, 0, 10, 100)
	require.ErrorIs(t, err, quicxfer.ErrRangeUnsupported)
	require.ErrorIs(t, err, wire.ErrBadRequest)
	require.Zero(t, told)
	require.NotContains(t, err.Error(), "\n")

	block := make([]byte, rangeBS)
	require.NoError(t, conn.FetchBlock(t.Context(), id, 0, block, nil))
	require.Equal(t, data[:rangeBS], block)
}

// TestFetchRangeBrokenAnswers checks that FetchRange reads an answer as
// FetchBlock does: a short answer, a wrong length and bytes after the
// answer are errors, never a range filled in part.
func TestFetchRangeBrokenAnswers(t *testing.T) {
	part := randfile.Bytes(1000, 33)
	for _, tc := range []struct {
		name   string
		answer []byte
		want   error
		named  bool // the error names the range (a header error is the wire's own)
	}{
		{"honest", append(wire.AppendBlockHeader(nil, len(part)), part...), nil, false},
		{"cut short", append(wire.AppendBlockHeader(nil, len(part)), part[:500]...), io.ErrUnexpectedEOF, true},
		{"longer header", append(wire.AppendBlockHeader(nil, len(part)+1), append(part, 0)...), wire.ErrWrongLength, false},
		{"bytes after", append(append(wire.AppendBlockHeader(nil, len(part)), part...), 0), wire.ErrWrongLength, true},
		{"another frame", (&wire.FileEntry{Name: "f", Size: 1}).Append(nil), wire.ErrUnexpectedFrame, false},
		{"no answer", nil, io.ErrUnexpectedEOF, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := quictest.Serve(t, quictest.Handler{Ranges: true, Request: func(_ context.Context, str *quic.Stream, req wire.Request) {
				if _, ok := req.(*wire.RangeRequest); !ok {
					str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeNotFound))
					return
				}
				_, _ = str.Write(tc.answer)
				_ = str.Close()
			}})
			got, _, err := fetchRange(t, dialURL(t, url), manifest.ID{7}, 3, 2000, len(part))
			if tc.want == nil {
				require.NoError(t, err)
				require.Equal(t, part, got)
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.NotErrorIs(t, err, quicxfer.ErrRangeUnsupported)
			if tc.named {
				require.Contains(t, err.Error(), "bytes [2000, 3000) of block 3")
			}
		})
	}
}
