package dht

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
)

// peerStore keeps the peers other nodes announce to this one, answers
// get_peers from them, and forgets them after ttl. It is keyed by info hash
// and by IP and port (anacrolix's InMemory keys by IP only), and bounded in
// every dimension a remote announcer controls: keys in total (new keys are
// refused while full), peers per key (a new one replaces the oldest) and
// ports per IP within a key (a new one replaces that IP's oldest).
type peerStore struct {
	policy    addrPolicy
	now       func() time.Time
	ttl       time.Duration
	maxKeys   int
	maxPerKey int
	maxPerIP  int
	maxReturn int

	mu        sync.Mutex
	keys      map[[20]byte]*swarm
	peers     int // sum of len(swarm.peers)
	nextSweep time.Time
	accepted  uint64
	refused   uint64
}

// swarm is one key's peers, with the time each last announced.
type swarm struct {
	peers map[netip.AddrPort]time.Time
	perIP map[netip.Addr]int
}

var _ peer_store.Interface = (*peerStore)(nil)

func newPeerStore(c Config, p addrPolicy) *peerStore {
	return &peerStore{
		policy:    p,
		now:       c.now,
		ttl:       c.PeerTTL,
		maxKeys:   c.StoreMaxKeys,
		maxPerKey: c.StoreMaxPeersPerKey,
		maxPerIP:  c.MaxPeersPerIP,
		maxReturn: c.StoreReturnPeers,
		keys:      make(map[[20]byte]*swarm),
	}
}

// AddPeer records that na announced itself for ih. anacrolix calls it for
// every announce_peer with a valid token, from the packet's source IP and
// the port the packet claims.
func (s *peerStore) AddPeer(ih peer_store.InfoHash, na krpc.NodeAddr) {
	ip, ok := fromIP(na.IP)
	port, okPort := fromWirePort(na.Port)
	ap := netip.AddrPortFrom(ip, port)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok || !okPort || !s.policy.allowAddrPort(ap) {
		s.refused++
		return
	}
	now := s.now()
	s.sweepLocked(now)
	sw := s.keys[ih]
	if sw == nil {
		if len(s.keys) >= s.maxKeys {
			s.refused++
			return
		}
		sw = &swarm{peers: make(map[netip.AddrPort]time.Time), perIP: make(map[netip.Addr]int)}
		s.keys[ih] = sw
	}
	s.accepted++
	if _, ok := sw.peers[ap]; ok {
		sw.peers[ap] = now
		return
	}
	if sw.perIP[ip] >= s.maxPerIP {
		s.removeLocked(sw, s.oldestLocked(sw, func(p netip.AddrPort) bool { return p.Addr() == ip }))
	}
	if len(sw.peers) >= s.maxPerKey {
		s.removeLocked(sw, s.oldestLocked(sw, func(netip.AddrPort) bool { return true }))
	}
	sw.peers[ap] = now
	sw.perIP[ip]++
	s.peers++
}

// GetPeers returns the live peers of ih, a random choice of maxReturn if
// there are more, with IPv4 addresses in their 4-byte form.
func (s *peerStore) GetPeers(ih peer_store.InfoHash) []krpc.NodeAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	sw := s.keys[ih]
	if sw == nil {
		return nil
	}
	s.expireLocked(ih, sw, s.now())
	live := make([]netip.AddrPort, 0, len(sw.peers))
	for ap := range sw.peers {
		live = append(live, ap)
	}
	if len(live) > s.maxReturn {
		rand.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
		live = live[:s.maxReturn]
	}
	out := make([]krpc.NodeAddr, len(live))
	for i, ap := range live {
		out[i] = krpc.NodeAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}
	}
	return out
}

// counts returns the keys and peers held, and the announces accepted and
// refused so far.
func (s *peerStore) counts() (keys, peers int, accepted, refused uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.now())
	return len(s.keys), s.peers, s.accepted, s.refused
}

// sweepLocked expires every key, at most once every ttl/4.
func (s *peerStore) sweepLocked(now time.Time) {
	if now.Before(s.nextSweep) {
		return
	}
	s.nextSweep = now.Add(s.ttl / 4)
	for ih, sw := range s.keys {
		s.expireLocked(ih, sw, now)
	}
}

// expireLocked drops sw's peers older than ttl, and sw itself once empty.
func (s *peerStore) expireLocked(ih [20]byte, sw *swarm, now time.Time) {
	for ap, t := range sw.peers {
		if now.Sub(t) >= s.ttl {
			s.removeLocked(sw, ap)
		}
	}
	if len(sw.peers) == 0 {
		delete(s.keys, ih)
	}
}

// oldestLocked returns the peer of sw that announced least recently among
// those match accepts.
func (s *peerStore) oldestLocked(sw *swarm, match func(netip.AddrPort) bool) netip.AddrPort {
	var oldest netip.AddrPort
	var at time.Time
	for ap, t := range sw.peers {
		if match(ap) && (!oldest.IsValid() || t.Before(at)) {
			oldest, at = ap, t
		}
	}
	return oldest
}

func (s *peerStore) removeLocked(sw *swarm, ap netip.AddrPort) {
	if _, ok := sw.peers[ap]; !ok {
		return
	}
	delete(sw.peers, ap)
	s.peers--
	if sw.perIP[ap.Addr()]--; sw.perIP[ap.Addr()] <= 0 {
		delete(sw.perIP, ap.Addr())
	}
}
