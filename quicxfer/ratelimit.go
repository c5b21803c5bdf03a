package quicxfer

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// The download's speed limit (Options.RateLimit). Every source's bytes are
// paid for as they are read from its stream or body, from one limiter that
// all of a download's sources share: a reader that has read more than the
// limit allows waits before it reads on, the transport's flow control
// then holds the sender back, and the rate the scheduler measures is the
// limited one.
//
// A source whose reader waits for the limiter is not slow or stalled: the
// user asked for it. The loop tells the scheduler so (Scheduler.Held), and
// the stall and minimum-rate rules leave it alone while it waits.

// readChunk is the most bytes a source's reader reads at once, so that
// with a limit the bytes of a block are paid for, and seen to arrive, in
// steady steps rather than in one wait per block.
const readChunk = 64 << 10

// byteLimiter is a download's shared limiter; nil is no limit.
type byteLimiter struct {
	lim *rate.Limiter
}

// newByteLimiter returns the limiter of bps bytes per second, nil if bps
// is not positive. Its burst is about an eighth of a second of bytes, at
// least 1 KiB and at most readChunk, as the seed's --rate-limit has: a
// slow limit pays in small steps.
func newByteLimiter(bps float64) *byteLimiter {
	if bps <= 0 {
		return nil
	}
	burst := int(min(float64(readChunk), max(1024, bps/8)))
	return &byteLimiter{lim: rate.NewLimiter(rate.Limit(bps), burst)}
}

// pay pays for n bytes that s has read, a burst at a time, and counts each
// paid piece into got (s's received bytes) once it is paid for. While it
// waits, s is held (source.held): the loop tells the scheduler. It returns
// early, with the rest unpaid and uncounted, when ctx ends: the request is
// being cancelled anyway.
func (b *byteLimiter) pay(ctx context.Context, s *source, n int, got func(int)) {
	for n > 0 {
		k := min(n, b.lim.Burst())
		r := b.lim.ReserveN(time.Now(), k)
		if d := r.Delay(); d > 0 {
			s.holding.Add(1)
			s.held.Store(true)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				r.Cancel()
				s.holding.Add(-1)
				return
			}
			s.holding.Add(-1)
		}
		got(k)
		n -= k
	}
}

// wasHeld reports whether s waited for the limiter since the last call, or
// waits now.
func (s *source) wasHeld() bool {
	return s.held.Swap(false) || s.holding.Load() > 0
}
