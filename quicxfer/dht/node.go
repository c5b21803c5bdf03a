package dht

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/log"
	"golang.org/x/time/rate"
)

// reviveEvery is how often a node whose table has no good node left pings
// its starting nodes (saved and bootstrap) to get back into the DHT:
// anacrolix falls back on them only while the table is empty.
const reviveEvery = time.Minute

// closeWait bounds how long Close waits for anacrolix's read loop to leave.
const closeWait = 5 * time.Second

// Node is a mainline DHT node: it answers other nodes, stores what they
// announce, and looks up and announces content IDs. Its methods are safe
// for concurrent use.
type Node struct {
	cfg    Config
	policy addrPolicy
	srv    *dht.Server
	conn   *screenConn
	store  *peerStore
	start  *startingNodes

	ctx    context.Context // done when Close begins
	cancel context.CancelFunc
	wg     sync.WaitGroup // the table maintainer and the node's own loop
	quiet  atomic.Bool    // set once Close returns: no more logging

	mu         sync.Mutex
	announcers map[*Announcer]struct{}
	closed     bool

	closeOnce sync.Once
	closeErr  error

	announces       atomic.Uint64
	announcesFailed atomic.Uint64
	lookups         atomic.Uint64
	peersFound      atomic.Uint64
	peersRefused    atomic.Uint64
}

// Stats are a node's counters, for metrics. Counts are since Start.
type Stats struct {
	// Nodes is the routing table's size; GoodNodes those of them that
	// answered recently (BEP 5's "good").
	Nodes, GoodNodes int
	// Announces counts announce traversals that at least one node
	// accepted; AnnouncesFailed those that none did, or that had no node
	// to start from (not those cut short by Close or their context).
	Announces, AnnouncesFailed uint64
	// Lookups counts lookups started.
	Lookups uint64
	// PeersFound counts the peers lookups returned (after filtering, each
	// once per lookup); PeersRefused those they dropped: addresses outside
	// the policy, over the per-IP or per-node limits.
	PeersFound, PeersRefused uint64
	// StoredKeys and StoredPeers are what other nodes announced to this
	// one and it keeps; AnnouncesStored and AnnouncesRefused count their
	// announce_peer queries, kept or refused (bad address, store full).
	StoredKeys, StoredPeers           int
	AnnouncesStored, AnnouncesRefused uint64
	// PacketsDropped counts packets refused before decoding: not KRPC, or
	// malformed in a way that would crash the DHT library.
	PacketsDropped uint64
}

// Start starts a node on its own UDP socket (cfg.Listen). It reads the
// routing table saved at cfg.StatePath, if any, and starts from those nodes
// and the bootstrap nodes; it does not wait for the bootstrap to finish
// (lookups start from the same nodes). The node runs until Close; ctx only
// bounds Start itself.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	p := addrPolicy{allowPrivate: cfg.AllowPrivate}
	if err := cfg.checkBootstrap(p); err != nil {
		return nil, err
	}
	st := state{}
	if cfg.StatePath != "" {
		var err error
		if st, err = readState(cfg.StatePath); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("DHT socket: %w", err)
	}
	n := &Node{
		cfg:        cfg,
		policy:     p,
		store:      newPeerStore(cfg, p),
		announcers: make(map[*Announcer]struct{}),
	}
	n.conn = newScreenConn(pc, n.logf)
	n.start = newStartingNodes(cfg.Bootstrap, st.Nodes, p, cfg.QueryTimeout)
	id := cfg.NodeID
	if id == ([20]byte{}) {
		id = st.ID
	}
	if id == ([20]byte{}) {
		id = krpc.RandomNodeID()
	}
	want := []krpc.Want{krpc.WantNodes}
	if ua, ok := pc.LocalAddr().(*net.UDPAddr); ok && ua.IP.To4() == nil {
		want = append(want, krpc.WantNodes6)
	}
	queryTimeout := cfg.QueryTimeout
	srv, err := dht.NewServer(&dht.ServerConfig{
		NodeId:           id,
		Conn:             n.conn,
		StartingNodes:    n.start.get,
		NoSecurity:       cfg.NoSecurity,
		IPBlocklist:      blocklist{p},
		QueryResendDelay: func() time.Duration { return queryTimeout },
		PeerStore:        n.store,
		Store:            noStore{},
		Logger:           n.anacrolixLogger(),
		DefaultWant:      want,
		// Every node its own limiter: anacrolix's default is one for the
		// whole process.
		SendLimiter: rate.NewLimiter(rate.Limit(cfg.SendRate), cfg.SendRate),
	})
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("starting the DHT server: %w", err)
	}
	n.srv = srv
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Go(n.loop)
	return n, nil
}

