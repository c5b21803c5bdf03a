package lsd

import (
	"net/netip"
	"slices"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// table holds the peers a Finder has heard of, for each ID it looks for:
// at most maxPeers an ID, at most MaxPeersPerIP of them on one address,
// each forgotten ttl after it was last heard. A new peer is refused while
// an ID is full (rather than pushing out one that is still announcing). It
// is pure: the caller passes the time.
type table struct {
	maxPeers int
	ttl      time.Duration
	byID     map[manifest.ID]map[netip.AddrPort]time.Time // last heard
}

func newTable(c *Config) *table {
	return &table{maxPeers: c.MaxPeers, ttl: c.PeerTTL, byID: map[manifest.ID]map[netip.AddrPort]time.Time{}}
}

// want starts looking for id.
func (t *table) want(id manifest.ID) {
	if _, ok := t.byID[id]; !ok {
		t.byID[id] = map[netip.AddrPort]time.Time{}
	}
}

// drop stops looking for id and forgets its peers.
func (t *table) drop(id manifest.ID) { delete(t.byID, id) }

// heard records that ap announced id at now. It reports whether ap is a
// new peer of id; an ID not wanted, a full ID and an address that has
// MaxPeersPerIP peers of id already are refused.
func (t *table) heard(id manifest.ID, ap netip.AddrPort, now time.Time) bool {
	peers, ok := t.byID[id]
	if !ok {
		return false
	}
	if _, ok := peers[ap]; ok {
		peers[ap] = now
		return false
	}
	t.expire(peers, now)
	if len(peers) >= t.maxPeers {
		return false
	}
	sameIP := 0
	for p := range peers {
		if p.Addr() == ap.Addr() {
			sameIP++
		}
	}
	if sameIP >= MaxPeersPerIP {
		return false
	}
	peers[ap] = now
	return true
}

// peers returns id's peers heard from within ttl, sorted.
func (t *table) peers(id manifest.ID, now time.Time) []netip.AddrPort {
	peers := t.byID[id]
	t.expire(peers, now)
	var out []netip.AddrPort
	for p := range peers {
		out = append(out, p)
	}
	slices.SortFunc(out, netip.AddrPort.Compare)
	return out
}

func (t *table) expire(peers map[netip.AddrPort]time.Time, now time.Time) {
	for p, at := range peers {
		if now.Sub(at) >= t.ttl {
			delete(peers, p)
		}
	}
}
