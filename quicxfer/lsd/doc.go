// Package lsd finds seeds on the local network, with no bootstrap and no
// URL, by BitTorrent's Local Service Discovery (BEP 14): a seed multicasts
// which content IDs it serves and its QUIC port, a download listens.
//
// # Why LSD, not mDNS
//
// BEP 14 is the whole protocol in a dozen lines: one UDP datagram of
// HTTP-like text, to 239.192.152.143:6771 and [ff15::efc0:988f]:6771, that
// names a port and the infohashes served. It needs nothing beyond the
// module's golang.org/x/net (multicast membership), keys on 20-byte
// infohashes as the DHT does (a content ID's first 20 bytes), and is what
// BitTorrent clients already speak on LANs. mDNS (DNS-SD with
// github.com/hashicorp/mdns) would add a DNS stack as a dependency and
// need a service name or TXT record per content ID, with caches and
// conflict rules that buy nothing here. LSD works, so mDNS is not used.
//
// # Design
//
// An Announcer (for a seed, opt-in) and a Finder (for a download) each own
// an endpoint: for each group, one socket bound to the group's address and
// port (SO_REUSEADDR, so that a seed and a download on one host can both
// listen) and joined on every interface of Config, and one unbound socket
// that sends to the group on each interface in turn (IP_MULTICAST_IF,
// with multicast loopback on, so that processes on the same host hear each
// other). Every message is at most SendLen bytes; more IDs are split over
// several.
//
// What each side sends is decided by a schedule (pure, tested with a fake
// clock): an ID added is sent at once, then Burst-1 more times BurstGap
// apart, then once every Interval (BEP 14: at most once a minute in steady
// state). A Finder sends the same messages with port 0, a query: the
// package's one addition to BEP 14, so that a download started between two
// announces does not wait up to a minute. An Announcer that hears a query
// for one of its IDs brings that ID's next announce forward to now, but to
// no less than ReplyGap after its last one; it never answers announces, so
// two seeds do not answer each other. BitTorrent clients drop messages with
// port 0 and never have our infohashes (SHA-256 of a manifest, not of a
// torrent's info), so the two kinds of traffic pass each other harmlessly.
//
// What is heard goes through one filter (intake): a datagram longer than
// MaxMessageLen is dropped unread, then at most MaxRate messages a second
// (all sockets together) are parsed, then Parse refuses malformed ones,
// then messages that carry this side's cookie (its own, looped back, or
// its process's other side's) and ones from an unspecified or multicast
// source are dropped. A Finder then keeps, for each ID it looks for, the
// peer (the datagram's source IP address, zone included for a link-local
// one, and the announced port) in a table (pure) that holds at most
// MaxPeers an ID, at most MaxPeersPerIP on one address, each forgotten
// PeerTTL after it was last heard. New peers are refused while an ID is
// full. Peers and Changed give them to the caller.
//
// # Trust
//
// Anyone on the LAN can announce anything, from any source address: a
// peer from LSD is an address to try, nothing more. A caller dials a
// bounded number of them and verifies every block against the content ID,
// as it does with the DHT's peers; a private seed (with a token or client
// certificates) should not announce at all.
//
// # Limits
//
// Interfaces are chosen when an Announcer or a Finder starts; one that
// comes up later is not used until the next start. The source address of
// what is sent is the kernel's choice for the interface (on a loopback
// interface with only 127.0.0.1, that is 0.0.0.0, which receivers refuse:
// LSD is for real links). A seed with many IDs sends all of them every
// Interval, about 25 to a message.
package lsd
