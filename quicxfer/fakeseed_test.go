package quicxfer_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"math/bits"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/quictest"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// behaviour says how a fake seed answers block requests.
type behaviour int

const (
	stallBlocks     behaviour = iota // read the request, then send nothing, ever
	honestBlocks                     // the right bytes, at full speed
	wrongBlocks                      // the right length, one byte of it flipped
	truncatedBlocks                  // a header for the whole block, half of it, then the end of the stream
	longHeader                       // a header that claims one byte more than the block, then that many bytes
	extraBytes                       // the whole block, then more bytes before the end of the stream
	wrongFrame                       // a MANIFEST frame where the BLOCK belongs
	trickleBlocks                    // the right bytes, 1 KiB every 50 ms (20 KB/s)
	stopMidBlock                     // half the block, then silence, the stream left open
	pushStreams                      // honest blocks, but it also tries to open streams to the client
	forgedBlocks                     // another block with the same xxh64 (see forgeXXH64), where it can; else wrong bytes
	claimsAll                        // says HAVE "all", then answers every block NOT_AVAILABLE
)

// fakeSeed is a hand-written seed for behaviours a real one never shows. It
// answers manifest requests for one file honestly.
type fakeSeed struct {
	url        string
	opts       fakeOptions
	blockReqs  atomic.Int64 // block requests received
	openBlocks atomic.Int64 // block requests being answered, not ended by either side
	haveReqs   atomic.Int64 // HAVE requests received
	manifests  atomic.Int64 // manifest requests received

	mu      sync.Mutex
	pushErr []error // pushStreams: what each attempt to open a stream to the client returned
}

func (f *fakeSeed) URL() string { return f.url }

// blockRequests returns how many block requests it received.
func (f *fakeSeed) blockRequests() int64 { return f.blockReqs.Load() }

// pushErrors returns what its attempts to open streams to clients returned.
func (f *fakeSeed) pushErrors() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.pushErr...)
}

func selfSigned(t testing.TB) (tls.Certificate, *x509.Certificate) { return quictest.SelfSigned(t) }

// haveMode says how a fake seed answers GET_HAVE.
type haveMode int

const (
	haveNotFound  haveMode = iota // NOT_FOUND, as a seed from before GET_HAVE might (claimsAll: HAVE "all")
	haveMalformed                 // after 300 ms, a HAVE for one block more than the file has
	haveInternal                  // INTERNAL, at once: a failure, not an answer
)

// fakeOptions are a fake seed's behaviours besides its blocks'.
type fakeOptions struct {
	refuseManifests int64 // the first this many manifest requests are answered SHUTTING_DOWN
	have            haveMode
	// The first flipFirst block requests are answered wrongBlocks, the
	// cutFirst after them truncatedBlocks, whatever the behaviour.
	flipFirst, cutFirst int64
}

func startFakeSeed(t testing.TB, dir, name string, b behaviour) *fakeSeed {
	t.Helper()
	return startFakeSeedWith(t, dir, name, b, fakeOptions{})
}

