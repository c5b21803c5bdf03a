package wire

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// testID returns a content ID made from seed.
func testID(seed byte) manifest.ID {
	var id manifest.ID
	for i := range id {
		id[i] = seed + byte(i)
	}
	return id
}

// testManifest returns a valid manifest of n ≥ 1 blocks, the last one short,
// with pseudo-random hashes.
func testManifest(n int) *manifest.Manifest {
	size := int64(n)*manifest.MinBlockSize - 7
	bs := manifest.BlockSizeFor(size)
	m := &manifest.Manifest{Size: size, BlockSize: bs, Blocks: make([]manifest.Block, manifest.NumBlocksFor(size, bs))}
	r := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range m.Blocks {
		m.Blocks[i].XXH = r.Uint64()
		for j := range m.Blocks[i].SHA {
			m.Blocks[i].SHA[j] = byte(r.Uint32())
		}
	}
	return m
}

// checkTruncations reads every strict prefix of enc, a valid encoding, with
// read and requires an error: emptyErr for the empty prefix and
// io.ErrUnexpectedEOF for the others.
func checkTruncations(t *testing.T, enc []byte, emptyErr error, read func(Reader) error) {
	t.Helper()
	require.NoError(t, read(bytes.NewReader(enc)), "whole encoding")
	for i := range len(enc) {
		err := read(bytes.NewReader(enc[:i]))
		want := io.ErrUnexpectedEOF
		if i == 0 {
			want = emptyErr
		}
		require.ErrorIs(t, err, want, "prefix of %d of %d bytes", i, len(enc))
	}
}

// tripwire serves header and then fails the test on any further read, to
// show that a decoder refused a frame without reading (or allocating for)
// its payload.
type tripwire struct {
	t      testing.TB
	header []byte
}

func (r *tripwire) ReadByte() (byte, error) {
	if len(r.header) == 0 {
		r.t.Fatal("read past the frame header")
	}
	c := r.header[0]
	r.header = r.header[1:]
	return c, nil
}

func (r *tripwire) Read(p []byte) (int, error) {
	if len(r.header) == 0 {
		r.t.Fatal("read past the frame header")
	}
	n := copy(p, r.header)
	r.header = r.header[n:]
	return n, nil
}

// errorClass requires err to be one a decoder may return for hostile input.
func requireDecodeError(t testing.TB, err error) {
	t.Helper()
	for _, e := range []error{io.ErrUnexpectedEOF, ErrUnknownFrame, ErrUnexpectedFrame, ErrFrameTooLarge, ErrMalformed, ErrBadName} {
		if errors.Is(err, e) {
			return
		}
	}
	t.Fatalf("unexpected error class: %v", err)
}
