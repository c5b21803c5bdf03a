package verify

import (
	"bufio"
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// Limits of ParseSums: a sums file longer than MaxSumsFile bytes, or with a
// line longer than MaxSumsLine bytes, is refused before it is read further.
const (
	MaxSumsFile = 16 << 20
	MaxSumsLine = 64 << 10
)

// ErrNotListed is wrapped by ParseSums's error when the sums file has no
// line for the file asked for.
var ErrNotListed = errors.New("not listed")

// ParseChecksum reads a sum given as TYPE=HEX ("sha-256=9f86d0…",
// "SHA256=9F86D0…"): TYPE is a name ParseAlgo reads, whatever its case, and
// HEX the sum in hexadecimal, whatever its case.
func ParseChecksum(s string) (Hash, error) {
	typ, hx, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return Hash{}, fmt.Errorf("checksum %s: want TYPE=HEX, TYPE one of sha-256, sha-512, sha-1, md5", clip(s))
	}
	a, err := ParseAlgo(typ)
	if err != nil {
		return Hash{}, fmt.Errorf("checksum %s: unknown TYPE %s, want one of sha-256, sha-512, sha-1, md5", clip(s), clip(strings.TrimSpace(typ)))
	}
	hx = strings.TrimSpace(hx)
	if len(hx)%2 != 0 {
		return Hash{}, fmt.Errorf("%s checksum has %d hex digits, want %d", a, len(hx), 2*a.Size())
	}
	sum, err := hex.DecodeString(hx)
	if err != nil {
		return Hash{}, fmt.Errorf("checksum %s: %s is not hexadecimal", clip(s), clip(hx))
	}
	if len(sum) != a.Size() {
		return Hash{}, fmt.Errorf("%s checksum has %d bytes, want %d", a, len(sum), a.Size())
	}
	return Hash{Algo: a, Sum: sum}, nil
}

