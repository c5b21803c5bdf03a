package randfile

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBytesAreAFunctionOfTheSeed(t *testing.T) {
	a := Bytes(1000, 1)
	require.Equal(t, a, Bytes(1000, 1))
	require.Equal(t, a[:10], Bytes(10, 1), "a prefix of the same stream")
	require.NotEqual(t, a, Bytes(1000, 2))
}

func TestWrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "f")
	sum, err := Write(p, 3<<20+7, 5)
	require.NoError(t, err)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, Bytes(3<<20+7, 5), got)
	require.Equal(t, sha256.Sum256(got), sum)
}
