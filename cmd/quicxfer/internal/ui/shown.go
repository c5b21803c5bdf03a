package ui

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/quicxfer/quicxfer/internal/units"
	"github.com/quicxfer/quicxfer/quicxfer"
)

// What get, ls and status print of what others chose: a name a seed lists,
// a path found on disk, a URL with a password in it.

// ShowName is a name or path as it is printed: itself if every character in
// it is printable, else quoted with Go's escapes ("a\nb"), so that no name
// forges a line or reaches a terminal as an escape sequence. A name that
// starts with '"' is quoted too, so a quoted name is never taken for one.
func ShowName(s string) string { return quicxfer.ShowName(s) }

// QuoteShort is name quoted with Go's escapes, its first 100 bytes and
// "..." if it is longer: for a line that refuses a name a seed chose.
func QuoteShort(name string) string {
	const show = 100
	if len(name) > show {
		return strconv.Quote(name[:show]) + "..."
	}
	return strconv.Quote(name)
}

// RedactedPassword replaces a password in a URL that is shown or kept, as
// url.URL.Redacted does.
const RedactedPassword = "xxxxx"

// RedactURL returns s with the password of its user information, if it has
// one, replaced by "xxxxx" ("http://user:xxxxx@host/f"), as
// url.URL.Redacted does; else s itself. It works on the text, so that a URL
// that does not parse is redacted too, and one without a password is left
// exactly as it was.
func RedactURL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	auth := s[i+3:]
	if end := strings.IndexAny(auth, "/?#"); end >= 0 {
		auth = auth[:end]
	}
	at := strings.LastIndexByte(auth, '@')
	if at < 0 {
		return s
	}
	user, _, ok := strings.Cut(auth[:at], ":")
	if !ok {
		return s
	}
	return s[:i+3] + user + ":" + RedactedPassword + s[i+3+at:]
}

// urlUserinfoRE matches the start of a URL up to the end of its user
// information, where a password would be.
var urlUserinfoRE = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]*@`)

// RedactURLsIn returns text, a message for the user, with the password of
// every URL in it redacted (RedactURL): the library names a mirror by the
// URL it was given.
func RedactURLsIn(text string) string {
	if !strings.Contains(text, "@") {
		return text
	}
	return urlUserinfoRE.ReplaceAllStringFunc(text, RedactURL)
}

// FormatBytes prints a byte count with a decimal unit.
func FormatBytes(n float64) string { return units.FormatBytes(n) }

// ShellQuote quotes each argument for a POSIX shell where it needs it (a
// seed URL's '?' is a glob character) and joins them.
func ShellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@+%", r))
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
