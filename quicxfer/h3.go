package quicxfer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/idna"
)

// HTTP3Mode says when an https mirror is used over HTTP/3.
type HTTP3Mode int

const (
	// HTTP3Auto uses HTTP/3 with an https mirror once it advertised it
	// (Alt-Svc: h3=":port", on the same host), for as long as it said
	// (ma=, a day if it did not). When a request over HTTP/3 fails before
	// any response, the mirror is used over TCP (HTTP/2 or 1.1) for a while
	// (h3BrokenFor) and the request is sent again over TCP, once. Through
	// a proxy (HTTP or SOCKS) it never uses HTTP/3: UDP would bypass the
	// proxy.
	HTTP3Auto HTTP3Mode = iota
	// HTTP3Always sends every https request over HTTP/3, to the URL's port
	// over UDP, with no fallback, proxy or not: an explicit choice.
	HTTP3Always
	// HTTP3Never never uses HTTP/3.
	HTTP3Never
)

var http3ModeNames = [...]string{HTTP3Auto: "auto", HTTP3Always: "always", HTTP3Never: "never"}

// ParseHTTP3Mode reads a mode by its name: "auto", "always" or "never".
func ParseHTTP3Mode(s string) (HTTP3Mode, error) {
	for m, name := range http3ModeNames {
		if s == name {
			return HTTP3Mode(m), nil
		}
	}
	return 0, fmt.Errorf("HTTP/3 mode %q: want %s", s, strings.Join(http3ModeNames[:], ", "))
}

// String returns the mode's name, as ParseHTTP3Mode reads it.
func (m HTTP3Mode) String() string {
	if m >= 0 && int(m) < len(http3ModeNames) {
		return http3ModeNames[m]
	}
	return "HTTP3Mode(" + strconv.Itoa(int(m)) + ")"
}

// Settings of the HTTP/3 side of mirrors.
const (
	// h3HandshakeTimeout is short: in auto mode, a mirror whose UDP port
	// does not answer (a firewall drops it) is soon used over TCP instead.
	h3HandshakeTimeout = 3 * time.Second
	// altSvcDefaultAge is how long an Alt-Svc entry without ma= holds
	// (RFC 7838 3.1), altSvcMaxAge the longest we keep any.
	altSvcDefaultAge = 24 * time.Hour
	altSvcMaxAge     = 30 * 24 * time.Hour
	// h3BrokenFor is how long an origin whose HTTP/3 request failed is
	// used over TCP only, whatever its Alt-Svc says.
	h3BrokenFor = 5 * time.Minute
	// maxAltSvcOrigins bounds the origins remembered; maxAltSvcValue and
	// maxAltSvcAlternatives how much of an Alt-Svc field is read.
	maxAltSvcOrigins      = 1024
	maxAltSvcValue        = 4096
	maxAltSvcAlternatives = 32
)

// h3QUICConfig is the QUIC configuration of HTTP/3 mirror connections: the
// timeouts of seed connections but a shorter handshake, and receive windows
// that auto-tune up to those of seeds (a range can be many blocks long).
func h3QUICConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:       h3HandshakeTimeout,
		MaxIdleTimeout:             idleTimeout,
		KeepAlivePeriod:            keepAlive,
		MaxStreamReceiveWindow:     streamWindow,
		MaxConnectionReceiveWindow: connWindow,
	}
}

