package collide

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"
)

func TestXXH64(t *testing.T) {
	for _, tc := range []struct {
		size, stripe int
	}{{64, 0}, {100, 0}, {1 << 16, 0}, {1 << 16, 7}, {1<<16 + 5, 2046}} {
		data := make([]byte, tc.size)
		rand.NewChaCha8([32]byte{byte(tc.size), byte(tc.stripe)}).Read(data)
		f, err := XXH64(data, tc.stripe)
		require.NoError(t, err)
		require.Equal(t, xxhash.Sum64(data), xxhash.Sum64(f), "size %d stripe %d", tc.size, tc.stripe)
		require.False(t, bytes.Equal(data, f))
		require.NotEqual(t, sha256.Sum256(data), sha256.Sum256(f))
	}
	_, err := XXH64(make([]byte, 63), 0)
	require.Error(t, err)
}
