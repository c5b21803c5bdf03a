package partial

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/internal/randfile"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

const bs = manifest.MinBlockSize

// download is a source file, its manifest and an output path in a temp dir.
type download struct {
	out  string
	data []byte
	m    *manifest.Manifest
}

func randomData(size int, seed uint64) []byte { return randfile.Bytes(size, seed) }

func newDownload(t testing.TB, data []byte) *download {
	t.Helper()
	m, err := manifest.Build(context.Background(), bytes.NewReader(data), int64(len(data)), 0)
	require.NoError(t, err)
	return &download{out: filepath.Join(t.TempDir(), "file.bin"), data: data, m: m}
}

func (d *download) block(i int) []byte {
	off := d.m.BlockOffset(i)
	return d.data[off : off+d.m.BlockLen(i)]
}

// logs collects Logf messages.
type logs struct{ testkit.Logs }

func (l *logs) logf(format string, args ...any) { l.Logf(format, args...) }

func (d *download) open(t testing.TB) (*File, Report, *logs) {
	t.Helper()
	var l logs
	f, rep, err := Open(d.out, d.m, Options{Workers: 3, Logf: l.logf})
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f, rep, &l
}

func (d *download) write(t testing.TB, f *File, blocks ...int) {
	t.Helper()
	for _, i := range blocks {
		require.NoError(t, f.WriteBlock(i, d.block(i)))
	}
}

// requireHas checks that exactly the blocks in want are present.
func (d *download) requireHas(t testing.TB, f *File, want ...int) {
	t.Helper()
	set := map[int]bool{}
	var bytes int64
	for _, i := range want {
		set[i] = true
		bytes += d.m.BlockLen(i)
	}
	for i := range d.m.NumBlocks() {
		require.Equal(t, set[i], f.Has(i), "block %d", i)
	}
	require.Equal(t, len(set), f.Count())
	require.Equal(t, bytes, f.Bytes())
	require.Equal(t, len(set) == d.m.NumBlocks(), f.Complete())
}

// kill simulates SIGKILL: the descriptors are closed (which releases the
// lock) without a Sync.
func kill(t testing.TB, f *File) {
	t.Helper()
	f.life.Lock()
	defer f.life.Unlock()
	f.closed = true
	require.NoError(t, f.direct.close())
	require.NoError(t, f.f.Close())
	require.NoError(t, f.dir.Close())
}

// readState decodes the state file on disk.
func (d *download) state(t testing.TB) *State {
	t.Helper()
	b, err := os.ReadFile(StatePath(d.out))
	require.NoError(t, err)
	s, err := DecodeState(b)
	require.NoError(t, err)
	return s
}

// holesSupported reports whether the temp dir's file system reports holes.
func holesSupported(t testing.TB) bool {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "probe"))
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Truncate(1<<20))
	_, err = f.Seek(0, unix.SEEK_DATA)
	return err != nil
}

func sumLen(m *manifest.Manifest, blocks []int) int64 {
	var n int64
	for _, i := range blocks {
		n += m.BlockLen(i)
	}
	return n
}

func TestFresh(t *testing.T) {
	d := newDownload(t, randomData(5*bs+17, 1))
	f, rep, l := d.open(t)
	require.Equal(t, Report{}, rep)
	require.Empty(t, l.String())
	d.requireHas(t, f)

	fi, err := os.Stat(PartPath(d.out))
	require.NoError(t, err)
	require.Equal(t, d.m.Size, fi.Size())
	require.Less(t, fi.Sys().(*syscall.Stat_t).Blocks*512, d.m.Size, "part file is sparse")
	s := d.state(t)
	require.Equal(t, d.m.ID(), s.ID)
	require.Equal(t, make([]byte, 1), s.Bitmap)
	require.NoFileExists(t, d.out)
}

func TestResumeAfterClose(t *testing.T) {
	for _, tc := range []struct {
		name    string
		written []int
	}{
		{"none", nil},
		{"first", []int{0}},
		{"every other", []int{0, 2, 4}},
		{"short last block", []int{5}},
		{"all but one", []int{0, 1, 2, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDownload(t, randomData(5*bs+17, 2))
			f, _, _ := d.open(t)
			d.write(t, f, tc.written...)
			d.requireHas(t, f, tc.written...)
			require.NoError(t, f.Close())
			require.NoError(t, f.Close(), "Close is idempotent")

			f, rep, _ := d.open(t)
			require.Equal(t, Report{Trusted: len(tc.written)}, rep, "nothing without a bit holds data")
			d.requireHas(t, f, tc.written...)
			for i := range d.m.NumBlocks() {
				require.Equal(t, f.Has(i), d.state(t).Has(i))
			}
		})
	}
}

