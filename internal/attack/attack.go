package attack

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// Target is the seed under attack and the files its block requests name.
type Target struct {
	Addr *net.UDPAddr
	// Local, if set, is the address the attack comes from (say 127.0.0.2
	// against a seed on 127.0.0.1): the seed's limits per address then
	// tell it from a good client on the same host, as they would tell
	// hosts apart.
	Local net.IP
	// Big is a file of several blocks: the slow readers ask for its
	// blocks, the bad requests for blocks past its end.
	Big     manifest.ID
	BigSize int64
	// Small is a second file the slow readers ask for; Big again if the
	// seed serves only one.
	Small     manifest.ID
	SmallSize int64
}

// local is the UDP address the attack's sockets are bound to: Local's,
// any port; nil for any.
func (t Target) local() *net.UDPAddr {
	if t.Local == nil {
		return nil
	}
	return &net.UDPAddr{IP: t.Local}
}

// dial opens a QUIC connection to the target from Local, if set.
func (t Target) dial(ctx context.Context, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
	if t.Local == nil {
		return quic.DialAddr(ctx, t.Addr.String(), tc, qc)
	}
	udp, err := net.ListenUDP("udp", t.local())
	if err != nil {
		return nil, err
	}
	tr := &quic.Transport{Conn: udp}
	c, err := tr.Dial(ctx, t.Addr, tc, qc)
	if err != nil {
		_ = tr.Close()
		_ = udp.Close()
		return nil, err
	}
	go func() {
		<-c.Context().Done()
		_ = tr.Close()
		_ = udp.Close()
	}()
	return c, nil
}

// Discover lists the files of the seed at addr (a LIST request; the seed
// must not be private) and returns a Target with the largest as Big and the
// smallest as Small (files without data are left out).
func Discover(ctx context.Context, addr *net.UDPAddr) (Target, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := quic.DialAddr(ctx, addr.String(), tlsConf(wire.ALPN), nil)
	if err != nil {
		return Target{}, fmt.Errorf("attack: dialling %s: %w", addr, err)
	}
	defer c.CloseWithError(0, "")
	str, err := c.OpenStreamSync(ctx)
	if err != nil {
		return Target{}, fmt.Errorf("attack: listing: %w", err)
	}
	if _, err := str.Write((&wire.ListRequest{}).Append(nil)); err != nil {
		return Target{}, fmt.Errorf("attack: listing: %w", err)
	}
	str.Close()
	t := Target{Addr: addr}
	found := false
	br := bufio.NewReader(str)
	for {
		e, err := wire.ReadFileEntry(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return Target{}, fmt.Errorf("attack: listing: %w", err)
		}
		if e.Size == 0 {
			continue // no block to ask for
		}
		if !found || e.Size > t.BigSize {
			t.Big, t.BigSize = e.ID, e.Size
		}
		if !found || e.Size < t.SmallSize {
			t.Small, t.SmallSize = e.ID, e.Size
		}
		found = true
	}
	if !found {
		return Target{}, errors.New("attack: the seed serves no file with data")
	}
	return t, nil
}

// Mix says how many clients of each kind attack at once. Each is paced:
//
//   - Garbage: random datagrams of every size, about 2000 a second;
//   - WrongALPN: completed TLS handshakes offering ALPN h3, 20 a second;
//   - StreamFlood: a connection opening about 1000 streams a second, each a
//     LIST it abandons at once;
//   - BadRequests: a connection sending about 1000 requests a second for
//     out-of-range and unknown blocks, frames announcing a payload of
//     4 EiB or a name of 1 MiB, and (one in 50) half a request never
//     finished;
//   - SlowReaders: a connection asking for as many blocks as the seed
//     allows at once, each through a 1 KiB window, never reading them.
type Mix struct {
	Garbage, WrongALPN, StreamFlood, BadRequests, SlowReaders int
	// Slowdown multiplies every pause, e.g. under the race detector; 0
	// means 1.
	Slowdown int
}

// DefaultMix is one garbage sender, one wrong-ALPN dialler, two stream
// floods, two bad requesters and eight slow readers.
func DefaultMix() Mix {
	return Mix{Garbage: 1, WrongALPN: 1, StreamFlood: 2, BadRequests: 2, SlowReaders: 8}
}

// Counts are what the attackers did, updated as they go.
type Counts struct {
	Datagrams   atomic.Int64 // garbage datagrams sent
	ALPN        atomic.Int64 // wrong-ALPN handshakes refused
	Flood       atomic.Int64 // flood streams opened
	Bad         atomic.Int64 // bad requests sent
	SlowStreams atomic.Int64 // block requests opened by slow readers (each held unread)
	Conns       atomic.Int64 // connections established (flood, bad, slow)
	refused     [16]atomic.Int64
}