// ParseSums finds the sum of the file called name in r, a list of sums as
// sha256sum, sha512sum, sha1sum, md5sum (and cksum, shasum, md5 -r, the BSD
// sha256, openssl dgst) write it. It reads lines
//
//	HEX  name          text mode
//	HEX *name          binary mode
//	HEX name           BSD "md5 -r"
//	SHA256 (name) = HEX  BSD and "--tag" style (also SHA2-256, and base64 sums)
//
// where a line that begins with a backslash has its name escaped as GNU
// coreutils escapes it (\\, \n, \r). The hash function is the tag's, or
// follows from the length of HEX: 32 digits MD5, 40 SHA-1, 64 SHA-256, 128
// SHA-512. Blank lines, comments (#) and lines it cannot read are skipped;
// so is the armor of a PGP clearsigned file (the header, the dash-escaping,
// the signature block). ParseSums does not check a signature.
//
// The line whose name is name is taken; failing one, a line whose name is
// name once cleaned ("./debian.iso"), failing that a line whose name has the
// same base name ("iso/debian.iso"). Among the best lines, the strongest
// hash function is taken; two different sums of one function are an error.
// No line for name is an error wrapping ErrNotListed. r is read up to
// MaxSumsFile bytes, in lines of up to MaxSumsLine bytes: longer is an
// error.
func ParseSums(r io.Reader, name string) (Hash, error) {
	lr := &io.LimitedReader{R: r, N: MaxSumsFile + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 4096), MaxSumsLine+2) // the line, "\r\n"
	var (
		want      = path.Clean(name)
		base      = path.Base(want)
		best      = 3 // the rank of the lines in found: 0 exact, 1 cleaned, 2 base name
		found     []Hash
		others    []string // names listed, for the error
		nOthers   int
		unknown   string // a hash function name has a line with, that ParseSums does not read
		armor     clearsign
		lineNo    int
		seenNames = map[string]bool{}
	)
	for sc.Scan() {
		lineNo++
		line, ok := armor.line(sc.Text())
		if !ok {
			continue
		}
		e, ok := parseSumLine(line)
		if !ok {
			continue
		}
		rank := 3
		switch {
		case e.name == name:
			rank = 0
		case path.Clean(e.name) == want:
			rank = 1
		case path.Base(path.Clean(e.name)) == base:
			rank = 2
		}
		if rank == 3 {
			if !seenNames[e.name] {
				seenNames[e.name] = true
				nOthers++
				if len(others) < 3 {
					others = append(others, e.name)
				}
			}
			continue
		}
		if e.h.Algo == 0 {
			if unknown == "" {
				unknown = e.tag
			}
			continue
		}
		if rank > best {
			continue
		}
		if rank < best {
			best, found = rank, found[:0]
		}
		found = append(found, e.h)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Hash{}, fmt.Errorf("sums: line %d is longer than %d KiB", lineNo+1, MaxSumsLine>>10)
		}
		return Hash{}, fmt.Errorf("reading sums: %w", err)
	}
	if lr.N <= 0 {
		return Hash{}, fmt.Errorf("sums: longer than %d MiB", MaxSumsFile>>20)
	}
	if len(found) == 0 {
		switch {
		case unknown != "":
			return Hash{}, fmt.Errorf("sums: %s is listed only with %s, not sha-256, sha-512, sha-1 or md5: %w", clip(name), clip(unknown), ErrNotListed)
		case nOthers == 0:
			return Hash{}, fmt.Errorf("sums: no sum for %s, no sums found: %w", clip(name), ErrNotListed)
		}
		q := make([]string, len(others))
		for i, o := range others {
			q[i] = clip(o)
		}
		more := ""
		if n := nOthers - len(others); n > 0 {
			more = fmt.Sprintf(" and %d more", n)
		}
		return Hash{}, fmt.Errorf("sums: no sum for %s, only for %s%s: %w", clip(name), strings.Join(q, ", "), more, ErrNotListed)
	}
	h := *Strongest(found)
	for _, f := range found {
		if f.Algo == h.Algo && string(f.Sum) != string(h.Sum) {
			return Hash{}, fmt.Errorf("sums: %s has two different %s sums", clip(name), h.Algo)
		}
	}
	return h, nil
}

// sumEntry is one line of a sums file. h.Algo is 0 for a hash function
// ParseSums does not read (tag names it).
type sumEntry struct {
	name string
	h    Hash
	tag  string
}

