package quicxfer_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/seed"
)

// ConnsPerSeed opens that many connections to a seed and spreads the
// requests over them.
func TestConnsPerSeed(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 40*128<<10, 12)
	s := seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: 8e6})
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{s.URL()}, Name: "f.bin", Out: out, ConnsPerSeed: 4})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Equal(t, int64(len(data)), res.Seeds[0].Bytes)
	require.EqualValues(t, 4, s.Stats().ConnsAccepted, "one connection per slot")
}
