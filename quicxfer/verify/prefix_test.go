package verify_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/verify"
)

// whole is the Hash of b with a.
func whole(a verify.Algo, b []byte) verify.Hash {
	d := a.New()
	d.Write(b)
	return verify.Hash{Algo: a, Sum: d.Sum(nil)}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// advanceRandomly advances p to its end in random steps, some of them back
// or standing still.
func advanceRandomly(t *testing.T, p *verify.Prefix, r io.ReaderAt, size int64, rng *rand.Rand, maxStep int64) {
	t.Helper()
	for !p.Done() {
		upTo := min(size, p.Pos()+rng.Int64N(maxStep)-maxStep/8)
		before := p.Pos()
		require.NoError(t, p.Advance(r, upTo))
		require.Equal(t, max(before, upTo), p.Pos())
	}
}

func TestPrefix(t *testing.T) {
	for _, algo := range []verify.Algo{verify.SHA256, verify.SHA512, verify.SHA1, verify.MD5} {
		t.Run(algo.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(algo), 1))
			b := data(3<<20 + 12345)
			size := int64(len(b))
			h := whole(algo, b)

			p := verify.NewPrefix(h, size)
			require.Zero(t, p.Pos())
			require.False(t, p.Done())
			require.EqualError(t, p.Check(), "whole file: only 0 of 3158073 bytes hashed")
			advanceRandomly(t, p, bytes.NewReader(b), size, rng, 300<<10)
			require.True(t, p.Done())
			require.NoError(t, p.Check())
			require.NoError(t, p.Check(), "Check can be called again")
			require.NoError(t, p.Advance(bytes.NewReader(b), size), "nothing more to do")

			for _, at := range []int{0, 1 << 20, len(b) - 1} {
				bad := flip(b, at)
				p := verify.NewPrefix(h, size)
				advanceRandomly(t, p, bytes.NewReader(bad), size, rng, 700<<10)
				err := p.Check()
				require.ErrorIs(t, err, verify.ErrMismatch)
				require.EqualError(t, err, "the whole file does not match its "+algo.String()+" checksum")
			}
		})
	}
}

func TestPrefixEmptyFile(t *testing.T) {
	p := verify.NewPrefix(whole(verify.SHA256, nil), 0)
	require.True(t, p.Done())
	require.NoError(t, p.Check())
	require.NoError(t, p.Advance(bytes.NewReader(nil), 0))
	p = verify.NewPrefix(whole(verify.SHA256, []byte("x")), 0)
	require.ErrorIs(t, p.Check(), verify.ErrMismatch)
}

func TestPrefixErrors(t *testing.T) {
	b := data(1000)
	h := whole(verify.SHA256, b)

	p := verify.NewPrefix(h, 1000)
	require.EqualError(t, p.Advance(bytes.NewReader(b), 1001), "whole file prefix: advance to 1001 past the file's 1000 bytes")
	require.Zero(t, p.Pos())

	// A file shorter than said: the bytes there are are hashed.
	err := p.Advance(bytes.NewReader(b[:600]), 1000)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.EqualError(t, err, "whole file prefix: reading at 600: unexpected EOF")
	require.Equal(t, int64(600), p.Pos())
	require.NoError(t, p.Advance(bytes.NewReader(b), 1000))
	require.NoError(t, p.Check())

	for _, tc := range []struct {
		name string
		h    verify.Hash
		size int64
		err  string
	}{
		{"unknown algo", verify.Hash{Algo: 42, Sum: make([]byte, 32)}, 10, "whole file prefix: whole file: unknown hash function"},
		{"short sum", verify.Hash{Algo: verify.SHA256, Sum: make([]byte, 20)}, 10, "whole file prefix: whole file: a sha-256 sum of 20 bytes"},
		{"negative size", h, -1, "whole file prefix: size -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := verify.NewPrefix(tc.h, tc.size)
			require.EqualError(t, p.Advance(bytes.NewReader(b), 5), tc.err)
			require.EqualError(t, p.Check(), tc.err)
			_, err := p.MarshalBinary()
			require.EqualError(t, err, tc.err)
			require.EqualError(t, p.UnmarshalBinary([]byte("qxpf")), tc.err)
			require.False(t, p.Done())
			p.Reset(0)
			require.Zero(t, p.Pos())
		})
	}
}

