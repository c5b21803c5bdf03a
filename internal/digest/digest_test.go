package digest

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	data := []byte("quicxfer")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	got, err := File(p)
	require.NoError(t, err)
	require.Equal(t, sha256.Sum256(data), got)
	_, err = File(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
}
