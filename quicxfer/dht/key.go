package dht

import "github.com/quicxfer/quicxfer/quicxfer/manifest"

// Key is the DHT key of content ID id: its first 20 bytes, as BitTorrent v2
// truncates SHA-256 info hashes for the DHT.
func Key(id manifest.ID) [20]byte {
	return [20]byte(id[:20])
}
