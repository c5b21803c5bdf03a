package lsd

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// BEP 14's multicast groups: org-local IPv4 and site-local IPv6.
const (
	Group4 = "239.192.152.143:6771"
	Group6 = "[ff15::efc0:988f]:6771"
)

// Defaults of Config.
const (
	// DefaultInterval is BEP 14's steady-state rate: at most one announce
	// of an infohash a minute.
	DefaultInterval = time.Minute
	DefaultBurst    = 3
	DefaultBurstGap = 2 * time.Second
	DefaultReplyGap = 10 * time.Second
	DefaultMaxPeers = 32
	DefaultMaxRate  = 50 // messages a second
	// MaxPeersPerIP bounds the peers of one ID that one address may fill
	// (one host running several seeds).
	MaxPeersPerIP = 4
)

// DefaultGroups returns Group4 and Group6.
func DefaultGroups() []netip.AddrPort {
	return []netip.AddrPort{netip.MustParseAddrPort(Group4), netip.MustParseAddrPort(Group6)}
}

// Config configures an Announcer or a Finder. The zero Config is BEP 14 on
// every interface that can multicast.
type Config struct {
	// Interfaces are the names of the network interfaces to send and
	// listen on. Empty means every interface that is up, can multicast
	// and has an address of the group's family.
	Interfaces []string
	// Groups are the multicast groups, with their port, to send to and
	// listen on. Empty means DefaultGroups. Tests use their own.
	Groups []netip.AddrPort
	// Interval is the steady-state time between two announces (an
	// Announcer) or two queries (a Finder) of one ID. Zero means
	// DefaultInterval; less than a minute is for tests, BEP 14 asks for no
	// more than one a minute.
	Interval time.Duration
	// Burst is how many messages of a new ID are sent BurstGap apart
	// (the first at once) before Interval applies. Zero means
	// DefaultBurst, zero BurstGap DefaultBurstGap.
	Burst    int
	BurstGap time.Duration
	// ReplyGap is the shortest time between two announces of an ID that
	// an Announcer sends in answer to queries. Zero means DefaultReplyGap.
	ReplyGap time.Duration
	// PeerTTL is how long a Finder keeps a peer it has not heard from
	// again. Zero means three Intervals.
	PeerTTL time.Duration
	// MaxPeers bounds the peers a Finder keeps for one ID. Zero means
	// DefaultMaxPeers.
	MaxPeers int
	// MaxRate bounds the messages a second that are parsed, all sockets
	// together (burst: as many); more are dropped unread. Zero means
	// DefaultMaxRate.
	MaxRate float64
	// HopLimit is the IP TTL (hop limit) of the messages sent. Zero means
	// 1: the link only.
	HopLimit int
	// Cookie marks this side's messages: it is sent in each, and messages
	// that carry it are ignored. An Announcer and a Finder of one process
	// should share one (NewCookie), so that the Finder does not find its
	// own process. Empty means a new one (NewCookie).
	Cookie string
	// Logf receives one-line messages about interfaces left out and
	// failed sends. Nil discards them.
	Logf func(format string, args ...any)
}

// NewCookie returns a random cookie: 16 hex digits.
func NewCookie() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// withDefaults returns c with its zero fields set to their defaults, or an
// error that names the field's meaning if one is out of range.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Interval < 0, c.BurstGap < 0, c.ReplyGap < 0, c.PeerTTL < 0:
		return c, fmt.Errorf("LSD: negative interval")
	case c.Burst < 0:
		return c, fmt.Errorf("LSD: negative burst")
	case c.MaxPeers < 0:
		return c, fmt.Errorf("LSD: negative peer limit")
	case c.MaxRate < 0:
		return c, fmt.Errorf("LSD: negative message rate")
	case c.HopLimit < 0 || c.HopLimit > 255:
		return c, fmt.Errorf("LSD: hop limit %d: want 1 to 255", c.HopLimit)
	}
	if c.Cookie == "" {
		c.Cookie = NewCookie()
	} else if err := checkCookie(c.Cookie); err != nil {
		return c, err
	}
	if len(c.Groups) == 0 {
		c.Groups = DefaultGroups()
	}
	seen := map[netip.AddrPort]bool{}
	for _, g := range c.Groups {
		if !g.Addr().IsMulticast() || g.Port() == 0 || g.Addr().Zone() != "" {
			return c, fmt.Errorf("LSD: group %s: want a multicast address and a port", g)
		}
		if seen[g] {
			return c, fmt.Errorf("LSD: group %s given twice", g)
		}
		seen[g] = true
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	if c.BurstGap == 0 {
		c.BurstGap = DefaultBurstGap
	}
	if c.ReplyGap == 0 {
		c.ReplyGap = DefaultReplyGap
	}
	if c.PeerTTL == 0 {
		c.PeerTTL = 3 * c.Interval
	}
	if c.MaxPeers == 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	if c.MaxRate == 0 {
		c.MaxRate = DefaultMaxRate
	}
	if c.HopLimit == 0 {
		c.HopLimit = 1
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c, nil
}

// checkCookie accepts what Parse reads back unchanged: 1 to MaxValueLen
// printable ASCII characters, without a space at either end.
func checkCookie(s string) error {
	if len(s) > MaxValueLen {
		return fmt.Errorf("LSD: cookie of %d bytes, limit %d", len(s), MaxValueLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return fmt.Errorf("LSD: cookie %q: want printable ASCII", s)
		}
	}
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("LSD: cookie %q: space at an end", s)
	}
	return nil
}
