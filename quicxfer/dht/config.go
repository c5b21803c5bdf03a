package dht

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// The defaults of Config's zero fields. One place: the fields' comments, the
// code and any help text refer to these.
const (
	// DefaultMaxPeers is Config.MaxPeers: peers one lookup returns at most.
	DefaultMaxPeers = 64
	// DefaultMaxPeersPerIP is Config.MaxPeersPerIP: ports of one IP address
	// that a lookup returns, and that the peer store keeps for one key.
	DefaultMaxPeersPerIP = 4
	// DefaultMaxPeersPerNode is Config.MaxPeersPerNode: peers one answering
	// node may contribute to a lookup, so that a single hostile node
	// cannot fill it.
	DefaultMaxPeersPerNode = 16
	// DefaultPeerTTL is Config.PeerTTL, BEP 5's "about 30 minutes".
	DefaultPeerTTL = 30 * time.Minute
	// DefaultAnnounceInterval is Config.AnnounceInterval: half the usual
	// expiry, so that one lost announce round does not drop a seed.
	DefaultAnnounceInterval = 15 * time.Minute
	// DefaultTraversalTimeout is Config.TraversalTimeout.
	DefaultTraversalTimeout = 45 * time.Second
	// DefaultQueryTimeout is Config.QueryTimeout (anacrolix's resend delay).
	DefaultQueryTimeout = 2 * time.Second
	// DefaultSendRate is Config.SendRate, in packets a second.
	DefaultSendRate = 100
	// DefaultSaveInterval is Config.SaveInterval.
	DefaultSaveInterval = 10 * time.Minute
	// DefaultStoreMaxKeys is Config.StoreMaxKeys.
	DefaultStoreMaxKeys = 2000
	// DefaultStoreMaxPeersPerKey is Config.StoreMaxPeersPerKey.
	DefaultStoreMaxPeersPerKey = 200
	// DefaultStoreReturnPeers is Config.StoreReturnPeers (about 400 bytes
	// of IPv4 values, well inside one datagram).
	DefaultStoreReturnPeers = 50
)

// DefaultBootstrap returns the well-known public routers of the mainline
// DHT, used when Config.Bootstrap is empty and Config.NoBootstrap is not
// set. It returns a new slice on every call.
func DefaultBootstrap() []string {
	return []string{
		"router.bittorrent.com:6881",
		"dht.transmissionbt.com:6881",
		"router.utorrent.com:6881",
		"dht.libtorrent.org:25401",
	}
}

