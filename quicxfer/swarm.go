package quicxfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/scheduler"
)

// This file is the download's swarm part: availability (GET_HAVE) of each
// source, other sources learnt by GET_PEERS, and sharing the download's own
// blocks (Options.Share).

// Sharer serves a download's blocks to others while it runs (get --serve,
// seed --from). Its methods are called from the download's goroutines and
// must be safe for concurrent use.
type Sharer interface {
	// Start is called once, when the manifest is known and the data is on
	// disk at path (the part file, or the complete file): name is the
	// file's name on the seeds, have reports the blocks there that are
	// verified and durable.
	Start(name string, m *manifest.Manifest, path string, have func(int) bool) error
	// Add is called with blocks that have become verified and durable.
	Add(blocks []int)
	// Source is called when a source of the file answered a GET_PEERS: the
	// sharer may tell its own clients about it.
	Source(id manifest.ID, url string)
}

// Defaults of the swarm options.
const (
	DefaultMaxPeers      = 16
	DefaultPeersInterval = 30 * time.Second
)

// LocalAddr returns the local address of the connection.
func (c *Conn) LocalAddr() net.Addr { return c.qc.LocalAddr() }

// Have asks the seed which blocks of content ID id (a file of numBlocks
// blocks) it has: onHave gets the first answer, onAdd every later gain. It
// returns nil when the seed ends the stream (it has every block), or the
// error that ended it. An answer for another number of blocks, or an index
// out of range, is wire.ErrMalformed.
func (c *Conn) Have(ctx context.Context, id manifest.ID, numBlocks int, onHave func(wire.Have), onAdd func([]uint64)) error {
	r, done, err := c.request(ctx, &wire.HaveRequest{ID: id}, 4096)
	if err != nil {
		return err
	}
	h, err := wire.ReadHave(r)
	if err != nil {
		done(false)
		return c.streamErr(ctx, err)
	}
	if !h.All && h.N != numBlocks {
		done(false)
		return fmt.Errorf("%w: HAVE for %d blocks, the file has %d", wire.ErrMalformed, h.N, numBlocks)
	}
	onHave(h)
	for {
		adds, err := wire.ReadHaveAdd(r)
		if errors.Is(err, io.EOF) {
			done(true)
			return nil
		}
		if err != nil {
			done(false)
			return c.streamErr(ctx, err)
		}
		for _, a := range adds {
			if a >= uint64(numBlocks) {
				done(false)
				return fmt.Errorf("%w: HAVE_ADD of block %d, the file has %d", wire.ErrMalformed, a, numBlocks)
			}
		}
		onAdd(adds)
	}
}

// Peers asks the seed for other sources of content ID id; a non-empty self
// (this side's own seed URL) registers it with the seed.
func (c *Conn) Peers(ctx context.Context, id manifest.ID, self string) ([]string, error) {
	r, done, err := c.request(ctx, &wire.PeersRequest{ID: id, Self: self}, 4096)
	if err != nil {
		return nil, err
	}
	urls, err := wire.ReadPeers(r)
	if err == nil {
		err = wire.ReadEnd(r)
	}
	if err != nil {
		done(false)
		return nil, c.streamErr(ctx, err)
	}
	done(true)
	return urls, nil
}

// selfFor picks, among the URLs this side serves at, the one a seed reached
// through conn should list: the one whose host is conn's local address, else
// a loopback one for a loopback seed, else the first that is not loopback.
func selfFor(urls []string, conn *Conn) string {
	if len(urls) == 0 {
		return ""
	}
	var local, remote net.IP
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		local = a.IP
	}
	if a, ok := conn.qc.RemoteAddr().(*net.UDPAddr); ok {
		remote = a.IP
	}
	var loop, other string
	for _, s := range urls {
		u, err := wire.ParseURL(s)
		if err != nil {
			continue
		}
		ip := net.ParseIP(u.Host)
		switch {
		case ip != nil && local != nil && !local.IsUnspecified() && ip.Equal(local):
			return s
		case ip != nil && ip.IsLoopback():
			if loop == "" {
				loop = s
			}
		default:
			if other == "" {
				other = s
			}
		}
	}
	if remote != nil && remote.IsLoopback() && loop != "" {
		return loop
	}
	if other != "" {
		return other
	}
	return loop
}

// availMsg is news about a source's blocks, from its HAVE watcher.
type availMsg struct {
	s    *source
	have *wire.Have // the set (All for a full seed)
	adds []uint64
	// err ended the HAVE stream, or the dial for it: with gone, the source
	// is of no use (it does not have the file, or lied about its blocks)
	// and the watcher has stopped; else the source is down and the watcher
	// asks again later.
	err  error
	gone bool
}

// peersMsg is a source's answer to GET_PEERS.
type peersMsg struct {
	s    *source
	urls []string
	err  error
}