func TestRecoverAfterKill(t *testing.T) {
	holes := holesSupported(t)
	for _, tc := range []struct {
		name           string
		synced, unsync []int
	}{
		{"nothing synced", nil, []int{1, 3, 5}},
		{"some synced", []int{0, 2}, []int{3}},
		{"all synced", []int{0, 5}, nil},
		{"everything unsynced", nil, []int{0, 1, 2, 3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDownload(t, randomData(5*bs+17, 3))
			f, _, _ := d.open(t)
			d.write(t, f, tc.synced...)
			require.NoError(t, f.Sync())
			d.write(t, f, tc.unsync...)
			kill(t, f)

			f, rep, _ := d.open(t)
			require.Equal(t, len(tc.synced), rep.Trusted)
			require.Equal(t, len(tc.unsync), rep.Recovered)
			require.Zero(t, rep.Damaged)
			require.False(t, rep.StateDamaged)
			if holes {
				require.Equal(t, sumLen(d.m, tc.unsync), rep.ScannedBytes, "only blocks holding data are read")
			}
			d.requireHas(t, f, append(tc.synced, tc.unsync...)...)
			require.Equal(t, len(tc.synced)+len(tc.unsync), countBits(d.state(t)), "recovered blocks are persisted at Open")
		})
	}
}

func countBits(s *State) int {
	n := 0
	for i := range s.NumBlocks {
		if s.Has(i) {
			n++
		}
	}
	return n
}

// TestRecoverAfterSIGKILL kills a real process that wrote blocks, some of
// them synced, and resumes its download.
func TestRecoverAfterSIGKILL(t *testing.T) {
	if out := os.Getenv("QXPART_CHILD_OUT"); out != "" {
		childWrite(t, out)
		return
	}
	d := newDownload(t, randomData(7*bs+3, 4))
	cmd := testCommand(t, "^TestRecoverAfterSIGKILL$", "QXPART_CHILD_OUT="+d.out)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	buf := make([]byte, 6)
	_, err = io.ReadFull(stdout, buf)
	require.NoError(t, err)
	require.Equal(t, "ready\n", string(buf))
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	require.Error(t, cmd.Wait())

	f, rep, _ := d.open(t)
	require.Equal(t, 2, rep.Trusted)
	require.Equal(t, 3, rep.Recovered)
	d.requireHas(t, f, 0, 1, 3, 4, 7)
}

// childWrite runs in the process TestRecoverAfterSIGKILL kills.
func childWrite(t *testing.T, out string) {
	d := newDownload(t, randomData(7*bs+3, 4))
	d.out = out
	f, _, err := Open(out, d.m, Options{})
	require.NoError(t, err)
	d.write(t, f, 0, 1)
	require.NoError(t, f.Sync())
	d.write(t, f, 3, 4, 7)
	os.Stdout.WriteString("ready\n")
	time.Sleep(time.Minute) // until SIGKILL
	t.Error("not killed")
}

func TestStateTruncated(t *testing.T) {
	d := newDownload(t, randomData(9*bs+1, 5))
	written := []int{0, 3, 8, 9}
	f, _, _ := d.open(t)
	d.write(t, f, written...)
	require.NoError(t, f.Close())
	good, err := os.ReadFile(StatePath(d.out))
	require.NoError(t, err)

	for n := range len(good) {
		require.NoError(t, os.WriteFile(StatePath(d.out), good[:n], 0o644))
		f, rep, l := d.open(t)
		require.True(t, rep.StateDamaged, "cut at %d", n)
		require.Empty(t, rep.Discarded)
		require.Zero(t, rep.Trusted)
		require.Equal(t, len(written), rep.Recovered, "cut at %d", n)
		require.Contains(t, l.String(), "damaged")
		d.requireHas(t, f, written...)
		require.NoError(t, f.Close())
		require.Equal(t, good, mustRead(t, StatePath(d.out)), "state rewritten at Open")
	}
}

