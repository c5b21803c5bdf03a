package dht

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

const (
	// announceK is how many of the closest nodes an announce stores the
	// peer on (BEP 5's K).
	announceK = 8
	// maxTokenLen bounds a token this node echoes back; real ones are a
	// few bytes.
	maxTokenLen = 64
)

// Announce announces that this host serves id on port (its QUIC port): a
// get_peers traversal toward the key, then announce_peer to the
// announceK closest nodes that gave a token. Other nodes record the
// address they see the announce come from with port. It returns nil if at
// least one node accepted, an *AnnounceError (wrapping ErrNotAnnounced) if
// none did, an error wrapping ErrNoNodes if there was no node to start
// from, ErrClosed if the node was closed, and ctx's error if ctx ended.
func (n *Node) Announce(ctx context.Context, id manifest.ID, port int) error {
	p, ok := fromWirePort(port)
	if !ok {
		return fmt.Errorf("announcing %v: port %d is not from 1 to 65535", id, port)
	}
	if err := n.begin(); err != nil {
		return err
	}
	key := Key(id)
	c := closest{key: key}
	answered := 0
	err := n.traverse(ctx, key, func(pv dht.PeersValues) bool {
		answered++
		tok := pv.Return.Token
		if tok == nil || *tok == "" || len(*tok) > maxTokenLen {
			return true
		}
		ip, ok := fromIP(pv.NodeInfo.Addr.IP)
		port, okPort := fromWirePort(pv.NodeInfo.Addr.Port)
		ap := netip.AddrPortFrom(ip, port)
		if !ok || !okPort || !n.policy.allowAddrPort(ap) {
			return true
		}
		if !n.cfg.NoSecurity && !dht.NodeIdSecure(pv.NodeInfo.ID, ip.AsSlice()) {
			return true
		}
		c.push(candidate{id: pv.NodeInfo.ID, addr: ap, token: *tok})
		return true
	})
	if err != nil {
		if !errors.Is(err, ErrClosed) && ctx.Err() == nil {
			n.announcesFailed.Add(1)
		}
		return fmt.Errorf("announcing %v: %w", id, err)
	}
	if accepted := n.announcePeer(ctx, key, p, c.nodes); accepted == 0 {
		n.announcesFailed.Add(1)
		return &AnnounceError{Key: key, Queried: answered, Tried: len(c.nodes)}
	}
	n.announces.Add(1)
	return nil
}

// announcePeer sends announce_peer to each node at once and returns how
// many accepted.
func (n *Node) announcePeer(ctx context.Context, key [20]byte, port uint16, nodes []candidate) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(n.ctx, cancel)
	defer stop()
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for _, c := range nodes {
		wg.Go(func() {
			p := int(port)
			res := n.srv.Query(ctx, dht.NewAddr(net.UDPAddrFromAddrPort(c.addr)), "announce_peer", dht.QueryInput{
				MsgArgs: krpc.MsgArgs{InfoHash: key, Port: &p, Token: c.token},
			})
			if res.Err == nil && res.Reply.Y == krpc.YResponse && res.Reply.R != nil {
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	return int(accepted.Load())
}

// candidate is a node that answered an announce's traversal with a token.
type candidate struct {
	id    [20]byte
	addr  netip.AddrPort
	token string
}

// closest keeps the announceK candidates closest to key by XOR distance.
type closest struct {
	key   [20]byte
	nodes []candidate
}

func (c *closest) push(n candidate) {
	for _, have := range c.nodes {
		if have.addr == n.addr {
			return
		}
	}
	c.nodes = append(c.nodes, n)
	slices.SortFunc(c.nodes, func(a, b candidate) int {
		da, db := distance(a.id, c.key), distance(b.id, c.key)
		return bytes.Compare(da[:], db[:])
	})
	if len(c.nodes) > announceK {
		c.nodes = c.nodes[:announceK]
	}
}

// distance is Kademlia's XOR metric.
func distance(a, b [20]byte) (d [20]byte) {
	for i := range d {
		d[i] = a[i] ^ b[i]
	}
	return d
}