// parseSumLine reads one line of a sums file, GNU or BSD style.
func parseSumLine(line string) (sumEntry, bool) {
	s := strings.TrimLeft(line, " \t")
	escaped := strings.HasPrefix(s, `\`)
	if escaped {
		s = s[1:]
	}
	e, ok := parseGNU(s)
	if !ok {
		e, ok = parseTag(s)
	}
	if !ok {
		return sumEntry{}, false
	}
	if escaped {
		if e.name, ok = unescapeName(e.name); !ok {
			return sumEntry{}, false
		}
	}
	if e.name == "" {
		return sumEntry{}, false
	}
	return e, true
}

// parseGNU reads "HEX  name", "HEX *name" or "HEX name".
func parseGNU(s string) (sumEntry, bool) {
	n := 0
	for n < len(s) && isHex(s[n]) {
		n++
	}
	if n == 0 || n+1 >= len(s) || s[n] != ' ' {
		return sumEntry{}, false
	}
	hx, name := s[:n], s[n+1:]
	if name[0] == ' ' || name[0] == '*' {
		name = name[1:]
	}
	var a Algo
	switch n {
	case 32:
		a = MD5
	case 40:
		a = SHA1
	case 64:
		a = SHA256
	case 128:
		a = SHA512
	case 56, 96: // SHA-224, SHA-384
		return sumEntry{name: name, tag: fmt.Sprintf("a %d-bit hash", n*4)}, true
	default:
		return sumEntry{}, false
	}
	sum, err := hex.DecodeString(hx)
	if err != nil {
		return sumEntry{}, false
	}
	return sumEntry{name: name, h: Hash{Algo: a, Sum: sum}}, true
}

// parseTag reads "TAG (name) = SUM", as BSD tools, coreutils' --tag and
// openssl dgst write it ("SHA256(name)= SUM"); SUM is hexadecimal or
// base64.
func parseTag(s string) (sumEntry, bool) {
	open := strings.IndexByte(s, '(')
	end := strings.LastIndexByte(s, ')')
	if open <= 0 || end < open {
		return sumEntry{}, false
	}
	tag := strings.TrimSpace(s[:open])
	rest := strings.TrimLeft(s[end+1:], " \t")
	if !strings.HasPrefix(rest, "=") || !isTagName(tag) {
		return sumEntry{}, false
	}
	e := sumEntry{name: s[open+1 : end], tag: tag}
	digest := strings.TrimSpace(rest[1:])
	norm := strings.ToLower(tag)
	if after, ok := strings.CutPrefix(norm, "sha2-"); ok {
		norm = "sha-" + after
	}
	a, err := ParseAlgo(norm)
	if err != nil {
		return e, digest != "" // a hash function ParseSums does not read
	}
	sum, ok := decodeSum(a, digest)
	if !ok {
		return sumEntry{}, false
	}
	e.h = Hash{Algo: a, Sum: sum}
	return e, true
}

// decodeSum reads a sum of a in hexadecimal or in base64 (padded or not).
func decodeSum(a Algo, s string) ([]byte, bool) {
	if len(s) == 2*a.Size() {
		if b, err := hex.DecodeString(s); err == nil {
			return b, true
		}
	}
	return decodeBase64(a, s)
}

// decodeBase64 reads a sum of a in standard base64, padded or not.
func decodeBase64(a Algo, s string) ([]byte, bool) {
	if len(s) > 4*a.Size() {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil || len(b) != a.Size() {
		return nil, false
	}
	return b, true
}

func isTagName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '/') {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unescapeName undoes GNU coreutils' escaping of a name: \\, \n and \r.
func unescapeName(s string) (string, bool) {
	if !strings.Contains(s, `\`) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			return "", false
		}
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", false
		}
	}
	return b.String(), true
}

// clearsign strips the armor of a PGP clearsigned message (RFC 9580 §7)
// from the lines of a file, and the blocks of any armored signature or key.
type clearsign struct{ state int }

const (
	csText   = iota // outside any armor
	csHeader        // the armor headers of a signed message ("Hash: SHA256")
	csSigned        // the signed text, dash-escaped
	csBlock         // inside a signature (or other armored) block
)

// line returns the text of raw, a line of the file, and whether it is text
// to read.
func (c *clearsign) line(raw string) (string, bool) {
	s := strings.TrimSuffix(raw, "\r")
	t := strings.TrimRight(s, " \t")
	switch c.state {
	case csHeader:
		if t == "" {
			c.state = csSigned
		}
		return "", false
	case csBlock:
		if strings.HasPrefix(t, "-----END PGP ") {
			c.state = csText
		}
		return "", false
	}
	switch {
	case t == "-----BEGIN PGP SIGNED MESSAGE-----":
		c.state = csHeader
		return "", false
	case strings.HasPrefix(t, "-----BEGIN PGP "):
		c.state = csBlock
		return "", false
	case c.state == csSigned && strings.HasPrefix(s, "- "):
		s = s[2:]
	}
	if t == "" || strings.HasPrefix(strings.TrimLeft(t, " \t"), "#") {
		return "", false
	}
	return s, true
}

// ParseDigest reads an RFC 3230 Digest header ("SHA-256=base64,
// MD5=base64") and returns its sums, the strongest first (see Strongest);
// hash functions it does not know, and entries it cannot read, are left
// out, as is any entry after the first of its hash function. A sum is
// standard base64 (padded or not) or, as some servers send it, hexadecimal.
// Several header lines may be given joined by commas.
func ParseDigest(header string) []Hash {
	var hs []Hash
	for entry := range strings.SplitSeq(header, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok {
			continue
		}
		a, err := ParseAlgo(name)
		if err != nil || hasAlgo(hs, a) {
			continue
		}
		value = strings.Trim(strings.TrimSpace(value), `"`)
		sum, ok := decodeBase64(a, value)
		if !ok && len(value) == 2*a.Size() {
			sum, err = hex.DecodeString(value)
			ok = err == nil
		}
		if ok {
			hs = append(hs, Hash{Algo: a, Sum: sum})
		}
	}
	sortStrongest(hs)
	return hs
}

