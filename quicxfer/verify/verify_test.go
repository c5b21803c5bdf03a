package verify_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
)

func data(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{7})
	_, _ = r.Read(b)
	return b
}

// flip returns a copy of b with one bit changed.
func flip(b []byte, at int) []byte {
	c := bytes.Clone(b)
	c[at] ^= 1
	return c
}

// The manifest's plan checks a block as manifest.Verify does: a good block
// passes, a flipped bit or a wrong length is a mismatch, and so is another
// block's data.
func TestManifestPlan(t *testing.T) {
	b := data(300 << 10) // 3 blocks of 128 KiB, the last short
	m, err := manifest.Build(t.Context(), bytes.NewReader(b), int64(len(b)), 1)
	require.NoError(t, err)
	require.Equal(t, 3, m.NumBlocks())
	p := verify.FromManifest(m)
	require.True(t, p.Checkable())
	require.Nil(t, p.Whole())
	for i := range m.NumBlocks() {
		piece := b[m.BlockOffset(i) : m.BlockOffset(i)+m.BlockLen(i)]
		require.NoError(t, p.Piece(i, piece))
		require.ErrorIs(t, p.Piece(i, flip(piece, 5)), verify.ErrMismatch)
		require.ErrorIs(t, p.Piece(i, piece[:len(piece)-1]), verify.ErrMismatch)
	}
	require.ErrorIs(t, p.Piece(1, b[:m.BlockLen(1)]), verify.ErrMismatch, "block 0's data as block 1")
	require.Error(t, p.Piece(3, b[:1]), "out of range")
}

// Pieces of any length, with SHA-256 or SHA-1, and a whole-file hash
// besides.
func TestPiecesPlan(t *testing.T) {
	b := data(1000)
	const pieceLen = 300 // 4 pieces, the last of 100 bytes
	for _, algo := range []verify.Algo{verify.SHA256, verify.SHA1} {
		t.Run(algo.String(), func(t *testing.T) {
			var sums [][]byte
			for off := 0; off < len(b); off += pieceLen {
				d := algo.New()
				d.Write(b[off:min(off+pieceLen, len(b))])
				sums = append(sums, d.Sum(nil))
			}
			whole := sha256.Sum256(b)
			p, err := verify.Pieces(int64(len(b)), pieceLen, algo, sums, &verify.Hash{Algo: verify.SHA256, Sum: whole[:]})
			require.NoError(t, err)
			require.True(t, p.Checkable())
			for i := range 4 {
				piece := b[i*pieceLen : min((i+1)*pieceLen, len(b))]
				require.NoError(t, p.Piece(i, piece))
				require.ErrorIs(t, p.Piece(i, flip(piece, 0)), verify.ErrMismatch)
				require.ErrorIs(t, p.Piece(i, append(bytes.Clone(piece), 0)), verify.ErrMismatch, "one byte too many")
			}
			require.Error(t, p.Piece(4, nil))
			require.Error(t, p.Piece(-1, nil))
			require.NoError(t, p.Whole().Check(bytes.NewReader(b)))
			require.ErrorIs(t, p.Whole().Check(bytes.NewReader(flip(b, 999))), verify.ErrMismatch)

			_, err = verify.Pieces(int64(len(b)), pieceLen, algo, sums[:3], nil)
			require.Error(t, err, "too few sums")
			_, err = verify.Pieces(int64(len(b)), pieceLen, algo, append(sums[:3:3], []byte{1, 2}), nil)
			require.Error(t, err, "a sum of the wrong size")
			_, err = verify.Pieces(int64(len(b)), 0, algo, sums, nil)
			require.Error(t, err, "no piece length")
		})
	}
}

