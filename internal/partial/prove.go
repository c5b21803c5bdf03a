package partial

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// ProofReport says what Prove found.
type ProofReport struct {
	Proven      int   // claimed blocks whose SHA-256 matched: now present
	Failed      int   // claimed blocks whose SHA-256 did not: cleared, to be fetched again
	FailedBytes int64 // their size
}

// PieceChecker checks that data is block i of the file, returning an error
// if not: a download's verification plan (verify.Plan, whose
// FromManifest checks the manifest's SHA-256) is one.
type PieceChecker interface {
	Piece(i int, data []byte) error
}

// Prove checks every claimed block (Options.DeferProof) with check, with
// workers goroutines (0 = GOMAXPROCS), while the File is used for
// everything else. A block that verifies becomes present
// (Has, Count, Bytes; it was durable already) and is passed to proven (from
// Prove's goroutines, possibly several at once; nil for none). A block that
// fails is no longer claimed and its bit is cleared in the state file,
// durably, before Prove goes on: it is missing, to be fetched again.
//
// Prove returns when no block is left claimed, or ctx's error when ctx is
// done first, or the error of a read or of the state's write (ErrClosed
// after Close). The blocks it did not check stay claimed, their bits kept,
// so that the next Open re-checks them.
func (f *File) Prove(ctx context.Context, workers int, check PieceChecker, proven func(block int)) (ProofReport, error) {
	var jobs []int
	f.mu.Lock()
	for i := range f.m.NumBlocks() {
		if f.claimed.Get(i) {
			jobs = append(jobs, i)
		}
	}
	f.mu.Unlock()
	if len(jobs) == 0 {
		return ProofReport{}, nil
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var (
		next   atomic.Int64
		mu     sync.Mutex // guards rep and bad
		rep    ProofReport
		bad    []int
		g, gtx = errgroup.WithContext(ctx)
	)
	for range min(workers, len(jobs)) {
		g.Go(func() error {
			buf := make([]byte, f.m.BlockSize)
			for {
				if err := gtx.Err(); err != nil {
					return err
				}
				k := int(next.Add(1) - 1)
				if k >= len(jobs) {
					return nil
				}
				i := jobs[k]
				o, err := f.prove(i, buf, check)
				if err != nil {
					return err
				}
				switch o {
				case trusted:
					mu.Lock()
					rep.Proven++
					mu.Unlock()
					if proven != nil {
						proven(i)
					}
				case damaged:
					mu.Lock()
					rep.Failed++
					rep.FailedBytes += f.m.BlockLen(i)
					bad = append(bad, i)
					mu.Unlock()
				}
			}
		})
	}
	err := g.Wait()
	if rep.Failed > 0 {
		slices.Sort(bad)
		f.logf("%s: %d resumed block(s) failed their SHA-256 check (%s); fetching them again", PartPath(f.out), rep.Failed, listBlocks(bad))
	}
	return rep, err
}

// prove checks claimed block i, reading it into buf, and settles its claim:
// trusted (now present), damaged (its bit cleared in the state file) or
// unchecked (no longer claimed: nothing to do).
func (f *File) prove(i int, buf []byte, check PieceChecker) (uint8, error) {
	f.life.RLock()
	defer f.life.RUnlock()
	if f.closed {
		return unchecked, ErrClosed
	}
	if !f.Claimed(i) {
		return unchecked, nil
	}
	data := buf[:f.m.BlockLen(i)]
	n, err := f.f.ReadAt(data, f.m.BlockOffset(i))
	if err != nil && err != io.EOF {
		return unchecked, fmt.Errorf("reading block %d of %s: %w", i, PartPath(f.out), err)
	}
	if check.Piece(i, data[:n]) == nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.claimed.Get(i) {
			return unchecked, nil
		}
		f.unclaimLocked(i)
		f.markLocked(i)
		return trusted, nil
	}
	// Clear the bit and write the state before anything else can write
	// the block (WriteBlock refuses a claimed block): the state on disk
	// never records the bad copy again.
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	f.mu.Lock()
	if !f.claimed.Get(i) {
		f.mu.Unlock()
		return unchecked, nil
	}
	f.durable.Clear(i)
	f.dirty = true
	f.mu.Unlock()
	if err := f.syncLocked(); err != nil {
		return unchecked, err
	}
	// Only now may WriteBlock write it: its new bit can only follow its
	// new, durable data.
	f.mu.Lock()
	f.unclaimLocked(i)
	f.mu.Unlock()
	return damaged, nil
}

// listBlocks names up to 8 blocks, then "…".
func listBlocks(blocks []int) string {
	var s []string
	for k, i := range blocks {
		if k == 8 {
			s = append(s, "…")
			break
		}
		s = append(s, fmt.Sprint(i))
	}
	return strings.Join(s, ", ")
}
