package partial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// Outcomes of checking one block at Open.
const (
	unchecked uint8 = iota
	trusted         // bit set, xxh64 and SHA-256 good
	claimed         // bit set, xxh64 good, SHA-256 left to Prove
	damaged         // bit set, xxh64 or SHA-256 bad
	recovered       // no bit, xxh64 and SHA-256 good
)

// check reads back the blocks a previous run left: every block whose bit is
// set in old is re-checked with xxh64 and then SHA-256 (with deferProof, with
// xxh64 only: the block is claimed, for Prove); if scan is set, every other
// block that holds data (holes are skipped) is checked with xxh64 and then
// SHA-256. Trusted blocks become present and durable, claimed ones claimed
// and durable; recovered blocks become present and pending, so that the Sync
// that ends Open flushes them before it records them.
func (f *File) check(old *State, scan bool, workers int, deferProof bool, rep *Report) error {
	n := f.m.NumBlocks()
	var regions []span
	if scan {
		var err error
		if regions, err = dataRegions(f.f.Seek, f.m.Size); err != nil {
			return err
		}
	}
	var jobs []int
	ri := 0
	for i := range n {
		if old != nil && old.Has(i) {
			jobs = append(jobs, i)
			continue
		}
		if !scan {
			continue
		}
		off := f.m.BlockOffset(i)
		end := off + f.m.BlockLen(i)
		for ri < len(regions) && regions[ri].end <= off {
			ri++
		}
		if ri < len(regions) && regions[ri].start < end {
			jobs = append(jobs, i)
		}
	}
	if len(jobs) == 0 {
		return nil
	}

	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(jobs))
	outcome := make([]uint8, n)
	var next atomic.Int64
	var scanned atomic.Int64
	g, ctx := errgroup.WithContext(context.Background())
	for range workers {
		g.Go(func() error {
			buf := make([]byte, f.m.BlockSize)
			for ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= len(jobs) {
					return nil
				}
				i := jobs[k]
				data := buf[:f.m.BlockLen(i)]
				nr, err := f.f.ReadAt(data, f.m.BlockOffset(i))
				if err != nil && err != io.EOF {
					return fmt.Errorf("reading block %d: %w", i, err)
				}
				data = data[:nr] // short only if the file shrank under us: fails the check
				if old != nil && old.Has(i) {
					switch {
					case !f.checkXXH(i, data, old):
						outcome[i] = damaged
					case deferProof:
						outcome[i] = claimed
					case f.m.Verify(i, data) == nil:
						outcome[i] = trusted
					default:
						outcome[i] = damaged
					}
					continue
				}
				scanned.Add(int64(nr))
				if f.m.CheckXXH(i, data) && f.m.Verify(i, data) == nil {
					outcome[i] = recovered
				}
			}
			return ctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	rep.ScannedBytes = scanned.Load()

	var bad []string
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, o := range outcome {
		switch o {
		case trusted:
			rep.Trusted++
			f.markLocked(i)
			f.durable.Set(i)
		case claimed:
			rep.Claimed++
			f.claimLocked(i)
			f.durable.Set(i)
			if f.learn {
				f.xxh[i] = old.XXH[i]
			}
		case recovered:
			rep.Recovered++
			f.markLocked(i)
			f.pending = append(f.pending, i)
		case damaged:
			rep.Damaged++
			if len(bad) < 8 {
				bad = append(bad, fmt.Sprint(i))
			} else if len(bad) == 8 {
				bad = append(bad, "…")
			}
		}
	}
	if rep.Damaged > 0 {
		f.logf("%s: %d block(s) recorded as done failed their check (%s); fetching them again",
			PartPath(f.out), rep.Damaged, strings.Join(bad, ", "))
	}
	return nil
}

// span is a byte range [start, end) of a file.
type span struct{ start, end int64 }

// dataRegions returns the ranges of the first size bytes of a file that hold
// data, in order, found with SEEK_DATA and SEEK_HOLE through seek (the file's
// Seek method). Where the file system cannot tell, the whole file is one data
// region.
func dataRegions(seek func(offset int64, whence int) (int64, error), size int64) ([]span, error) {
	var out []span
	for off := int64(0); off < size; {
		d, err := seek(off, unix.SEEK_DATA)
		if errors.Is(err, syscall.ENXIO) { // no data at or after off
			break
		}
		if err != nil {
			if isUnsupported(err) {
				return []span{{0, size}}, nil
			}
			return nil, fmt.Errorf("looking for data: %w", err)
		}
		if d >= size {
			break
		}
		h, err := seek(d, unix.SEEK_HOLE)
		if err != nil {
			if isUnsupported(err) {
				return []span{{0, size}}, nil
			}
			return nil, fmt.Errorf("looking for holes: %w", err)
		}
		if h <= d || h > size {
			h = size
		}
		out = append(out, span{d, h})
		off = h
	}
	return out, nil
}

// isUnsupported reports whether err says the file system cannot answer a
// SEEK_DATA or SEEK_HOLE query.
func isUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS)
}
