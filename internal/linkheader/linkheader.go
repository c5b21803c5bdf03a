package linkheader

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// MaxLinks is how many links Parse reads at most, across all the header
// values it is given.
const MaxLinks = 1000

// Link is one link of a Link header.
type Link struct {
	// URL is the link's target as written between < and >, not resolved.
	URL string
	// Rel is the link's relation types (its rel parameter, split at
	// spaces), in lower case.
	Rel []string
	// Params is the link's parameters, rel among them, by their names in
	// lower case; a value is unquoted (escapes undone), and "" for a
	// parameter without one. A parameter given twice keeps its first
	// value, as RFC 8288 §3 says of rel.
	Params map[string]string
}

// HasRel reports whether l has the relation type rel (whatever its case).
func (l Link) HasRel(rel string) bool {
	return slices.Contains(l.Rel, strings.ToLower(rel))
}

// Parse reads the links of the values of Link headers (each a
// comma-separated list of links, as http.Header.Values returns them).
// Commas and semicolons inside a quoted string or inside <...> are part of
// it. A link that cannot be read (no <...>, a parameter name that is no
// token, an unterminated quoted string) is skipped up to the next comma
// between links. At most MaxLinks links are read.
func Parse(headers []string) []Link {
	var links []Link
	for _, h := range headers {
		p := parser{s: h}
		for len(links) < MaxLinks {
			p.skipSpaceAndCommas()
			if p.i >= len(p.s) {
				break
			}
			if l, ok := p.link(); ok {
				links = append(links, l)
			} else {
				p.skipToNextLink()
			}
		}
	}
	return links
}

type parser struct {
	s string
	i int
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *parser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *parser) skipSpaceAndCommas() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// skipToNextLink moves past the next comma that is outside a quoted string
// and outside <...>, or to the end.
func (p *parser) skipToNextLink() {
	quoted, angle := false, false
	for ; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; {
		case quoted && c == '\\':
			p.i = min(p.i+1, len(p.s)-1) // the escaped byte, if any
		case quoted:
			quoted = c != '"'
		case angle:
			angle = c != '>'
		case c == '"':
			quoted = true
		case c == '<':
			angle = true
		case c == ',':
			p.i++
			return
		}
	}
}

// link reads one link: <URL> *( ";" param ).
func (p *parser) link() (Link, bool) {
	if p.peek() != '<' {
		return Link{}, false
	}
	end := strings.IndexByte(p.s[p.i:], '>')
	if end < 0 {
		p.i = len(p.s)
		return Link{}, false
	}
	l := Link{URL: strings.TrimSpace(p.s[p.i+1 : p.i+end]), Params: map[string]string{}}
	p.i += end + 1
	for {
		p.skipSpace()
		switch p.peek() {
		case 0, ',':
			if rel, ok := l.Params["rel"]; ok {
				l.Rel = strings.Fields(strings.ToLower(rel))
			}
			return l, true
		case ';':
			p.i++
		default:
			return Link{}, false
		}
		p.skipSpace()
		if c := p.peek(); c == ';' || c == ',' || c == 0 {
			continue // an empty parameter: "<x>;;rel=a", "<x>;"
		}
		name, value, ok := p.param()
		if !ok {
			return Link{}, false
		}
		if _, dup := l.Params[name]; !dup {
			l.Params[name] = value
		}
	}
}

// param reads token [ "=" ( token / quoted-string ) ], with spaces around
// "=". An unquoted value is read up to a space, ";" or ",".
func (p *parser) param() (name, value string, ok bool) {
	j := p.i
	for j < len(p.s) && isTchar(p.s[j]) {
		j++
	}
	if j == p.i {
		return "", "", false
	}
	name = strings.ToLower(p.s[p.i:j])
	p.i = j
	p.skipSpace()
	if p.peek() != '=' {
		return name, "", true
	}
	p.i++
	p.skipSpace()
	if p.peek() == '"' {
		value, ok = p.quoted()
		return name, value, ok
	}
	j = p.i
	for j < len(p.s) && !strings.ContainsRune(" \t;,", rune(p.s[j])) {
		j++
	}
	value = p.s[p.i:j]
	p.i = j
	return name, value, true
}

// quoted reads a quoted string, undoing its backslash escapes.
func (p *parser) quoted() (string, bool) {
	p.i++ // "
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String(), true
		case '\\':
			if p.i == len(p.s) {
				return "", false
			}
			c = p.s[p.i]
			p.i++
		}
		b.WriteByte(c)
	}
	return "", false
}

// isTchar reports whether c may be in a token (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Duplicate is a mirror of a file: a link of relation "duplicate" (RFC
// 6249).
type Duplicate struct {
	// URL is the mirror's URL, absolute, http or https.
	URL string
	// Priority is the link's pri parameter: the lower, the more preferred
	// (RFC 6249 §3.2, 1 to 999999); 0 if absent or not a positive number.
	Priority int
	// Geo is the link's geo parameter, the mirror's country (ISO 3166-1
	// alpha-2), in lower case; "" if absent.
	Geo string
}

// Duplicates returns the mirrors that the Link headers of a response name
// (relation "duplicate"), their URLs resolved against base (the response's
// URL; nil to keep absolute URLs only), http and https ones only, each
// once (its first link), sorted by Priority, those without one last, in
// the headers' order among equals.
func Duplicates(base *url.URL, headers []string) []Duplicate {
	var ds []Duplicate
	seen := map[string]bool{}
	for _, l := range Parse(headers) {
		if !l.HasRel("duplicate") {
			continue
		}
		u, ok := resolve(base, l.URL)
		if !ok || seen[u] {
			continue
		}
		seen[u] = true
		d := Duplicate{URL: u, Geo: strings.ToLower(l.Params["geo"])}
		if n, err := strconv.Atoi(l.Params["pri"]); err == nil && n > 0 {
			d.Priority = n
		}
		ds = append(ds, d)
	}
	slices.SortStableFunc(ds, func(a, b Duplicate) int {
		switch {
		case a.Priority == b.Priority:
			return 0
		case a.Priority == 0:
			return 1
		case b.Priority == 0:
			return -1
		}
		return cmp.Compare(a.Priority, b.Priority)
	})
	return ds
}

// Described returns the links of relation "describedby" that the Link
// headers of a response give (a Metalink, a torrent: see Params["type"]),
// their URLs resolved against base (nil to keep absolute URLs only), http
// and https ones only, in the headers' order.
func Described(base *url.URL, headers []string) []Link {
	var ls []Link
	for _, l := range Parse(headers) {
		if !l.HasRel("describedby") {
			continue
		}
		if u, ok := resolve(base, l.URL); ok {
			l.URL = u
			ls = append(ls, l)
		}
	}
	return ls
}

// resolve resolves ref against base, and reports whether the result is an
// http or https URL with a host.
func resolve(base *url.URL, ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", false
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return u.String(), true
}