// Totals is a snapshot of Counts.
type Totals struct {
	Datagrams   int64 `json:"garbage_datagrams"`
	ALPN        int64 `json:"wrong_alpn_handshakes"`
	Flood       int64 `json:"flood_streams"`
	Bad         int64 `json:"bad_requests"`
	SlowStreams int64 `json:"slow_reader_streams"`
	Conns       int64 `json:"connections"`
	// Refused counts the bad requests the seed reset, by the error code's
	// name (wire.ErrCode.String).
	Refused map[string]int64 `json:"bad_requests_refused"`
}

// Totals returns a snapshot.
func (c *Counts) Totals() Totals {
	t := Totals{
		Datagrams: c.Datagrams.Load(), ALPN: c.ALPN.Load(), Flood: c.Flood.Load(),
		Bad: c.Bad.Load(), SlowStreams: c.SlowStreams.Load(), Conns: c.Conns.Load(),
		Refused: map[string]int64{},
	}
	for i := range c.refused {
		if n := c.refused[i].Load(); n > 0 {
			t.Refused[wire.ErrCode(i).String()] = n
		}
	}
	return t
}

func (c *Counts) refuse(code quic.StreamErrorCode) {
	i := min(int(code), len(c.refused)-1)
	c.refused[i].Add(1)
}

// Run attacks t with m until ctx ends, counting into c, and returns once
// every attacker has stopped. Its error lists what a seed must never do
// (accept a handshake for another protocol, answer a bad request) and
// attacks that could not start; nil if there was none.
func Run(ctx context.Context, t Target, m Mix, c *Counts) error {
	a := &attacker{t: t, counts: c, slow: time.Duration(max(m.Slowdown, 1))}
	var wg sync.WaitGroup
	for range m.Garbage {
		wg.Go(func() { a.garbage(ctx) })
	}
	for range m.WrongALPN {
		wg.Go(func() { a.wrongALPN(ctx) })
	}
	for range m.StreamFlood {
		wg.Go(func() { a.streamFlood(ctx) })
	}
	for range m.BadRequests {
		wg.Go(func() { a.badRequests(ctx) })
	}
	for range m.SlowReaders {
		wg.Go(func() { a.slowReader(ctx) })
	}
	wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.more > 0 {
		a.errs = append(a.errs, fmt.Errorf("and %d more", a.more))
	}
	return errors.Join(a.errs...)
}

// attacker is the state the clients of one Run share.
type attacker struct {
	t      Target
	counts *Counts
	slow   time.Duration // multiplies every pause

	mu   sync.Mutex
	errs []error
	more int
}

// fail records something the seed must not do; the first few are kept.
func (a *attacker) fail(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.errs) < 5 {
		a.errs = append(a.errs, fmt.Errorf(format, args...))
	} else {
		a.more++
	}
}

func tlsConf(alpn string) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{alpn}, InsecureSkipVerify: true}
}

// session is one attacking client's connection, replaced when the seed
// closes it; it is closed when ctx ends.
type session struct {
	a    *attacker
	ctx  context.Context
	q    *quic.Config
	c    *quic.Conn
	stop func() bool
}

// next closes the current connection, if any, and dials a new one; it
// returns nil once ctx has ended.
func (s *session) next() *quic.Conn {
	s.close()
	for s.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		c, err := s.a.t.dial(ctx, tlsConf(wire.ALPN), s.q)
		cancel()
		if err == nil {
			s.a.counts.Conns.Add(1)
			s.c = c
			s.stop = context.AfterFunc(s.ctx, func() { c.CloseWithError(0, "") })
			return c
		}
		// Refused (busy, or the seed is gone): try again a little later.
		if !s.a.pace(s.ctx, 10*time.Millisecond) {
			break
		}
	}
	return nil
}

func (s *session) close() {
	if s.c != nil {
		s.stop()
		s.c.CloseWithError(0, "")
		s.c = nil
	}
}

// pace waits d (times the slowdown), and reports false once ctx has ended.
func (a *attacker) pace(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d * a.slow)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// garbage sends random datagrams of every size to the seed's port, about
// 2000 a second, a quarter of them with a long header as an Initial would
// have.
func (a *attacker) garbage(ctx context.Context) {
	udp, err := net.DialUDP("udp", a.t.local(), a.t.Addr)
	if err != nil {
		a.fail("garbage: %w", err)
		return
	}
	defer udp.Close()
	r := rand.New(rand.NewPCG(7, 7))
	b := make([]byte, 1500)
	for a.pace(ctx, time.Millisecond) {
		for range 2 {
			n := 1 + r.IntN(len(b))
			for i := range n {
				b[i] = byte(r.Uint32())
			}
			if r.IntN(4) == 0 {
				b[0] |= 0xc0
			}
			_, _ = udp.Write(b[:n]) // a refused datagram is as good as a delivered one
			a.counts.Datagrams.Add(1)
		}
	}
}