func TestStateByteFlipped(t *testing.T) {
	d := newDownload(t, randomData(9*bs+1, 6))
	written := []int{1, 2, 9}
	f, _, _ := d.open(t)
	d.write(t, f, written...)
	require.NoError(t, f.Close())
	good := mustRead(t, StatePath(d.out))

	for i := range good {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x10
		require.NoError(t, os.WriteFile(StatePath(d.out), bad, 0o644))
		f, rep, _ := d.open(t)
		require.Equal(t, Report{StateDamaged: true, Recovered: len(written), ScannedBytes: rep.ScannedBytes}, rep, "byte %d", i)
		d.requireHas(t, f, written...)
		require.NoError(t, f.Close())
	}
}

func TestStateMissing(t *testing.T) {
	d := newDownload(t, randomData(3*bs, 7))
	f, _, _ := d.open(t)
	d.write(t, f, 0, 2)
	require.NoError(t, f.Close())
	require.NoError(t, os.Remove(StatePath(d.out)))

	f, rep, l := d.open(t)
	require.True(t, rep.StateDamaged)
	require.Equal(t, 2, rep.Recovered)
	require.Contains(t, l.String(), "missing")
	d.requireHas(t, f, 0, 2)
}

func TestStateWithoutPart(t *testing.T) {
	d := newDownload(t, randomData(3*bs, 8))
	f, _, _ := d.open(t)
	d.write(t, f, 0, 1)
	require.NoError(t, f.Close())
	require.NoError(t, os.Remove(PartPath(d.out)))
	require.NoError(t, os.WriteFile(tmpStatePath(d.out), []byte("leftover"), 0o644))

	f, rep, _ := d.open(t)
	require.NotEmpty(t, rep.Discarded)
	require.Zero(t, rep.Trusted+rep.Recovered)
	d.requireHas(t, f)
	require.Zero(t, countBits(d.state(t)))
	require.NoFileExists(t, tmpStatePath(d.out))
}