// Addr returns the node's UDP address.
func (n *Node) Addr() netip.AddrPort {
	if ua, ok := n.conn.LocalAddr().(*net.UDPAddr); ok {
		return ua.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(n.conn.LocalAddr().String())
	return ap
}

// ID returns the node's 160-bit ID.
func (n *Node) ID() [20]byte { return n.srv.ID() }

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	ss := n.srv.Stats()
	keys, peers, stored, refused := n.store.counts()
	return Stats{
		Nodes:            ss.Nodes,
		GoodNodes:        ss.GoodNodes,
		Announces:        n.announces.Load(),
		AnnouncesFailed:  n.announcesFailed.Load(),
		Lookups:          n.lookups.Load(),
		PeersFound:       n.peersFound.Load(),
		PeersRefused:     n.peersRefused.Load(),
		StoredKeys:       keys,
		StoredPeers:      peers,
		AnnouncesStored:  stored,
		AnnouncesRefused: refused,
		PacketsDropped:   n.conn.dropped.Load(),
	}
}

// Close stops the node's announcers, ends the lookups and announces under
// way (they return ErrClosed), saves the routing table to StatePath and
// closes the socket. It waits for the table maintainer, which may take up
// to QueryTimeout (anacrolix's maintenance queries cannot be cancelled);
// in practice only a node closed within a moment of its Start waits. It
// returns the error of saving, the same on every call.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		as := make([]*Announcer, 0, len(n.announcers))
		for a := range n.announcers {
			as = append(as, a)
		}
		n.mu.Unlock()
		for _, a := range as {
			a.Close()
		}
		n.cancel()
		n.closeErr = n.save()
		n.srv.Close()
		n.conn.Close()
		n.wg.Wait()
		select {
		case <-n.conn.exited:
		case <-time.After(closeWait):
			n.logf("DHT: the server's read loop did not stop within %v", closeWait)
		}
		n.quiet.Store(true)
	})
	return n.closeErr
}

// loop bootstraps the node and starts anacrolix's table maintainer, saves
// the table every SaveInterval, and pings the starting nodes when no good
// node is left, until Close.
//
// The maintainer starts only once the table has a node: when a traversal
// has nothing to start from, anacrolix's Bootstrap returns without stopping
// it, and the maintainer would retry (and leak a goroutine) every minute.
// Until then the loop bootstraps itself, only when there is a starting
// node, and checks every second whether another node has found this one.
func (n *Node) loop() {
	save := time.NewTicker(n.cfg.SaveInterval)
	defer save.Stop()
	revive := time.NewTicker(reviveEvery)
	defer revive.Stop()
	check := time.NewTicker(time.Second)
	defer check.Stop()
	checkC := check.C
	var lastBootstrap time.Time
	maintain := func() {
		if n.srv.NumNodes() == 0 {
			if _, err := n.start.get(); err != nil || time.Since(lastBootstrap) < reviveEvery {
				return
			}
			lastBootstrap = time.Now()
			// Not n.ctx: anacrolix stops a bootstrap's traversal on a
			// done context without waiting for its queries. After Close
			// every query fails at once or within QueryTimeout.
			if _, err := n.srv.BootstrapContext(context.Background()); err != nil && n.ctx.Err() == nil {
				n.logf("DHT: bootstrap: %v", err)
			}
		}
		if n.srv.NumNodes() > 0 && n.ctx.Err() == nil {
			n.wg.Go(n.srv.TableMaintainer)
			check.Stop()
			checkC = nil
		}
	}
	maintain()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-checkC:
			maintain()
		case <-save.C:
			if err := n.save(); err != nil {
				n.logf("%v", err)
			}
		case <-revive.C:
			if ss := n.srv.Stats(); ss.Nodes > 0 && ss.GoodNodes == 0 {
				n.revive()
			}
		}
	}
}

