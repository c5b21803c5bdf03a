package lsd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
	"golang.org/x/time/rate"
)

// Stats counts what an Announcer or a Finder did. Every counter only grows.
type Stats struct {
	Sent        uint64 // messages sent, one per group, interface and message
	SendErrors  uint64 // sends that failed
	Received    uint64 // datagrams read
	TooLong     uint64 // dropped: longer than MaxMessageLen
	RateLimited uint64 // dropped unread: more than MaxRate a second
	Malformed   uint64 // dropped: Parse refused them, or their source address
	Own         uint64 // dropped: they carry this side's cookie
	Queries     uint64 // queries heard (messages with port 0)
	Replies     uint64 // Announcer: announces of an ID brought forward by a query
	PeersFound  uint64 // Finder: new (ID, address) pairs kept
}

type counters struct {
	sent, sendErrors, received, tooLong, rateLimited, malformed, own, queries, replies, peersFound atomic.Uint64
}

func (c *counters) stats() Stats {
	return Stats{
		Sent: c.sent.Load(), SendErrors: c.sendErrors.Load(), Received: c.received.Load(),
		TooLong: c.tooLong.Load(), RateLimited: c.rateLimited.Load(), Malformed: c.malformed.Load(),
		Own: c.own.Load(), Queries: c.queries.Load(), Replies: c.replies.Load(), PeersFound: c.peersFound.Load(),
	}
}

// intake is the receiving side's filter, the same for an Announcer and a
// Finder: size, then rate (before any parsing), then Parse, then cookie and
// source address. It is pure but for its limiter, which takes the time
// from the caller.
type intake struct {
	cookie string
	limit  *rate.Limiter
	st     *counters
}

func newIntake(c *Config, st *counters) intake {
	burst := max(1, int(c.MaxRate))
	return intake{cookie: c.Cookie, limit: rate.NewLimiter(rate.Limit(c.MaxRate), burst), st: st}
}

// take returns the message in b, received from from at now, and the
// address it came from, if it is to be handled.
func (in *intake) take(b []byte, from netip.AddrPort, now time.Time) (Message, netip.Addr, bool) {
	in.st.received.Add(1)
	if len(b) > MaxMessageLen {
		in.st.tooLong.Add(1)
		return Message{}, netip.Addr{}, false
	}
	if !in.limit.AllowN(now, 1) {
		in.st.rateLimited.Add(1)
		return Message{}, netip.Addr{}, false
	}
	m, err := Parse(b)
	if err != nil {
		in.st.malformed.Add(1)
		return Message{}, netip.Addr{}, false
	}
	if m.Cookie == in.cookie {
		in.st.own.Add(1)
		return Message{}, netip.Addr{}, false
	}
	ip := from.Addr().Unmap()
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() {
		in.st.malformed.Add(1)
		return Message{}, netip.Addr{}, false
	}
	return m, ip, true
}

// endpoint holds the sockets of an Announcer or a Finder: for each group
// one that listens on it, joined on every interface, and one that sends to
// it on every interface in turn.
type endpoint struct {
	groups []*group
	st     *counters
	logf   func(format string, args ...any)
}

type group struct {
	addr    netip.AddrPort
	recv    *net.UDPConn
	send    *net.UDPConn
	setIf   func(*net.Interface) error // the sending socket's interface
	ifaces  []net.Interface
	failing map[int]bool // interfaces whose last send failed; the sender's only
}

// openEndpoint opens the sockets. A group or an interface that fails is
// left out, with a message to Logf; it is an error only if nothing is left.
func openEndpoint(c *Config, st *counters) (*endpoint, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("LSD: listing network interfaces: %w", err)
	}
	ifaces, err := chooseInterfaces(all, c.Interfaces)
	if err != nil {
		return nil, err
	}
	e := &endpoint{st: st, logf: c.Logf}
	var errs []error
	for _, g := range c.Groups {
		gr, err := openGroup(g, ifaces, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.groups = append(e.groups, gr)
	}
	if len(e.groups) == 0 {
		return nil, fmt.Errorf("LSD: no multicast group could be joined: %w", errors.Join(errs...))
	}
	for _, err := range errs {
		c.Logf("%v; going on without it", err)
	}
	return e, nil
}

