package wire

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// DefaultPort is the seed port a URL without one means.
const DefaultPort = 4433

// URL names a seed: quic://HOST:PORT?pin=PIN. See ParseURL.
type URL struct {
	Host   string // DNS name or IP address, without brackets
	Port   uint16 // 0 means DefaultPort in Addr and String
	Pin    Pin    // the seed key's pin, if HasPin
	HasPin bool
	Extra  url.Values // other query parameters, kept and ignored; nil if none
}

// ParseURL parses a seed URL:
//
//	quic://HOST[:PORT][/][?pin=PIN[&...]]
//
// HOST is a DNS name (ASCII letters, digits, '-', '.', '_') or an IPv4
// address, or an IPv6 address in brackets (with an optional %25-escaped
// zone). PORT is 1 to 65535, DefaultPort if absent. PIN is the unpadded
// base64url SHA-256 of the seed certificate's SubjectPublicKeyInfo (see Pin);
// without it the caller must check the certificate some other way. Other
// query parameters are kept in Extra. A path other than "/", user
// information and a fragment are refused. Errors are one line that quotes s.
func ParseURL(s string) (URL, error) {
	const scheme = "quic://"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return URL{}, fmt.Errorf("seed URL %q: must start with %s", s, scheme)
	}
	bad := func(format string, args ...any) (URL, error) {
		return URL{}, fmt.Errorf("seed URL %q: %s", s, fmt.Sprintf(format, args...))
	}
	pu, err := url.Parse(s)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return bad("%v", err)
	}
	switch {
	case pu.User != nil:
		return bad("user information is not allowed")
	case pu.Path != "" && pu.Path != "/":
		return bad("path %q is not allowed", pu.Path)
	case pu.Fragment != "" || strings.Contains(s, "#"):
		return bad("fragment is not allowed")
	}

	var u URL
	u.Host = pu.Hostname()
	if u.Host == "" {
		return bad("missing host")
	}
	if strings.HasPrefix(pu.Host, "[") {
		a, err := netip.ParseAddr(u.Host)
		if err != nil || !a.Is6() {
			return bad("host %q in brackets is not an IPv6 address", u.Host)
		}
		if err := checkHostName(a.Zone()); err != nil {
			return bad("IPv6 zone %q: %v", a.Zone(), err)
		}
	} else if strings.Count(pu.Host, ":") > 1 {
		return bad("an IPv6 address must be in brackets, as in quic://[::1]:%d", DefaultPort)
	} else if err := checkHostName(u.Host); err != nil {
		return bad("host %q: %v", u.Host, err)
	}

	switch port := pu.Port(); {
	case port == "" && strings.HasSuffix(pu.Host, ":"):
		return bad("empty port")
	case port == "":
		u.Port = DefaultPort
	default:
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return bad("bad port %q: want 1 to 65535", port)
		}
		u.Port = uint16(n)
	}

	q, err := url.ParseQuery(pu.RawQuery)
	if err != nil {
		return bad("query: %v", err)
	}
	if pins, ok := q["pin"]; ok {
		if len(pins) != 1 {
			return bad("more than one pin")
		}
		if u.Pin, err = ParsePin(pins[0]); err != nil {
			return bad("bad %v", err)
		}
		u.HasPin = true
		delete(q, "pin")
	}
	if len(q) > 0 {
		u.Extra = q
	}
	return u, nil
}

// checkHostName accepts a DNS name or an IPv4 address, in ASCII (an
// internationalized name must be given in its xn-- form), or an IPv6 zone.
func checkHostName(h string) error {
	for _, c := range h {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("character %q is not allowed in a host name", c)
		}
	}
	return nil
}

// port returns the port, DefaultPort for 0.
func (u URL) port() string {
	if u.Port == 0 {
		return strconv.Itoa(DefaultPort)
	}
	return strconv.Itoa(int(u.Port))
}

// Addr returns "host:port" for dialing, with an IPv6 host in brackets.
func (u URL) Addr() string { return net.JoinHostPort(u.Host, u.port()) }

// String returns the canonical form of the URL, which ParseURL turns back
// into u: the port is always written, the pin comes first, and the other
// parameters follow sorted by key.
func (u URL) String() string {
	var q strings.Builder
	if u.HasPin {
		q.WriteString("pin=")
		q.WriteString(u.Pin.String())
	}
	extra := u.Extra
	if _, ok := extra["pin"]; ok {
		extra = url.Values{}
		for k, v := range u.Extra {
			if k != "pin" {
				extra[k] = v
			}
		}
	}
	if e := extra.Encode(); e != "" {
		if q.Len() > 0 {
			q.WriteByte('&')
		}
		q.WriteString(e)
	}
	return (&url.URL{Scheme: "quic", Host: u.Addr(), RawQuery: q.String()}).String()
}
