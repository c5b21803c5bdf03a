package manifest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/randfile"
)

func randomBytes(t testing.TB, n int, seed uint64) []byte {
	t.Helper()
	return randfile.Bytes(n, seed)
}

func TestBlockSizeFor(t *testing.T) {
	for _, tc := range []struct {
		size int64
		want int64
	}{
		{0, MinBlockSize},
		{1, MinBlockSize},
		{MinBlockSize * TargetBlocks, MinBlockSize},
		{MinBlockSize*TargetBlocks + 1, 2 * MinBlockSize},
		{1 << 30, 1 << 20},
		{4 << 30, 4 << 20},
		{MaxSize, MaxBlockSize},
	} {
		require.Equal(t, tc.want, BlockSizeFor(tc.size), "size %d", tc.size)
		require.LessOrEqual(t, NumBlocksFor(tc.size, tc.want), MaxBlocks)
	}
}

func TestBuildSizes(t *testing.T) {
	for _, size := range []int{0, 1, MinBlockSize - 1, MinBlockSize, MinBlockSize + 1, 5*MinBlockSize + 17} {
		data := randomBytes(t, size, uint64(size))
		m, err := Build(context.Background(), bytes.NewReader(data), int64(size), 2)
		require.NoError(t, err)
		require.Equal(t, int64(size), m.Size)
		require.Equal(t, (size+MinBlockSize-1)/MinBlockSize, m.NumBlocks())
		var total int64
		for i := range m.Blocks {
			blk := data[m.BlockOffset(i) : m.BlockOffset(i)+m.BlockLen(i)]
			require.NoError(t, m.Verify(i, blk))
			require.True(t, m.CheckXXH(i, blk))
			total += m.BlockLen(i)
		}
		require.Equal(t, int64(size), total)
	}
}

func TestVerifyRejects(t *testing.T) {
	data := randomBytes(t, 3*MinBlockSize, 1)
	m, err := Build(context.Background(), bytes.NewReader(data), int64(len(data)), 0)
	require.NoError(t, err)
	blk := append([]byte(nil), data[:MinBlockSize]...)

	require.ErrorIs(t, m.Verify(0, blk[:len(blk)-1]), ErrHashMismatch, "short")
	require.ErrorIs(t, m.Verify(0, append(blk, 0)), ErrHashMismatch, "long")
	require.ErrorIs(t, m.Verify(1, blk), ErrHashMismatch, "other block")
	blk[100] ^= 1
	require.ErrorIs(t, m.Verify(0, blk), ErrHashMismatch, "flipped bit")
	require.False(t, m.CheckXXH(0, blk))
	require.Error(t, m.Verify(3, blk), "out of range")
	require.Error(t, m.Verify(-1, blk), "negative")

	// A block forged to match the xxh64 but not the SHA-256 is still rejected.
	forged := &Manifest{Size: m.Size, BlockSize: m.BlockSize, Blocks: append([]Block(nil), m.Blocks...)}
	forged.Blocks[0].XXH = HashBlock(blk).XXH
	require.ErrorIs(t, forged.Verify(0, blk), ErrHashMismatch)
}

func TestIDIgnoresNameAndIsStable(t *testing.T) {
	data := randomBytes(t, 2*MinBlockSize+5, 2)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b.iso")
	require.NoError(t, os.WriteFile(a, data, 0o644))
	require.NoError(t, os.WriteFile(b, data, 0o644))
	ma, err := BuildFile(context.Background(), a, 1)
	require.NoError(t, err)
	mb, err := BuildFile(context.Background(), b, 4)
	require.NoError(t, err)
	require.Equal(t, ma.ID(), mb.ID())

	data[len(data)-1] ^= 0xff
	mc, err := Build(context.Background(), bytes.NewReader(data), int64(len(data)), 0)
	require.NoError(t, err)
	require.NotEqual(t, ma.ID(), mc.ID())
}

func TestIDText(t *testing.T) {
	m, err := Build(context.Background(), bytes.NewReader(nil), 0, 0)
	require.NoError(t, err)
	id := m.ID()
	got, err := ParseID(id.String())
	require.NoError(t, err)
	require.Equal(t, id, got)
	require.Len(t, id.String(), 64)
	for _, bad := range []string{"", "abc", id.String()[:63] + "g", id.String() + "0"} {
		_, err := ParseID(bad)
		require.Error(t, err, bad)
	}
}

