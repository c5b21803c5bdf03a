package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// LinkConfig describes one emulated link. Rates count UDP payload bytes.
type LinkConfig struct {
	Rate   float64       // bytes/s from upstream to client (seed → downloader); 0 = unlimited
	UpRate float64       // bytes/s from client to upstream; 0 = unlimited
	RTT    time.Duration // round-trip propagation delay, RTT/2 each way
	Jitter time.Duration // each packet's one-way delay varies uniformly by ±Jitter (FIFO kept)
	Loss   float64       // probability, 0..1, that a packet is dropped, each direction
	Seed   uint64        // seeds the loss and jitter draws

	// QueueBytes bounds what waits for serialisation in a rate-limited
	// direction (drop-tail). 0 means one bandwidth-delay product plus
	// DefaultQueueSlack, like a sensibly sized router buffer.
	QueueBytes int

	// DownBudget, if positive, makes the link a seed that stalls: once this
	// many bytes have been admitted from upstream to the client, every later
	// datagram in that direction is black-holed (counted in
	// DirStats.Blackholed). Sized to let the handshake and the manifest
	// through, it leaves a seed that answers and then never sends again.
	DownBudget int64
}

// DefaultQueueSlack is added to the bandwidth-delay product for the default
// queue size.
const DefaultQueueSlack = 64 << 10

// maxPipePackets bounds the packets held in one direction, delay line
// included, so an unlimited link with a long RTT cannot grow without bound.
const maxPipePackets = 1 << 16

// maxDatagram is the largest datagram a Link relays.
const maxDatagram = 64 << 10

func (c LinkConfig) validate() error {
	switch {
	case c.Rate < 0 || c.UpRate < 0:
		return errors.New("link: negative rate")
	case c.RTT < 0 || c.Jitter < 0:
		return errors.New("link: negative RTT or jitter")
	case c.Loss < 0 || c.Loss > 1:
		return fmt.Errorf("link: loss %v not in 0..1", c.Loss)
	case c.QueueBytes < 0:
		return errors.New("link: negative queue size")
	case c.DownBudget < 0:
		return errors.New("link: negative down budget")
	}
	return nil
}

// queueBytes returns the drop-tail limit for a direction limited to rate.
func (c LinkConfig) queueBytes(rate float64) int {
	if c.QueueBytes > 0 {
		return c.QueueBytes
	}
	return int(rate*c.RTT.Seconds()) + DefaultQueueSlack
}

// DirStats counts one direction of a Link.
type DirStats struct {
	Packets      int64 // datagrams delivered
	Bytes        int64 // payload bytes delivered
	Lost         int64 // datagrams dropped by random loss
	QueueDropped int64 // datagrams dropped because the queue was full
	SendErrors   int64 // datagrams the socket refused
	Blackholed   int64 // datagrams dropped after LinkConfig.DownBudget was spent
}

// Dropped returns every datagram that was not delivered.
func (s DirStats) Dropped() int64 { return s.Lost + s.QueueDropped + s.SendErrors + s.Blackholed }

// LinkStats counts both directions of a Link.
type LinkStats struct {
	Down DirStats // upstream → client
	Up   DirStats // client → upstream
}

// flow is one client's upstream socket.
type flow struct {
	conn *net.UDPConn
	send func([]byte) error // writes to conn
}

// Link relays UDP datagrams between clients and one upstream address through
// two emulated pipes. See the package documentation for the model.
type Link struct {
	cfg      LinkConfig
	upstream *net.UDPAddr
	ln       *net.UDPConn
	down, up *pipe

	mu    sync.Mutex
	flows map[netip.AddrPort]*flow // by client address
	err   error                    // first socket error, reported by Close

	wg        sync.WaitGroup
	done      chan struct{}
	stopCtx   func() bool
	closeOnce sync.Once
}

// NewLink starts a link on 127.0.0.1 with a free port in front of upstream.
// It runs until Close, or until ctx is done (Close must still be called to
// wait for its goroutines).
func NewLink(ctx context.Context, upstream *net.UDPAddr, cfg LinkConfig) (*Link, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ln, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	setBuffers(ln)
	l := &Link{
		cfg:      cfg,
		upstream: upstream,
		ln:       ln,
		flows:    make(map[netip.AddrPort]*flow),
		done:     make(chan struct{}),
	}
	l.down = newPipe(cfg, cfg.Rate, cfg.Seed, 1, l.done)
	l.down.budget = cfg.DownBudget
	l.up = newPipe(cfg, cfg.UpRate, cfg.Seed, 2, l.done)
	l.wg.Add(3)
	go func() { defer l.wg.Done(); l.down.run() }()
	go func() { defer l.wg.Done(); l.up.run() }()
	go func() { defer l.wg.Done(); l.readClients() }()
	l.stopCtx = context.AfterFunc(ctx, l.shutdown)
	return l, nil
}

