package partial

import (
	"context"
	"crypto/sha1"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/internal/collide"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
)

// forge replaces block i in the part file with bytes that keep its xxh64
// but are not the block, and returns them.
func (d *download) forge(t testing.TB, i int) []byte {
	t.Helper()
	bad, err := collide.XXH64(d.block(i), 3)
	require.NoError(t, err)
	require.True(t, d.m.CheckXXH(i, bad), "the forged block passes the xxh64 check")
	require.Error(t, d.m.Verify(i, bad), "but not SHA-256")
	part, err := os.OpenFile(PartPath(d.out), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = part.WriteAt(bad, d.m.BlockOffset(i))
	require.NoError(t, err)
	require.NoError(t, part.Close())
	return bad
}

// A block whose bit is set and whose bytes keep the xxh64 is not trusted:
// Open proves it with SHA-256.
func TestOpenProvesResumedBlocks(t *testing.T) {
	d := newDownload(t, randomData(4*bs+100, 30))
	f, _, _ := d.open(t)
	d.write(t, f, 0, 1, 2, 3, 4)
	require.NoError(t, f.Close())
	d.forge(t, 2)

	f, rep, l := d.open(t)
	require.Equal(t, Report{Trusted: 4, Damaged: 1, ScannedBytes: rep.ScannedBytes}, rep)
	require.Contains(t, l.String(), "failed their check (2)")
	d.requireHas(t, f, 0, 1, 3, 4)
	require.False(t, d.state(t).Has(2), "bit cleared on disk")
	require.ErrorIs(t, f.Finish(), ErrIncomplete)
	d.write(t, f, 2)
	require.NoError(t, f.Finish())
	require.Equal(t, d.data, mustRead(t, d.out))
}

// With DeferProof, Open leaves the recorded blocks claimed; Prove settles
// them: the forged one is cleared, on disk too, and fetched again.
func TestProve(t *testing.T) {
	d := newDownload(t, randomData(6*bs+100, 31))
	f, _, _ := d.open(t)
	d.write(t, f, 0, 1, 2, 4, 5)
	require.NoError(t, f.Close())
	d.forge(t, 4)

	var l logs
	f, rep, err := Open(d.out, d.m, Options{Workers: 2, Logf: l.logf, DeferProof: true})
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	require.Equal(t, Report{Claimed: 5}, rep)
	require.Contains(t, l.String(), "resuming with 5 of 7 blocks (0 recovered, 0 damaged; 5 to be proven with SHA-256")
	d.requireHas(t, f) // nothing is had before it is proven
	for i := range d.m.NumBlocks() {
		require.Equal(t, i != 3 && i != 6, f.Claimed(i), "block %d", i)
	}
	require.Equal(t, sumLen(d.m, []int{0, 1, 2, 4, 5}), f.ClaimedBytes())
	require.ErrorIs(t, f.Finish(), ErrIncomplete, "claimed blocks do not finish a download")
	require.NoError(t, f.WriteBlock(4, d.block(4)), "a claimed block is not overwritten")
	require.NoError(t, f.WriteBlock(3, d.block(3)), "others are written meanwhile")

	var (
		mu     sync.Mutex // proven is called from Prove's goroutines, several at once
		proven []int
	)
	prep, err := f.Prove(t.Context(), 3, verify.FromManifest(d.m), func(i int) {
		mu.Lock()
		defer mu.Unlock()
		proven = append(proven, i)
	})
	require.NoError(t, err)
	require.Equal(t, ProofReport{Proven: 4, Failed: 1, FailedBytes: bs}, prep)
	require.ElementsMatch(t, []int{0, 1, 2, 5}, proven)
	require.Contains(t, l.String(), "1 resumed block(s) failed their SHA-256 check (4); fetching them again")
	d.requireHas(t, f, 0, 1, 2, 3, 5)
	require.Zero(t, f.ClaimedBytes())
	require.False(t, d.state(t).Has(4), "the forged block's bit is cleared on disk at once")

	prep, err = f.Prove(t.Context(), 3, verify.FromManifest(d.m), nil)
	require.NoError(t, err)
	require.Zero(t, prep, "nothing left to prove")
	d.write(t, f, 4, 6)
	require.NoError(t, f.Finish())
	require.Equal(t, d.data, mustRead(t, d.out))
}

// Prove settles the claims by the plan it is given, not by the manifest: a
// plan of SHA-1 pieces that says block 2 is other bytes fails it, though the
// manifest's hashes match.
func TestProveTakesThePlan(t *testing.T) {
	d := newDownload(t, randomData(4*bs+100, 34))
	f, _, _ := d.open(t)
	d.write(t, f, 0, 1, 2, 3, 4)
	require.NoError(t, f.Close())

	var sums [][]byte
	for i := range d.m.NumBlocks() {
		sum := sha1.Sum(d.block(i))
		sums = append(sums, sum[:])
	}
	sums[2] = make([]byte, sha1.Size)
	plan, err := verify.Pieces(int64(len(d.data)), bs, verify.SHA1, sums, nil)
	require.NoError(t, err)
	f, _, err = Open(d.out, d.m, Options{DeferProof: true})
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	rep, err := f.Prove(t.Context(), 2, plan, nil)
	require.NoError(t, err)
	require.Equal(t, ProofReport{Proven: 4, Failed: 1, FailedBytes: bs}, rep)
	d.requireHas(t, f, 0, 1, 3, 4)
	require.False(t, d.state(t).Has(2), "its bit is cleared on disk")
}

// A Prove cut short leaves what it did not check claimed, its bits kept.
func TestProveCancelled(t *testing.T) {
	d := newDownload(t, randomData(8*bs, 32))
	f, _, _ := d.open(t)
	d.write(t, f, 0, 1, 2, 3, 4, 5, 6, 7)
	require.NoError(t, f.Close())

	f, rep, err := Open(d.out, d.m, Options{DeferProof: true})
	require.NoError(t, err)
	require.Equal(t, 8, rep.Claimed)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = f.Prove(ctx, 1, verify.FromManifest(d.m), nil)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 8, f.Count()+int(f.ClaimedBytes()/bs))
	require.NoError(t, f.Close())
	require.Equal(t, 8, countBits(d.state(t)), "bits kept for the next Open")
	_, err = f.Prove(t.Context(), 1, verify.FromManifest(d.m), nil)
	require.ErrorIs(t, err, ErrClosed)
}

