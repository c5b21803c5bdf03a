package link

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// Scheme is a link's URI scheme.
const Scheme = "qx"

// Limits of a link that Parse accepts.
const (
	MaxLen     = 8 << 10 // bytes, as given and in canonical form
	MaxSeeds   = 32      // seed parameters
	MaxMirrors = 32      // mirror parameters
)

// ErrInvalid is wrapped by every error of Parse.
var ErrInvalid = errors.New("invalid link")

// Link is what a link says about a file.
type Link struct {
	ID      manifest.ID
	Name    string // "" if the link has none
	Size    int64  // the size in bytes, if HasSize
	HasSize bool
	Seeds   []string // seed URLs, canonical (wire.URL.String); nil if none
	Mirrors []string // http(s) URLs; nil if none
}

// IsLink reports whether s is meant as a link: it starts with "qx:"
// (case-insensitive). Parse says whether it is a good one. A caller that
// takes names and links in one place uses IsLink to tell them apart, so
// that a broken link is reported as one, not looked up as a file name.
func IsLink(s string) bool {
	return len(s) > len(Scheme) && strings.EqualFold(s[:len(Scheme)], Scheme) && s[len(Scheme)] == ':'
}

// Parse parses a link. Its errors wrap ErrInvalid; the package
// documentation lists what it refuses.
func Parse(s string) (Link, error) {
	if len(s) > MaxLen {
		return Link{}, invalid("too long: %d bytes, limit %d", len(s), MaxLen)
	}
	scheme, rest, ok := strings.Cut(s, ":")
	switch {
	case !ok || !isScheme(scheme):
		return Link{}, invalid("want %s:?id=<content ID>...", Scheme)
	case !strings.EqualFold(scheme, Scheme):
		return Link{}, invalid("unknown scheme %s: want %s:?id=<content ID>...", quote(scheme), Scheme)
	case !strings.HasPrefix(rest, "?"):
		return Link{}, invalid("want %s:? followed by the parameters", Scheme)
	}
	if i := strings.IndexFunc(s, isRawBad); i >= 0 {
		return Link{}, invalid("%q at byte %d: a link is one line, with spaces and control characters percent-encoded", s[i], i)
	}
	if strings.Contains(rest, "#") {
		return Link{}, invalid("'#' must be percent-encoded (%%23)")
	}
	if strings.Contains(rest, ";") {
		return Link{}, invalid("';' must be percent-encoded (%%3B): it is not a separator")
	}

	var l Link
	var haveID, haveName, haveSize bool
	nSeeds, nMirrors := 0, 0
	for part := range strings.SplitSeq(rest[1:], "&") {
		if part == "" {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return Link{}, invalid("parameter %s: %v", quote(rawKey), err)
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return Link{}, invalid("parameter %s: %v", key, err)
		}
		switch key {
		case "id":
			if haveID {
				return Link{}, invalid("more than one id")
			}
			haveID = true
			if l.ID, err = manifest.ParseID(val); err != nil {
				return Link{}, invalid("%v", err)
			}
			if l.ID.IsZero() {
				return Link{}, invalid("the content ID is all zeros")
			}
		case "name":
			if haveName {
				return Link{}, invalid("more than one name")
			}
			haveName = true
			if err := wire.CheckName(val); err != nil {
				return Link{}, fmt.Errorf("%w: name: %w", ErrInvalid, err)
			}
			l.Name = val
		case "size":
			if haveSize {
				return Link{}, invalid("more than one size")
			}
			haveSize = true
			if l.Size, err = parseSize(val); err != nil {
				return Link{}, invalid("%v", err)
			}
			l.HasSize = true
		case "seed":
			if nSeeds++; nSeeds > MaxSeeds {
				return Link{}, invalid("more than %d seeds", MaxSeeds)
			}
			u, err := wire.ParseURL(val)
			if err != nil {
				return Link{}, invalid("%v", err)
			}
			l.Seeds = appendNew(l.Seeds, u.String())
		case "mirror":
			if nMirrors++; nMirrors > MaxMirrors {
				return Link{}, invalid("more than %d mirrors", MaxMirrors)
			}
			if err := checkMirror(val); err != nil {
				return Link{}, invalid("%v", err)
			}
			l.Mirrors = appendNew(l.Mirrors, val)
		default:
			if strings.HasPrefix(key, "x.") {
				continue // an extension, skipped on purpose
			}
			return Link{}, invalid("unknown parameter %s", quote(key))
		}
	}
	if !haveID {
		return Link{}, invalid("missing id (the content ID)")
	}
	if n := len(l.String()); n > MaxLen {
		return Link{}, invalid("too long: %d bytes once written in canonical form, limit %d", n, MaxLen)
	}
	return l, nil
}