// setBuffers asks for socket buffers as large as quic-go's, so the emulator's
// own sockets are not the bottleneck. Failure only means smaller buffers.
func setBuffers(c *net.UDPConn) {
	_ = c.SetReadBuffer(7 << 20)
	_ = c.SetWriteBuffer(7 << 20)
}

// Addr returns the address clients send to.
func (l *Link) Addr() *net.UDPAddr { return l.ln.LocalAddr().(*net.UDPAddr) }

// Stats returns the counters so far.
func (l *Link) Stats() LinkStats { return LinkStats{Down: l.down.stats(), Up: l.up.stats()} }

// Close stops the link, closes its sockets and waits for its goroutines. It
// is idempotent; it returns the first unexpected socket error, if any.
func (l *Link) Close() error {
	l.closeOnce.Do(func() {
		l.stopCtx()
		l.shutdown()
		l.wg.Wait()
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// shutdown closes the sockets, which ends the readers, and tells the pipes
// to stop. It may run twice (from the context and from Close).
func (l *Link) shutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		return
	default:
	}
	close(l.done)
	l.ln.Close()
	for _, f := range l.flows {
		f.conn.Close()
	}
}

func (l *Link) fail(err error) {
	if errors.Is(err, net.ErrClosed) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
}

// readClients reads from clients and queues their datagrams upstream.
func (l *Link) readClients() {
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := l.ln.ReadFromUDPAddrPort(buf)
		if err != nil {
			l.fail(err)
			return
		}
		f, err := l.flow(from)
		if err != nil {
			l.fail(err)
			return
		}
		if f == nil {
			return // closed
		}
		l.up.push(buf[:n], f.send)
	}
}

// flow returns the upstream socket for client, making it (and its reader)
// on first use. It returns nil after shutdown.
func (l *Link) flow(client netip.AddrPort) (*flow, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, ok := l.flows[client]; ok {
		return f, nil
	}
	select {
	case <-l.done:
		return nil, nil
	default:
	}
	c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, l.upstream)
	if err != nil {
		return nil, fmt.Errorf("link: upstream socket: %w", err)
	}
	setBuffers(c)
	f := &flow{conn: c, send: func(b []byte) error { _, err := c.Write(b); return err }}
	l.flows[client] = f
	dst := net.UDPAddrFromAddrPort(client)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.readUpstream(c, dst)
	}()
	return f, nil
}

// readUpstream reads what upstream sends to one client and queues it down.
func (l *Link) readUpstream(c *net.UDPConn, client *net.UDPAddr) {
	buf := make([]byte, maxDatagram)
	send := func(b []byte) error { _, err := l.ln.WriteToUDP(b, client); return err }
	for {
		n, err := c.Read(buf)
		if err != nil {
			// A connected UDP socket reports ICMP port unreachable (the
			// seed went away) as ECONNREFUSED: keep reading.
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue
			}
			l.fail(err)
			return
		}
		l.down.push(buf[:n], send)
	}
}

// packet is one datagram in a pipe.
type packet struct {
	buf       *[]byte // from bufPool
	n         int
	deliverAt time.Time
	send      func([]byte) error
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 2048); return &b }}

// pipe is one direction of a link: loss, a serialising bottleneck with a
// drop-tail queue, then a FIFO delay line.
type pipe struct {
	rate     float64 // bytes/s, 0 = unlimited
	queueMax float64 // bytes
	delay    time.Duration
	jitter   time.Duration
	loss     float64
	budget   int64 // bytes this direction admits in all; 0 = no limit
	done     <-chan struct{}
	wake     chan struct{}

	mu          sync.Mutex
	rng         *rand.Rand
	q           []packet
	head        int
	lastDepart  time.Time // when the last accepted packet leaves the bottleneck
	lastDeliver time.Time
	admitted    int64 // bytes accepted so far, for budget

	packets, bytes, lost, queueDropped, sendErrors, blackholed atomic.Int64
}

