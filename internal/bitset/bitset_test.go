package bitset

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSetGetClearCount(t *testing.T) {
	s := New(130)
	require.Len(t, s, 3)
	for _, i := range []int{0, 63, 64, 129} {
		s.Set(i)
	}
	require.Equal(t, 4, s.Count())
	require.True(t, s.Get(63))
	require.False(t, s.Get(62))
	s.Clear(63)
	require.False(t, s.Get(63))
	require.Equal(t, 3, s.Count())
}

func TestNext(t *testing.T) {
	s := New(200)
	for _, i := range []int{3, 64, 190} {
		s.Set(i)
	}
	tests := []struct{ from, want int }{{-5, 3}, {0, 3}, {3, 3}, {4, 64}, {65, 190}, {191, -1}, {256, -1}, {1000, -1}}
	for _, tc := range tests {
		require.Equal(t, tc.want, s.Next(tc.from), "from %d", tc.from)
	}
	mask := New(200)
	mask.Set(64)
	mask.Set(100)
	require.Equal(t, 64, s.NextIn(0, mask))
	require.Equal(t, -1, s.NextIn(65, mask))
	require.Equal(t, -1, New(0).Next(0))
}

// The byte form is the little-endian encoding of the words: bit i is bit
// i&7 of byte i>>3.
func TestByteForm(t *testing.T) {
	s := New(75)
	for _, i := range []int{0, 9, 63, 64, 74} {
		s.Set(i)
	}
	b := s.AppendBytes([]byte{0xee}, 75)
	require.Len(t, b, 1+ByteLen(75))
	require.Equal(t, byte(0xee), b[0])
	b = b[1:]
	le := binary.LittleEndian.AppendUint64(nil, s[0])
	le = binary.LittleEndian.AppendUint64(le, s[1])
	require.Equal(t, le[:ByteLen(75)], b)
	require.Equal(t, []byte{0x01, 0x02}, b[:2])
	for i := range 75 {
		require.Equal(t, s.Get(i), Bytes(b).Get(i), "bit %d", i)
	}
	require.Equal(t, s, FromBytes(b))
}
