package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// TCPLink is the fallback link for TCP where a Fabric cannot be built (not
// root): a relay on 127.0.0.1 in front of one upstream TCP address, with
// LinkConfig's rates as token buckets shared by every connection through the
// link (one per direction) and RTT/2 ± Jitter of one-way delay on the byte
// stream (chunks are timestamped when read and written when due, FIFO).
// Opening a connection costs one RTT before its first byte moves upstream,
// as a TCP handshake would.
//
// What it cannot do, and why a Fabric is preferred: TCP ends at the relay
// on loopback on both sides, so the downloader's congestion control sees
// neither the RTT nor a bottleneck queue (no slow start over the path, no
// queueing delay), and LinkConfig.Loss is ignored — loss cannot be applied
// to a byte stream without breaking it. Scenario 5's loss then only applies
// to QUIC, which flatters the baseline.
//
// LinkConfig.DownBudget applies to the bytes relayed from upstream to the
// client, over all connections: the connection that reaches it gets the
// bytes up to the budget, and from then on every connection through the
// link gets nothing more (the relay stops reading upstream, so the server
// blocks once its socket buffers are full, as it would with no ACKs). The
// connections stay open, silent, until the client closes its side or the
// link closes; new ones are still accepted, as the relay terminates TCP
// itself, and then hang.
type TCPLink struct {
	cfg      LinkConfig
	upstream string
	ln       net.Listener
	down, up *rate.Limiter   // nil: unlimited
	ctx      context.Context // done at Close: ends rate waits
	cancel   context.CancelFunc

	mu       sync.Mutex
	rng      *rand.Rand
	conns    map[net.Conn]struct{}
	closed   bool
	admitted int64 // bytes relayed downstream, for DownBudget

	wg        sync.WaitGroup
	stopCtx   func() bool
	closeOnce sync.Once
}

// tcpChunk is the most a TCPLink reads at once; the token buckets' burst is
// twice that.
const tcpChunk = 32 << 10

// NewTCPLink starts a TCPLink on 127.0.0.1 with a free port in front of
// upstream (host:port). It runs until Close, or until ctx is done (Close
// must still be called to wait for its goroutines).
func NewTCPLink(ctx context.Context, upstream string, cfg LinkConfig) (*TCPLink, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tcplink: %w", err)
	}
	l := &TCPLink{
		cfg:      cfg,
		upstream: upstream,
		ln:       ln,
		rng:      rand.New(rand.NewPCG(cfg.Seed, 5)),
		conns:    make(map[net.Conn]struct{}),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	if cfg.Rate > 0 {
		l.down = rate.NewLimiter(rate.Limit(cfg.Rate), 2*tcpChunk)
	}
	if cfg.UpRate > 0 {
		l.up = rate.NewLimiter(rate.Limit(cfg.UpRate), 2*tcpChunk)
	}
	l.wg.Go(l.accept)
	l.stopCtx = context.AfterFunc(ctx, l.shutdown)
	return l, nil
}

// Addr returns the address clients connect to.
func (l *TCPLink) Addr() *net.TCPAddr { return l.ln.Addr().(*net.TCPAddr) }

// Close stops the link, closes every connection through it and waits.
func (l *TCPLink) Close() error {
	l.closeOnce.Do(func() {
		l.stopCtx()
		l.shutdown()
		l.wg.Wait()
	})
	return nil
}

func (l *TCPLink) shutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	l.cancel()
	l.ln.Close()
	for c := range l.conns {
		c.Close()
	}
}

// track adds c to the connections Close closes, or closes it and returns
// false after Close.
func (l *TCPLink) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *TCPLink) untrack(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
	c.Close()
}

func (l *TCPLink) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		if !l.track(c) {
			return
		}
		l.wg.Go(func() { l.handle(c) })
	}
}

// handle relays one client connection.
func (l *TCPLink) handle(c net.Conn) {
	defer l.untrack(c)
	accepted := time.Now()
	u, err := net.Dial("tcp", l.upstream)
	if err != nil {
		return
	}
	if !l.track(u) {
		return
	}
	defer l.untrack(u)
	var wg sync.WaitGroup
	clientDone := make(chan struct{})
	wg.Go(func() {
		defer close(clientDone)
		l.relay(u, c, l.up, accepted.Add(l.cfg.RTT), false, nil)
	})
	wg.Go(func() { l.relay(c, u, l.down, accepted, l.cfg.DownBudget > 0, clientDone) })
	wg.Wait()
}

// admitDown returns how many of n more downstream bytes DownBudget lets
// through: n until the budget is reached, then less, then 0.
func (l *TCPLink) admitDown(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	ok := int(min(int64(n), max(l.cfg.DownBudget-l.admitted, 0)))
	l.admitted += int64(ok)
	return ok
}

// delay returns one chunk's one-way delay.
func (l *TCPLink) delay() time.Duration {
	d := l.cfg.RTT / 2
	if l.cfg.Jitter > 0 {
		l.mu.Lock()
		d += time.Duration((l.rng.Float64()*2 - 1) * float64(l.cfg.Jitter))
		l.mu.Unlock()
	}
	return max(d, 0)
}

type timedChunk struct {
	b  []byte
	at time.Time
}

// relay copies src to dst through lim and the delay line; a chunk read
// before notBefore is sent as if read then. At src's end it half-closes dst; on a write error it closes
// both, which ends the other direction too. With budget (the downstream
// direction under a DownBudget), once admitDown refuses bytes it stops
// reading src and waits, dst silent, until stop is closed or the link is.
func (l *TCPLink) relay(dst, src net.Conn, lim *rate.Limiter, notBefore time.Time, budget bool, stop <-chan struct{}) {
	ch := make(chan timedChunk, 1024)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer func() {
			for range ch { // drain after an error, so the reader never blocks
			}
		}()
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for c := range ch {
			if wait := time.Until(c.at); wait > 0 {
				timer.Reset(wait)
				<-timer.C
			}
			if _, err := dst.Write(c.b); err != nil {
				dst.Close()
				src.Close()
				return
			}
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	})
	var last time.Time
	for {
		buf := make([]byte, tcpChunk)
		n, err := src.Read(buf)
		stalled := false
		if budget && n > 0 {
			ok := l.admitDown(n)
			stalled = ok < n
			n = ok
		}
		if n > 0 {
			if lim != nil {
				if lim.WaitN(l.ctx, n) != nil {
					break // closed
				}
			}
			at := time.Now()
			if at.Before(notBefore) {
				at = notBefore
			}
			at = at.Add(l.delay())
			if at.Before(last) {
				at = last
			}
			last = at
			ch <- timedChunk{b: buf[:n], at: at}
		}
		if stalled {
			select {
			case <-stop:
			case <-l.ctx.Done():
			}
			break
		}
		if err != nil {
			break
		}
	}
	close(ch)
	wg.Wait()
}
