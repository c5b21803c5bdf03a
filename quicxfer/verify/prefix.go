package verify

import (
	"crypto/subtle"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"
)

// Prefix hashes a file that arrives out of order, as far as it is
// contiguous: it hashes bytes [0, Pos()) once, moving Pos on as the caller
// reports the prefix grown (Advance), so that the whole file's sum is known
// the moment the last byte is written, without reading the file again.
//
// Every CheckpointEvery bytes it keeps the hash's state (the hashes of
// crypto/sha256, sha512, sha1 and md5 are encoding.BinaryMarshalers), so
// that going back (Reset, after a piece of the prefix proved bad or was
// rewritten) rehashes from the checkpoint before, not from 0. Its own state
// (MarshalBinary) lets a resumed download go on from where the last run
// stopped.
//
// A Prefix is not safe for concurrent use. It has no lock of its own:
// Advance reads and hashes up to the whole file, so call it without holding
// a lock that writers of the file need.
type Prefix struct {
	want Hash
	size int64
	err  error // why the Prefix cannot hash (a bad Hash or size), or nil

	pos  int64
	h    hash.Hash
	buf  []byte       // reused by Advance
	cps  []checkpoint // ascending pos, each > 0
	next int64        // the next multiple of CheckpointEvery to keep a checkpoint at
}

type checkpoint struct {
	pos   int64
	state []byte
}

// CheckpointEvery is how far apart a Prefix keeps its hash's state.
const CheckpointEvery = 64 << 20

// prefixBuf is the size of Advance's read buffer.
const prefixBuf = 1 << 20

// NewPrefix returns a Prefix of a file of size bytes whose sum should be h,
// at Pos 0. If h is no valid sum, or size is negative, Advance, Check and
// MarshalBinary return an error saying so.
func NewPrefix(h Hash, size int64) *Prefix {
	p := &Prefix{want: Hash{Algo: h.Algo, Sum: slices.Clone(h.Sum)}, size: size}
	switch err := checkWhole(&h); {
	case err != nil:
		p.err = fmt.Errorf("whole file prefix: %w", err)
	case size < 0:
		p.err = fmt.Errorf("whole file prefix: size %d", size)
	default:
		p.restart()
	}
	return p
}

func (p *Prefix) restart() {
	p.pos, p.h, p.cps, p.next = 0, p.want.Algo.New(), p.cps[:0], CheckpointEvery
}

// Pos is the length of the prefix hashed: bytes [0, Pos()) are in the sum.
func (p *Prefix) Pos() int64 { return p.pos }

// Done reports whether the whole file is hashed.
func (p *Prefix) Done() bool { return p.err == nil && p.pos == p.size }

// Advance hashes bytes [Pos(), upTo) of the file, read from r, and moves
// Pos to upTo; it does nothing if upTo <= Pos(). upTo beyond the file's
// size is an error. If a read fails, the bytes read before it are hashed
// and Pos stays after them.
func (p *Prefix) Advance(r io.ReaderAt, upTo int64) error {
	if p.err != nil {
		return p.err
	}
	if upTo > p.size {
		return fmt.Errorf("whole file prefix: advance to %d past the file's %d bytes", upTo, p.size)
	}
	if upTo <= p.pos {
		return nil
	}
	if p.buf == nil {
		p.buf = make([]byte, min(prefixBuf, p.size))
	}
	for p.pos < upTo {
		n := min(int64(len(p.buf)), upTo-p.pos, p.next-p.pos)
		k, err := r.ReadAt(p.buf[:n], p.pos)
		k = max(0, min(k, int(n))) // a ReaderAt that says it read more than asked
		p.h.Write(p.buf[:k])
		p.pos += int64(k)
		if p.pos == p.next {
			if cerr := p.checkpoint(); cerr != nil {
				return cerr
			}
		}
		if k < int(n) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("whole file prefix: reading at %d: %w", p.pos, err)
		}
	}
	return nil
}

func (p *Prefix) checkpoint() error {
	st, err := p.state()
	if err != nil {
		return err
	}
	p.cps = append(p.cps, checkpoint{pos: p.pos, state: st})
	p.next += CheckpointEvery
	return nil
}

func (p *Prefix) state() ([]byte, error) {
	m, ok := p.h.(encoding.BinaryMarshaler)
	if !ok {
		return nil, fmt.Errorf("whole file prefix: %s state cannot be saved", p.want.Algo)
	}
	st, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("whole file prefix: saving %s state: %w", p.want.Algo, err)
	}
	return st, nil
}

// Check reports whether the whole file, once Done, has the sum it should:
// nil if so, an error wrapping ErrMismatch if not. Before Done it is an
// error saying how far the prefix got.
func (p *Prefix) Check() error {
	switch {
	case p.err != nil:
		return p.err
	case !p.Done():
		return fmt.Errorf("whole file: only %d of %d bytes hashed", p.pos, p.size)
	}
	if subtle.ConstantTimeCompare(p.h.Sum(nil), p.want.Sum) != 1 {
		return &WholeMismatchError{Algo: p.want.Algo}
	}
	return nil
}

