package quicxfer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/sync/errgroup"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
)

// This file is how a download known only by the hash of its whole file
// (a checksum) checks that hash without a pass at the end, and what it does
// when the hash does not match: find the mirror that sent bad blocks, by
// fetching blocks again from the others and comparing, and fetch only that
// mirror's blocks again, rather than the whole file.

// prefixHasher hashes the contiguous prefix of the download's blocks as it
// grows, in a goroutine of its own, reading back from the part file what
// was written (from the page cache, mostly).
type prefixHasher struct {
	p     *verify.Prefix
	part  *partial.File
	m     *manifest.Manifest
	stopc chan struct{}
	done  chan struct{}
	err   error
	once  sync.Once
}

// prefixEvery is how often the prefix hasher looks for new blocks.
const prefixEvery = 100 * time.Millisecond

// startPrefix starts hashing p's prefix of part; stop ends it.
func startPrefix(p *verify.Prefix, part *partial.File, m *manifest.Manifest) *prefixHasher {
	x := &prefixHasher{p: p, part: part, m: m, stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(x.done)
		t := time.NewTicker(prefixEvery)
		defer t.Stop()
		for {
			select {
			case <-x.stopc:
				return
			case <-t.C:
			}
			if err := x.advance(); err != nil {
				x.err = err
				return
			}
		}
	}()
	return x
}

// advance hashes the blocks present after the prefix, up to the first
// missing one.
func (x *prefixHasher) advance() error {
	bs := x.m.BlockSize
	if bs == 0 {
		return nil
	}
	i := int(x.p.Pos() / bs)
	for i < x.m.NumBlocks() && x.part.Has(i) {
		i++
	}
	if upTo := min(int64(i)*bs, x.m.Size); upTo > x.p.Pos() {
		return x.p.Advance(x.part, upTo)
	}
	return nil
}

// stop ends the hasher and returns the error of a read, if one stopped it.
// It may be called again.
func (x *prefixHasher) stop() error {
	x.once.Do(func() { close(x.stopc) })
	<-x.done
	return x.err
}

// checkWhole finishes the prefix (the file is complete) and checks it.
func (x *prefixHasher) checkWhole() error {
	if err := x.stop(); err != nil {
		return err
	}
	if err := x.p.Advance(x.part, x.m.Size); err != nil {
		return err
	}
	return x.p.Check()
}

// ErrWholeMismatch is the error of a download whose whole file does not
// have the published hash, and whose bad blocks could not be found.
var ErrWholeMismatch = errors.New("the file does not match its checksum")

// finishLearnt checks the whole file's hash as its prefix was hashed, and
// repairs it when it does not match: it finds a mirror whose blocks differ
// from the other mirrors', leaves it out, makes its blocks missing and runs
// the loop again to fetch them from the others; at most once per mirror.
func (l *loop) finishLearnt(ctx context.Context, x **prefixHasher, pre *verify.Prefix, res *Result) error {
	for round := 0; ; round++ {
		err := (*x).checkWhole()
		if err == nil || !errors.Is(err, verify.ErrMismatch) {
			return err
		}
		if round >= len(l.srcs) {
			return fmt.Errorf("%w (%s), and fetching the blocks again from other mirrors did not find why", ErrWholeMismatch, l.plan.Whole().Algo)
		}
		l.opts.Logf("the whole file does not match its %s checksum: comparing its blocks with other mirrors' to find the bad ones", l.plan.Whole().Algo)
		liar, bad, settled, err := l.findBad(ctx)
		if err != nil {
			return err
		}
		if liar != nil {
			// A mirror suspected before, without a third to settle it,
			// was wrongly so if another is caught now: it is used again.
			for _, s := range l.srcs {
				if s.suspect && s != liar {
					s.suspect, s.leftOut, s.note = false, false, ""
					delete(l.joins, s)
					l.opts.Logf("%s %s is used again: %s sent the bad blocks", s.kind, s.raw, liar.raw)
				}
			}
			liar.suspect = !settled
		}
		if len(bad) == 0 {
			return fmt.Errorf("%w (%s), and no mirror's blocks differ from the others' (every mirror may serve the same wrong file)", ErrWholeMismatch, l.plan.Whole().Algo)
		}
		if err := l.part.Forget(bad); err != nil {
			return fmt.Errorf("writing to disk: %w", err)
		}
		var n int64
		for _, i := range bad {
			l.from[i] = nil
			n += l.m.BlockLen(i)
		}
		res.RepairedBytes += n
		if liar != nil {
			liar.leftOut = true
			liar.accepted.Add(-n) // none of its blocks is kept
			liar.blocks.Add(-int64(len(bad)))
		}
		pre.Reset(l.m.BlockOffset(slices.Min(bad)))
		*x = startPrefix(pre, l.part, l.m)
		if err := l.rerun(ctx); err != nil {
			return err
		}
	}
}