// Reset goes back to the checkpoint at or before the offset, or to 0, and
// hashing on from there gives the file's sum again. The file is some
// checkpoints long.
func TestPrefixReset(t *testing.T) {
	const E = verify.CheckpointEvery
	b := data(2*E + 1<<20)
	size := int64(len(b))
	h := whole(verify.SHA256, b)
	r := &countingReader{r: bytes.NewReader(b)}
	p := verify.NewPrefix(h, size)

	require.NoError(t, p.Advance(r, E-1))
	p.Reset(E / 2)
	require.Zero(t, p.Pos(), "no checkpoint yet")
	require.NoError(t, p.Advance(r, size))
	require.NoError(t, p.Check())

	for _, tc := range []struct {
		name     string
		off, pos int64
	}{
		{"at the end", size, size},
		{"past the end", size + 10, size},
		{"just before the end", size - 1, 2 * E},
		{"at a checkpoint", 2 * E, 2 * E},
		{"just before a checkpoint", 2*E - 1, E},
		{"inside the first", E + 3, E},
		{"before the first", E - 1, 0},
		{"at 0", 0, 0},
		{"negative", -5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, p.Advance(r, size))
			p.Reset(tc.off)
			require.Equal(t, tc.pos, p.Pos())
			require.Equal(t, tc.pos == size, p.Done())
			r.n.Store(0)
			require.NoError(t, p.Advance(r, size))
			require.Equal(t, size-tc.pos, r.n.Load(), "bytes read again")
			require.NoError(t, p.Check())
		})
	}

	t.Run("repeatedly", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for range 8 {
			off := rng.Int64N(size)
			want := p.Pos()
			if want > off {
				want = off / E * E
			}
			p.Reset(off)
			require.LessOrEqual(t, p.Pos(), off)
			require.Equal(t, want, p.Pos())
			require.NoError(t, p.Advance(r, min(size, off+rng.Int64N(E))))
		}
		require.NoError(t, p.Advance(r, size))
		require.NoError(t, p.Check())
	})

	t.Run("bad data rewritten", func(t *testing.T) {
		bad := flip(b, int(E+100))
		p := verify.NewPrefix(h, size)
		require.NoError(t, p.Advance(bytes.NewReader(bad), size))
		require.ErrorIs(t, p.Check(), verify.ErrMismatch)
		p.Reset(E + 100)
		require.Equal(t, int64(E), p.Pos())
		require.NoError(t, p.Advance(bytes.NewReader(b), size))
		require.NoError(t, p.Check())
	})
}

// A state marshalled mid-way goes on in another Prefix of the same file to
// the right sum; a damaged one, or another file's, is refused.
func TestPrefixMarshal(t *testing.T) {
	for _, algo := range []verify.Algo{verify.SHA256, verify.SHA512, verify.SHA1, verify.MD5} {
		t.Run(algo.String(), func(t *testing.T) {
			b := data(5<<20 + 77)
			size := int64(len(b))
			h := whole(algo, b)
			p := verify.NewPrefix(h, size)
			require.NoError(t, p.Advance(bytes.NewReader(b), 2<<20+13))
			st, err := p.MarshalBinary()
			require.NoError(t, err)
			require.Less(t, len(st), 400, "compact")

			q := verify.NewPrefix(h, size)
			require.NoError(t, q.UnmarshalBinary(st))
			require.Equal(t, p.Pos(), q.Pos())
			r := &countingReader{r: bytes.NewReader(b)}
			require.NoError(t, q.Advance(r, size))
			require.Equal(t, size-(2<<20+13), r.n.Load(), "the prefix is not hashed again")
			require.NoError(t, q.Check())

			// The restored position is a checkpoint.
			q.Reset(3 << 20)
			require.Equal(t, int64(2<<20+13), q.Pos())
			q.Reset(2 << 20)
			require.Zero(t, q.Pos())

			// At 0 and at the end.
			for _, at := range []int64{0, size} {
				p := verify.NewPrefix(h, size)
				require.NoError(t, p.Advance(bytes.NewReader(b), at))
				st, err := p.MarshalBinary()
				require.NoError(t, err)
				q := verify.NewPrefix(h, size)
				require.NoError(t, q.UnmarshalBinary(st))
				require.Equal(t, at, q.Pos())
				require.NoError(t, q.Advance(bytes.NewReader(b), size))
				require.NoError(t, q.Check())
			}

			// Damage: every flipped bit, every truncation, and a byte more.
			q = verify.NewPrefix(h, size)
			for i := range st {
				for bit := range 8 {
					c := bytes.Clone(st)
					c[i] ^= 1 << bit
					require.ErrorIs(t, q.UnmarshalBinary(c), verify.ErrPrefixState, "byte %d bit %d", i, bit)
				}
			}
			for n := range len(st) {
				require.ErrorIs(t, q.UnmarshalBinary(st[:n]), verify.ErrPrefixState, "%d bytes", n)
			}
			require.ErrorIs(t, q.UnmarshalBinary(append(bytes.Clone(st), 0)), verify.ErrPrefixState)
			require.Zero(t, q.Pos(), "left as it was")
		})
	}

	t.Run("another file", func(t *testing.T) {
		b := data(1000)
		h := whole(verify.SHA256, b)
		p := verify.NewPrefix(h, 1000)
		require.NoError(t, p.Advance(bytes.NewReader(b), 500))
		st, err := p.MarshalBinary()
		require.NoError(t, err)
		for _, tc := range []struct {
			name string
			q    *verify.Prefix
			err  string
		}{
			{"another size", verify.NewPrefix(h, 1001), "bad whole-file prefix state: a file of 1000 bytes, want 1001"},
			{"another sum", verify.NewPrefix(whole(verify.SHA256, b[1:]), 1000), "bad whole-file prefix state: the state of a file with another sum"},
			{"another algo", verify.NewPrefix(whole(verify.SHA512, b), 1000), "bad whole-file prefix state: hash function sha-256, want sha-512"},
			{"another version", p, "bad whole-file prefix state: version 2, want 1"},
			{"past the end", p, "bad whole-file prefix state: position 1001 past the file's 1000 bytes"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st := st
				switch tc.name {
				case "another version":
					st = resealed(append([]byte("qxpf\x02"), st[5:len(st)-4]...))
				case "past the end":
					// magic, version, algo, size 1000, pos 1001 (uvarints)
					st = resealed(append([]byte("qxpf\x01\x01\xe8\x07\xe9\x07"), st[10:len(st)-4]...))
				}
				err := tc.q.UnmarshalBinary(st)
				require.EqualError(t, err, tc.err)
				require.True(t, errors.Is(err, verify.ErrPrefixState))
			})
		}
	})
}

// resealed appends the CRC-32C a Prefix's state ends with to b.
func resealed(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}
