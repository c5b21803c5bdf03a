package partial

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// learnt is a learning download (Options.Learn) of data in blocks of an odd
// length, as a Metalink's pieces may be: the manifest gives the layout only.
type learnt struct {
	out  string
	data []byte
	m    *manifest.Manifest
	id   manifest.ID
}

const oddBlock = 100_003 // not a power of two, between MinLearnBlockSize and MaxLearnBlockSize

func newLearnt(t *testing.T, size int) *learnt {
	t.Helper()
	m := &manifest.Manifest{Size: int64(size), BlockSize: oddBlock, Blocks: make([]manifest.Block, manifest.NumBlocksFor(int64(size), oddBlock))}
	return &learnt{out: filepath.Join(t.TempDir(), "f.iso"), data: randomData(size, 5), m: m, id: manifest.ID{1, 2, 3}}
}

func (d *learnt) block(i int) []byte {
	off := d.m.BlockOffset(i)
	return d.data[off : off+d.m.BlockLen(i)]
}

func (d *learnt) open(t *testing.T) (*File, Report, *logs) {
	t.Helper()
	var l logs
	f, rep, err := Open(d.out, d.m, Options{Learn: true, DeferProof: true, ID: d.id, Logf: l.logf})
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f, rep, &l
}

// acceptAll is the plan of a file with no per-block hash.
type acceptAll struct{}

func (acceptAll) Piece(int, []byte) error { return nil }

// A learning download writes blocks of any length without a hash to check
// them against, records each one's xxh64 in a version 2 state, and resumes
// them (claimed, then proven by the caller's plan); finishing gives the
// file.
func TestLearnResume(t *testing.T) {
	d := newLearnt(t, 10*oddBlock+77)
	f, _, _ := d.open(t)
	for _, i := range []int{0, 3, 10} {
		require.NoError(t, f.WriteBlock(i, d.block(i)))
	}
	require.NoError(t, f.Sync())
	x, ok := f.XXH(3)
	require.True(t, ok)
	require.Equal(t, manifest.HashBlock(d.block(3)).XXH, x)
	require.NoError(t, f.Close())

	b, err := os.ReadFile(StatePath(d.out))
	require.NoError(t, err)
	require.Equal(t, byte(LearnStateVersion), b[len(stateMagic)])
	st, err := DecodeState(b)
	require.NoError(t, err)
	require.Equal(t, d.id, st.ID)
	require.Equal(t, manifest.HashBlock(d.block(10)).XXH, st.XXH[10])
	require.Zero(t, st.XXH[1])

	f, rep, _ := d.open(t)
	require.Equal(t, 3, rep.Claimed)
	pr, err := f.Prove(context.Background(), 2, acceptAll{}, nil)
	require.NoError(t, err)
	require.Equal(t, 3, pr.Proven)
	for i := range d.m.NumBlocks() {
		require.NoError(t, f.WriteBlock(i, d.block(i)))
	}
	require.NoError(t, f.Finish())
	got, err := os.ReadFile(d.out)
	require.NoError(t, err)
	require.Equal(t, d.data, got)
}

