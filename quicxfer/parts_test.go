package quicxfer_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/seed"
)

// A seed with several connections is asked for each block in parts, one
// per connection (GET_RANGE); the parts make the block, verified whole.
func TestBlocksInParts(t *testing.T) {
	dir := t.TempDir()
	const size = 24*manifest.MinBlockSize + 4321 // the last block short, under two parts
	data := writeFile(t, dir, "f.bin", size, 77)
	srv := seedtest.Start(t, seed.Options{Paths: []string{dir}})
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{srv.URL()}, Name: "f.bin", Out: out, ConnsPerSeed: 4})
	require.NoError(t, err)
	requireFile(t, out, data)
	st := srv.Stats()
	require.Positive(t, st.RangesSent, "blocks are asked in parts")
	require.LessOrEqual(t, st.RangesSent, int64(2*25), "at most 2 parts a block of 128 KiB (parts of at least 64 KiB)")
	require.Equal(t, int64(size), res.FetchedBytes, "no part fetched twice")
	require.EqualValues(t, 25, res.Seeds[0].Blocks)
}

// A seed that refuses GET_RANGE (a version from before it) is asked for
// whole blocks from then on; the download is as if it had one connection.
func TestBlocksInPartsFromAnOldSeed(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 16*manifest.MinBlockSize, 78)
	old := startFakeSeed(t, dir, "f.bin", honestBlocks)
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{old.URL()}, Name: "f.bin", Out: out, ConnsPerSeed: 4})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.GreaterOrEqual(t, old.blockRequests(), int64(16), "every block asked whole")
	require.Empty(t, res.Seeds[0].Note)
}
