package dht

import (
	"net"
	"net/netip"

	"github.com/anacrolix/torrent/iplist"
)

// neverPrefixes are refused whatever Config.AllowPrivate says: no peer or
// node is ever there.
var neverPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),   // "this network", 0.0.0.0
	netip.MustParsePrefix("240.0.0.0/4"), // reserved, 255.255.255.255
	netip.MustParsePrefix("::/128"),
}

// nonPublicPrefixes are refused unless Config.AllowPrivate is set: special
// purpose ranges (RFC 6890 and successors) beyond those netip classifies.
var nonPublicPrefixes = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
}

// addrPolicy decides which addresses a node talks to and which peers it
// accepts. It is the one place the address rules live.
type addrPolicy struct {
	allowPrivate bool
}

// allowAddr reports whether a is an address a node or a peer may have.
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
func (p addrPolicy) allowAddr(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	if a.IsUnspecified() || a.IsMulticast() {
		return false
	}
	for _, pre := range neverPrefixes {
		if pre.Contains(a) {
			return false
		}
	}
	if p.allowPrivate {
		return true
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() {
		return false
	}
	for _, pre := range nonPublicPrefixes {
		if pre.Contains(a) {
			return false
		}
	}
	return true
}

// allowAddrPort is allowAddr and a port other than 0.
func (p addrPolicy) allowAddrPort(ap netip.AddrPort) bool {
	return ap.Port() != 0 && p.allowAddr(ap.Addr())
}

// fromIP converts a net.IP of 4 or 16 bytes, unmapping IPv4; anything else
// is not an address.
func fromIP(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// fromWirePort converts a port from the wire, refusing what is not 1 to
// 65535.
func fromWirePort(port int) (uint16, bool) {
	if port <= 0 || port > 65535 {
		return 0, false
	}
	return uint16(port), true
}

// blocklist lets anacrolix's server apply the policy to every packet it
// reads or writes and to every node a traversal would query.
type blocklist struct{ p addrPolicy }

var _ iplist.Ranger = blocklist{}

func (b blocklist) Lookup(ip net.IP) (iplist.Range, bool) {
	a, ok := fromIP(ip)
	if ok && b.p.allowAddr(a) {
		return iplist.Range{}, false
	}
	return iplist.Range{First: ip, Last: ip, Description: "not an address this node talks to"}, true
}

func (b blocklist) NumRanges() int { return 1 }