// wrongALPN completes TLS handshakes offering another protocol, 20 a second.
func (a *attacker) wrongALPN(ctx context.Context) {
	for a.pace(ctx, 50*time.Millisecond) {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := a.t.dial(dctx, tlsConf("h3"), nil)
		cancel()
		if err == nil {
			a.fail("a connection with ALPN h3 was accepted")
			c.CloseWithError(0, "")
			return
		}
		if ctx.Err() == nil {
			a.counts.ALPN.Add(1)
		}
	}
}

// streamFlood opens about 1000 streams a second, each a LIST it abandons at
// once: thousands of streams, far more than the seed's stream limit.
func (a *attacker) streamFlood(ctx context.Context) {
	s := &session{a: a, ctx: ctx}
	defer s.close()
	c := s.next()
	for i := 0; c != nil && (i%2 == 1 || a.pace(ctx, time.Millisecond)); i++ {
		str, err := c.OpenStreamSync(ctx)
		if err != nil {
			c = s.next() // closed by the seed, or the attack is over
			continue
		}
		_, _ = str.Write((&wire.ListRequest{}).Append(nil))
		str.Close()
		str.CancelRead(0)
		a.counts.Flood.Add(1)
	}
}

// badRequests sends requests for out-of-range and unknown blocks, frames
// announcing huge payloads, and requests that never end, and reads the
// refusals.
func (a *attacker) badRequests(ctx context.Context) {
	var unknown manifest.ID
	unknown[0] = 0x55
	id := a.t.Big
	reqs := [][]byte{
		(&wire.BlockRequest{ID: id, Index: 1 << 40}).Append(nil),
		(&wire.BlockRequest{ID: id, Index: 1<<62 - 1}).Append(nil),
		(&wire.BlockRequest{ID: unknown}).Append(nil),
		{byte(wire.FrameGetBlock), 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // a payload of 4 EiB
		{byte(wire.FrameGetManifest), 0x80, 0x10, 0x00, 0x00},                      // a name of 1 MiB
	}
	s := &session{a: a, ctx: ctx}
	defer s.close()
	c := s.next()
	for i := 0; c != nil && a.pace(ctx, time.Millisecond); i++ {
		str, err := c.OpenStreamSync(ctx)
		if err != nil {
			c = s.next()
			continue
		}
		a.counts.Bad.Add(1)
		if i%50 == 49 {
			// Half a request, never finished: the seed's request
			// timeout ends it; meanwhile it holds one stream.
			_, _ = str.Write(reqs[2][:10])
			continue
		}
		_, _ = str.Write(reqs[i%len(reqs)])
		str.Close()
		str.SetReadDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		_, err = str.Read(b[:])
		var se *quic.StreamError
		switch {
		case err == nil:
			a.fail("a bad request was answered: %x", reqs[i%len(reqs)])
		case errors.As(err, &se):
			a.counts.refuse(se.ErrorCode)
		}
	}
}

// slowReader asks for as many blocks as the seed allows at once, each
// through a tiny window, and never reads them; it asks again whenever the
// seed drops one.
func (a *attacker) slowReader(ctx context.Context) {
	q := &quic.Config{
		InitialStreamReceiveWindow:     1 << 10,
		MaxStreamReceiveWindow:         1 << 10,
		InitialConnectionReceiveWindow: 1 << 20,
		MaxConnectionReceiveWindow:     1 << 20,
		MaxIdleTimeout:                 10 * time.Second,
		KeepAlivePeriod:                time.Second,
	}
	s := &session{a: a, ctx: ctx, q: q}
	defer s.close()
	c := s.next()
	nbig := manifest.NumBlocksFor(a.t.BigSize, manifest.BlockSizeFor(a.t.BigSize))
	nsmall := max(manifest.NumBlocksFor(a.t.SmallSize, manifest.BlockSizeFor(a.t.SmallSize)), 1)
	for i := 0; c != nil; i++ {
		str, err := c.OpenStreamSync(ctx)
		if err != nil {
			c = s.next()
			continue
		}
		id, idx := a.t.Big, uint64(i%nbig)
		if i%2 == 1 {
			id, idx = a.t.Small, uint64(i%nsmall)
		}
		_, _ = str.Write((&wire.BlockRequest{ID: id, Index: idx}).Append(nil))
		str.Close()
		a.counts.SlowStreams.Add(1)
	}
}
