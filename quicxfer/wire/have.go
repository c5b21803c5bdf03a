package wire

import (
	"fmt"
	"io"

	"github.com/quicxfer/quicxfer/internal/bitset"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// MaxHaveAdd is the most block indexes one HAVE_ADD frame carries.
const MaxHaveAdd = 1024

// Kinds of a HAVE frame.
const (
	haveAll   = 0
	haveBits  = 1
	haveRuns  = 2
	haveKinds = 3
)

// HaveRequest asks a source which blocks of the file with content ID ID it
// has, and to be told as it gains more. The answer is one Have frame (see
// ReadHave) followed by HaveAdd frames (see ReadHaveAdd); the stream stays
// open until the source has every block, or the client cancels it.
type HaveRequest struct {
	ID manifest.ID
}

// Append appends the frame.
func (m *HaveRequest) Append(b []byte) []byte {
	b = AppendFrameHeader(b, FrameGetHave, idLen)
	return append(b, m.ID[:]...)
}

func (m *HaveRequest) requestType() FrameType { return FrameGetHave }

func (m *HaveRequest) parse(p []byte) error {
	if len(p) != idLen {
		return fmt.Errorf("%w: %s: %d bytes for a %d-byte content ID", ErrMalformed, FrameGetHave, len(p), idLen)
	}
	m.ID = manifest.ID(p)
	return nil
}

// Have is the set of blocks a source has: every block (All), or the blocks
// whose bit is set in Bits, bit i%64 of Bits[i/64] for block i, of N blocks.
type Have struct {
	All  bool
	N    int        // number of blocks of the file, 0 to manifest.MaxBlocks; 0 when All
	Bits bitset.Set // (N+63)/64 words; no bit at or past N is set
}

// NewHave returns an empty set of n blocks.
func NewHave(n int) Have { return Have{N: n, Bits: bitset.New(n)} }

// Has reports whether block i is in the set.
func (h *Have) Has(i int) bool {
	if h.All {
		return true
	}
	return i >= 0 && i < h.N && h.Bits.Get(i)
}

// Set adds block i, which must be below N.
func (h *Have) Set(i int) { h.Bits.Set(i) }

// Count returns the number of blocks in the set (-1 when All).
func (h *Have) Count() int {
	if h.All {
		return -1
	}
	return h.Bits.Count()
}

// runs yields the lengths of the alternating runs of absent and present
// blocks, starting with absent (so the first may be 0), without building
// them all: a set of alternating blocks has as many runs as blocks.
func (h *Have) runs(yield func(uint64) bool) {
	present := false
	var run uint64
	for i := range h.N {
		if h.Has(i) != present {
			if !yield(run) {
				return
			}
			present, run = !present, 0
		}
		run++
	}
	if h.N > 0 {
		yield(run)
	}
}

// AppendHave appends a HAVE frame for h: kind ALL, or whichever of the
// bitfield and the run-length encodings is shorter. It panics if N is over
// manifest.MaxBlocks or Bits is short.
func AppendHave(b []byte, h Have) []byte {
	if h.All {
		b = AppendFrameHeader(b, FrameHave, 1)
		return append(b, haveAll)
	}
	if h.N < 0 || h.N > manifest.MaxBlocks || len(h.Bits) < bitset.Words(h.N) {
		panic(fmt.Sprintf("wire: bad Have of %d blocks, %d words", h.N, len(h.Bits)))
	}
	bitfield := bitset.ByteLen(h.N)
	runLen := 0
	for r := range h.runs {
		runLen += varintLen(r)
		if runLen >= bitfield {
			break
		}
	}
	head := varintLen(uint64(h.N))
	if runLen < bitfield {
		b = AppendFrameHeader(b, FrameHave, uint64(1+head+runLen))
		b = append(b, haveRuns)
		b = appendVarint(b, uint64(h.N))
		for r := range h.runs {
			b = appendVarint(b, r)
		}
		return b
	}
	b = AppendFrameHeader(b, FrameHave, uint64(1+head+bitfield))
	b = append(b, haveBits)
	b = appendVarint(b, uint64(h.N))
	return h.Bits.AppendBytes(b, h.N)
}

// ReadHave reads the HAVE frame that answers a HaveRequest. An end of stream
// before or inside it is io.ErrUnexpectedEOF, a frame of another type
// ErrUnexpectedFrame, and a payload that does not parse (an unknown kind, a
// count over manifest.MaxBlocks, bits set past the count, runs that do not
// add up to it, zero-length runs after the first, non-minimal varints,
// trailing bytes) ErrMalformed. The caller checks N against its manifest.
// Errors from r are returned unchanged (see FromQUIC).
func ReadHave(r Reader) (Have, error) {
	length, err := readHeader(r, FrameHave, io.ErrUnexpectedEOF)
	if err != nil {
		return Have{}, err
	}
	p, err := readPayload(r, length)
	if err != nil {
		return Have{}, err
	}
	bad := func(format string, args ...any) (Have, error) {
		return Have{}, fmt.Errorf("%w: %s: %s", ErrMalformed, FrameHave, fmt.Sprintf(format, args...))
	}
	if len(p) == 0 {
		return bad("empty")
	}
	kind := p[0]
	if kind >= haveKinds {
		return bad("unknown kind %d", kind)
	}
	if kind == haveAll {
		if len(p) != 1 {
			return bad("%d trailing bytes", len(p)-1)
		}
		return Have{All: true}, nil
	}
	n, p, err := parseVarint(p[1:])
	if err != nil {
		return Have{}, fmt.Errorf("%s: block count: %w", FrameHave, err)
	}
	if n > manifest.MaxBlocks {
		return bad("%d blocks, limit %d", n, manifest.MaxBlocks)
	}
	if kind == haveBits {
		if len(p) != bitset.ByteLen(int(n)) {
			return bad("%d bytes of bitfield for %d blocks", len(p), n)
		}
		if r := n % 8; r != 0 && p[len(p)-1]>>r != 0 {
			return bad("bits set past block %d", n)
		}
		return Have{N: int(n), Bits: bitset.FromBytes(p)}, nil
	}
	h := NewHave(int(n))
	// Runs: absent, present, absent, ...; the first may be empty.
	var pos uint64
	present := false
	for first := true; len(p) > 0; first = false {
		var run uint64
		run, p, err = parseVarint(p)
		if err != nil {
			return Have{}, fmt.Errorf("%s: run: %w", FrameHave, err)
		}
		if run == 0 && !first {
			return bad("empty run")
		}
		if run > n-pos {
			return bad("runs past block %d", n)
		}
		if present {
			for i := pos; i < pos+run; i++ {
				h.Set(int(i))
			}
		}
		pos += run
		present = !present
	}
	if pos != n {
		return bad("runs cover %d of %d blocks", pos, n)
	}
	return h, nil
}

// AppendHaveAdd appends a HAVE_ADD frame: the source has gained the given
// blocks. It panics for none or more than MaxHaveAdd.
func AppendHaveAdd(b []byte, blocks []uint64) []byte {
	if len(blocks) == 0 || len(blocks) > MaxHaveAdd {
		panic(fmt.Sprintf("wire: HAVE_ADD of %d blocks", len(blocks)))
	}
	n := 0
	for _, x := range blocks {
		n += varintLen(x)
	}
	b = AppendFrameHeader(b, FrameHaveAdd, uint64(n))
	for _, x := range blocks {
		b = appendVarint(b, x)
	}
	return b
}

// ReadHaveAdd reads the next HAVE_ADD frame of a HAVE stream: the indexes of
// blocks the source has gained (1 to MaxHaveAdd of them). It returns io.EOF at
// a clean end of the stream (the source has every block), io.ErrUnexpectedEOF
// for an end inside a frame, ErrUnexpectedFrame for a frame of another type,
// and ErrMalformed for an empty payload, a bad varint or more than
// MaxHaveAdd indexes (short varints fit more in the payload). The caller checks the
// indexes against its manifest. Errors from r are returned unchanged.
func ReadHaveAdd(r Reader) ([]uint64, error) {
	length, err := readHeader(r, FrameHaveAdd, io.EOF)
	if err != nil {
		return nil, err
	}
	p, err := readPayload(r, length)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: %s: empty", ErrMalformed, FrameHaveAdd)
	}
	var out []uint64
	for len(p) > 0 {
		var x uint64
		x, p, err = parseVarint(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", FrameHaveAdd, err)
		}
		if len(out) == MaxHaveAdd {
			return nil, fmt.Errorf("%w: %s: more than %d blocks", ErrMalformed, FrameHaveAdd, MaxHaveAdd)
		}
		out = append(out, x)
	}
	return out, nil
}