// newHTTPTransport returns the RoundTripper for mirrors. tcp is the
// *http.Transport NewHTTPClient builds (TLS config, connections per host),
// with its proxy settings: tcp.Proxy for HTTP proxies, tcp.DialContext made
// by proxyDialer for a SOCKS one. tlsConf is the TLS configuration of
// HTTP/3 connections (the same trust as tcp's); its NextProtos are
// replaced by h3.
//
// Plain http requests, and every request with HTTP3Never, go over tcp. In
// auto mode, a request goes over TCP while tcp would send it through a
// proxy (tcp.Proxy returns a URL for it, or tcp.DialContext is a SOCKS
// dialer of proxyDialer that does not bypass its host, see viaSOCKS), even
// once the mirror advertised HTTP/3. Only an h3
// alternative on the origin's own host is taken, on another port: one on
// another host would need that host's certificate to carry the origin's
// name, which a mirror's seldom does, and would send the request where the
// user did not point it.
//
// The transport's CloseIdleConnections closes both sides' idle connections;
// Close also closes every HTTP/3 connection and its UDP socket.
func newHTTPTransport(tcp *http.Transport, mode HTTP3Mode, tlsConf *tls.Config) http.RoundTripper {
	t := &mirrorTransport{
		tcp:    tcp,
		mode:   mode,
		now:    time.Now,
		alt:    make(map[string]altSvc),
		broken: make(map[string]time.Time),
	}
	if mode == HTTP3Auto || mode == HTTP3Always {
		var conf *tls.Config
		if tlsConf != nil {
			conf = tlsConf.Clone()
		}
		t.h3 = &http3.Transport{
			TLSClientConfig:    conf,
			QUICConfig:         h3QUICConfig(),
			Dial:               t.dialH3,
			DisableCompression: tcp.DisableCompression,
		}
	}
	return t
}

// altSvc is an origin's HTTP/3 alternative: its port on the same host.
type altSvc struct {
	port    int
	expires time.Time
}

// mirrorTransport sends mirror requests over TCP (tcp) or HTTP/3 (h3) as
// its mode says.
type mirrorTransport struct {
	tcp  *http.Transport
	mode HTTP3Mode
	h3   *http3.Transport // nil with HTTP3Never
	now  func() time.Time

	mu sync.Mutex
	// alt holds the h3 alternatives advertised, broken until when an
	// origin is used over TCP only; both are keyed by originKey.
	alt    map[string]altSvc
	broken map[string]time.Time
	udp    *net.UDPConn    // the socket of every HTTP/3 connection, opened on the first
	quic   *quic.Transport // over udp
	closed bool

	closeOnce sync.Once
	closeErr  error
	h3Dials   atomic.Int64 // QUIC connections attempted
}

var (
	_ http.RoundTripper = (*mirrorTransport)(nil)
	_ io.Closer         = (*mirrorTransport)(nil)
)

// errTransportClosed is the error of a request made after Close.
var errTransportClosed = errors.New("mirror transport is closed")

// RoundTrip sends req over TCP or HTTP/3 as the mode says.
func (t *mirrorTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "https" || t.h3 == nil {
		return t.tcp.RoundTrip(req)
	}
	if t.mode == HTTP3Always {
		return t.h3.RoundTrip(req)
	}
	origin := originKey(req.URL.Host)
	if !t.useH3(req, origin) {
		resp, err := t.tcp.RoundTrip(req)
		if err == nil {
			t.learn(origin, req.URL.Hostname(), resp.Header)
		}
		return resp, err
	}
	resp, err := t.h3.RoundTrip(req)
	if err == nil {
		t.learn(origin, req.URL.Hostname(), resp.Header)
		return resp, nil
	}
	if req.Context().Err() != nil {
		return nil, err // given up on, not a failure of HTTP/3
	}
	t.markBroken(origin)
	retry, rerr := rewound(req)
	if rerr != nil {
		return nil, fmt.Errorf("over HTTP/3: %w (not sent again over TCP: %v)", err, rerr)
	}
	resp, err = t.tcp.RoundTrip(retry)
	if err == nil {
		t.learn(origin, req.URL.Hostname(), resp.Header)
	}
	return resp, err
}

// rewound returns req ready to be sent again, as net/http sends a request
// again on a broken connection: only an idempotent one (RFC 9110 9.2.2),
// as it is without a body, with a new one from GetBody otherwise.
func rewound(req *http.Request) (*http.Request, error) {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
	default:
		return nil, fmt.Errorf("a %s request may have been processed", req.Method)
	}
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	if req.GetBody == nil {
		return nil, errors.New("its body cannot be read again")
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r := *req
	r.Body = body
	return &r, nil
}

