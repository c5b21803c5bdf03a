package dht

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/dht/v2/bep44"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent/bencode"
)

// screenConn is the node's UDP socket as anacrolix's server sees it. It
// drops, before the server decodes them, the packets that would crash or
// misuse it (screen), and tells Close when the server's read loop has left
// it: closed, with no read in progress.
type screenConn struct {
	net.PacketConn
	dropped   atomic.Uint64
	closeOnce sync.Once
	closeErr  error
	logf      func(string, ...any)

	mu      sync.Mutex
	closed  bool
	reading int
	exited  chan struct{} // closed once closed and reading == 0
	gone    bool          // exited is closed
}

func newScreenConn(c net.PacketConn, logf func(string, ...any)) *screenConn {
	return &screenConn{PacketConn: c, exited: make(chan struct{}), logf: logf}
}

// ReadFrom returns the next packet that passes screen. Errors other than a
// closed socket are logged and the read retried: anacrolix's server panics
// on any read error while it is open.
func (c *screenConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, nil, net.ErrClosed
	}
	c.reading++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reading--
		c.exitLocked()
		c.mu.Unlock()
	}()
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return n, addr, err
			}
			c.logf("DHT socket: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if n < len(b) && !screen(b[:n]) {
			c.dropped.Add(1)
			continue
		}
		return n, addr, nil
	}
}

// Close closes the socket once; anacrolix's server closes it too.
func (c *screenConn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.PacketConn.Close()
		c.mu.Lock()
		c.closed = true
		c.exitLocked()
		c.mu.Unlock()
	})
	return c.closeErr
}

func (c *screenConn) exitLocked() {
	if c.closed && c.reading == 0 && !c.gone {
		c.gone = true
		close(c.exited)
	}
}

// screen reports whether a packet may reach anacrolix's server. It refuses
// what is not a KRPC dictionary, what the decoder cannot decode, and what
// makes it panic: anacrolix/dht v2.23's krpc.NodeAddr.UnmarshalBinary makes
// a slice of length len-2 from the wire, so an "ip" or "values" string
// shorter than two bytes is a runtime panic that the decoder re-panics and
// that would end the process. It also refuses queries without arguments
// (the server dereferences them for announce_peer, put and get) and BEP 44
// put and get, which this node does not serve.
func screen(b []byte) (ok bool) {
	if len(b) < 2 || b[0] != 'd' {
		return false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	var m krpc.Msg
	if err := bencode.Unmarshal(b, &m); err != nil {
		var trailing bencode.ErrUnusedTrailingBytes
		if !errors.As(err, &trailing) {
			return false
		}
	}
	switch m.Y {
	case krpc.YQuery:
		return m.A != nil && m.Q != "put" && m.Q != "get"
	case krpc.YResponse, krpc.YError:
		return true
	}
	return false
}

// noStore is the BEP 44 store of a node that stores no items: anacrolix's
// default keeps every item put to it, without bound.
type noStore struct{}

var _ bep44.Store = noStore{}

func (noStore) Put(*bep44.Item) error { return krpc.ErrorMethodUnknown }

func (noStore) Get(bep44.Target) (*bep44.Item, error) { return nil, bep44.ErrItemNotFound }

func (noStore) Del(bep44.Target) error { return nil }