func startFakeSeedWith(t testing.TB, dir, name string, b behaviour, o fakeOptions) *fakeSeed {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	m, err := manifest.BuildFile(context.Background(), filepath.Join(dir, name), 1)
	require.NoError(t, err)
	f := &fakeSeed{opts: o}
	h := quictest.Handler{Request: func(ctx context.Context, str *quic.Stream, req wire.Request) {
		switch req := req.(type) {
		case *wire.ManifestRequest:
			if f.manifests.Add(1) <= o.refuseManifests {
				str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeShuttingDown))
				return
			}
			resp := wire.ManifestResponse{Name: name, Manifest: m}
			_, _ = str.Write(resp.Append(nil))
			_ = str.Close()
		case *wire.HaveRequest:
			f.haveReqs.Add(1)
			switch o.have {
			case haveInternal:
				str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeInternal))
				return
			case haveMalformed:
				select {
				case <-time.After(300 * time.Millisecond):
				case <-ctx.Done():
					return
				}
				_, _ = str.Write(wire.AppendHave(nil, wire.NewHave(m.NumBlocks()+1)))
				select { // the client ends it
				case <-str.Context().Done():
				case <-ctx.Done():
				}
				return
			}
			if b != claimsAll {
				str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeNotFound))
				return
			}
			_, _ = str.Write(wire.AppendHave(nil, wire.Have{All: true}))
			_ = str.Close()
		case *wire.BlockRequest:
			b := b
			switch n := f.blockReqs.Add(1); {
			case n <= o.flipFirst:
				b = wrongBlocks
			case n <= o.flipFirst+o.cutFirst:
				b = truncatedBlocks
			}
			if b == claimsAll {
				str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeNotAvailable))
				return
			}
			i := int(req.Index)
			if req.ID != m.ID() || req.Index >= uint64(m.NumBlocks()) {
				str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeBadRequest))
				return
			}
			off := m.BlockOffset(i)
			f.openBlocks.Add(1)
			serveBlock(ctx, str, b, data[off:off+m.BlockLen(i)], m)
			f.openBlocks.Add(-1)
		default:
			str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeNotFound))
		}
	}}
	if b == pushStreams {
		h.Conn = f.push
	}
	f.url = quictest.Serve(t, h)
	return f
}

