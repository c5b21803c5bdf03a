package lsd

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// Limits of a message.
const (
	// MaxMessageLen bounds a message that Parse accepts and a listener
	// reads; longer datagrams are dropped unread.
	MaxMessageLen = 2048
	// SendLen bounds the messages this package sends, as BEP 14 asks
	// (1400 bytes, to stay clear of fragmentation); an announce of more IDs
	// is split.
	SendLen = 1400
	// MaxInfohashes bounds the Infohash headers of one message.
	MaxInfohashes = 32
	// MaxValueLen bounds the value of a Host or cookie header.
	MaxValueLen = 128
)

// requestLine is the first line of every message.
const requestLine = "BT-SEARCH * HTTP/1.1"

// ErrMalformed is wrapped by every error of Parse.
var ErrMalformed = errors.New("malformed LSD message")

// Infohash is the key LSD announces: BEP 14's 20-byte info hash. A
// content ID's is its first 20 bytes (InfohashOf), as BitTorrent v2
// truncates its SHA-256 info hashes.
type Infohash [20]byte

// InfohashOf returns the infohash under which id is announced.
func InfohashOf(id manifest.ID) Infohash { return Infohash(id[:20]) }

// String returns the infohash as 40 lowercase hex digits.
func (h Infohash) String() string { return hex.EncodeToString(h[:]) }

// Message is one LSD message:
//
//	BT-SEARCH * HTTP/1.1\r\n
//	Host: 239.192.152.143:6771\r\n
//	Port: <port>\r\n
//	Infohash: <40 hex digits>\r\n       (one or more)
//	cookie: <opaque>\r\n                (optional)
//	\r\n
//	\r\n
//
// An announce says that the sender serves every infohash on Port (of the
// address it is sent from). A message with Port 0 is a query, this
// package's one addition to BEP 14: the sender looks for the infohashes and
// has no port to offer; an Announcer that serves one of them answers with an
// announce. BitTorrent clients drop a message with port 0.
type Message struct {
	Host       string // the Host header, the group sent to; "" if absent
	Port       uint16 // the sender's port; 0 in a query
	Infohashes []Infohash
	Cookie     string // "" if absent
}

// Append appends the message in the form above. Host and cookie are
// written if not empty.
func (m *Message) Append(b []byte) []byte {
	b = append(b, requestLine+"\r\n"...)
	if m.Host != "" {
		b = append(b, "Host: "...)
		b = append(b, m.Host...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Port: "...)
	b = strconv.AppendUint(b, uint64(m.Port), 10)
	b = append(b, "\r\n"...)
	for _, h := range m.Infohashes {
		b = append(b, "Infohash: "...)
		b = hex.AppendEncode(b, h[:])
		b = append(b, "\r\n"...)
	}
	if m.Cookie != "" {
		b = append(b, "cookie: "...)
		b = append(b, m.Cookie...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n\r\n"...)
}

// Parse parses a message. It accepts lines that end in "\n" as well as in
// "\r\n", header names in any case, spaces and tabs around values, and
// skips headers it does not know; the message must end with the empty line
// that ends the headers, and only empty lines may follow it. It refuses,
// with an error wrapping ErrMalformed: a message longer than MaxMessageLen,
// another first line, a header line without a name or with a control
// character, a missing Port or Infohash, Host, Port or cookie given twice,
// a port that is not a decimal number up to 65535, an infohash that is not
// 40 hex digits, more than MaxInfohashes of them, and a Host or cookie
// longer than MaxValueLen.
func Parse(b []byte) (Message, error) {
	if len(b) > MaxMessageLen {
		return Message{}, malformed("%d bytes, limit %d", len(b), MaxMessageLen)
	}
	rest := string(b)
	line, rest, ok := cutLine(rest)
	if !ok {
		return Message{}, malformed("truncated in the first line")
	}
	if !strings.EqualFold(line, requestLine) {
		return Message{}, malformed("first line %q: want %q", clip(line), requestLine)
	}
	var m Message
	var haveHost, havePort, haveCookie bool
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return Message{}, malformed("truncated in the headers")
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return Message{}, malformed("header line %q: want Name: value", clip(line))
		}
		if i := strings.IndexFunc(line, isControl); i >= 0 {
			return Message{}, malformed("header %q: control character %q", clip(name), line[i])
		}
		value = strings.Trim(value, " \t")
		switch strings.ToLower(name) {
		case "host":
			if haveHost {
				return Message{}, malformed("more than one Host")
			}
			if len(value) > MaxValueLen {
				return Message{}, malformed("Host of %d bytes, limit %d", len(value), MaxValueLen)
			}
			haveHost, m.Host = true, value
		case "port":
			if havePort {
				return Message{}, malformed("more than one Port")
			}
			if value == "" || len(value) > 5 || strings.Trim(value, "0123456789") != "" {
				return Message{}, malformed("Port %q: want a number from 0 to 65535", clip(value))
			}
			n, _ := strconv.ParseUint(value, 10, 32)
			if n > 65535 {
				return Message{}, malformed("Port %q: want a number from 0 to 65535", value)
			}
			havePort, m.Port = true, uint16(n)
		case "infohash":
			if len(m.Infohashes) == MaxInfohashes {
				return Message{}, malformed("more than %d infohashes", MaxInfohashes)
			}
			var h Infohash
			if len(value) != 2*len(h) {
				return Message{}, malformed("Infohash %q: want %d hex digits", clip(value), 2*len(h))
			}
			if _, err := hex.Decode(h[:], []byte(value)); err != nil {
				return Message{}, malformed("Infohash %q: not hex", value)
			}
			m.Infohashes = append(m.Infohashes, h)
		case "cookie":
			if haveCookie {
				return Message{}, malformed("more than one cookie")
			}
			if len(value) > MaxValueLen {
				return Message{}, malformed("cookie of %d bytes, limit %d", len(value), MaxValueLen)
			}
			haveCookie, m.Cookie = true, value
		}
	}
	if strings.Trim(rest, "\r\n") != "" {
		return Message{}, malformed("data after the headers")
	}
	switch {
	case !havePort:
		return Message{}, malformed("no Port")
	case len(m.Infohashes) == 0:
		return Message{}, malformed("no Infohash")
	}
	return m, nil
}

// cutLine cuts s at its first "\n" and drops a "\r" before it. ok is false
// if s has no "\n".
func cutLine(s string) (line, rest string, ok bool) {
	line, rest, ok = strings.Cut(s, "\n")
	return strings.TrimSuffix(line, "\r"), rest, ok
}

// isControl reports whether r is an ASCII control character other than the
// tab.
func isControl(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }

// clip returns at most the first 40 bytes of s, for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
