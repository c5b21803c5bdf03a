package manifest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestManifestFileRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 3*MinBlockSize + 1} {
		data := randomBytes(t, size, uint64(size))
		m, err := Build(context.Background(), bytes.NewReader(data), int64(len(data)), 0)
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "f.qxm")
		require.NoError(t, m.WriteFile(path))
		got, err := ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, m, got)
		require.Equal(t, m.ID(), got.ID(), "the file keeps the content ID")
		entries, err := os.ReadDir(filepath.Dir(path))
		require.NoError(t, err)
		require.Len(t, entries, 1, "no temporary file left beside it")
	}
}

// TestManifestFileDamage: every prefix, every single-bit flip, a trailing
// byte and files of other kinds are refused with ErrNotManifestFile.
func TestManifestFileDamage(t *testing.T) {
	data := randomBytes(t, 2*MinBlockSize+5, 9)
	m, err := Build(context.Background(), bytes.NewReader(data), int64(len(data)), 0)
	require.NoError(t, err)
	good := m.MarshalFile()
	_, err = UnmarshalFile(good)
	require.NoError(t, err)
	for i := range good {
		_, err := UnmarshalFile(good[:i])
		require.ErrorIs(t, err, ErrNotManifestFile, "prefix of %d bytes", i)
	}
	for i := range good {
		for bit := range 8 {
			b := bytes.Clone(good)
			b[i] ^= 1 << bit
			_, err := UnmarshalFile(b)
			require.ErrorIs(t, err, ErrNotManifestFile, "bit %d of byte %d flipped", bit, i)
		}
	}
	_, err = UnmarshalFile(append(bytes.Clone(good), 0))
	require.ErrorIs(t, err, ErrNotManifestFile, "trailing byte")
	_, err = UnmarshalFile(data)
	require.ErrorIs(t, err, ErrNotManifestFile, "the file itself, not its manifest")
	_, err = UnmarshalFile(m.AppendBinary(nil))
	require.ErrorIs(t, err, ErrNotManifestFile, "a bare encoding without the header")

	// A body not in its shortest form, though its checksum is right (the
	// content ID is the hash of the shortest form), is refused: one
	// encoding per manifest file too.
	small := &Manifest{Size: 10, BlockSize: MinBlockSize, Blocks: make([]Block, 1)}
	for name, body := range nonShortest(small.AppendBinary(nil)) {
		id := small.ID()
		_, err := UnmarshalFile(append(append([]byte(fileMagic), body...), id[:]...))
		require.ErrorIs(t, err, ErrNotManifestFile, name)
	}

	// A huge file is refused without being read whole.
	big := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(big)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(int64(MaxFileLen)+100))
	require.NoError(t, f.Close())
	_, err = ReadFile(big)
	require.ErrorIs(t, err, ErrNotManifestFile)

	_, err = ReadFile(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func FuzzUnmarshalFile(f *testing.F) {
	m, _ := Build(context.Background(), bytes.NewReader(make([]byte, MinBlockSize+3)), MinBlockSize+3, 1)
	f.Add(m.MarshalFile())
	f.Add([]byte(fileMagic))
	f.Add([]byte{})
	small := &Manifest{Size: 10, BlockSize: MinBlockSize, Blocks: make([]Block, 1)}
	for _, body := range nonShortest(small.AppendBinary(nil)) {
		id := small.ID()
		f.Add(append(append([]byte(fileMagic), body...), id[:]...)) // not the shortest form: refused
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UnmarshalFile(b)
		if err != nil {
			return
		}
		require.Equal(t, b, m.MarshalFile(), "a manifest file must round-trip")
	})
}