// push tries to open streams of both kinds to the client, which must have
// given the seed no credit for any (MaxIncomingStreams < 0), and records
// what each attempt returned.
func (f *fakeSeed) push(ctx context.Context, conn *quic.Conn) {
	var errs []error
	if str, err := conn.OpenStream(); err == nil {
		_, _ = str.Write([]byte("unsolicited"))
		_ = str.Close()
	} else {
		errs = append(errs, err)
	}
	if str, err := conn.OpenUniStream(); err == nil {
		_, _ = str.Write([]byte("unsolicited"))
		_ = str.Close()
	} else {
		errs = append(errs, err)
	}
	// Waiting for credit does not help either.
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := conn.OpenStreamSync(wctx); err != nil {
		errs = append(errs, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushErr = append(f.pushErr, errs...)
	if len(errs) < 3 {
		f.pushErr = append(f.pushErr, nil) // marks an attempt that succeeded
	}
}

// serveBlock answers one block request, whose honest answer is block, as b
// says.
func serveBlock(ctx context.Context, str *quic.Stream, b behaviour, block []byte, m *manifest.Manifest) {
	n := len(block)
	wait := func(d time.Duration) bool { // false when the stream or the seed is gone
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
		case <-str.Context().Done():
		}
		return false
	}
	switch b {
	case stallBlocks:
		wait(time.Hour)
		return
	case honestBlocks, pushStreams:
		_, _ = str.Write(append(wire.AppendBlockHeader(nil, n), block...))
	case forgedBlocks:
		if n >= 32 && n%32 >= 8 {
			_, _ = str.Write(append(wire.AppendBlockHeader(nil, n), forgeXXH64(block)...))
			break
		}
		fallthrough
	case wrongBlocks:
		bad := append(wire.AppendBlockHeader(nil, n), block...)
		bad[len(bad)-1-n/2] ^= 0x01
		_, _ = str.Write(bad)
	case truncatedBlocks:
		_, _ = str.Write(append(wire.AppendBlockHeader(nil, n), block[:n/2]...))
	case longHeader:
		_, _ = str.Write(append(append(wire.AppendBlockHeader(nil, n+1), block...), 0))
	case extraBytes:
		_, _ = str.Write(append(append(wire.AppendBlockHeader(nil, n), block...), "and more"...))
	case wrongFrame:
		resp := wire.ManifestResponse{Name: "f.bin", Manifest: m}
		_, _ = str.Write(resp.Append(nil))
	case trickleBlocks:
		if _, err := str.Write(wire.AppendBlockHeader(nil, n)); err != nil {
			return
		}
		for off := 0; off < n; off += 1 << 10 {
			if _, err := str.Write(block[off:min(off+1<<10, n)]); err != nil || !wait(50*time.Millisecond) {
				return
			}
		}
	case stopMidBlock:
		if _, err := str.Write(append(wire.AppendBlockHeader(nil, n), block[:n/2]...)); err == nil {
			wait(time.Hour)
		}
		return
	}
	_ = str.Close()
}

// forgeXXH64 returns a copy of block, which must be at least 32 bytes long
// with a tail (len % 32) of at least 8, that differs from it and has the
// same xxh64: it flips a byte and then solves for the 8-byte word at the
// start of the tail. xxh64 is no defence against a seed that lies; this is
// how cheaply one gets past it.
func forgeXXH64(block []byte) []byte {
	var ( // variables, so that sums wrap as they do in xxh64
		p1 uint64 = 11400714785074694791
		p2 uint64 = 14029467366897019727
		p3 uint64 = 1609587929392839161
		p4 uint64 = 9650029242287828579
		p5 uint64 = 2870177450012600261
	)
	n := len(block)
	tail := n - n%32
	if n < 32 || n%32 < 8 {
		panic("forgeXXH64: no 8-byte word in the tail")
	}
	want := xxhash.Sum64(block)
	out := append([]byte(nil), block...)
	out[0] ^= 0xff

	round := func(acc, in uint64) uint64 { return bits.RotateLeft64(acc+in*p2, 31) * p1 }
	merge := func(acc, v uint64) uint64 { return (acc^round(0, v))*p1 + p4 }
	inv := func(c uint64) uint64 { // c⁻¹ mod 2⁶⁴, c odd (Newton)
		x := c
		for range 5 {
			x *= 2 - c*x
		}
		return x
	}
	// The state before the word to forge.
	v1, v2, v3, v4 := p1+p2, p2, uint64(0), -p1
	for off := 0; off < tail; off += 32 {
		v1 = round(v1, binary.LittleEndian.Uint64(out[off:]))
		v2 = round(v2, binary.LittleEndian.Uint64(out[off+8:]))
		v3 = round(v3, binary.LittleEndian.Uint64(out[off+16:]))
		v4 = round(v4, binary.LittleEndian.Uint64(out[off+24:]))
	}
	h := bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
	h = merge(merge(merge(merge(h, v1), v2), v3), v4)
	h += uint64(n)
	// The state after every later word, worked back from want: undo the
	// avalanche, then each later step of the tail.
	after := want
	after ^= after >> 32
	after *= inv(p3)
	after ^= after>>29 ^ after>>58
	after *= inv(p2)
	after ^= after >> 33
	rest := out[tail+8:]
	// Undo the steps after the forged word (more 8-byte words, a 4-byte
	// word, single bytes), last first.
	var undo []func(h uint64) uint64
	i := 0
	for ; i+8 <= len(rest); i += 8 {
		k := round(0, binary.LittleEndian.Uint64(rest[i:]))
		undo = append(undo, func(h uint64) uint64 { return bits.RotateLeft64((h-p4)*inv(p1), -27) ^ k })
	}
	if i+4 <= len(rest) {
		k := uint64(binary.LittleEndian.Uint32(rest[i:])) * p1
		undo = append(undo, func(h uint64) uint64 { return bits.RotateLeft64((h-p3)*inv(p2), -23) ^ k })
		i += 4
	}
	for ; i < len(rest); i++ {
		k := uint64(rest[i]) * p5
		undo = append(undo, func(h uint64) uint64 { return bits.RotateLeft64(h*inv(p1), -11) ^ k })
	}
	for j := len(undo) - 1; j >= 0; j-- {
		after = undo[j](after)
	}
	// after = rotl(h ^ round(0, k), 27)·p1 + p4: solve for k.
	r := bits.RotateLeft64((after-p4)*inv(p1), -27) ^ h
	k := bits.RotateLeft64(r*inv(p1), -31) * inv(p2)
	binary.LittleEndian.PutUint64(out[tail:], k)
	if xxhash.Sum64(out) != want {
		panic("forgeXXH64: forgery failed")
	}
	return out
}
