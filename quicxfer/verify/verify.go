// Package verify says how a download's data is checked: a Plan. A plan
// checks each piece of the file as it arrives (Piece), if the file's
// description has a hash per piece, and may have a hash of the whole file to
// check at the end (Whole). quicxfer's own manifest is one plan
// (FromManifest: a block's length, xxh64 and SHA-256); other descriptions
// bring pieces of any length hashed with SHA-256 or SHA-1 (Pieces: Metalink,
// torrents), a hash of the whole file only (WholeFile), or nothing (None).
//
// A download verifies a piece with Piece before it writes it where a reader
// could take it as good, and proves the pieces an earlier run left
// (partial.File.Prove) with the same call; with a plan whose pieces cannot
// be checked (Checkable false) only the whole file's hash, if any, can say
// that the data is right.
package verify

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// ErrMismatch is wrapped by the error of a piece, or of a whole file, that
// is not what the plan says. It is manifest.ErrHashMismatch, so that one
// errors.Is serves every plan.
var ErrMismatch = manifest.ErrHashMismatch

// Plan is how a file's data is checked.
type Plan interface {
	// Checkable reports whether Piece can tell a bad piece from a good
	// one: the plan has a hash per piece.
	Checkable() bool
	// Piece checks that data is piece i of the file: its length and its
	// hash. It returns an error wrapping ErrMismatch if not (or an error
	// saying i is out of range). A plan that is not Checkable accepts
	// every piece (nil).
	Piece(i int, data []byte) error
	// Whole returns the hash of the whole file, to check once it is
	// complete; nil if the plan has none.
	Whole() *Hash
}

// Incremental is a plan that checks a piece from its bytes as they arrive,
// while they are still in the CPU's caches, rather than in a second pass
// over the whole piece once it is complete. Both plans with a hash per
// piece are.
type Incremental interface {
	// NewPiece returns the checker of piece i (in range): write the
	// piece's bytes to it in order, then call Check.
	NewPiece(i int) PieceChecker
}

// PieceChecker checks one piece from its bytes (see Incremental).
type PieceChecker interface {
	io.Writer // never fails
	// Check reports, once every byte was written, what Plan.Piece would
	// of the same bytes: nil, or an error wrapping ErrMismatch.
	Check() error
}

// pieceChecker is a PieceChecker for a piece of want bytes whose sum is sum.
type pieceChecker struct {
	h    hash.Hash
	n    int64
	want int64
	sum  []byte
	what string // the piece, for the error: "block 3"
	algo string
}

func (c *pieceChecker) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

func (c *pieceChecker) Check() error {
	if c.n != c.want {
		return fmt.Errorf("%s: %d bytes, want %d: %w", c.what, c.n, c.want, ErrMismatch)
	}
	if subtle.ConstantTimeCompare(c.h.Sum(nil), c.sum) != 1 {
		return fmt.Errorf("%s: %s: %w", c.what, c.algo, ErrMismatch)
	}
	return nil
}

// Algo is a hash function a plan uses.
type Algo int

// The hash functions of the formats a download reads. SHA1 and MD5 are
// broken for collisions: a file known only by one of them is checked
// against accidents (a damaged or truncated copy), not against a mirror
// that forges data; they are what published files give.
const (
	SHA256 Algo = iota + 1
	SHA1        // torrents (v1), some Metalink files
	SHA512      // SHA512SUMS files, some Metalink files
	MD5         // MD5SUMS files, old Metalink files
)

// New returns a new hash.Hash computing a.
func (a Algo) New() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New()
	case SHA1:
		return sha1.New()
	case SHA512:
		return sha512.New()
	case MD5:
		return md5.New()
	}
	panic(fmt.Sprintf("verify: unknown Algo %d", a))
}

// Size is the length of a's sums in bytes (0 for an unknown Algo).
func (a Algo) Size() int {
	switch a {
	case SHA256:
		return sha256.Size
	case SHA1:
		return sha1.Size
	case SHA512:
		return sha512.Size
	case MD5:
		return md5.Size
	}
	return 0
}

// String is a's name as Metalink (RFC 5854, the IANA "Hash Function
// Textual Names") and --checksum write it: "sha-256", "sha-1", "sha-512",
// "md5".
func (a Algo) String() string {
	switch a {
	case SHA256:
		return "sha-256"
	case SHA1:
		return "sha-1"
	case SHA512:
		return "sha-512"
	case MD5:
		return "md5"
	}
	return "unknown"
}

// Strong reports whether a resists forgery (SHA-256, SHA-512): a sum of a
// strong hash proves the data whoever sent it.
func (a Algo) Strong() bool { return a == SHA256 || a == SHA512 }

// ParseAlgo reads a hash function's name, whatever its case, as the
// formats that carry sums write it: "sha-256" (RFC 5854, RFC 3230's
// "SHA-256"), "sha256" (Metalink 3, sha256sum), likewise sha-1, sha-512 and
// md5. Any other name is an error.
func ParseAlgo(name string) (Algo, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "sha-256", "sha256":
		return SHA256, nil
	case "sha-1", "sha1", "sha":
		return SHA1, nil
	case "sha-512", "sha512":
		return SHA512, nil
	case "md5", "md-5":
		return MD5, nil
	}
	return 0, fmt.Errorf("unknown hash function %q (want sha-256, sha-512, sha-1 or md5)", name)
}

