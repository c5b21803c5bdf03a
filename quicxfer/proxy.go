package quicxfer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/net/proxy"
)

// socksDefaultPort is the port of a SOCKS proxy URL without one (RFC 1928).
const socksDefaultPort = "1080"

// allProxy returns the SOCKS proxy to use: flag if given, else the
// environment's ALL_PROXY, else its all_proxy (as curl reads them). env is
// os.Getenv if nil.
func allProxy(flag string, env func(string) string) string {
	if flag != "" {
		return flag
	}
	if env == nil {
		env = os.Getenv
	}
	if v := env("ALL_PROXY"); v != "" {
		return v
	}
	return env("all_proxy")
}

// proxyDialer returns a DialContext for http.Transport that connects
// through the SOCKS5 proxy raw names: "socks5://[user:pass@]host[:port]"
// resolves the target's name here and has the proxy connect to the
// address, "socks5h://..." hands the proxy the name. The port is 1080 if
// the URL has none. Targets that NO_PROXY (or no_proxy) in env lists are
// dialled directly (see parseNoProxy); env is os.Getenv if nil. raw empty
// gives nil, nil. Its errors never show the URL's password.
//
// The dial function also answers viaSOCKS without dialling.
func proxyDialer(raw string, env func(string) string) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	if raw == "" {
		return nil, nil
	}
	if env == nil {
		env = os.Getenv
	}
	scheme, _, _ := strings.Cut(raw, "://")
	scheme = strings.ToLower(scheme)
	if scheme != "socks5" && scheme != "socks5h" {
		return nil, fmt.Errorf("proxy URL %q: want socks5:// or socks5h:// (http proxies come from HTTPS_PROXY/HTTP_PROXY)", redactRaw(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // it quotes the URL, password and all
		}
		return nil, fmt.Errorf("proxy URL %q: %w", redactRaw(raw), err)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("proxy URL %q: no host", redactRaw(raw))
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, fmt.Errorf("proxy URL %q: want only socks5://[user:pass@]host[:port]", redactRaw(raw))
	}
	port := u.Port()
	if port == "" {
		port = socksDefaultPort
	}
	var auth *proxy.Auth
	if u.User != nil {
		pass, _ := u.User.Password()
		auth = &proxy.Auth{User: u.User.Username(), Password: pass}
		// RFC 1929 sends each after a length byte. An empty password is
		// sent as one, as curl and x/net do.
		if len(auth.User) < 1 || len(auth.User) > 255 || len(auth.Password) > 255 {
			return nil, fmt.Errorf("proxy URL %q: want a user name of 1 to 255 bytes and a password of at most 255", redactRaw(raw))
		}
	}
	direct := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second} // as http.DefaultTransport
	addr := net.JoinHostPort(u.Hostname(), port)
	d, err := proxy.SOCKS5("tcp", addr, auth, direct)
	if err != nil {
		return nil, fmt.Errorf("proxy URL %q: %w", redactRaw(raw), err)
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return nil, fmt.Errorf("proxy URL %q: SOCKS dialer cannot take a context", redactRaw(raw))
	}
	s := &socksDialer{
		socks:   cd,
		direct:  direct,
		remote:  scheme == "socks5h",
		noProxy: parseNoProxy(noProxyEnv(env)),
	}
	return s.dial, nil
}

// noProxyEnv returns NO_PROXY, else no_proxy.
func noProxyEnv(env func(string) string) string {
	if v := env("NO_PROXY"); v != "" {
		return v
	}
	return env("no_proxy")
}

// socksDialer dials through a SOCKS5 proxy, or directly to the targets
// its NO_PROXY lists.
type socksDialer struct {
	socks   proxy.ContextDialer
	direct  *net.Dialer
	remote  bool // socks5h: the proxy resolves names
	noProxy noProxy
}

// proxyQuery is the context key of viaSOCKS's question: its value is a
// *bool that a socksDialer sets to whether it would use the proxy.
type proxyQuery struct{}

// errAnswered is what a socksDialer returns to viaSOCKS's question.
var errAnswered = errors.New("proxy question answered")

