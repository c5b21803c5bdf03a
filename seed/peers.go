package seed

import (
	"sort"
	"sync"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// PeerTTL is how long a registered source is listed after its last contact.
// Peers register again about every 30 s, so this survives a few lost ones.
const PeerTTL = 2 * time.Minute

// clock is the peer book's time, faked in tests.
type clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// peerBook remembers, for each content ID, other sources of it: permanent
// ones (seeds this one was filled from, the operator's --peer) and ones that
// registered, which expire ttl after their last contact.
type peerBook struct {
	mu    sync.Mutex
	clock clock
	ttl   time.Duration
	byID  map[manifest.ID]map[string]*peerEntry
	all   map[string]bool // permanent for every content ID
}

type peerEntry struct {
	seen      time.Time
	permanent bool
}

func newPeerBook(c clock, ttl time.Duration) *peerBook {
	return &peerBook{clock: c, ttl: ttl, byID: make(map[manifest.ID]map[string]*peerEntry), all: make(map[string]bool)}
}

// entry returns url's entry for id, making it; b.mu is held.
func (b *peerBook) entry(id manifest.ID, url string) (*peerEntry, bool) {
	m := b.byID[id]
	if m == nil {
		m = make(map[string]*peerEntry)
		b.byID[id] = m
	}
	e, ok := m[url]
	if !ok {
		e = &peerEntry{}
		m[url] = e
	}
	return e, !ok
}

// touch records contact with url for id and reports whether it is new.
func (b *peerBook) touch(id manifest.ID, url string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, fresh := b.entry(id, url)
	expired := !e.permanent && !e.seen.IsZero() && b.clock.Now().Sub(e.seen) > b.ttl
	e.seen = b.clock.Now()
	return fresh || expired
}

func (b *peerBook) addPermanent(id manifest.ID, url string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, _ := b.entry(id, url)
	e.permanent = true
	e.seen = b.clock.Now()
}

// addAll records url as a permanent source of every content ID.
func (b *peerBook) addAll(url string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all[url] = true
}

// list returns up to limit URLs for id, sorted, leaving out those in
// exclude; entries past their time are forgotten.
func (b *peerBook) list(id manifest.ID, exclude []string, limit int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	skip := make(map[string]bool, len(exclude))
	for _, u := range exclude {
		skip[u] = true
	}
	var out []string
	for u, e := range b.byID[id] {
		if !e.permanent && now.Sub(e.seen) > b.ttl {
			delete(b.byID[id], u)
			continue
		}
		if !skip[u] {
			out = append(out, u)
			skip[u] = true
		}
	}
	for u := range b.all {
		if !skip[u] {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}