// Config says how a Node runs. The zero value is a node on a free port of
// every address that bootstraps from DefaultBootstrap and keeps no state.
type Config struct {
	// Listen is the node's own UDP address, HOST:PORT. It must not be the
	// QUIC socket's: KRPC needs a socket of its own. Empty: ":0" (every
	// address, a free port). A seed should use a fixed port, so that the
	// nodes that know it still find it after a restart.
	Listen string
	// Bootstrap is the nodes (HOST:PORT) a node with an empty routing
	// table starts from. Empty: DefaultBootstrap(), unless NoBootstrap.
	// Names are resolved when they are needed, not at Start.
	Bootstrap []string
	// NoBootstrap starts from nothing but the nodes saved at StatePath
	// (and those that contact this one), ignoring Bootstrap: the first
	// node of a private DHT, or a restart that must not contact the
	// public routers.
	NoBootstrap bool
	// StatePath, if set, is a file where the routing table is saved on
	// Close and every SaveInterval, and read at Start, so that a restart
	// needs no bootstrap. It also keeps the node ID.
	StatePath string
	// SaveInterval is how often the table is saved (DefaultSaveInterval).
	SaveInterval time.Duration
	// Logf, if set, receives the node's warnings, one line each.
	Logf func(format string, args ...any)

	// AllowPrivate accepts nodes and peers whose addresses are outside the
	// public ranges: loopback, private, link-local, shared (CGNAT),
	// documentation and the like. Without it they are refused, as nodes
	// (no packet goes to or is taken from them) and as peers. Unspecified,
	// multicast and broadcast addresses, and port 0, are refused always.
	AllowPrivate bool
	// MaxPeers bounds the peers one lookup returns (DefaultMaxPeers).
	MaxPeers int
	// MaxPeersPerIP bounds the ports of one IP address in a lookup's
	// result and in the peer store's entry for one key
	// (DefaultMaxPeersPerIP).
	MaxPeersPerIP int
	// MaxPeersPerNode bounds the peers one answering node adds to a lookup
	// (DefaultMaxPeersPerNode).
	MaxPeersPerNode int

	// PeerTTL is how long this node keeps a peer another node announced
	// to it (DefaultPeerTTL). Other implementations choose their own.
	PeerTTL time.Duration
	// AnnounceInterval is how often an Announcer announces each of its IDs
	// again (DefaultAnnounceInterval). It must be shorter than the other
	// nodes' expiry: BEP 5 suggests 30 minutes.
	AnnounceInterval time.Duration
	// StoreMaxKeys bounds the keys in the peer store (DefaultStoreMaxKeys);
	// announces for new keys are refused while it is full.
	StoreMaxKeys int
	// StoreMaxPeersPerKey bounds the peers kept for one key
	// (DefaultStoreMaxPeersPerKey); a new peer replaces the oldest.
	StoreMaxPeersPerKey int
	// StoreReturnPeers bounds the peers one get_peers answer carries, a
	// random choice when there are more (DefaultStoreReturnPeers).
	StoreReturnPeers int

	// TraversalTimeout bounds one lookup or announce traversal
	// (DefaultTraversalTimeout). A lookup that reaches it returns what it
	// found; an announce sends announce_peer to the closest nodes it found
	// by then.
	TraversalTimeout time.Duration
	// QueryTimeout is how long one query waits for its answer
	// (DefaultQueryTimeout).
	QueryTimeout time.Duration
	// SendRate bounds the packets the node sends a second, queries and
	// answers together (DefaultSendRate). Answers over the limit are
	// dropped, queries wait.
	SendRate int

	// NodeID is the node's 160-bit ID. Zero: the one saved at StatePath,
	// else a random one.
	NodeID [20]byte
	// NoSecurity accepts nodes whose IDs do not match their IP address
	// (BEP 42). Without it such nodes are ignored; loopback and private
	// addresses are exempt by the BEP, so a private DHT works either way.
	NoSecurity bool

	// now is the clock of the peer store; nil is time.Now. Internal tests
	// set it.
	now func() time.Time
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = ":0"
	}
	if len(c.Bootstrap) == 0 && !c.NoBootstrap {
		c.Bootstrap = DefaultBootstrap()
	}
	if c.NoBootstrap {
		c.Bootstrap = nil
	}
	setDefault(&c.SaveInterval, DefaultSaveInterval)
	setDefault(&c.MaxPeers, DefaultMaxPeers)
	setDefault(&c.MaxPeersPerIP, DefaultMaxPeersPerIP)
	setDefault(&c.MaxPeersPerNode, DefaultMaxPeersPerNode)
	setDefault(&c.PeerTTL, DefaultPeerTTL)
	setDefault(&c.AnnounceInterval, DefaultAnnounceInterval)
	setDefault(&c.StoreMaxKeys, DefaultStoreMaxKeys)
	setDefault(&c.StoreMaxPeersPerKey, DefaultStoreMaxPeersPerKey)
	setDefault(&c.StoreReturnPeers, DefaultStoreReturnPeers)
	setDefault(&c.TraversalTimeout, DefaultTraversalTimeout)
	setDefault(&c.QueryTimeout, DefaultQueryTimeout)
	setDefault(&c.SendRate, DefaultSendRate)
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// setDefault sets *v to d if it is zero or negative.
func setDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// checkBootstrap checks that every bootstrap entry is HOST:PORT with a port
// from 1 to 65535, and that a literal address is one the policy accepts.
func (c Config) checkBootstrap(p addrPolicy) error {
	for _, hp := range c.Bootstrap {
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			return fmt.Errorf("bootstrap node %q: %w", hp, err)
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("bootstrap node %q: port must be a number from 1 to 65535", hp)
		}
		if host == "" {
			return fmt.Errorf("bootstrap node %q: no host", hp)
		}
		if a, err := netip.ParseAddr(host); err == nil && !p.allowAddr(a) {
			return fmt.Errorf("bootstrap node %q: %s is not a public address (Config.AllowPrivate accepts it)", hp, a)
		}
	}
	return nil
}