func newPipe(cfg LinkConfig, rate float64, seed, dir uint64, done <-chan struct{}) *pipe {
	return &pipe{
		rate:     rate,
		queueMax: float64(cfg.queueBytes(rate)),
		delay:    cfg.RTT / 2,
		jitter:   cfg.Jitter,
		loss:     cfg.Loss,
		done:     done,
		wake:     make(chan struct{}, 1),
		rng:      rand.New(rand.NewPCG(seed, dir)),
	}
}

func (p *pipe) stats() DirStats {
	return DirStats{
		Packets:      p.packets.Load(),
		Bytes:        p.bytes.Load(),
		Lost:         p.lost.Load(),
		QueueDropped: p.queueDropped.Load(),
		SendErrors:   p.sendErrors.Load(),
		Blackholed:   p.blackholed.Load(),
	}
}

// push admits b (copied) to the pipe at the current time, or drops it.
func (p *pipe) push(b []byte, send func([]byte) error) {
	now := time.Now()
	p.mu.Lock()
	if p.budget > 0 && p.admitted+int64(len(b)) > p.budget {
		p.admitted = p.budget // nothing later fits either, however small
		p.mu.Unlock()
		p.blackholed.Add(1)
		return
	}
	if p.loss > 0 && p.rng.Float64() < p.loss {
		p.mu.Unlock()
		p.lost.Add(1)
		return
	}
	depart := now
	if p.rate > 0 {
		if p.lastDepart.After(now) {
			backlog := p.lastDepart.Sub(now).Seconds() * p.rate
			if backlog+float64(len(b)) > p.queueMax {
				p.mu.Unlock()
				p.queueDropped.Add(1)
				return
			}
			depart = p.lastDepart
		}
		depart = depart.Add(time.Duration(float64(len(b)) / p.rate * float64(time.Second)))
		p.lastDepart = depart
	}
	if len(p.q)-p.head >= maxPipePackets {
		p.mu.Unlock()
		p.queueDropped.Add(1)
		return
	}
	d := p.delay
	if p.jitter > 0 {
		d += time.Duration((p.rng.Float64()*2 - 1) * float64(p.jitter))
	}
	deliver := depart.Add(max(d, 0))
	if deliver.Before(p.lastDeliver) {
		deliver = p.lastDeliver
	}
	p.lastDeliver = deliver
	p.admitted += int64(len(b))
	var bp *[]byte
	if len(b) <= 2048 {
		bp = bufPool.Get().(*[]byte)
	} else {
		nb := make([]byte, len(b))
		bp = &nb
	}
	n := copy(*bp, b)
	wasEmpty := len(p.q) == p.head
	p.q = append(p.q, packet{buf: bp, n: n, deliverAt: deliver, send: send})
	p.mu.Unlock()
	if wasEmpty {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// run delivers packets when they are due, until done.
func (p *pipe) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []packet
	for {
		p.mu.Lock()
		now := time.Now()
		due = due[:0]
		for p.head < len(p.q) && !p.q[p.head].deliverAt.After(now) {
			due = append(due, p.q[p.head])
			p.q[p.head] = packet{}
			p.head++
		}
		var wait time.Duration = -1
		if p.head < len(p.q) {
			wait = p.q[p.head].deliverAt.Sub(now)
		}
		if p.head == len(p.q) {
			p.q, p.head = p.q[:0], 0
		} else if p.head > 4096 && p.head > len(p.q)/2 {
			p.q = p.q[:copy(p.q, p.q[p.head:])]
			p.head = 0
		}
		p.mu.Unlock()

		for _, pk := range due {
			// Counted before the send, so that a peer that has the
			// datagram sees it in Stats.
			p.packets.Add(1)
			p.bytes.Add(int64(pk.n))
			if err := pk.send((*pk.buf)[:pk.n]); err != nil {
				p.packets.Add(-1)
				p.bytes.Add(-int64(pk.n))
				p.sendErrors.Add(1)
			}
			if cap(*pk.buf) == 2048 {
				bufPool.Put(pk.buf)
			}
		}
		if len(due) > 0 {
			continue
		}
		if wait < 0 {
			select {
			case <-p.wake:
			case <-p.done:
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-p.done:
			return
		}
	}
}