func TestEncodingRoundTripAndTruncation(t *testing.T) {
	data := randomBytes(t, 3*MinBlockSize+1, 3)
	m, err := Build(context.Background(), bytes.NewReader(data), int64(len(data)), 0)
	require.NoError(t, err)
	enc := m.AppendBinary(nil)
	got, err := Decode(enc)
	require.NoError(t, err)
	require.Equal(t, m, got)
	for i := range enc {
		_, err := Decode(enc[:i])
		require.ErrorIs(t, err, ErrMalformed, "prefix of %d bytes", i)
	}
	_, err = Decode(append(enc, 0))
	require.ErrorIs(t, err, ErrMalformed, "trailing byte")
}

func TestDecodeRejects(t *testing.T) {
	m := &Manifest{Size: 10, BlockSize: MinBlockSize, Blocks: make([]Block, 1)}
	good := m.AppendBinary(nil)
	_, err := Decode(good)
	require.NoError(t, err)

	wrongVersion := append([]byte{9}, good[1:]...)
	_, err = Decode(wrongVersion)
	require.ErrorIs(t, err, ErrMalformed)

	wrongBS := (&Manifest{Size: 10, BlockSize: 2 * MinBlockSize, Blocks: make([]Block, 1)}).AppendBinary(nil)
	_, err = Decode(wrongBS)
	require.ErrorIs(t, err, ErrMalformed)

	// One encoding per manifest: a varint longer than it must be is
	// refused, though it decodes to the same manifest.
	for name, enc := range nonShortest(good) {
		_, err = Decode(enc)
		require.ErrorIs(t, err, ErrMalformed, name)
		require.ErrorContains(t, err, "shortest form", name)
	}

	// A huge size must be refused before anything is allocated for it.
	huge := (&Manifest{Size: MaxSize + 1, BlockSize: MaxBlockSize}).AppendBinary(nil)
	_, err = Decode(huge)
	require.ErrorIs(t, err, ErrTooLarge)
}

// nonShortest returns good (a manifest of 10 bytes, so a 1-byte size and a
// 4-byte block size) with each varint written one size longer, and with both.
func nonShortest(good []byte) map[string][]byte {
	if good[1] != 10 || good[2]>>6 != 2 {
		panic("nonShortest: not the 10-byte manifest")
	}
	longSize := append([]byte{good[0], 0x40, 10}, good[2:]...)
	bs := uint64(MinBlockSize)
	longBS := append([]byte{good[0], good[1], 0xc0, 0, 0, 0, byte(bs >> 24), byte(bs >> 16), byte(bs >> 8), byte(bs)}, good[6:]...)
	both := append([]byte{good[0], 0x40, 10}, longBS[2:]...)
	return map[string][]byte{"2-byte size": longSize, "8-byte block size": longBS, "both": both}
}

func TestBuildShortReader(t *testing.T) {
	_, err := Build(context.Background(), bytes.NewReader(make([]byte, 10)), 20, 1)
	require.Error(t, err)
}

func FuzzDecode(f *testing.F) {
	m, _ := Build(context.Background(), bytes.NewReader(make([]byte, MinBlockSize+3)), MinBlockSize+3, 1)
	f.Add(m.AppendBinary(nil))
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{})
	for _, enc := range nonShortest((&Manifest{Size: 10, BlockSize: MinBlockSize, Blocks: make([]Block, 1)}).AppendBinary(nil)) {
		f.Add(enc) // not in its shortest form: refused
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		require.Equal(t, b, m.AppendBinary(nil), "canonical encoding must round-trip")
		_ = m.ID()
	})
}

func BenchmarkBuild(b *testing.B) {
	const size = 256 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		_, err := Build(context.Background(), bytes.NewReader(data), size, 0)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyBlock(b *testing.B) {
	// One 1 MiB block of a 1 GiB file.
	data := make([]byte, 1<<20)
	m := &Manifest{Size: 1 << 30, BlockSize: 1 << 20, Blocks: make([]Block, 1024)}
	m.Blocks[0] = HashBlock(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Verify(0, data); err != nil {
			b.Fatal(err)
		}
	}
}