// Prove runs while blocks are written and synced (run with -race).
func TestProveWhileWriting(t *testing.T) {
	d := newDownload(t, randomData(40*bs+3, 33))
	f, _, _ := d.open(t)
	for i := 0; i < d.m.NumBlocks(); i += 2 {
		d.write(t, f, i)
	}
	require.NoError(t, f.Close())
	d.forge(t, 10)

	f, _, err := Open(d.out, d.m, Options{DeferProof: true})
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	done := make(chan error, 1)
	go func() {
		_, err := f.Prove(t.Context(), 2, verify.FromManifest(d.m), nil)
		done <- err
	}()
	for i := 1; i < d.m.NumBlocks(); i += 2 {
		d.write(t, f, i)
		require.NoError(t, f.Sync())
	}
	require.NoError(t, <-done)
	require.False(t, f.Has(10))
	d.write(t, f, 10)
	require.True(t, f.Complete())
	require.NoError(t, f.Finish())
	require.Equal(t, d.data, mustRead(t, d.out))
}

// Every file of a download that is a symbolic link makes Open refuse, and
// its target is never written.
func TestOpenRefusesSymlinks(t *testing.T) {
	for _, name := range []string{"", ".qxpart", ".qxstate", ".qxstate.tmp", ".qxcmd", ".qxcmd.tmp"} {
		t.Run("OUT"+name, func(t *testing.T) {
			d := newDownload(t, randomData(2*bs, 34))
			victim := filepath.Join(t.TempDir(), "victim")
			require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o644))
			link := d.out + name
			require.NoError(t, os.Symlink(victim, link))

			_, _, err := Open(d.out, d.m, Options{})
			var se *atomicfile.SymlinkError
			require.ErrorAs(t, err, &se)
			require.Equal(t, link, se.Path)
			require.Equal(t, "precious", string(mustRead(t, victim)))
			for _, p := range Paths(d.out) {
				if p != link {
					require.NoFileExists(t, p, "nothing created")
				}
			}
		})
	}
}

// A symbolic link planted at the temporary state name while the download
// runs is refused by the next Sync, not written through.
func TestSyncRefusesSymlink(t *testing.T) {
	d := newDownload(t, randomData(2*bs, 35))
	f, _, _ := d.open(t)
	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o644))
	require.NoError(t, os.Symlink(victim, tmpStatePath(d.out)))
	d.write(t, f, 0)
	err := f.Sync()
	require.ErrorIs(t, err, atomicfile.ErrSymlink)
	require.Equal(t, "precious", string(mustRead(t, victim)))
	require.False(t, d.state(t).Has(0))
	require.NoError(t, os.Remove(tmpStatePath(d.out)))
	require.NoError(t, f.Sync(), "a failed state write is tried again")
	require.True(t, d.state(t).Has(0))
}

