package seed

import (
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// PeerTTL is how long a registered source is listed after its last contact.
// Peers register again about every 30 s, so this survives a few lost ones.
const PeerTTL = 2 * time.Minute

// Bounds of the registered sources: per content ID and asker address (a
// peer has one seed URL, two leave room for a restart on another port), and
// per content ID. Past a bound the oldest entry makes room.
const (
	maxPeersPerAddr = 2
	maxPeersPerID   = 256
)

// clock is the peer book's time, faked in tests.
type clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// peerBook remembers, for each content ID, other sources of it: permanent
// ones (seeds this one was filled from, the operator's --peer) and ones that
// registered, which expire ttl after their last contact. Registered entries
// are bounded (maxPeersPerAddr, maxPeersPerID); an answer lists the
// permanent ones first, then a random sample of the registered ones, so
// registrations cannot crowd the permanent sources out.
type peerBook struct {
	mu    sync.Mutex
	clock clock
	ttl   time.Duration
	perm  map[manifest.ID]map[string]bool
	reg   map[manifest.ID]map[string]*peerEntry
	all   map[string]bool // permanent for every content ID
	swept time.Time       // last sweep of every content ID
}

type peerEntry struct {
	seen time.Time
	addr string // the address it registered from ("" for TouchPeer)
}

func newPeerBook(c clock, ttl time.Duration) *peerBook {
	return &peerBook{
		clock: c, ttl: ttl,
		perm: make(map[manifest.ID]map[string]bool),
		reg:  make(map[manifest.ID]map[string]*peerEntry),
		all:  make(map[string]bool),
	}
}

// sweepID forgets id's registered entries past their time, and id's map
// once empty; b.mu is held.
func (b *peerBook) sweepID(id manifest.ID, now time.Time) {
	m := b.reg[id]
	for u, e := range m {
		if now.Sub(e.seen) > b.ttl {
			delete(m, u)
		}
	}
	if m != nil && len(m) == 0 {
		delete(b.reg, id)
	}
}

// sweep forgets what expired: id's entries every time, every content ID's
// at most once per ttl; b.mu is held.
func (b *peerBook) sweep(id manifest.ID, now time.Time) {
	if now.Sub(b.swept) > b.ttl {
		b.swept = now
		for other := range b.reg {
			b.sweepID(other, now)
		}
		return
	}
	b.sweepID(id, now)
}

// oldest returns the URL of m's oldest entry registered from addr (any
// address if all), "" if none.
func oldest(m map[string]*peerEntry, addr string, all bool) string {
	var out string
	var t time.Time
	for u, e := range m {
		if (all || e.addr == addr) && (out == "" || e.seen.Before(t) || e.seen.Equal(t) && u < out) {
			out, t = u, e.seen
		}
	}
	return out
}

// touch records contact with url, registered from address addr ("" for a
// source the server found itself), for id and reports whether it is new.
// An address keeps at most maxPeersPerAddr entries and id maxPeersPerID:
// the oldest makes room.
func (b *peerBook) touch(id manifest.ID, url, addr string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	b.sweep(id, now)
	m := b.reg[id]
	if e := m[url]; e != nil {
		e.seen = now
		e.addr = addr
		return false
	}
	if m == nil {
		m = make(map[string]*peerEntry)
		b.reg[id] = m
	}
	if addr != "" {
		n := 0
		for _, e := range m {
			if e.addr == addr {
				n++
			}
		}
		for ; n >= maxPeersPerAddr; n-- {
			delete(m, oldest(m, addr, false))
		}
	}
	for len(m) >= maxPeersPerID {
		delete(m, oldest(m, "", true))
	}
	m[url] = &peerEntry{seen: now, addr: addr}
	return true
}

func (b *peerBook) addPermanent(id manifest.ID, url string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.perm[id]
	if m == nil {
		m = make(map[string]bool)
		b.perm[id] = m
	}
	m[url] = true
}

// addAll records url as a permanent source of every content ID.
func (b *peerBook) addAll(url string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all[url] = true
}

// list returns up to limit URLs for id, leaving out those in exclude: the
// permanent ones first (sorted), then registered ones in random order;
// entries past their time are forgotten.
func (b *peerBook) list(id manifest.ID, exclude []string, limit int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweep(id, b.clock.Now())
	skip := make(map[string]bool, len(exclude))
	for _, u := range exclude {
		skip[u] = true
	}
	var perm []string
	for _, set := range []map[string]bool{b.perm[id], b.all} {
		for u := range set {
			if !skip[u] {
				perm = append(perm, u)
				skip[u] = true
			}
		}
	}
	sort.Strings(perm)
	out := perm[:min(len(perm), limit)]
	var reg []string
	for u := range b.reg[id] {
		if !skip[u] {
			reg = append(reg, u)
		}
	}
	rand.Shuffle(len(reg), func(i, j int) { reg[i], reg[j] = reg[j], reg[i] })
	return append(out, reg[:min(len(reg), limit-len(out))]...)
}