// A whole-file-only plan checks no piece (it cannot tell a bad one) and
// checks the file at the end.
func TestWholeFilePlan(t *testing.T) {
	b := data(5000)
	sum := sha1.Sum(b)
	p, err := verify.WholeFile(verify.Hash{Algo: verify.SHA1, Sum: sum[:]})
	require.NoError(t, err)
	require.False(t, p.Checkable())
	require.NoError(t, p.Piece(0, flip(b[:100], 3)), "pieces cannot be checked")
	require.NotNil(t, p.Whole())
	require.NoError(t, p.Whole().Check(bytes.NewReader(b)))
	require.ErrorIs(t, p.Whole().Check(bytes.NewReader(flip(b, 4321))), verify.ErrMismatch)
	require.ErrorIs(t, p.Whole().Check(bytes.NewReader(b[:4999])), verify.ErrMismatch, "a short file")

	_, err = verify.WholeFile(verify.Hash{Algo: verify.SHA256, Sum: sum[:]})
	require.Error(t, err, "a SHA-1 sum given as SHA-256")
	_, err = verify.WholeFile(verify.Hash{Sum: sum[:]})
	require.Error(t, err, "no hash function")
}

// A plan with no hash at all checks nothing.
func TestNonePlan(t *testing.T) {
	p := verify.None()
	require.False(t, p.Checkable())
	require.Nil(t, p.Whole())
	require.NoError(t, p.Piece(7, []byte("anything")))
}

// Every name the formats write reads as its function, and String gives the
// RFC 5854 name back; an unknown name is an error.
func TestParseAlgo(t *testing.T) {
	for name, want := range map[string]verify.Algo{
		"sha-256": verify.SHA256, "SHA256": verify.SHA256, "SHA-256": verify.SHA256,
		"sha-1": verify.SHA1, "sha1": verify.SHA1,
		"sha-512": verify.SHA512, "sha512": verify.SHA512,
		"md5": verify.MD5, "MD5": verify.MD5,
	} {
		got, err := verify.ParseAlgo(name)
		require.NoError(t, err, name)
		require.Equal(t, want, got, name)
		again, err := verify.ParseAlgo(got.String())
		require.NoError(t, err)
		require.Equal(t, got, again)
		require.Len(t, got.New().Sum(nil), got.Size())
	}
	for _, bad := range []string{"", "crc32", "sha-3", "sha-2566"} {
		_, err := verify.ParseAlgo(bad)
		require.Error(t, err, bad)
	}
	require.True(t, verify.SHA512.Strong())
	require.False(t, verify.MD5.Strong())
}

// incrementalCheck writes piece to a checker of plan's piece i in writes
// of step bytes and returns Check's answer.
func incrementalCheck(p verify.Plan, i int, piece []byte, step int) error {
	c := p.(verify.Incremental).NewPiece(i)
	for off := 0; off < len(piece); off += step {
		_, _ = c.Write(piece[off:min(off+step, len(piece))])
	}
	return c.Check()
}

// Both plans with a hash per piece check a piece from its bytes as they
// arrive, in any cut, with the same answer as Piece.
func TestIncrementalPlans(t *testing.T) {
	b := data(300 << 10)
	m, err := manifest.Build(t.Context(), bytes.NewReader(b), int64(len(b)), 1)
	require.NoError(t, err)
	const pieceLen = 100 << 10
	var sums [][]byte
	for off := 0; off < len(b); off += pieceLen {
		s := sha256.Sum256(b[off:min(off+pieceLen, len(b))])
		sums = append(sums, s[:])
	}
	pieces, err := verify.Pieces(int64(len(b)), pieceLen, verify.SHA256, sums, nil)
	require.NoError(t, err)
	for name, c := range map[string]struct {
		p   verify.Plan
		len int
	}{"manifest": {verify.FromManifest(m), int(m.BlockSize)}, "pieces": {pieces, pieceLen}} {
		t.Run(name, func(t *testing.T) {
			for i := 0; i*c.len < len(b); i++ {
				piece := b[i*c.len : min((i+1)*c.len, len(b))]
				for _, step := range []int{1 << 10, 64 << 10, len(piece)} {
					require.NoError(t, incrementalCheck(c.p, i, piece, step))
				}
				require.ErrorIs(t, incrementalCheck(c.p, i, flip(piece, len(piece)-1), 4096), verify.ErrMismatch)
				require.ErrorIs(t, incrementalCheck(c.p, i, piece[:len(piece)-1], 4096), verify.ErrMismatch, "short")
				require.ErrorIs(t, incrementalCheck(c.p, i, append(bytes.Clone(piece), 1), 4096), verify.ErrMismatch, "long")
			}
		})
	}
	_, ok := verify.None().(verify.Incremental)
	require.False(t, ok, "a plan without piece hashes has nothing to check as bytes arrive")
}