// A block damaged on disk between two runs fails its recorded xxh64 and is
// fetched again; the others resume.
func TestLearnDamagedBlock(t *testing.T) {
	d := newLearnt(t, 4*oddBlock)
	f, _, _ := d.open(t)
	for i := range 4 {
		require.NoError(t, f.WriteBlock(i, d.block(i)))
	}
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	pf, err := os.OpenFile(PartPath(d.out), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = pf.WriteAt([]byte{d.data[2*oddBlock+9] ^ 0xff}, 2*oddBlock+9)
	require.NoError(t, err)
	require.NoError(t, pf.Close())

	f, rep, l := d.open(t)
	require.Equal(t, 3, rep.Claimed)
	require.Equal(t, 1, rep.Damaged)
	require.False(t, f.Claimed(2))
	require.Contains(t, l.String(), "failed their check (2)")
}

// Without a state (or with a damaged one) a learning download has nothing
// to check the old data against: it starts over, keeping nothing.
func TestLearnNoState(t *testing.T) {
	d := newLearnt(t, 3*oddBlock)
	f, _, _ := d.open(t)
	require.NoError(t, f.WriteBlock(0, d.block(0)))
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	require.NoError(t, os.Remove(StatePath(d.out)))

	f, rep, l := d.open(t)
	require.Zero(t, rep.Claimed+rep.Recovered+rep.Trusted)
	require.NotEmpty(t, rep.Discarded)
	require.False(t, f.Claimed(0))
	require.Contains(t, l.String(), "starting over")
}

// A state bound to another ID (another size, another published hash, a
// mirror's file that changed), or one of a download with a manifest, is a
// different file's: refused, as any other.
func TestLearnOtherBinding(t *testing.T) {
	d := newLearnt(t, 3*oddBlock)
	f, _, _ := d.open(t)
	require.NoError(t, f.WriteBlock(0, d.block(0)))
	require.NoError(t, f.Close())

	_, _, err := Open(d.out, d.m, Options{Learn: true, DeferProof: true, ID: manifest.ID{9}})
	var other *OtherFileError
	require.ErrorAs(t, err, &other)
	require.Equal(t, d.id, other.ID)

	// A manifest download's state at the same OUT is not a learning one's.
	md := newDownload(t, randomData(3*bs, 1))
	mf, _, _ := md.open(t)
	require.NoError(t, mf.Close())
	md.m.Blocks = make([]manifest.Block, md.m.NumBlocks())
	_, _, err = Open(md.out, md.m, Options{Learn: true, DeferProof: true, ID: manifest.ID{4}})
	require.ErrorIs(t, err, ErrOtherFile)
}

// Forget makes present blocks missing again, durably: a reopened download
// no longer has them, and they can be written anew.
func TestForget(t *testing.T) {
	d := newLearnt(t, 4*oddBlock)
	f, _, _ := d.open(t)
	for i := range 4 {
		require.NoError(t, f.WriteBlock(i, d.block(i)))
	}
	require.NoError(t, f.Sync())
	require.NoError(t, f.Forget([]int{1, 3, 7}))
	require.False(t, f.Has(1))
	require.True(t, f.Has(2))
	require.Equal(t, 2, f.Count())
	_, ok := f.XXH(1)
	require.False(t, ok)
	st := readStateT(t, d.out)
	require.False(t, st.Has(1))
	require.True(t, st.Has(2))
	require.Zero(t, st.XXH[3])
	require.NoError(t, f.WriteBlock(1, d.block(1)))
	require.True(t, f.Has(1))
	require.NoError(t, f.Close())

	_, rep, _ := d.open(t)
	require.Equal(t, 3, rep.Claimed, "blocks 0, 1 (written again) and 2")
}

// Learning needs DeferProof, and a block size in range.
func TestLearnRefusals(t *testing.T) {
	d := newLearnt(t, 3*oddBlock)
	_, _, err := Open(d.out, d.m, Options{Learn: true, ID: d.id})
	require.Error(t, err)
	small := &manifest.Manifest{Size: 100, BlockSize: 100, Blocks: make([]manifest.Block, 1)}
	_, _, err = Open(d.out, small, Options{Learn: true, DeferProof: true, ID: d.id})
	require.ErrorContains(t, err, "block size 100")
	_, _, err = Open(d.out, d.m, Options{DeferProof: true, ID: d.id})
	require.ErrorContains(t, err, "block size")
}

// A version 2 state round-trips, and one byte changed anywhere is refused.
func TestLearnStateEncoding(t *testing.T) {
	st := State{ID: manifest.ID{7}, Size: 3*oddBlock + 1, BlockSize: oddBlock, NumBlocks: 4, Bitmap: []byte{0b0101}, XXH: []uint64{11, 0, 33, 0}}
	b := st.Append(nil)
	require.Len(t, b, EncodedStateLen(4, true))
	got, err := DecodeState(b)
	require.NoError(t, err)
	require.Equal(t, st, *got)
	for _, at := range []int{len(stateMagic), stateHeaderLen + 2, len(b) - 40} {
		c := append([]byte(nil), b...)
		c[at] ^= 1
		_, err := DecodeState(c)
		require.True(t, errors.Is(err, ErrBadState), "byte %d: %v", at, err)
	}
	_, err = DecodeState(b[:len(b)-8])
	require.ErrorIs(t, err, ErrBadState)
}

func readStateT(t *testing.T, out string) *State {
	t.Helper()
	st, err := readState(StatePath(out))
	require.NoError(t, err)
	return st
}
