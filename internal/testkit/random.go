package testkit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/randfile"
)

// WriteRandom writes size bytes of seed's pseudo-random stream
// (randfile.Bytes) to path, making its directory, and returns them.
func WriteRandom(t testing.TB, path string, size int, seed uint64) []byte {
	t.Helper()
	data := randfile.Bytes(size, seed)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return data
}