// revive pings every starting node; those that answer are added to the
// table, replacing bad ones.
func (n *Node) revive() {
	addrs, err := n.start.get()
	if err != nil {
		n.logf("DHT: no good node left, and %v", err)
		return
	}
	var wg sync.WaitGroup
	for _, a := range addrs {
		if n.ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			n.srv.Query(n.ctx, a, "ping", dht.QueryInput{})
		})
	}
	wg.Wait()
}

// save writes the table to StatePath, if set and if the table has nodes
// (an empty one keeps the file as it was).
func (n *Node) save() error {
	if n.cfg.StatePath == "" {
		return nil
	}
	s := state{ID: n.srv.ID()}
	for _, ni := range n.srv.Nodes() {
		ap := ni.Addr.ToNodeAddrPort().AddrPort
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		if !n.policy.allowAddrPort(ap) {
			continue
		}
		s.Nodes = append(s.Nodes, stateNode{ID: ni.ID, Addr: ap})
		if len(s.Nodes) == maxStateNodes {
			break
		}
	}
	if len(s.Nodes) == 0 {
		return nil
	}
	return writeState(n.cfg.StatePath, s)
}

// begin registers the start of a call that needs the node open.
func (n *Node) begin() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	return nil
}

// logf logs through Config.Logf until Close returns.
func (n *Node) logf(format string, args ...any) {
	if n.cfg.Logf != nil && !n.quiet.Load() {
		n.cfg.Logf(format, args...)
	}
}

// anacrolixLogger passes anacrolix's warnings and errors to logf.
func (n *Node) anacrolixLogger() log.Logger {
	var l log.Logger
	l.SetHandlers(logHandler{n.logf})
	return l.WithFilterLevel(log.Warning).WithNames("dht")
}

type logHandler struct{ logf func(string, ...any) }

func (h logHandler) Handle(r log.Record) { h.logf("DHT: %s", r.Msg.String()) }

// startingNodes gives anacrolix the nodes a traversal starts from while the
// routing table is empty: those saved at StatePath, then the bootstrap
// nodes, resolved at most once a minute.
type startingNodes struct {
	saved     []dht.Addr
	bootstrap []string
	policy    addrPolicy
	timeout   time.Duration

	mu         sync.Mutex
	resolved   []dht.Addr
	resolvedAt time.Time
}

// resolveEvery is how long resolved bootstrap addresses are reused.
const resolveEvery = time.Minute

func newStartingNodes(bootstrap []string, saved []stateNode, p addrPolicy, timeout time.Duration) *startingNodes {
	s := &startingNodes{bootstrap: bootstrap, policy: p, timeout: timeout}
	for _, sn := range saved {
		if p.allowAddrPort(sn.Addr) {
			s.saved = append(s.saved, dht.NewAddr(net.UDPAddrFromAddrPort(sn.Addr)))
		}
	}
	return s
}

func (s *startingNodes) get() ([]dht.Addr, error) {
	out := append([]dht.Addr(nil), s.saved...)
	out = append(out, s.resolve()...)
	if len(out) == 0 {
		return nil, ErrNoNodes
	}
	return out, nil
}

// resolve returns the bootstrap nodes' addresses that the policy accepts.
func (s *startingNodes) resolve() []dht.Addr {
	if len(s.bootstrap) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.resolvedAt.IsZero() && time.Since(s.resolvedAt) < resolveEvery {
		return slices.Clone(s.resolved)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*s.timeout)
	defer cancel()
	s.resolved = nil
	for _, hp := range s.bootstrap {
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			continue
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			continue
		}
		for _, ip := range ips {
			ap, err := netip.ParseAddrPort(net.JoinHostPort(ip.Unmap().String(), port))
			if err == nil && s.policy.allowAddrPort(ap) {
				s.resolved = append(s.resolved, dht.NewAddr(net.UDPAddrFromAddrPort(ap)))
			}
		}
	}
	s.resolvedAt = time.Now()
	return slices.Clone(s.resolved)
}
