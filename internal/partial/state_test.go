package partial

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

func testState(size int64, set ...int) *State {
	bs := manifest.BlockSizeFor(size)
	n := manifest.NumBlocksFor(size, bs)
	s := &State{ID: manifest.ID{1, 2, 3, 31: 0xff}, Size: size, BlockSize: bs, NumBlocks: n, Bitmap: make([]byte, bitmapLen(n))}
	for _, i := range set {
		s.Bitmap[i/8] |= 1 << (i % 8)
	}
	return s
}

func TestStateRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *State
	}{
		{"empty file", testState(0)},
		{"one byte", testState(1, 0)},
		{"one block, bit clear", testState(manifest.MinBlockSize)},
		{"nine blocks, first and last", testState(9*manifest.MinBlockSize-5, 0, 8)},
		{"eight blocks, all", testState(8*manifest.MinBlockSize, 0, 1, 2, 3, 4, 5, 6, 7)},
		{"larger block size", testState(5<<30, 0, 1000, 1279)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.s.Append(nil)
			require.Len(t, b, EncodedStateLen(tc.s.NumBlocks, tc.s.XXH != nil))
			got, err := DecodeState(b)
			require.NoError(t, err)
			require.Equal(t, tc.s, got)
			for i := range tc.s.NumBlocks {
				require.Equal(t, tc.s.Has(i), got.Has(i), "block %d", i)
			}
			// Appending to a non-empty buffer encodes the same bytes.
			require.Equal(t, b, tc.s.Append([]byte("xyz"))[3:])
		})
	}
}

func TestDecodeStateTruncated(t *testing.T) {
	b := testState(9*manifest.MinBlockSize, 1, 3, 8).Append(nil)
	for n := range len(b) {
		_, err := DecodeState(b[:n])
		require.ErrorIs(t, err, ErrBadState, "prefix of %d bytes", n)
	}
	_, err := DecodeState(append(b, 0))
	require.ErrorIs(t, err, ErrBadState, "one byte too many")
}

func TestDecodeStateEveryByteEdited(t *testing.T) {
	b := testState(9*manifest.MinBlockSize, 1, 3, 8).Append(nil)
	for i := range b {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			c := append([]byte(nil), b...)
			c[i] ^= x
			_, err := DecodeState(c)
			require.ErrorIs(t, err, ErrBadState, "byte %d ^ %#x", i, x)
		}
	}
}

func TestDecodeStateRefusesBadFields(t *testing.T) {
	valid := func() *State { return testState(9*manifest.MinBlockSize, 2) }
	for _, tc := range []struct {
		name string
		edit func(s *State)
	}{
		{"bit past the last block", func(s *State) { s.Bitmap[1] |= 0x02 }},
		{"block count off by one", func(s *State) { s.NumBlocks++ }},
		{"block size not a power of two", func(s *State) { s.BlockSize += 1 }},
		{"block size too small", func(s *State) { s.BlockSize = manifest.MinBlockSize / 2 }},
		{"block size too large", func(s *State) { s.BlockSize = 2 * manifest.MaxBlockSize }},
		{"size too large", func(s *State) { s.Size = manifest.MaxSize + 1 }},
		{"negative size", func(s *State) { s.Size = -1 }},
		{"huge block count", func(s *State) { s.NumBlocks = 1 << 40 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := valid()
			tc.edit(s)
			_, err := DecodeState(s.Append(nil)) // correct checksum, bad content
			require.ErrorIs(t, err, ErrBadState)
		})
	}
	t.Run("future version", func(t *testing.T) {
		b := valid().Append(nil)
		b[len(stateMagic)] = StateVersion + 1
		_, err := DecodeState(b)
		require.ErrorIs(t, err, ErrBadState)
	})
}

func FuzzDecodeState(f *testing.F) {
	for _, s := range []*State{testState(0), testState(1, 0), testState(9*manifest.MinBlockSize, 1, 8), testState(5<<30, 7)} {
		f.Add(s.Append(nil))
	}
	learn := testState(3*MinLearnBlockSize+1, 0, 3)
	learn.XXH = []uint64{1, 0, 0, 4}
	f.Add(learn.Append(nil))
	f.Add([]byte{})
	f.Add([]byte(stateMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeState(b)
		if err != nil {
			require.ErrorIs(t, err, ErrBadState)
			return
		}
		// Exactly one encoding per state: decoding then encoding gives the input back.
		require.Equal(t, b, s.Append(nil))
		require.Len(t, s.Bitmap, bitmapLen(s.NumBlocks))
		require.Equal(t, manifest.NumBlocksFor(s.Size, s.BlockSize), s.NumBlocks)
	})
}

// The state file a File writes is the layout made here by hand: bit i of
// the bitmap is bit i%8 of byte i/8, after the header, before the checksum.
func TestStateFileLayout(t *testing.T) {
	d := newDownload(t, randomData(17*bs+5, 7))
	f, _, _ := d.open(t)
	d.write(t, f, 0, 2, 9, 17)
	require.NoError(t, f.Sync())
	got := mustRead(t, StatePath(d.out))
	require.NoError(t, f.Close())

	want := []byte(stateMagic)
	want = append(want, StateVersion)
	id := d.m.ID()
	want = append(want, id[:]...)
	want = binary.BigEndian.AppendUint64(want, uint64(d.m.Size))
	want = binary.BigEndian.AppendUint64(want, uint64(d.m.BlockSize))
	want = binary.BigEndian.AppendUint64(want, 18)
	want = append(want, 0x05, 0x02, 0x02) // blocks 0, 2; 9; 17
	sum := sha256.Sum256(want)
	want = append(want, sum[:]...)
	require.Equal(t, want, got)

	s, err := DecodeState(got)
	require.NoError(t, err)
	require.Equal(t, got, s.Append(nil))
}