// chooseInterfaces returns the interfaces named, or if none is, those
// that are up and can multicast.
func chooseInterfaces(all []net.Interface, names []string) ([]net.Interface, error) {
	if len(names) == 0 {
		var out []net.Interface
		for _, ifi := range all {
			if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
				out = append(out, ifi)
			}
		}
		if len(out) == 0 {
			return nil, errors.New("LSD: no network interface is up and can multicast")
		}
		return out, nil
	}
	var out []net.Interface
	for _, name := range names {
		i := -1
		for j := range all {
			if all[j].Name == name {
				i = j
			}
		}
		switch {
		case i < 0:
			return nil, fmt.Errorf("LSD: no network interface %q", name)
		case all[i].Flags&net.FlagUp == 0:
			return nil, fmt.Errorf("LSD: network interface %s is down", name)
		case all[i].Flags&net.FlagMulticast == 0:
			return nil, fmt.Errorf("LSD: network interface %s cannot multicast", name)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// openGroup opens the two sockets of group g on those of ifaces that have
// an address of its family and join it.
func openGroup(g netip.AddrPort, ifaces []net.Interface, c *Config) (*group, error) {
	v6 := g.Addr().Is6()
	network := map[bool]string{false: "udp4", true: "udp6"}[v6]
	var fit []net.Interface
	for _, ifi := range ifaces {
		if hasFamily(&ifi, v6) {
			fit = append(fit, ifi)
		}
	}
	if len(fit) == 0 {
		return nil, fmt.Errorf("LSD: group %s: no interface has an %s address", g, map[bool]string{false: "IPv4", true: "IPv6"}[v6])
	}
	lc := net.ListenConfig{Control: reuseAddr}
	pc, err := lc.ListenPacket(context.Background(), network, g.String())
	if err != nil {
		return nil, fmt.Errorf("LSD: group %s: %w", g, err)
	}
	gr := &group{addr: g, recv: pc.(*net.UDPConn), failing: map[int]bool{}}
	gaddr := &net.UDPAddr{IP: g.Addr().AsSlice()}
	join := func(ifi *net.Interface) error { return ipv4.NewPacketConn(gr.recv).JoinGroup(ifi, gaddr) }
	if v6 {
		join = func(ifi *net.Interface) error { return ipv6.NewPacketConn(gr.recv).JoinGroup(ifi, gaddr) }
	}
	var errs []error
	for _, ifi := range fit {
		if err := join(&ifi); err != nil {
			errs = append(errs, fmt.Errorf("joining on %s: %w", ifi.Name, err))
			continue
		}
		gr.ifaces = append(gr.ifaces, ifi)
	}
	if len(gr.ifaces) == 0 {
		gr.recv.Close()
		return nil, fmt.Errorf("LSD: group %s: %w", g, errors.Join(errs...))
	}
	for _, err := range errs {
		c.Logf("LSD: group %s: %v; going on without that interface", g, err)
	}

	laddr := &net.UDPAddr{IP: net.IPv4zero}
	if v6 {
		laddr.IP = net.IPv6unspecified
	}
	gr.send, err = net.ListenUDP(network, laddr)
	if err != nil {
		gr.recv.Close()
		return nil, fmt.Errorf("LSD: group %s: sending socket: %w", g, err)
	}
	if v6 {
		p := ipv6.NewPacketConn(gr.send)
		err = errors.Join(p.SetMulticastHopLimit(c.HopLimit), p.SetMulticastLoopback(true))
		gr.setIf = p.SetMulticastInterface
	} else {
		p := ipv4.NewPacketConn(gr.send)
		err = errors.Join(p.SetMulticastTTL(c.HopLimit), p.SetMulticastLoopback(true))
		gr.setIf = p.SetMulticastInterface
	}
	if err != nil {
		gr.close()
		return nil, fmt.Errorf("LSD: group %s: sending socket: %w", g, err)
	}
	return gr, nil
}

// hasFamily reports whether ifi has an address of the family.
func hasFamily(ifi *net.Interface, v6 bool) bool {
	addrs, err := ifi.Addrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && (n.IP.To4() == nil) == v6 {
			return true
		}
	}
	return false
}

// reuseAddr sets SO_REUSEADDR, so that several processes on a host (a seed
// and a download) can all listen on a group's port.
func reuseAddr(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	})
	return errors.Join(err, serr)
}

// start starts a reader for each group, owned by wg, that passes every
// datagram to handle until the sockets close. handle must not keep b.
func (e *endpoint) start(wg *sync.WaitGroup, done <-chan struct{}, handle func(b []byte, from netip.AddrPort)) {
	for _, gr := range e.groups {
		wg.Go(func() { readLoop(gr.recv, done, handle) })
	}
}

func readLoop(c *net.UDPConn, done <-chan struct{}, handle func(b []byte, from netip.AddrPort)) {
	buf := make([]byte, MaxMessageLen+1) // one more, to tell a longer datagram
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			pause.Reset(10 * time.Millisecond) // a passing error; do not spin on it
			select {
			case <-done:
				return
			case <-pause.C:
			}
			continue
		}
		handle(buf[:n], from)
	}
}

// send sends messages that announce (or, with port 0, query) hs to every
// group on every interface.
func (e *endpoint) send(port uint16, cookie string, hs []Infohash) {
	for _, gr := range e.groups {
		for _, msg := range pack(gr.addr.String(), port, cookie, hs) {
			for i := range gr.ifaces {
				ifi := &gr.ifaces[i]
				err := gr.setIf(ifi)
				if err == nil {
					_, err = gr.send.WriteToUDPAddrPort(msg, gr.addr)
				}
				switch {
				case errors.Is(err, net.ErrClosed):
					return // closing
				case err != nil:
					e.st.sendErrors.Add(1)
					if !gr.failing[ifi.Index] {
						e.logf("LSD: sending to %s on %s: %v", gr.addr, ifi.Name, err)
						gr.failing[ifi.Index] = true
					}
				default:
					e.st.sent.Add(1)
					delete(gr.failing, ifi.Index)
				}
			}
		}
	}
}

// pack returns the messages that carry hs, each at most SendLen bytes and
// MaxInfohashes infohashes.
func pack(host string, port uint16, cookie string, hs []Infohash) [][]byte {
	base := len((&Message{Host: host, Port: port, Cookie: cookie}).Append(nil))
	per := min(MaxInfohashes, max(1, (SendLen-base)/len("Infohash: 0123456789012345678901234567890123456789\r\n")))
	var out [][]byte
	for len(hs) > 0 {
		n := min(per, len(hs))
		m := Message{Host: host, Port: port, Infohashes: hs[:n], Cookie: cookie}
		out = append(out, m.Append(make([]byte, 0, SendLen)))
		hs = hs[n:]
	}
	return out
}

func (e *endpoint) close() {
	for _, gr := range e.groups {
		gr.close()
	}
}

func (gr *group) close() {
	gr.recv.Close()
	if gr.send != nil {
		gr.send.Close()
	}
}
