package socks5test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Protocol constants of RFC 1928 and RFC 1929.
const (
	version5         = 5
	authNone         = 0x00
	authUserPass     = 0x02
	authNoAcceptable = 0xff
	userPassVer      = 1
	cmdConnect       = 1
	atypIPv4         = 1
	atypDomain       = 3
	atypIPv6         = 4
	repSucceeded     = 0
	repUnreachable   = 4
	repCmdNotSupp    = 7
	repAtypNotSupp   = 8
)

// handshakeTimeout bounds how long a client may take to say what it wants.
const handshakeTimeout = 10 * time.Second

// Options configure a Server. The zero value accepts clients without
// authentication.
type Options struct {
	// User and Password, if User is not empty, are the only credentials
	// accepted, and clients must send them (RFC 1929).
	User, Password string
}

// Server is a SOCKS5 proxy on 127.0.0.1.
type Server struct {
	opts Options
	ln   net.Listener

	mu       sync.Mutex
	conns    map[net.Conn]struct{} // open, client and target sides
	targets  []string
	accepted int
	authFail int
	closed   bool

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Start starts a proxy on a free port of 127.0.0.1.
func Start(opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, ln: ln, conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// New starts a proxy for the test t and closes it when t ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// Addr returns the proxy's address, 127.0.0.1:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the proxy's URL with the given scheme ("socks5" or
// "socks5h"), and the Options' credentials if any.
func (s *Server) URL(scheme string) string {
	u := url.URL{Scheme: scheme, Host: s.Addr()}
	if s.opts.User != "" {
		u.User = url.UserPassword(s.opts.User, s.opts.Password)
	}
	return u.String()
}

// Conns returns how many client connections the proxy accepted.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Targets returns the targets of the CONNECT requests received, in order,
// as host:port the way the client sent them (an IP address, or a name the
// proxy resolved), whether or not the proxy could connect.
func (s *Server) Targets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.targets...)
}

// AuthFailures returns how many clients were refused for their
// credentials, or for offering no method the proxy accepts.
func (s *Server) AuthFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authFail
}

// Close stops the proxy: it accepts no more clients, closes every
// connection, and returns once every goroutine ended. It is idempotent.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		err = s.ln.Close()
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return err
}

// track adds c to the open connections, or closes it and returns false
// once the proxy is closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(c) {
			return
		}
		s.mu.Lock()
		s.accepted++
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.handle(c)
		}()
	}
}

// handle serves one client: method negotiation, authentication, CONNECT,
// then the relay until either side closes.
func (s *Server) handle(c net.Conn) {
	if err := c.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return
	}
	if !s.negotiate(c) {
		return
	}
	target, ok := s.request(c)
	if !ok {
		return
	}
	s.mu.Lock()
	s.targets = append(s.targets, target)
	s.mu.Unlock()
	d := net.Dialer{Timeout: handshakeTimeout}
	t, err := d.Dial("tcp", target)
	if err != nil {
		reply(c, repUnreachable, nil)
		return
	}
	if !s.track(t) {
		return
	}
	defer s.untrack(t)
	if reply(c, repSucceeded, t.LocalAddr()) != nil || c.SetDeadline(time.Time{}) != nil {
		return
	}
	relay(c, t)
}

// negotiate reads the client's methods and authenticates it.
func (s *Server) negotiate(c net.Conn) bool {
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || hdr[0] != version5 {
		return false
	}
	methods := make([]byte, hdr[1]) // at most 255
	if _, err := io.ReadFull(c, methods); err != nil {
		return false
	}
	want := byte(authNone)
	if s.opts.User != "" {
		want = authUserPass
	}
	offered := false
	for _, m := range methods {
		offered = offered || m == want
	}
	if !offered {
		s.failAuth()
		c.Write([]byte{version5, authNoAcceptable})
		return false
	}
	if _, err := c.Write([]byte{version5, want}); err != nil {
		return false
	}
	if want == authNone {
		return true
	}
	// RFC 1929: VER ULEN UNAME PLEN PASSWD.
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil || b[0] != userPassVer {
		return false
	}
	user, err := readShort(c)
	if err != nil {
		return false
	}
	pass, err := readShort(c)
	if err != nil {
		return false
	}
	if user != s.opts.User || pass != s.opts.Password {
		s.failAuth()
		c.Write([]byte{userPassVer, 1})
		return false
	}
	_, err = c.Write([]byte{userPassVer, 0})
	return err == nil
}

func (s *Server) failAuth() {
	s.mu.Lock()
	s.authFail++
	s.mu.Unlock()
}

// readShort reads a string preceded by its length in one byte.
func readShort(r io.Reader) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", err
	}
	b := make([]byte, n[0])
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// request reads a request (VER CMD RSV ATYP DST.ADDR DST.PORT) and returns
// its target; any other command than CONNECT is refused.
func (s *Server) request(c net.Conn) (string, bool) {
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || hdr[0] != version5 {
		return "", false
	}
	var host string
	switch hdr[3] {
	case atypIPv4, atypIPv6:
		ip := make(net.IP, 4)
		if hdr[3] == atypIPv6 {
			ip = make(net.IP, 16)
		}
		if _, err := io.ReadFull(c, ip); err != nil {
			return "", false
		}
		host = ip.String()
	case atypDomain:
		name, err := readShort(c)
		if err != nil {
			return "", false
		}
		host = name
	default:
		reply(c, repAtypNotSupp, nil)
		return "", false
	}
	var port [2]byte
	if _, err := io.ReadFull(c, port[:]); err != nil {
		return "", false
	}
	if hdr[1] != cmdConnect {
		reply(c, repCmdNotSupp, nil)
		return "", false
	}
	return net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:])))), true
}

// reply sends a reply with code rep and the bound address bound (0.0.0.0:0
// if nil).
func reply(c net.Conn, rep byte, bound net.Addr) error {
	ip, port := net.IPv4zero.To4(), 0
	if a, ok := bound.(*net.TCPAddr); ok {
		ip, port = a.IP, a.Port
	}
	b := []byte{version5, rep, 0}
	if ip4 := ip.To4(); ip4 != nil {
		b = append(append(b, atypIPv4), ip4...)
	} else {
		b = append(append(b, atypIPv6), ip.To16()...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(port))
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("replying: %w", err)
	}
	if rep != repSucceeded {
		return errors.New("request refused")
	}
	return nil
}

// relay copies both ways between a and b until both directions ended,
// passing on each end of stream as a half close.
func relay(a, b net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(b, a)
		closeWrite(b)
	}()
	io.Copy(a, b)
	closeWrite(a)
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
