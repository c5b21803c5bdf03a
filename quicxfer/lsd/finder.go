package lsd

import (
	"net/netip"
	"sync"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// Finder looks for seeds of some IDs on the LAN: it listens for announces
// of them, keeps the peers they name (the sender's IP address and the
// announced port) and queries for the IDs (a burst when an ID is added,
// then every Interval), so that an Announcer that has one answers at once
// rather than at its next announce.
type Finder struct {
	cfg Config
	st  counters
	in  intake
	ep  *endpoint

	mu     sync.Mutex
	sched  *schedule // of the queries
	table  *table
	wanted map[Infohash]manifest.ID

	changed   chan struct{} // cap 1: a new peer
	wake      chan struct{} // cap 1: the schedule changed
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewFinder starts looking for ids on the interfaces and groups of cfg. It
// fails if no group can be joined on any interface. Close stops it.
func NewFinder(cfg Config, ids ...manifest.ID) (*Finder, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	f := newFinder(c)
	if f.ep, err = openEndpoint(&c, &f.st); err != nil {
		return nil, err
	}
	f.Add(ids...)
	f.ep.start(&f.wg, f.done, f.handle)
	f.wg.Go(func() {
		sendLoop(&f.mu, f.sched, f.wake, f.done, func(hs []Infohash) { f.ep.send(0, f.cfg.Cookie, hs) })
	})
	return f, nil
}

// newFinder returns a Finder without sockets or goroutines: what NewFinder
// starts, and what tests of its logic use. c has its defaults.
func newFinder(c Config) *Finder {
	f := &Finder{cfg: c, sched: newSchedule(&c), table: newTable(&c), wanted: map[Infohash]manifest.ID{},
		changed: make(chan struct{}, 1), wake: make(chan struct{}, 1), done: make(chan struct{})}
	f.in = newIntake(&c, &f.st)
	return f
}

// Add looks for more IDs.
func (f *Finder) Add(ids ...manifest.ID) {
	f.mu.Lock()
	now := time.Now()
	for _, id := range ids {
		h := InfohashOf(id)
		if _, ok := f.wanted[h]; ok {
			continue // looked for already (or, with odds of 2^-160, another ID's prefix)
		}
		f.wanted[h] = id
		f.table.want(id)
		f.sched.add(h, now)
	}
	f.mu.Unlock()
	poke(f.wake)
}

// Remove stops looking for IDs and forgets their peers.
func (f *Finder) Remove(ids ...manifest.ID) {
	f.mu.Lock()
	for _, id := range ids {
		h := InfohashOf(id)
		if f.wanted[h] == id {
			delete(f.wanted, h)
			f.table.drop(id)
			f.sched.remove(h)
		}
	}
	f.mu.Unlock()
}

// Peers returns the peers of id heard from within Config.PeerTTL, sorted:
// at most Config.MaxPeers, none unless id is looked for. They are
// addresses only, as untrusted as the LAN: what is fetched from them must
// be checked against id.
func (f *Finder) Peers(id manifest.ID) []netip.AddrPort {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.table.peers(id, time.Now())
}

// Changed returns a channel that receives when a new peer is kept (one
// value for any number of them since the last receive); Peers says which.
func (f *Finder) Changed() <-chan struct{} { return f.changed }

// Cookie returns the cookie the queries carry; announces that carry it are
// ignored.
func (f *Finder) Cookie() string { return f.cfg.Cookie }

// Stats returns the counters.
func (f *Finder) Stats() Stats { return f.st.stats() }

// Close stops looking and closes the sockets. It waits for the Finder's
// goroutines and may be called more than once.
func (f *Finder) Close() error {
	f.closeOnce.Do(func() {
		close(f.done)
		f.ep.close()
		f.wg.Wait()
	})
	return nil
}

// handle keeps the peers an announce names for the IDs looked for.
func (f *Finder) handle(b []byte, from netip.AddrPort) {
	now := time.Now()
	m, ip, ok := f.in.take(b, from, now)
	if !ok {
		return
	}
	if m.Port == 0 {
		f.st.queries.Add(1) // another finder's: nothing to answer
		return
	}
	peer := netip.AddrPortFrom(ip, m.Port)
	found := false
	f.mu.Lock()
	for _, h := range m.Infohashes {
		if id, ok := f.wanted[h]; ok && f.table.heard(id, peer, now) {
			f.st.peersFound.Add(1)
			found = true
		}
	}
	f.mu.Unlock()
	if found {
		poke(f.changed)
	}
}