// watchHave keeps a GET_HAVE stream open to s (w, its availabilityWatcher) and reports what it
// says, until s has every block or ctx (s's own context) ends. A seed that
// does not know GET_HAVE (a BAD_REQUEST) is a full seed. A failure to dial
// or of the stream is reported, so that a source that is never asked for
// blocks (a peer with none that are missing) is still seen to be down, and
// dropped like any other; then it asks again after the scheduler's backoff
// (0.5 s, 1 s, 2 s, ... up to 15 s; from the start again after a stream
// that worked).
func (l *loop) watchHave(ctx context.Context, s *source, w availabilityWatcher) {
	send := func(m availMsg) bool {
		select {
		case l.avail <- m:
			return true
		case <-ctx.Done():
			return false
		}
	}
	failures := 0
	for {
		heard := false
		asked, err := w.watch(ctx, l.id, l.m.NumBlocks(),
			func(h wire.Have) { heard = true; send(availMsg{s: s, have: &h}) },
			func(adds []uint64) { send(availMsg{s: s, adds: adds}) })
		if asked {
			switch {
			case err == nil:
				return // has every block
			case errors.Is(err, wire.ErrBadRequest):
				send(availMsg{s: s, have: &wire.Have{All: true}})
				return
			case errors.Is(err, wire.ErrNotFound), errors.Is(err, wire.ErrMalformed):
				send(availMsg{s: s, err: err, gone: true})
				return
			}
		}
		if ctx.Err() != nil || !send(availMsg{s: s, err: err}) {
			return
		}
		if heard {
			failures = 0
		}
		failures++
		t := time.NewTimer(l.backoff.Delay(failures))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// onAvail feeds a HAVE watcher's news to the scheduler.
func (l *loop) onAvail(m availMsg) {
	s := m.s
	if s.id == 0 || l.sched.Stats(s.id).State == scheduler.Dropped {
		return
	}
	switch {
	case m.err != nil && m.gone:
		// A source that says it does not have the file, or lies about its
		// blocks, is of no use.
		if errors.Is(m.err, wire.ErrNotFound) && !s.discovered {
			return // an old seed may not answer GET_HAVE: its blocks will tell
		}
		l.apply(l.sched.Remove(s.id))
		l.dropped(s, "its HAVE: "+l.opts.DescribeError(m.err))
	case m.err != nil && errors.Is(m.err, wire.ErrBusy):
		// Refused for now (its request rate, or its HAVE streams): not
		// down; the watcher asks again later.
		s.lastErr = l.opts.DescribeError(m.err)
	case m.err != nil:
		// Down, as if a request had found it so; this counts toward
		// MaxRetries (nothing else would for a source never asked for
		// blocks) and is ignored while it waits to be tried again.
		l.down(s, m.err)
	case m.have != nil:
		s.haveKnown = true
		if m.have.All {
			l.sched.SetAvailableAll(s.id)
		} else {
			l.sched.SetAvailable(s.id, m.have.Bits)
		}
		if s.discovered {
			l.joins.join(&l.opts, s) // usable now that it says what it has
		}
	default:
		for _, b := range m.adds {
			l.sched.AddAvailable(s.id, int(b))
		}
	}
}

// askPeers asks every seed that is usable now (not left out, dropped,
// waiting to be tried again or being connected, and not still answering
// the last time) for
// other sources, as workers of the loop.
func (l *loop) askPeers() {
	for _, s := range l.srcs {
		pn, ok := s.f.(peerNamer)
		if !ok {
			continue // it names no peers (a mirror)
		}
		if s.leftOut || s.id == 0 || s.asking {
			continue
		}
		if st := l.sched.Stats(s.id).State; st == scheduler.Dropped || st == scheduler.Backoff || st == scheduler.Connecting {
			continue
		}
		s.asking = true
		l.workers.Go(func() {
			urls, err := pn.peers(s.ctx, l.id, l.opts.SelfURLs, l.opts.DialTimeout)
			select {
			case l.peers <- peersMsg{s: s, urls: urls, err: err}:
			case <-l.ctx.Done():
			}
		})
	}
}

// onPeers adds the sources a GET_PEERS answer names, up to MaxPeers in all.
func (l *loop) onPeers(m peersMsg) {
	m.s.asking = false
	if m.err != nil {
		return
	}
	if l.opts.Share != nil {
		l.opts.Share.Source(l.id, m.s.raw)
	}
	for _, raw := range m.urls {
		u, err := wire.ParseURL(raw)
		if err != nil || l.known[u.String()] {
			continue
		}
		if l.discovered >= l.opts.MaxPeers {
			return
		}
		l.known[u.String()] = true
		l.discovered++
		s := newSeedSource(&l.opts, u, raw, l.client)
		s.discovered = true
		l.opts.Logf("found another source: %s (from %s)", raw, m.s.raw)
		l.srcs = append(l.srcs, s)
		l.addSource(s)
	}
}

// Announce registers this side, serving at one of self, with every seed in
// seeds as a source of content ID id (GET_PEERS), so that they keep telling
// their clients about it; a registration lasts about two minutes, so call it
// about every DefaultPeersInterval. Seeds that cannot be reached are skipped.
// It returns how many seeds accepted the request.
func Announce(ctx context.Context, c *Client, seeds []string, id manifest.ID, self []string, timeout time.Duration) int {
	n := 0
	for _, raw := range seeds {
		u, err := wire.ParseURL(raw)
		if err != nil {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, timeout)
		conn, err := c.Dial(actx, u)
		if err == nil {
			if _, err := conn.Peers(actx, id, selfFor(self, conn)); err == nil {
				n++
			}
			_ = conn.Close()
		}
		cancel()
	}
	return n
}
