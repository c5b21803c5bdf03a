package partial

import (
	"bytes"
	"os"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// aligned returns a copy of b in a buffer whose address is a multiple of
// 4096 (what direct I/O asks of memory on common file systems).
func aligned(b []byte) []byte {
	raw := make([]byte, len(b)+4096)
	off := int(4096 - uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%4096)
	buf := raw[off : off+len(b)]
	copy(buf, b)
	return buf
}

// Blocks whose offset, length and buffer are aligned go to the file with
// O_DIRECT, the rest (the short last block, an unaligned buffer) through the
// page cache; the file is the same either way, resumes, and finishes.
func TestDirectWrites(t *testing.T) {
	data := randomData(5*bs+1000, 41) // the last block is 1000 bytes
	d := newDownload(t, data)
	f, _, _ := d.open(t)
	if f.direct == nil {
		t.Skip("the temp dir's file system has no direct I/O")
	}
	require.NoError(t, f.WriteBlock(0, aligned(d.block(0))))
	require.EqualValues(t, 1, f.direct.n.Load(), "an aligned block is written directly")
	b1 := aligned(append([]byte{0}, d.block(1)...))[1:] // one byte off
	require.NoError(t, f.WriteBlock(1, b1))
	require.NoError(t, f.WriteBlock(5, aligned(d.block(5))))
	require.EqualValues(t, 1, f.direct.n.Load(), "an unaligned buffer and the short last block are not")
	require.NoError(t, f.WriteVerified(2, aligned(d.block(2)), d.m.Blocks[2].XXH))
	require.EqualValues(t, 2, f.direct.n.Load())
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())

	// Read back through the page cache, after a resume.
	f, rep, _ := d.open(t)
	require.Equal(t, 4, rep.Trusted)
	d.write(t, f, 3, 4)
	require.NoError(t, f.Finish())
	got, err := os.ReadFile(d.out)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
}

func TestBufferedOption(t *testing.T) {
	d := newDownload(t, randomData(2*bs, 42))
	f, _, err := Open(d.out, d.m, Options{Buffered: true})
	require.NoError(t, err)
	defer f.Close()
	require.Nil(t, f.direct)
	require.NoError(t, f.WriteBlock(0, aligned(d.block(0))))
}

// WriteVerified compares the xxh64 the caller gives with the manifest's:
// a block that does not match is refused, and nothing is written.
func TestWriteVerifiedChecksTheGivenXXH(t *testing.T) {
	d := newDownload(t, randomData(2*bs, 43))
	f, _, _ := d.open(t)
	err := f.WriteVerified(0, d.block(0), d.m.Blocks[0].XXH+1)
	require.ErrorIs(t, err, manifest.ErrHashMismatch)
	require.False(t, f.Has(0))
	require.NoError(t, f.WriteVerified(0, d.block(0), d.m.Blocks[0].XXH))
	require.True(t, f.Has(0))
}