// viaSOCKS says whether dial, an http.Transport's DialContext, sends a
// connection to addr through a SOCKS proxy. It asks with a context that is
// already cancelled and carries the question: the dial function of
// proxyDialer answers without dialling, and any other fails at once
// (cancelled) and counts as direct.
func viaSOCKS(dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string) bool {
	if dial == nil {
		return false
	}
	var proxied bool
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), proxyQuery{}, &proxied))
	cancel()
	if c, err := dial(ctx, "tcp", addr); err == nil {
		c.Close() // a dialler that ignores its context
	}
	return proxied
}

func (s *socksDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if q, ok := ctx.Value(proxyQuery{}).(*bool); ok {
		*q = !s.noProxy.bypass(addr)
		return nil, errAnswered
	}
	if s.noProxy.bypass(addr) {
		return s.direct.DialContext(ctx, network, addr)
	}
	var ipNet string
	switch network {
	case "tcp":
		ipNet = "ip"
	case "tcp4":
		ipNet = "ip4"
	case "tcp6":
		ipNet = "ip6"
	default:
		return nil, fmt.Errorf("dial %s %s: a SOCKS proxy carries only TCP", network, addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(host); err == nil || s.remote {
		return s.socks.DialContext(ctx, network, addr)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, ipNet, host)
	if err != nil {
		return nil, err
	}
	err = fmt.Errorf("resolving %s: no address", host)
	for _, ip := range ips {
		var c net.Conn
		c, err = s.socks.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil || ctx.Err() != nil {
			return c, err
		}
	}
	return nil, err
}

// noProxy is a parsed NO_PROXY list: targets dialled directly.
type noProxy struct {
	all      bool // "*"
	prefixes []netip.Prefix
	ips      []noProxyIP
	domains  []noProxyDomain
}

type noProxyIP struct {
	ip   netip.Addr
	port string // "" for any
}

type noProxyDomain struct {
	name string // lower case, without a trailing dot
	// subOnly: ".example.com" (or "*.example.com") matches the names
	// under example.com only; "example.com" matches it and those under it.
	subOnly bool
	port    string // "" for any
}

// parseNoProxy reads a NO_PROXY list, as Go's net/http and curl do:
// entries separated by commas (spaces around them ignored); "*" matches
// every target; an IP address ("10.1.2.3", "::1", "[::1]:8080"), an
// address block ("10.0.0.0/8", "fd00::/8"); "example.com" matches that
// host and those under it, ".example.com" and "*.example.com" only those
// under it; an entry with a port matches only that port. Names are not
// resolved to match address entries. Unlike net/http, loopback targets
// are not bypassed unless listed ("localhost,127.0.0.1").
func parseNoProxy(s string) noProxy {
	var n noProxy
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.ToLower(strings.TrimSpace(entry))
		if entry == "" {
			continue
		}
		if entry == "*" {
			n.all = true
			continue
		}
		if p, err := netip.ParsePrefix(entry); err == nil {
			n.prefixes = append(n.prefixes, p.Masked())
			continue
		}
		host, port := entry, ""
		if h, p, err := net.SplitHostPort(entry); err == nil {
			host, port = h, p
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if ip, err := netip.ParseAddr(host); err == nil {
			n.ips = append(n.ips, noProxyIP{ip: ip.Unmap(), port: port})
			continue
		}
		d := noProxyDomain{port: port}
		host = strings.TrimPrefix(host, "*")
		if strings.HasPrefix(host, ".") {
			d.subOnly = true
		}
		d.name = strings.TrimSuffix(strings.TrimPrefix(host, "."), ".")
		if d.name != "" {
			n.domains = append(n.domains, d)
		}
	}
	return n
}

// bypass says whether addr (host:port) is dialled directly.
func (n noProxy) bypass(addr string) bool {
	if n.all {
		return true
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		for _, e := range n.ips {
			if e.ip == ip && (e.port == "" || e.port == port) {
				return true
			}
		}
		for _, p := range n.prefixes {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	for _, d := range n.domains {
		if d.port != "" && d.port != port {
			continue
		}
		if strings.HasSuffix(host, "."+d.name) || (!d.subOnly && host == d.name) {
			return true
		}
	}
	return false
}