// ParseReprDigest reads an RFC 9530 Repr-Digest (or Content-Digest)
// header, a structured-field dictionary of byte sequences ("sha-256=:base64:,
// sha-512=:base64:"), and returns its sums, the strongest first. Hash
// functions it does not know and members that are not byte sequences of the
// right length are left out; a header that is not a dictionary (RFC 9651)
// gives none, as the RFC says. Several header lines may be given joined by
// commas.
func ParseReprDigest(header string) []Hash {
	d, ok := parseDictionary(header)
	if !ok {
		return nil
	}
	var hs []Hash
	for _, m := range d {
		a, err := ParseAlgo(m.key)
		if err != nil || !m.isBytes || len(m.bytes) != a.Size() || hasAlgo(hs, a) {
			continue
		}
		hs = append(hs, Hash{Algo: a, Sum: m.bytes})
	}
	sortStrongest(hs)
	return hs
}

// Strongest returns the sum in hs of the strongest hash function (SHA-512,
// then SHA-256, SHA-1, MD5), the first of those if several; sums of an
// unknown function or of the wrong length are passed over. It is nil if
// there is none.
func Strongest(hs []Hash) *Hash {
	var best *Hash
	for i := range hs {
		if s := strength(hs[i].Algo); s > 0 && len(hs[i].Sum) == hs[i].Algo.Size() && (best == nil || s > strength(best.Algo)) {
			best = &hs[i]
		}
	}
	if best == nil {
		return nil
	}
	h := Hash{Algo: best.Algo, Sum: slices.Clone(best.Sum)}
	return &h
}

func strength(a Algo) int {
	switch a {
	case SHA512:
		return 4
	case SHA256:
		return 3
	case SHA1:
		return 2
	case MD5:
		return 1
	}
	return 0
}

func sortStrongest(hs []Hash) {
	slices.SortStableFunc(hs, func(a, b Hash) int { return cmp.Compare(strength(b.Algo), strength(a.Algo)) })
}

func hasAlgo(hs []Hash, a Algo) bool {
	return slices.ContainsFunc(hs, func(h Hash) bool { return h.Algo == a })
}

// clip quotes s for an error message, cut to a length a line can hold.
func clip(s string) string {
	const limit = 60
	if len(s) > limit {
		r := []rune(s[:limit])
		return fmt.Sprintf("%q…", string(r[:len(r)-1]))
	}
	return fmt.Sprintf("%q", s)
}

// sfMember is a member of a structured-field dictionary: its key, and its
// value if a byte sequence.
type sfMember struct {
	key     string
	isBytes bool
	bytes   []byte
}

// parseDictionary parses a structured-field dictionary (RFC 9651 §4.2.2),
// keeping each member's key and, if it is one, its byte sequence; a key
// given twice keeps its last value. ok is false if s is not a dictionary.
func parseDictionary(s string) (d []sfMember, ok bool) {
	p := sfParser{s: s}
	p.skip(" ")
	for p.i < len(p.s) {
		key, ok := p.key()
		if !ok {
			return nil, false
		}
		m := sfMember{key: key}
		if p.peek() == '=' {
			p.i++
			if p.peek() == '(' {
				ok = p.innerList()
			} else {
				m.bytes, m.isBytes, ok = p.bareItem()
				ok = ok && p.params()
			}
		} else {
			ok = p.params()
		}
		if !ok {
			return nil, false
		}
		d = slices.DeleteFunc(d, func(o sfMember) bool { return o.key == key })
		d = append(d, m)
		p.skip(" \t")
		if p.i == len(p.s) {
			break
		}
		if p.s[p.i] != ',' {
			return nil, false
		}
		p.i++
		p.skip(" \t")
		if p.i == len(p.s) {
			return nil, false // a trailing comma
		}
	}
	return d, true
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *sfParser) skip(set string) {
	for p.i < len(p.s) && strings.IndexByte(set, p.s[p.i]) >= 0 {
		p.i++
	}
}

