package dht

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by the calls of a Node (or an Announcer) that has
// been closed, and by those that were under way when it was.
var ErrClosed = errors.New("DHT node closed")

// ErrNoNodes is wrapped by the error of a lookup or an announce that had no
// node to start from: the routing table is empty and no bootstrap node
// could be resolved (or none was configured).
var ErrNoNodes = errors.New("no DHT node to start from")

// ErrNotAnnounced is wrapped by an *AnnounceError: no node accepted the
// announce.
var ErrNotAnnounced = errors.New("no DHT node accepted the announce")

// AnnounceError says that an announce reached no node: Queried nodes
// answered the traversal, Tried of them were sent announce_peer, and none
// accepted it. It wraps ErrNotAnnounced.
type AnnounceError struct {
	Key     [20]byte
	Queried int
	Tried   int
}

func (e *AnnounceError) Error() string {
	return fmt.Sprintf("announcing %x: %d nodes answered, %d were asked to store the peer, none accepted",
		e.Key, e.Queried, e.Tried)
}

func (e *AnnounceError) Unwrap() error { return ErrNotAnnounced }