// Finish never replaces out: a file that appeared there stays, and so do the
// part file and its state, for a later Finish.
func TestFinishDoesNotReplace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, out string)
	}{
		{"a file", func(t *testing.T, out string) { require.NoError(t, os.WriteFile(out, []byte("theirs"), 0o644)) }},
		{"a dangling symlink", func(t *testing.T, out string) {
			require.NoError(t, os.Symlink(filepath.Join(filepath.Dir(out), "nowhere"), out))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDownload(t, randomData(3*bs+1, 36))
			f, _, _ := d.open(t)
			d.write(t, f, 0, 1, 2, 3)
			tc.plant(t, d.out)
			err := f.Finish()
			require.ErrorIs(t, err, ErrOutExists)
			require.FileExists(t, PartPath(d.out))
			require.NoError(t, f.Close())
			require.Equal(t, 4, countBits(d.state(t)), "the state records every block")
			if !atomicfile.IsSymlink(d.out) {
				require.Equal(t, "theirs", string(mustRead(t, d.out)))
			}

			require.NoError(t, os.Remove(d.out))
			f, rep, _ := d.open(t)
			require.Equal(t, 4, rep.Trusted)
			require.NoError(t, f.Finish())
			require.Equal(t, d.data, mustRead(t, d.out))
		})
	}
}

// A partial download of another file at out is kept unless DiscardOther.
func TestOtherFileKept(t *testing.T) {
	d := newDownload(t, randomData(3*bs+7, 37))
	f, _, _ := d.open(t)
	d.write(t, f, 0, 2)
	require.NoError(t, f.Close())
	part, state := mustRead(t, PartPath(d.out)), mustRead(t, StatePath(d.out))

	d2 := newDownload(t, randomData(2*bs, 38))
	d2.out = d.out
	_, _, err := Open(d2.out, d2.m, Options{})
	var oe *OtherFileError
	require.ErrorAs(t, err, &oe)
	require.ErrorIs(t, err, ErrOtherFile)
	require.Equal(t, d.m.ID(), oe.ID)
	require.Equal(t, PartPath(d.out), oe.Part)
	require.Equal(t, part, mustRead(t, PartPath(d.out)), "the other file's data is untouched")
	require.Equal(t, state, mustRead(t, StatePath(d.out)))

	f, rep, _ := d.open(t)
	require.Equal(t, 2, rep.Trusted, "and resumes")
	require.NoError(t, f.Close())
}

// With RemoveEmpty, Close removes a download that holds no block, and only
// such a one.
func TestRemoveEmpty(t *testing.T) {
	d := newDownload(t, randomData(3*bs, 39))
	f, _, err := Open(d.out, d.m, Options{RemoveEmpty: true})
	require.NoError(t, err)
	require.FileExists(t, PartPath(d.out))
	require.NoError(t, f.Close())
	for _, p := range Paths(d.out) {
		require.NoFileExists(t, p)
	}

	f, _, err = Open(d.out, d.m, Options{RemoveEmpty: true})
	require.NoError(t, err)
	d.write(t, f, 1)
	require.NoError(t, f.Close())
	require.True(t, d.state(t).Has(1), "a block kept: nothing removed")

	// A part file whose state is unreadable and which holds nothing this
	// file's: kept (it may be another file's).
	require.NoError(t, os.WriteFile(StatePath(d.out), []byte("garbage"), 0o644))
	require.NoError(t, os.WriteFile(PartPath(d.out), randomData(3*bs, 40), 0o644))
	f, rep, err := Open(d.out, d.m, Options{RemoveEmpty: true})
	require.NoError(t, err)
	require.True(t, rep.StateDamaged)
	require.Zero(t, f.Count())
	require.NoError(t, f.Close())
	require.FileExists(t, PartPath(d.out))

	// A failed Open removes the part file it created.
	require.NoError(t, os.Remove(PartPath(d.out)))
	require.NoError(t, os.Remove(StatePath(d.out)))
	require.NoError(t, os.Mkdir(StatePath(d.out), 0o755))
	_, _, err = Open(d.out, d.m, Options{})
	require.Error(t, err)
	require.False(t, errors.Is(err, fs.ErrNotExist))
	require.NoFileExists(t, PartPath(d.out))
}