// useH3 says whether req, to origin, goes over HTTP/3 in auto mode.
func (t *mirrorTransport) useH3(req *http.Request, origin string) bool {
	t.mu.Lock()
	now := t.now()
	if until, ok := t.broken[origin]; ok {
		if now.Before(until) {
			t.mu.Unlock()
			return false
		}
		delete(t.broken, origin)
	}
	a, ok := t.alt[origin]
	if ok && !now.Before(a.expires) {
		delete(t.alt, origin)
		ok = false
	}
	t.mu.Unlock()
	return ok && !t.viaProxy(req)
}

// viaProxy says whether tcp sends req through a proxy.
func (t *mirrorTransport) viaProxy(req *http.Request) bool {
	if t.tcp.Proxy != nil {
		if u, err := t.tcp.Proxy(req); err != nil || u != nil {
			return true // a proxy that fails is still the user's choice
		}
	}
	return viaSOCKS(t.tcp.DialContext, originKey(req.URL.Host))
}

// markBroken has origin used over TCP only for h3BrokenFor.
func (t *mirrorTransport) markBroken(origin string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.broken) >= maxAltSvcOrigins {
		t.pruneLocked()
	}
	if len(t.broken) < maxAltSvcOrigins {
		t.broken[origin] = t.now().Add(h3BrokenFor)
	}
}

// learn records the h3 alternative that the Alt-Svc fields in h of a
// response from origin (whose host is host) advertise, or forgets it on
// "clear". A response without Alt-Svc changes nothing (RFC 7838 3).
func (t *mirrorTransport) learn(origin, host string, h http.Header) {
	values := h.Values("Alt-Svc")
	if len(values) == 0 {
		return
	}
	port, age, found, clear := parseAltSvc(values, host)
	if !found && !clear {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if clear || age <= 0 {
		delete(t.alt, origin)
		return
	}
	if _, ok := t.alt[origin]; !ok && len(t.alt) >= maxAltSvcOrigins {
		t.pruneLocked()
		if len(t.alt) >= maxAltSvcOrigins {
			return
		}
	}
	t.alt[origin] = altSvc{port: port, expires: t.now().Add(age)}
}

// pruneLocked forgets the entries that expired.
func (t *mirrorTransport) pruneLocked() {
	now := t.now()
	for k, a := range t.alt {
		if !now.Before(a.expires) {
			delete(t.alt, k)
		}
	}
	for k, until := range t.broken {
		if !now.Before(until) {
			delete(t.broken, k)
		}
	}
}

// dialH3 is the http3.Transport's Dial: addr is the origin's authority
// (host:port); in auto mode the connection goes to the port of its h3
// alternative, with HTTP3Always to the origin's port over UDP. The TLS
// server name stays the origin's host (http3 sets it).
func (t *mirrorTransport) dialH3(ctx context.Context, addr string, tlsConf *tls.Config, conf *quic.Config) (*quic.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	tr, err := t.quicTransport(originKey(addr), &port)
	if err != nil {
		return nil, err
	}
	ip, err := resolveOne(ctx, host)
	if err != nil {
		return nil, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", port, err)
	}
	t.h3Dials.Add(1)
	return tr.DialEarly(ctx, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(p))), tlsConf, conf)
}

// quicTransport returns the QUIC transport of every HTTP/3 connection,
// opening its UDP socket the first time, and sets *port to that of
// origin's h3 alternative if it has one.
func (t *mirrorTransport) quicTransport(origin string, port *string) (*quic.Transport, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errTransportClosed
	}
	if a, ok := t.alt[origin]; ok && t.mode == HTTP3Auto {
		*port = strconv.Itoa(a.port)
	}
	if t.quic == nil {
		udp, err := net.ListenUDP("udp", &net.UDPAddr{})
		if err != nil {
			return nil, fmt.Errorf("opening UDP socket: %w", err)
		}
		t.udp, t.quic = udp, &quic.Transport{Conn: udp}
	}
	return t.quic, nil
}

// resolveOne returns host's first address (host itself if it is one).
func resolveOne(ctx context.Context, host string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("resolving %s: no address", host)
	}
	return ips[0].Unmap(), nil
}

// CloseIdleConnections closes the idle connections of both sides.
func (t *mirrorTransport) CloseIdleConnections() {
	t.tcp.CloseIdleConnections()
	if t.h3 != nil {
		t.h3.CloseIdleConnections()
	}
}

