// Package dht finds the seeds of a content ID on the BitTorrent mainline DHT
// (BEP 5), and announces this host as one, through a node of its own built
// on github.com/anacrolix/dht/v2.
//
// # Keys
//
// A content ID is a SHA-256; its DHT key is its first 20 bytes (Key), as
// BitTorrent v2 truncates SHA-256 info hashes. An announce says "this host
// serves the key on this (QUIC) port"; a lookup returns addresses, never a
// proof: whoever dials them checks every block against the content ID.
//
// # A node
//
// Start opens the node's own UDP socket (KRPC cannot share the QUIC one) and
// runs anacrolix's server on it. A traversal starts from the routing table,
// or, while it is empty, from the nodes saved at Config.StatePath and the
// bootstrap nodes (the public routers unless told otherwise). The node's
// loop bootstraps it and starts anacrolix's table maintainer once the table
// has a node (before that, anacrolix's Bootstrap would leak a traversal a
// minute); it saves the table, with the node's ID, on Close and every
// SaveInterval, by an atomic replace.
//
//	Lookup / LookupFunc   get_peers traversal toward Key(id) ─▶ values
//	                      ─▶ peerFilter (policy, dedupe, per-IP, per-node, max) ─▶ caller
//	Announce              the same traversal, keeping the 8 closest nodes that
//	                      gave a token ─▶ announce_peer to each, at once
//	Announcer             a schedule of IDs: due ─▶ Announce (4 at once) ─▶
//	                      again after AnnounceInterval, sooner after a failure
//
// # What comes from the network is untrusted
//
//   - The socket is wrapped (screenConn): a packet reaches anacrolix's
//     decoder only if it decodes without a panic, and a query only with its
//     arguments. anacrolix/dht v2.23 crashes the process on a compact
//     address ("ip", or an entry of "values") of fewer than two bytes, and
//     on an announce_peer with no arguments; the screen drops both.
//   - Addresses outside the public ranges (addrPolicy: loopback, private,
//     link-local, CGNAT, documentation; always unspecified, multicast,
//     broadcast, port 0) are refused as nodes, through anacrolix's IP block
//     list, which covers every packet in and out and every node a traversal
//     would query, and as peers, in lookups and in the peer store, unless
//     Config.AllowPrivate.
//   - A lookup returns each peer once, at most MaxPeersPerIP ports of one
//     IP, at most MaxPeersPerNode peers from the nodes of one IP, and at
//     most MaxPeers in all. Every traversal ends by TraversalTimeout and
//     every query by QueryTimeout; every packet sent goes through the node's
//     own rate limiter (anacrolix's default is one for the whole process).
//   - The peer store (anacrolix's InMemory keys peers by IP alone and
//     returns malformed addresses) keys by info hash and IP and port,
//     forgets a peer PeerTTL after its last announce, and is bounded in
//     keys, peers per key and ports per IP; BEP 44 items are not stored.
//
// Stats gives the counters for metrics. Close is idempotent; it stops the
// announcers and ends the lookups under way with ErrClosed.
package dht