// take consumes the bytes for which ok holds and returns them.
func (p *sfParser) take(ok func(c byte) bool) string {
	j := p.i
	for j < len(p.s) && ok(p.s[j]) {
		j++
	}
	t := p.s[p.i:j]
	p.i = j
	return t
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return isLower(c) || 'A' <= c && c <= 'Z' }

func (p *sfParser) key() (string, bool) {
	if c := p.peek(); !isLower(c) && c != '*' {
		return "", false
	}
	return p.take(func(c byte) bool {
		return isLower(c) || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*'
	}), true
}

func (p *sfParser) params() bool {
	for p.peek() == ';' {
		p.i++
		p.skip(" ")
		if _, ok := p.key(); !ok {
			return false
		}
		if p.peek() == '=' {
			p.i++
			if _, _, ok := p.bareItem(); !ok {
				return false
			}
		}
	}
	return true
}

func (p *sfParser) innerList() bool {
	p.i++ // (
	for {
		p.skip(" ")
		switch p.peek() {
		case ')':
			p.i++
			return p.params()
		case 0:
			return false
		}
		if _, _, ok := p.bareItem(); !ok || !p.params() {
			return false
		}
		if c := p.peek(); c != ' ' && c != ')' {
			return false
		}
	}
}

// bareItem parses a bare item, returning its bytes if it is a byte
// sequence.
func (p *sfParser) bareItem() (b []byte, isBytes, ok bool) {
	switch c := p.peek(); {
	case c == '-' || isDigit(c):
		return nil, false, p.number()
	case c == '"':
		return nil, false, p.str()
	case c == '*' || isAlpha(c):
		p.take(func(c byte) bool { return isTchar(c) || c == ':' || c == '/' })
		return nil, false, true
	case c == ':':
		p.i++
		enc := p.take(func(c byte) bool { return isAlpha(c) || isDigit(c) || c == '+' || c == '/' || c == '=' })
		if p.peek() != ':' {
			return nil, false, false
		}
		p.i++
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(enc, "="))
		}
		return b, true, err == nil
	case c == '?':
		p.i++
		if c := p.peek(); c != '0' && c != '1' {
			return nil, false, false
		}
		p.i++
		return nil, false, true
	case c == '@':
		p.i++
		return nil, false, p.number()
	case c == '%':
		p.i++
		return nil, false, p.displayString()
	}
	return nil, false, false
}

func (p *sfParser) number() bool {
	if p.peek() == '-' {
		p.i++
	}
	whole := p.take(isDigit)
	if whole == "" || len(whole) > 15 {
		return false
	}
	if p.peek() != '.' {
		return true
	}
	p.i++
	frac := p.take(isDigit)
	return len(whole) <= 12 && frac != "" && len(frac) <= 3
}

func (p *sfParser) str() bool {
	p.i++ // "
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return true
		case c == '\\':
			if c := p.peek(); c != '"' && c != '\\' {
				return false
			}
			p.i++
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return false
}

func (p *sfParser) displayString() bool {
	if p.peek() != '"' {
		return false
	}
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return true
		case c == '%':
			if p.i+2 > len(p.s) || !isLowerHex(p.s[p.i]) || !isLowerHex(p.s[p.i+1]) {
				return false
			}
			p.i += 2
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return false
}

func isLowerHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' }

// isTchar reports whether c may be in an HTTP token (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
