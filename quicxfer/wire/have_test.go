package wire

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// testPinText is a pin for test URLs.
var testPinText = Pin(sha256.Sum256([]byte("peer key"))).String()

// haveOf returns the set of n blocks holding blocks.
func haveOf(n int, blocks ...int) Have {
	h := NewHave(n)
	for _, b := range blocks {
		h.Set(b)
	}
	return h
}

func testHaves() map[string]Have {
	dense := NewHave(1000)
	for i := range 1000 {
		if i%3 != 0 {
			dense.Set(i)
		}
	}
	full := NewHave(130)
	for i := range 130 {
		full.Set(i)
	}
	return map[string]Have{
		"all":            {All: true},
		"empty file":     NewHave(0),
		"none of 5":      NewHave(5),
		"one of 1":       haveOf(1, 0),
		"sparse":         haveOf(1000, 3, 500, 999),
		"prefix":         haveOf(70, 0, 1, 2, 3),
		"dense":          dense,
		"every of 130":   full,
		"most blocks":    haveOf(manifest.MaxBlocks, 0, manifest.MaxBlocks-1),
		"8 exact":        haveOf(8, 1, 3, 5, 7),
		"last of 64":     haveOf(64, 63),
		"first and last": haveOf(65, 0, 64),
	}
}

func TestHaveRoundTrip(t *testing.T) {
	for name, h := range testHaves() {
		t.Run(name, func(t *testing.T) {
			enc := AppendHave([]byte("x"), h)
			r := bytes.NewReader(append(enc[1:], 0xff))
			got, err := ReadHave(r)
			require.NoError(t, err)
			require.Equal(t, h, got)
			require.Equal(t, 1, r.Len(), "read exactly one frame")
			// Bounded: never more than the bitfield.
			limit, _ := MaxPayload(FrameHave)
			require.LessOrEqual(t, len(enc)-1, 1+8+int(limit))
			require.LessOrEqual(t, len(enc)-1, 2+8+1+(h.N+7)/8)
		})
	}
}

// A bitfield frame over several words (bit i of byte i/8 is block i)
// decodes to its blocks and encodes back byte for byte.
func TestHaveBitfieldFrameRoundTrips(t *testing.T) {
	frame := []byte{byte(FrameHave), 20, haveBits, 0x40, 130}
	for range 16 {
		frame = append(frame, 0x55)
	}
	frame = append(frame, 0x01) // blocks 128 and 129: only 128
	h, err := ReadHave(bytes.NewReader(frame))
	require.NoError(t, err)
	require.Equal(t, 130, h.N)
	require.Equal(t, 65, h.Count())
	for i := range 130 {
		require.Equal(t, i%2 == 0, h.Has(i), "block %d", i)
	}
	require.Equal(t, frame, AppendHave(nil, h))
}

func TestHaveEncodings(t *testing.T) {
	require.Equal(t, []byte{byte(FrameHave), 1, haveAll}, AppendHave(nil, Have{All: true}))
	// Blocks 0..3 of 70: runs 0 absent, 4 present, 66 absent: 3 bytes < 9.
	require.Equal(t, []byte{byte(FrameHave), 7, haveRuns, 0x40, 70, 0, 4, 0x40, 66}, AppendHave(nil, haveOf(70, 0, 1, 2, 3)))
	// Alternating blocks of 8: the bitfield is shorter.
	require.Equal(t, []byte{byte(FrameHave), 3, haveBits, 8, 0xaa}, AppendHave(nil, haveOf(8, 1, 3, 5, 7)))
	h := haveOf(8, 1, 3, 5, 7)
	require.True(t, h.Has(3))
	require.False(t, h.Has(2))
	require.False(t, h.Has(8))
	require.False(t, h.Has(-1))
	require.Equal(t, 4, h.Count())
	all := Have{All: true}
	require.True(t, all.Has(12345))
	require.Equal(t, -1, all.Count())
}

// AppendHave chooses its encoding without a list of the runs: a set of
// alternating blocks, as many runs as blocks, allocates nothing beyond the
// frame itself.
func TestAppendHaveAllocatesOnlyTheFrame(t *testing.T) {
	h := NewHave(manifest.MaxBlocks)
	for i := 0; i < h.N; i += 2 {
		h.Set(i)
	}
	buf := make([]byte, 0, 16+(h.N+7)/8)
	allocs := testing.AllocsPerRun(5, func() { buf = AppendHave(buf[:0], h) })
	require.Zero(t, allocs)
	got, err := ReadHave(bytes.NewReader(buf))
	require.NoError(t, err)
	require.Equal(t, h, got)
}

func TestHaveTruncated(t *testing.T) {
	for name, h := range testHaves() {
		if h.N > 2000 {
			continue // a long frame: every prefix is slow and proves nothing more
		}
		t.Run(name, func(t *testing.T) {
			checkTruncations(t, AppendHave(nil, h), io.ErrUnexpectedEOF, func(r Reader) error {
				_, err := ReadHave(r)
				return err
			})
		})
	}
}