// findBad finds the blocks to fetch again: the blocks of the mirror that
// sent a block that differs from two others' copies (or from the only other
// mirror's), or, of the blocks an earlier run wrote (whose source is not
// known), those that differ. Every group is first sampled (a few blocks),
// then compared whole, smallest first, until one differs.
//
// settled is false when the liar was only guessed: no third mirror could
// say which of two copies is right. It is then suspect: left out, and used
// again if the next round catches another.
func (l *loop) findBad(ctx context.Context) (liar *source, bad []int, settled bool, _ error) {
	groups := map[*source][]int{}
	for i, s := range l.from {
		groups[s] = append(groups[s], i)
	}
	var order []*source
	for s := range groups {
		order = append(order, s)
	}
	slices.SortFunc(order, func(a, b *source) int { return len(groups[a]) - len(groups[b]) })
	for _, full := range []bool{false, true} {
		for _, s := range order {
			blocks := groups[s]
			if !full && len(blocks) > 8 {
				blocks = slices.Clone(blocks)
				rand.Shuffle(len(blocks), func(i, j int) { blocks[i], blocks[j] = blocks[j], blocks[i] })
				blocks = blocks[:8]
				slices.Sort(blocks)
			}
			liar, bad, settled, err := l.compareBlocks(ctx, s, blocks)
			if err != nil {
				return nil, nil, false, err
			}
			switch {
			case liar != nil:
				all := groups[liar]
				l.caught(liar, bad[0], len(all), settled)
				return liar, all, settled, nil
			case len(bad) > 0:
				l.opts.Logf("%d blocks an earlier run wrote differ from the mirrors': fetching them again", len(bad))
				return nil, bad, true, nil
			}
		}
	}
	return nil, nil, false, nil
}

// caught tells that liar sent block i, which other mirrors' copies show
// bad, and that its n blocks are fetched again from the others.
func (l *loop) caught(liar *source, i, n int, settled bool) {
	liar.badBlocks.Add(1)
	reason := fmt.Sprintf("its copy of block %d differs from the other mirrors', and the whole file did not match its checksum", i)
	if !settled {
		reason = fmt.Sprintf("its copy of block %d differs from the only other mirror's, and the whole file did not match its checksum (suspected: no third mirror to settle it)", i)
	}
	l.opts.Logf("%s %s sent a bad copy of block %d (%s); its %d blocks are fetched again from the others", liar.kind, liar.raw, i, reason, n)
	l.opts.emit(Event{Kind: EventBlockRejected, Source: liar.raw, Block: i, Reason: reason})
	liar.note = "dropped: " + reason
	l.joins.drop(&l.opts, liar, reason)
}

// compareBlocks fetches blocks (written from s; nil: by an earlier run)
// again from other mirrors and compares them with what is on disk. For a
// known s it stops at the first that differs and returns the mirror that
// lied: s, unless a third mirror agrees with s (then the other lied). For
// s nil it returns every block that differs.
func (l *loop) compareBlocks(ctx context.Context, s *source, blocks []int) (*source, []int, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		liar    *source
		bad     []int
		settled bool
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, i := range blocks {
		g.Go(func() error {
			ours, ok := l.part.XXH(i)
			if !ok {
				return nil
			}
			t, theirs, err := l.refetch(gctx, i, s)
			if err != nil || theirs == ours {
				return err
			}
			who, sure := s, false
			if s != nil {
				_, third, err := l.refetch(gctx, i, s, t)
				switch {
				case err == nil && third == ours:
					who, sure = t, true // s's copy is the one two mirrors give
				case err == nil:
					sure = true // t and the third agree, or all three differ: s's copy is bad
				case !errors.Is(err, errNoOther):
					return err
				}
			}
			mu.Lock()
			defer mu.Unlock()
			bad = append(bad, i)
			if who != nil && liar == nil {
				liar, settled = who, sure
				cancel()
			}
			return nil
		})
	}
	err := g.Wait()
	mu.Lock()
	defer mu.Unlock()
	switch {
	case liar != nil:
		return liar, bad, settled, nil
	case errors.Is(err, errNoOther):
		// Nothing to compare with: this group cannot be checked.
	case err != nil:
		return nil, nil, false, err
	}
	slices.Sort(bad)
	return nil, bad, true, nil
}

// refetchTimeout bounds each request of a repair: a mirror that stalls
// there is passed over for the next one.
const refetchTimeout = time.Minute

// errNoOther: no mirror but those excluded can serve the block.
var errNoOther = errors.New("no other mirror to compare with")

// refetch fetches block i from the first live source not in exclude that
// serves it, and returns that source and the block's xxh64.
func (l *loop) refetch(ctx context.Context, i int, exclude ...*source) (*source, uint64, error) {
	buf := make([]byte, l.m.BlockLen(i))
	// The mirrors in use first; a suspect only when no other can say.
	for _, suspects := range []bool{false, true} {
		for _, t := range l.srcs {
			usable := !t.leftOut && l.joins[t] != joinDropped
			if suspects {
				usable = t.suspect
			}
			if !usable || slices.Contains(exclude, t) {
				continue
			}
			fctx, cancel := context.WithTimeout(ctx, refetchTimeout)
			_, err := t.f.fetch(fctx, l.id, i, l.m.BlockOffset(i), buf, progress{got: func(n int) { t.received.Add(int64(n)) }})
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return nil, 0, ctx.Err()
				}
				continue // another mirror may say
			}
			return t, xxhash.Sum64(buf), nil
		}
	}
	return nil, 0, errNoOther
}