// String returns the link in canonical form: id, then name and size if
// present, then the seeds and the mirrors in order. It does not check l;
// Parse says whether the result is a valid link.
func (l Link) String() string {
	var b strings.Builder
	b.WriteString(Scheme + ":?id=")
	b.WriteString(l.ID.String())
	if l.Name != "" {
		b.WriteString("&name=")
		writeValue(&b, l.Name)
	}
	if l.HasSize {
		b.WriteString("&size=")
		b.WriteString(strconv.FormatInt(l.Size, 10))
	}
	for _, s := range l.Seeds {
		b.WriteString("&seed=")
		writeValue(&b, s)
	}
	for _, m := range l.Mirrors {
		b.WriteString("&mirror=")
		writeValue(&b, m)
	}
	return b.String()
}

// invalid returns an error wrapping ErrInvalid.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// quote quotes at most the first 100 bytes of s, so that an error about a
// long parameter stays readable.
func quote(s string) string {
	const show = 100
	if len(s) > show {
		return strconv.Quote(s[:show]) + "..."
	}
	return strconv.Quote(s)
}

// isScheme reports whether s is a URI scheme (RFC 3986: a letter, then
// letters, digits, '+', '-' or '.').
func isScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isRawBad reports whether r must not appear unescaped in a link: a space
// or an ASCII control character.
func isRawBad(r rune) bool { return r <= ' ' || r == 0x7f }

// parseSize parses a decimal byte count from 0 to manifest.MaxSize.
func parseSize(s string) (int64, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("size %s: want a number of bytes", quote(s))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > manifest.MaxSize {
		return 0, fmt.Errorf("size %s: larger than %d bytes, the largest file a manifest describes", quote(s), int64(manifest.MaxSize))
	}
	return n, nil
}

// checkMirror checks that s is an http or https URL with a host and no user
// information. Its errors never show the user information.
func checkMirror(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // it quotes the URL, password and all
		}
		if strings.Contains(s, "@") {
			return fmt.Errorf("mirror URL: %v", err)
		}
		return fmt.Errorf("mirror URL %s: %v", quote(s), err)
	}
	switch {
	case u.User != nil:
		u.User = nil
		return fmt.Errorf("mirror URL %s: user information is not allowed in a link", quote(u.String()))
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("mirror URL %s: want an http:// or https:// URL", quote(s))
	case u.Host == "":
		return fmt.Errorf("mirror URL %s: missing host", quote(s))
	}
	return nil
}

// appendNew appends s to list unless it is there already.
func appendNew(list []string, s string) []string {
	for _, have := range list {
		if have == s {
			return list
		}
	}
	return append(list, s)
}

// writeValue writes v percent-encoded for a query value. It keeps RFC
// 3986's unreserved characters and the ones a URL inside a value reads best
// with (":/?=@,"), and escapes everything else, among them '%', '&', '+',
// '#', ';', the space, quotes, '$' and '!' (so that a link pastes safely
// between shell quotes), '[' and ']' (RFC 3986 allows them only around an
// IPv6 host, not in a query) and every byte of a non-ASCII character.
func writeValue(b *strings.Builder, v string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if isAlpha(c) || isDigit(c) || strings.IndexByte("-._~:/?=@,", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}