func TestHaveBadPayload(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"unknown kind", []byte{3}},
		{"all with trailing byte", []byte{haveAll, 0}},
		{"bits without count", []byte{haveBits}},
		{"bits short", []byte{haveBits, 9, 0xff}},
		{"bits long", []byte{haveBits, 8, 0xff, 0}},
		{"bit past count", []byte{haveBits, 7, 0x80}},
		{"count over limit", []byte{haveBits, 0x80, 0x04, 0x00, 0x01}},
		{"runs short", []byte{haveRuns, 10, 0, 4}},
		{"runs long", []byte{haveRuns, 10, 0, 4, 7}},
		{"empty run", []byte{haveRuns, 10, 0, 4, 0, 6}},
		{"non-minimal count", []byte{haveRuns, 0x40, 10, 10}},
		{"non-minimal run", []byte{haveRuns, 10, 0x40, 10}},
		{"truncated run", []byte{haveRuns, 100, 0x40}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := append(AppendFrameHeader(nil, FrameHave, uint64(len(tc.payload))), tc.payload...)
			_, err := ReadHave(bytes.NewReader(enc))
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
	_, err := ReadHave(bytes.NewReader(AppendBlockHeader(nil, 0)))
	require.ErrorIs(t, err, ErrUnexpectedFrame)
	_, err = ReadHave(&tripwire{t: t, header: AppendFrameHeader(nil, FrameHave, maxHavePayload+1)})
	require.ErrorIs(t, err, ErrFrameTooLarge)
}

func TestHaveAddRoundTrip(t *testing.T) {
	lists := [][]uint64{{0}, {5, 1 << 17, 63}, make([]uint64, MaxHaveAdd)}
	var enc []byte
	for _, l := range lists {
		enc = AppendHaveAdd(enc, l)
	}
	r := bytes.NewReader(enc)
	for _, want := range lists {
		got, err := ReadHaveAdd(r)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := ReadHaveAdd(r)
	require.Equal(t, io.EOF, err, "a clean end of stream: the source has everything")
	require.Panics(t, func() { AppendHaveAdd(nil, nil) })
	require.Panics(t, func() { AppendHaveAdd(nil, make([]uint64, MaxHaveAdd+1)) })
}

func TestHaveAddTruncated(t *testing.T) {
	checkTruncations(t, AppendHaveAdd(nil, []uint64{1, 300, 70000}), io.EOF, func(r Reader) error {
		_, err := ReadHaveAdd(r)
		return err
	})
}

func TestHaveAddBad(t *testing.T) {
	for name, enc := range map[string][]byte{
		"empty":       AppendFrameHeader(nil, FrameHaveAdd, 0),
		"non-minimal": append(AppendFrameHeader(nil, FrameHaveAdd, 2), 0x40, 1),
		"truncated":   append(AppendFrameHeader(nil, FrameHaveAdd, 1), 0x40),
		// One-byte indexes fit many more than MaxHaveAdd in the payload.
		"too many": append(AppendFrameHeader(nil, FrameHaveAdd, MaxHaveAdd+1), make([]byte, MaxHaveAdd+1)...),
	} {
		_, err := ReadHaveAdd(bytes.NewReader(enc))
		require.ErrorIs(t, err, ErrMalformed, name)
	}
	_, err := ReadHaveAdd(bytes.NewReader(AppendHave(nil, Have{All: true})))
	require.ErrorIs(t, err, ErrUnexpectedFrame)
	_, err = ReadHaveAdd(&tripwire{t: t, header: AppendFrameHeader(nil, FrameHaveAdd, maxHaveAddPayload+1)})
	require.ErrorIs(t, err, ErrFrameTooLarge)
}

func FuzzReadHave(f *testing.F) {
	for _, h := range testHaves() {
		if h.N <= 2000 {
			f.Add(AppendHaveAdd(AppendHave(nil, h), []uint64{1, 2}))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{byte(FrameHave), 3, haveBits, 7, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		h, err := ReadHave(r)
		if err != nil {
			requireDecodeError(t, err)
			return
		}
		consumed := data[:len(data)-r.Len()]
		require.LessOrEqual(t, h.N, manifest.MaxBlocks)
		// The decoder accepts both encodings; re-encoding gives the
		// shorter, which decodes to the same set.
		again, err := ReadHave(bytes.NewReader(AppendHave(nil, h)))
		require.NoError(t, err)
		require.Equal(t, h, again)
		require.LessOrEqual(t, len(AppendHave(nil, h)), len(consumed))
		for {
			start := len(data) - r.Len()
			blocks, err := ReadHaveAdd(r)
			if err == io.EOF {
				require.Equal(t, len(data), start)
				return
			}
			if err != nil {
				requireDecodeError(t, err)
				return
			}
			require.Equal(t, data[start:len(data)-r.Len()], AppendHaveAdd(nil, blocks), "one encoding per HAVE_ADD")
		}
	})
}