func TestBlockDataDamaged(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, part *os.File, off int64)
	}{
		{"one byte flipped", func(t *testing.T, part *os.File, off int64) {
			b := make([]byte, 1)
			_, err := part.ReadAt(b, off+1000)
			require.NoError(t, err)
			b[0] ^= 1
			_, err = part.WriteAt(b, off+1000)
			require.NoError(t, err)
		}},
		{"zeroed", func(t *testing.T, part *os.File, off int64) {
			_, err := part.WriteAt(make([]byte, bs), off)
			require.NoError(t, err)
		}},
		{"hole punched", func(t *testing.T, part *os.File, off int64) {
			err := unix.Fallocate(int(part.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, bs)
			if err != nil {
				t.Skip("no hole punching:", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDownload(t, randomData(4*bs+100, 9))
			f, _, _ := d.open(t)
			d.write(t, f, 0, 1, 2, 4)
			require.NoError(t, f.Close())

			part, err := os.OpenFile(PartPath(d.out), os.O_RDWR, 0)
			require.NoError(t, err)
			tc.edit(t, part, d.m.BlockOffset(1))
			require.NoError(t, part.Close())

			f, rep, l := d.open(t)
			require.Equal(t, 3, rep.Trusted)
			require.Equal(t, 1, rep.Damaged)
			require.Zero(t, rep.Recovered)
			require.Contains(t, l.String(), "failed their check (1)")
			d.requireHas(t, f, 0, 2, 4)
			require.False(t, d.state(t).Has(1), "bit cleared on disk")
			require.NoError(t, f.Close())

			// The bad data stays bad: not recovered on the next Open either.
			f, rep, _ = d.open(t)
			require.Equal(t, Report{Trusted: 3, ScannedBytes: rep.ScannedBytes}, rep)
			d.requireHas(t, f, 0, 2, 4)
			// And fetching it again repairs it.
			d.write(t, f, 1)
			require.NoError(t, f.Close())
			_, rep, _ = d.open(t)
			require.Equal(t, 4, rep.Trusted)
		})
	}
}

func TestPartFileResized(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int64
		trusted []int
	}{
		{"empty", 0, nil},
		{"inside block 2", 2*bs + 10, []int{0, 1}},
		{"at the start of block 3", 3 * bs, []int{0, 1, 2}},
		{"one byte short", 4*bs + 99, []int{0, 1, 2, 3}},
		{"longer", 4*bs + 100 + 5000, []int{0, 1, 2, 3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDownload(t, randomData(4*bs+100, 10))
			f, _, _ := d.open(t)
			d.write(t, f, 0, 1, 2, 3, 4)
			require.NoError(t, f.Close())
			require.NoError(t, os.Truncate(PartPath(d.out), tc.size))

			f, rep, _ := d.open(t)
			require.Equal(t, len(tc.trusted), rep.Trusted)
			require.Equal(t, 5-len(tc.trusted), rep.Damaged)
			require.Zero(t, rep.Recovered)
			d.requireHas(t, f, tc.trusted...)
			fi, err := os.Stat(PartPath(d.out))
			require.NoError(t, err)
			require.Equal(t, d.m.Size, fi.Size())
		})
	}
}

func TestDifferentFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func(old []byte) []byte
	}{
		{"same size, last block differs", func(old []byte) []byte {
			b := append([]byte(nil), old...)
			b[len(b)-1] ^= 1
			return b
		}},
		{"longer, same first blocks", func(old []byte) []byte { return append(append([]byte(nil), old...), randomData(bs, 11)...) }},
		{"shorter", func(old []byte) []byte { return old[:bs+1] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldData := randomData(3*bs+7, 12)
			d := newDownload(t, oldData)
			f, _, _ := d.open(t)
			d.write(t, f, 0, 1, 2, 3)
			require.NoError(t, f.Close())

			d2 := newDownload(t, tc.new(oldData))
			d2.out = d.out
			require.True(t, d2.m.CheckXXH(0, d.block(0)), "block 0 is the same in both files")

			var l logs
			f, rep, err := Open(d2.out, d2.m, Options{Logf: l.logf, DiscardOther: true})
			require.NoError(t, err)
			t.Cleanup(func() { f.Close() })
			require.Equal(t, Report{Discarded: fmt.Sprintf("it is a different file (content ID %s)", d.m.ID())}, rep)
			require.Contains(t, l.String(), "holds a partial download of a different file (content ID "+d.m.ID().String()+"); discarding it, as asked, and starting over")
			d2.requireHas(t, f)
			part := mustRead(t, PartPath(d.out))
			require.Equal(t, make([]byte, d2.m.Size), part, "no old data left")
			require.Equal(t, d2.m.ID(), d2.state(t).ID)
		})
	}
}

func TestLocked(t *testing.T) {
	d := newDownload(t, randomData(bs, 13))
	f, _, _ := d.open(t)
	_, _, err := Open(d.out, d.m, Options{})
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, f.Close())
	f2, _, err := Open(d.out, d.m, Options{})
	require.NoError(t, err)
	require.NoError(t, f2.Close())
}

func TestFinish(t *testing.T) {
	for _, size := range []int{0, 1, bs - 1, bs, bs + 1, 3*bs + 17} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			d := newDownload(t, randomData(size, uint64(size)))
			f, _, _ := d.open(t)
			order := rand.Perm(d.m.NumBlocks())
			for k, i := range order {
				require.False(t, f.Complete())
				if k == 0 {
					require.ErrorIs(t, f.Finish(), ErrIncomplete)
				}
				d.write(t, f, i)
			}
			require.True(t, f.Complete())
			require.Equal(t, int64(size), f.Bytes())
			require.NoError(t, f.Finish())
			require.NoError(t, f.Finish(), "Finish again does nothing")
			require.ErrorIs(t, f.WriteBlock(0, d.data), ErrFinished)
			require.NoError(t, f.Sync())
			require.NoError(t, f.Close())

			require.Equal(t, d.data, mustRead(t, d.out))
			for _, p := range []string{PartPath(d.out), StatePath(d.out), tmpStatePath(d.out)} {
				require.NoFileExists(t, p)
			}
		})
	}
}

