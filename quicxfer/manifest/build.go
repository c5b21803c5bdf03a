package manifest

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
)

// Build hashes size bytes of r into a manifest, with workers goroutines
// hashing different blocks at once (0 means GOMAXPROCS). Memory use is
// workers × the block size.
func Build(ctx context.Context, r io.ReaderAt, size int64, workers int) (*Manifest, error) {
	if size < 0 {
		return nil, fmt.Errorf("negative size %d", size)
	}
	if size > MaxSize {
		return nil, fmt.Errorf("%d bytes: %w", size, ErrTooLarge)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	bs := BlockSizeFor(size)
	m := &Manifest{Size: size, BlockSize: bs, Blocks: make([]Block, NumBlocksFor(size, bs))}
	workers = min(workers, max(len(m.Blocks), 1))

	bufs := sync.Pool{New: func() any { b := make([]byte, bs); return &b }}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range m.Blocks {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			bp := bufs.Get().(*[]byte)
			defer bufs.Put(bp)
			buf := (*bp)[:m.BlockLen(i)]
			if _, err := r.ReadAt(buf, m.BlockOffset(i)); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("reading block %d: %w", i, err)
			}
			m.Blocks[i] = HashBlock(buf)
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// BuildFile hashes the regular file at path (a symbolic link is followed).
// Anything else is refused with an error wrapping atomicfile.ErrNotRegular,
// before it is opened where it can be told: a FIFO never blocks it, a
// device is never read. The file must not change while it is hashed;
// callers that care compare its size and modification time before and
// after.
func BuildFile(ctx context.Context, path string, workers int) (*Manifest, error) {
	f, err := atomicfile.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return Build(ctx, f, fi.Size(), workers)
}
