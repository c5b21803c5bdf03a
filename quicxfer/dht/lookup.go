package dht

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// Lookup finds peers that announced id: up to Config.MaxPeers addresses,
// each once, all of them inside the address policy. It returns when the
// traversal has reached the nodes closest to the key, when MaxPeers are
// found, or at Config.TraversalTimeout, with a nil error in each case (and
// possibly no peer). If ctx ends first it returns the peers found so far
// and ctx's error; if the node is closed, ErrClosed. With an empty routing
// table and no bootstrap node the error wraps ErrNoNodes.
func (n *Node) Lookup(ctx context.Context, id manifest.ID) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	err := n.LookupFunc(ctx, id, func(ap netip.AddrPort) bool {
		out = append(out, ap)
		return true
	})
	return out, err
}

// LookupFunc is Lookup that calls fn with each peer as soon as a node
// returns it, so that a download can dial the first peer while the lookup
// goes on; fn returning false ends the lookup. fn runs on the lookup's
// goroutine and holds the traversal up while it runs: it should hand the
// address on, not dial it.
func (n *Node) LookupFunc(ctx context.Context, id manifest.ID, fn func(netip.AddrPort) bool) error {
	if err := n.begin(); err != nil {
		return err
	}
	n.lookups.Add(1)
	f := newPeerFilter(n.cfg, n.policy)
	return n.traverse(ctx, Key(id), func(pv dht.PeersValues) bool {
		fresh, refused := f.add(pv.NodeInfo.Addr, pv.Peers)
		n.peersRefused.Add(uint64(refused))
		for _, ap := range fresh {
			n.peersFound.Add(1)
			if !fn(ap) {
				return false
			}
		}
		return !f.full()
	})
}

// traverse runs one get_peers traversal toward key and calls each with
// every answer until the traversal stalls (it has asked the closest nodes
// it could find), each returns false, Config.TraversalTimeout passes, ctx
// ends or the node is closed. Whatever ends it, traverse waits for the
// traversal's queries to finish before it returns: anacrolix blocks a
// query's goroutine until its answer is read.
func (n *Node) traverse(ctx context.Context, key [20]byte, each func(dht.PeersValues) bool) error {
	if err := n.begin(); err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, n.cfg.TraversalTimeout)
	defer cancel()
	stop := context.AfterFunc(n.ctx, cancel)
	defer stop()
	a, err := n.srv.AnnounceTraversal(key)
	if err != nil {
		if n.ctx.Err() != nil {
			return ErrClosed
		}
		if errors.Is(err, ErrNoNodes) {
			return ErrNoNodes
		}
		return fmt.Errorf("%w (%v)", ErrNoNodes, err)
	}
	done := tctx.Done()
	more := true
	for {
		select {
		case pv, ok := <-a.Peers:
			if !ok {
				switch {
				case n.ctx.Err() != nil:
					return ErrClosed
				case ctx.Err() != nil:
					return ctx.Err()
				}
				return nil
			}
			if more && !each(pv) {
				more = false
				a.Close()
			}
		case <-done:
			done = nil
			more = false
			a.Close()
		}
	}
}

// peerFilter turns the values of a lookup's answers into peers: addresses
// inside the policy, each once, at most perIP ports of one IP, at most
// perNode peers from the nodes of one IP, at most max in all.
type peerFilter struct {
	policy              addrPolicy
	max, perIP, perNode int
	seen                map[netip.AddrPort]struct{}
	ips, nodes          map[netip.Addr]int
}

func newPeerFilter(c Config, p addrPolicy) *peerFilter {
	return &peerFilter{
		policy:  p,
		max:     c.MaxPeers,
		perIP:   c.MaxPeersPerIP,
		perNode: c.MaxPeersPerNode,
		seen:    make(map[netip.AddrPort]struct{}),
		ips:     make(map[netip.Addr]int),
		nodes:   make(map[netip.Addr]int),
	}
}

// add takes the values node from answered with and returns the peers new
// to this lookup and how many values it refused (duplicates are not
// refusals).
func (f *peerFilter) add(from krpc.NodeAddr, values []krpc.NodeAddr) (fresh []netip.AddrPort, refused int) {
	node, _ := fromIP(from.IP)
	for _, v := range values {
		if f.full() {
			break
		}
		ip, ok := fromIP(v.IP)
		port, okPort := fromWirePort(v.Port)
		ap := netip.AddrPortFrom(ip, port)
		if !ok || !okPort || !f.policy.allowAddrPort(ap) {
			refused++
			continue
		}
		if _, dup := f.seen[ap]; dup {
			continue
		}
		if f.ips[ip] >= f.perIP || f.nodes[node] >= f.perNode {
			refused++
			continue
		}
		f.seen[ap] = struct{}{}
		f.ips[ip]++
		f.nodes[node]++
		fresh = append(fresh, ap)
	}
	return fresh, refused
}

// full reports whether the lookup has its max peers.
func (f *peerFilter) full() bool { return len(f.seen) >= f.max }