// Close closes the idle TCP connections, and every HTTP/3 connection and
// its socket; HTTP/3 requests then fail. It is idempotent.
func (t *mirrorTransport) Close() error {
	t.closeOnce.Do(func() {
		t.tcp.CloseIdleConnections()
		if t.h3 == nil {
			return
		}
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		// No dial starts now; those under way end when the transport does.
		err := t.h3.Close()
		t.mu.Lock()
		tr, udp := t.quic, t.udp
		t.mu.Unlock()
		if tr != nil {
			if cerr := tr.Close(); err == nil {
				err = cerr
			}
			if cerr := udp.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
				err = cerr
			}
		}
		t.closeErr = err
	})
	return t.closeErr
}

// originKey is how an https origin is known: its authority as host:port
// (443 if it has none), the host lower case and in ASCII, as http3 names
// the connections it keeps.
func originKey(authority string) string {
	host, port, err := net.SplitHostPort(authority)
	if err != nil {
		host, port = authority, "443"
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := idna.ToASCII(host); err == nil {
		host = a
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

// parseAltSvc reads the Alt-Svc field values of a response from host (RFC
// 7838 3): the port of the first h3 alternative on that same host, and how
// long it holds (its ma=, altSvcDefaultAge without one, at most
// altSvcMaxAge; 0 with ma=0). found is false if there is none; clear says
// a value is "clear", which forgets every alternative. Alternatives for
// other protocols (h3-29, h2) and other hosts are skipped, and so are
// values longer than maxAltSvcValue and alternatives beyond
// maxAltSvcAlternatives.
func parseAltSvc(values []string, host string) (port int, age time.Duration, found, clear bool) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	n := 0
	for _, v := range values {
		if len(v) > maxAltSvcValue {
			continue
		}
		if strings.TrimSpace(v) == "clear" {
			return 0, 0, false, true
		}
		for rest := v; rest != "" && n < maxAltSvcAlternatives && !found; {
			var alt string
			alt, rest = cutUnquoted(rest, ',')
			if strings.TrimSpace(alt) == "" {
				continue
			}
			n++
			port, age, found = parseAlternative(alt, host)
		}
		if found {
			return port, age, true, false
		}
	}
	return 0, 0, false, false
}

// parseAlternative reads one alt-value, `h3=":443"; ma=86400`.
func parseAlternative(alt, host string) (port int, age time.Duration, ok bool) {
	first, params := cutUnquoted(alt, ';')
	proto, authority, ok := strings.Cut(strings.TrimSpace(first), "=")
	if !ok || strings.TrimSpace(proto) != http3.NextProtoH3 {
		return 0, 0, false
	}
	authority, ok = unquote(strings.TrimSpace(authority))
	if !ok {
		return 0, 0, false
	}
	h, p, err := net.SplitHostPort(authority)
	if err != nil || (h != "" && !strings.EqualFold(h, host)) {
		return 0, 0, false
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return 0, 0, false
	}
	age = altSvcDefaultAge
	for params != "" {
		var param string
		param, params = cutUnquoted(params, ';')
		name, value, _ := strings.Cut(strings.TrimSpace(param), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "ma") {
			continue
		}
		value, _ = unquote(strings.TrimSpace(value))
		secs, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			continue // unreadable: the default holds
		}
		age = altSvcMaxAge
		if secs < uint64(altSvcMaxAge/time.Second) {
			age = time.Duration(secs) * time.Second
		}
	}
	return port, age, true
}

// cutUnquoted cuts s around the first sep outside a quoted string.
func cutUnquoted(s string, sep byte) (before, after string) {
	quoted, escaped := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// unquote returns the content of a quoted-string (RFC 9110 5.6.4), or s
// itself if it is not quoted; ok is false for a quoted-string that does
// not end.
func unquote(s string) (string, bool) {
	if !strings.HasPrefix(s, `"`) {
		return s, true
	}
	if len(s) < 2 || !strings.HasSuffix(s, `"`) {
		return "", false
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String(), true
}