// Hash is a sum of some data with Algo.
type Hash struct {
	Algo Algo
	Sum  []byte
}

// Check reads r to its end and reports whether its data has the sum h.Sum
// (an error wrapping ErrMismatch if not), or the error of the read.
func (h Hash) Check(r io.Reader) error {
	d := h.Algo.New()
	if _, err := io.Copy(d, r); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(d.Sum(nil), h.Sum) != 1 {
		return &WholeMismatchError{Algo: h.Algo}
	}
	return nil
}

// WholeMismatchError is the error of a whole file that does not have the
// sum it should. It is ErrMismatch for errors.Is.
type WholeMismatchError struct{ Algo Algo }

func (e *WholeMismatchError) Error() string {
	return "the whole file does not match its " + e.Algo.String() + " checksum"
}

// Is reports whether target is ErrMismatch.
func (e *WholeMismatchError) Is(target error) bool { return target == ErrMismatch }

// FromManifest is the plan of quicxfer's own manifest: a block is checked
// by manifest.Verify (its length, its xxh64, then its SHA-256). It has no
// whole-file hash: the content ID covers the blocks' hashes.
func FromManifest(m *manifest.Manifest) Plan { return manifestPlan{m} }

type manifestPlan struct{ m *manifest.Manifest }

func (p manifestPlan) Checkable() bool                { return true }
func (p manifestPlan) Piece(i int, data []byte) error { return p.m.Verify(i, data) }
func (p manifestPlan) Whole() *Hash                   { return nil }

// NewPiece checks the block's length and SHA-256; its xxh64, which the
// SHA-256 makes redundant here, is left to the caller (partial.File's
// WriteVerified compares the one the caller took as the bytes arrived).
func (p manifestPlan) NewPiece(i int) PieceChecker {
	return &pieceChecker{h: sha256.New(), want: p.m.BlockLen(i), sum: p.m.Blocks[i].SHA[:], what: fmt.Sprintf("block %d", i), algo: "sha256"}
}

// Pieces is the plan of a file of size bytes cut in pieces of pieceLen bytes
// (the last one shorter), each with its sum in sums, hashed with algo; whole,
// if not nil, is a hash of the whole file besides. It returns an error if
// the sums do not fit the file.
func Pieces(size, pieceLen int64, algo Algo, sums [][]byte, whole *Hash) (Plan, error) {
	if algo.Size() == 0 {
		return nil, fmt.Errorf("unknown hash function %d", algo)
	}
	if size < 0 || pieceLen <= 0 {
		return nil, fmt.Errorf("pieces of %d bytes for a file of %d bytes", pieceLen, size)
	}
	if n := (size + pieceLen - 1) / pieceLen; int64(len(sums)) != n {
		return nil, fmt.Errorf("%d piece sums for %d pieces", len(sums), n)
	}
	for i, s := range sums {
		if len(s) != algo.Size() {
			return nil, fmt.Errorf("piece %d: a %s sum of %d bytes", i, algo, len(s))
		}
	}
	if err := checkWhole(whole); err != nil {
		return nil, err
	}
	return &piecesPlan{size: size, pieceLen: pieceLen, algo: algo, sums: sums, whole: whole}, nil
}

type piecesPlan struct {
	size, pieceLen int64
	algo           Algo
	sums           [][]byte
	whole          *Hash
}

func (p *piecesPlan) Checkable() bool { return true }
func (p *piecesPlan) Whole() *Hash    { return p.whole }

func (p *piecesPlan) Piece(i int, data []byte) error {
	if i < 0 || i >= len(p.sums) {
		return fmt.Errorf("piece %d out of range [0,%d)", i, len(p.sums))
	}
	if want := min(p.pieceLen, p.size-int64(i)*p.pieceLen); int64(len(data)) != want {
		return fmt.Errorf("piece %d: %d bytes, want %d: %w", i, len(data), want, ErrMismatch)
	}
	d := p.algo.New()
	d.Write(data)
	if subtle.ConstantTimeCompare(d.Sum(nil), p.sums[i]) != 1 {
		return fmt.Errorf("piece %d: %s: %w", i, p.algo, ErrMismatch)
	}
	return nil
}

func (p *piecesPlan) NewPiece(i int) PieceChecker {
	return &pieceChecker{h: p.algo.New(), want: min(p.pieceLen, p.size-int64(i)*p.pieceLen), sum: p.sums[i], what: fmt.Sprintf("piece %d", i), algo: p.algo.String()}
}

// WholeFile is the plan of a file known by the hash of its whole content
// only: no piece can be checked before the end.
func WholeFile(h Hash) (Plan, error) {
	if err := checkWhole(&h); err != nil {
		return nil, err
	}
	return wholePlan{&h}, nil
}

// None is the plan of a file that comes with no hash at all: nothing is
// checked (the transport's own checks are all there is).
func None() Plan { return wholePlan{} }

type wholePlan struct{ h *Hash }

func (p wholePlan) Checkable() bool         { return false }
func (p wholePlan) Piece(int, []byte) error { return nil }
func (p wholePlan) Whole() *Hash            { return p.h }

func checkWhole(h *Hash) error {
	switch {
	case h == nil:
		return nil
	case h.Algo.Size() == 0:
		return errors.New("whole file: unknown hash function")
	case len(h.Sum) != h.Algo.Size():
		return fmt.Errorf("whole file: a %s sum of %d bytes", h.Algo, len(h.Sum))
	}
	return nil
}