// Reset goes back so that Pos() <= off, for the bytes from off on are to be
// hashed again: to the latest checkpoint at or before off, or to 0. It does
// nothing if Pos() <= off already.
func (p *Prefix) Reset(off int64) {
	if p.err != nil || p.pos <= off {
		return
	}
	for len(p.cps) > 0 {
		cp := p.cps[len(p.cps)-1]
		if cp.pos > off {
			p.cps = p.cps[:len(p.cps)-1]
			continue
		}
		h := p.want.Algo.New()
		if u, ok := h.(encoding.BinaryUnmarshaler); ok && u.UnmarshalBinary(cp.state) == nil {
			p.pos, p.h = cp.pos, h
			p.next = (cp.pos/CheckpointEvery + 1) * CheckpointEvery
			return
		}
		p.cps = p.cps[:len(p.cps)-1] // cannot happen: the state is the hash's own
	}
	p.restart()
}

// The layout of a Prefix's state (MarshalBinary): prefixMagic, a version
// byte, then the algo (a byte), the size and the pos (uvarints), the length
// of the wanted sum and the sum, the length of the hash's state and the
// state (uvarint, bytes), and a CRC-32C of everything before it (4 bytes,
// big-endian).
const (
	prefixMagic   = "qxpf"
	prefixVersion = 1
	maxHashState  = 1 << 10 // the hashes' states are some hundred bytes
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary returns p's state: its position and its hash's state, and
// the file's size and sum they belong to, so that a Prefix of the same file
// can go on (UnmarshalBinary) without hashing the prefix again.
// Checkpoints are not kept, but the position restored is one.
func (p *Prefix) MarshalBinary() ([]byte, error) {
	if p.err != nil {
		return nil, p.err
	}
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	b := append([]byte(prefixMagic), prefixVersion, byte(p.want.Algo))
	b = binary.AppendUvarint(b, uint64(p.size))
	b = binary.AppendUvarint(b, uint64(p.pos))
	b = binary.AppendUvarint(b, uint64(len(p.want.Sum)))
	b = append(b, p.want.Sum...)
	b = binary.AppendUvarint(b, uint64(len(st)))
	b = append(b, st...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// ErrPrefixState is wrapped by UnmarshalBinary's error when the state is
// damaged or is not of this file.
var ErrPrefixState = errors.New("bad whole-file prefix state")

// UnmarshalBinary restores a state MarshalBinary returned, of a Prefix of
// the same file (its hash function, sum and size). A damaged state, or one
// of another file, is an error wrapping ErrPrefixState, and p is left as it
// was.
func (p *Prefix) UnmarshalBinary(b []byte) error {
	if p.err != nil {
		return p.err
	}
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrPrefixState, what) }
	if len(b) < len(prefixMagic)+2+4 || string(b[:len(prefixMagic)]) != prefixMagic {
		return bad("no magic")
	}
	body, tail := b[:len(b)-4], b[len(b)-4:]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(tail) {
		return bad("checksum mismatch")
	}
	if v := body[len(prefixMagic)]; v != prefixVersion {
		return bad(fmt.Sprintf("version %d, want %d", v, prefixVersion))
	}
	if a := Algo(body[len(prefixMagic)+1]); a != p.want.Algo {
		return bad(fmt.Sprintf("hash function %s, want %s", a, p.want.Algo))
	}
	rest := body[len(prefixMagic)+2:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return 0, false
		}
		rest = rest[n:]
		return v, true
	}
	bytesOf := func(limit uint64) ([]byte, bool) {
		n, ok := uv()
		if !ok || n > limit || n > uint64(len(rest)) {
			return nil, false
		}
		v := rest[:n]
		rest = rest[n:]
		return v, true
	}
	size, ok1 := uv()
	pos, ok2 := uv()
	if !ok1 || !ok2 {
		return bad("truncated")
	}
	if size != uint64(p.size) {
		return bad(fmt.Sprintf("a file of %d bytes, want %d", size, p.size))
	}
	if pos > size {
		return bad(fmt.Sprintf("position %d past the file's %d bytes", pos, size))
	}
	sum, ok := bytesOf(uint64(p.want.Algo.Size()))
	if !ok || subtle.ConstantTimeCompare(sum, p.want.Sum) != 1 {
		return bad("the state of a file with another sum")
	}
	st, ok := bytesOf(maxHashState)
	if !ok || len(rest) != 0 {
		return bad("truncated hash state")
	}
	h := p.want.Algo.New()
	u, ok := h.(encoding.BinaryUnmarshaler)
	if !ok {
		return bad(fmt.Sprintf("%s state cannot be restored", p.want.Algo))
	}
	if err := u.UnmarshalBinary(st); err != nil {
		return fmt.Errorf("%w: %s state: %v", ErrPrefixState, p.want.Algo, err)
	}
	st = slices.Clone(st)
	p.pos, p.h = int64(pos), h
	p.cps = p.cps[:0]
	if pos > 0 {
		p.cps = append(p.cps, checkpoint{pos: int64(pos), state: st})
	}
	p.next = (int64(pos)/CheckpointEvery + 1) * CheckpointEvery
	return nil
}