func TestWriteBlockRejects(t *testing.T) {
	d := newDownload(t, randomData(3*bs+5, 14))
	f, _, _ := d.open(t)
	require.ErrorIs(t, f.WriteBlock(1, d.block(0)), manifest.ErrHashMismatch, "wrong index")
	require.ErrorIs(t, f.WriteBlock(3, d.block(3)[1:]), manifest.ErrHashMismatch, "short")
	require.Error(t, f.WriteBlock(4, d.block(3)), "out of range")
	require.Error(t, f.WriteBlock(-1, d.block(0)), "negative")
	d.requireHas(t, f)
	d.write(t, f, 2, 2)
	d.requireHas(t, f, 2)
	require.False(t, f.Has(-1))
	require.False(t, f.Has(4))
	require.NoError(t, f.Close())
	require.ErrorIs(t, f.WriteBlock(0, d.block(0)), ErrClosed)
	require.ErrorIs(t, f.Sync(), ErrClosed)
	require.ErrorIs(t, f.Finish(), ErrClosed)
}

func TestConcurrentWrites(t *testing.T) {
	d := newDownload(t, randomData(64*bs+9, 15))
	f, _, _ := d.open(t)
	n := d.m.NumBlocks()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			// Every block is written by two goroutines, as an endgame would.
			for i := w % 8; i < n; i += 8 {
				require.NoError(t, f.WriteBlock(i, d.block(i)))
				_ = f.Has(i) && f.Count() > 0 && f.Bytes() > 0
				if i%5 == 0 {
					require.NoError(t, f.Sync())
				}
			}
		})
	}
	wg.Wait()
	require.True(t, f.Complete())
	require.NoError(t, f.Close())

	f, rep, _ := d.open(t)
	require.Equal(t, Report{Trusted: n}, rep)
	require.NoError(t, f.Finish())
	require.Equal(t, d.data, mustRead(t, d.out))
}

func TestSyncOnlyWhenChanged(t *testing.T) {
	d := newDownload(t, randomData(2*bs, 16))
	f, _, _ := d.open(t)
	fi1, err := os.Stat(StatePath(d.out))
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	fi2, err := os.Stat(StatePath(d.out))
	require.NoError(t, err)
	require.True(t, os.SameFile(fi1, fi2), "nothing new: state not rewritten")
	d.write(t, f, 1)
	require.False(t, d.state(t).Has(1), "not recorded before Sync")
	require.NoError(t, f.Sync())
	require.True(t, d.state(t).Has(1))
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestDataRegions(t *testing.T) {
	// A fake file of 100 bytes with data in [10,20) and [50,60).
	holes := func(off int64, whence int) (int64, error) {
		data := []span{{10, 20}, {50, 60}}
		for _, s := range data {
			switch {
			case whence == unix.SEEK_DATA && off < s.end:
				return max(off, s.start), nil
			case whence == unix.SEEK_HOLE && off < s.end:
				if off >= s.start {
					return s.end, nil
				}
				return off, nil
			}
		}
		if whence == unix.SEEK_HOLE {
			return 100, nil
		}
		return 0, syscall.ENXIO
	}
	for _, tc := range []struct {
		name string
		seek func(int64, int) (int64, error)
		size int64
		want []span
	}{
		{"holes", holes, 100, []span{{10, 20}, {50, 60}}},
		{"cut at size", holes, 55, []span{{10, 20}, {50, 55}}},
		{"unsupported", func(int64, int) (int64, error) { return 0, &os.PathError{Op: "seek", Err: syscall.EINVAL} }, 100, []span{{0, 100}}},
		{"no data", func(int64, int) (int64, error) { return 0, syscall.ENXIO }, 100, nil},
		{"empty file", holes, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dataRegions(tc.seek, tc.size)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := dataRegions(func(int64, int) (int64, error) { return 0, syscall.EIO }, 100)
	require.ErrorIs(t, err, syscall.EIO)
}

func TestOpenRefusesBadManifest(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		name string
		m    *manifest.Manifest
	}{
		{"nil", nil},
		{"negative size", &manifest.Manifest{Size: -1, BlockSize: bs}},
		{"odd block size", &manifest.Manifest{Size: 10, BlockSize: bs + 1, Blocks: make([]manifest.Block, 1)}},
		{"too few blocks", &manifest.Manifest{Size: bs + 1, BlockSize: bs, Blocks: make([]manifest.Block, 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Open(out, tc.m, Options{})
			require.Error(t, err)
			require.NoFileExists(t, PartPath(out))
		})
	}
}
