package wire

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckName returns nil if name is a valid file name, and otherwise an error
// wrapping ErrBadName that says why. A valid name is non-empty, at most
// MaxNameLen bytes, valid UTF-8, has no control character (C0: U+0000 to
// U+001F, NUL and newline among them; DEL, U+007F; C1: U+0080 to U+009F) and
// no backslash, does not start with '/', and has no empty, "." or ".."
// component between '/' separators (so no "a//b" and no trailing '/'). A
// name with a control character could forge lines or reach a terminal as
// an escape sequence wherever it is printed.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBadName, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return badName(name, "not valid UTF-8")
	case strings.IndexByte(name, 0) >= 0:
		return badName(name, "contains NUL")
	case strings.IndexByte(name, '\\') >= 0:
		return badName(name, "contains a backslash")
	case name[0] == '/':
		return badName(name, "absolute path")
	}
	if i := strings.IndexFunc(name, isControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return badName(name, fmt.Sprintf("contains the control character %U", r))
	}
	for rest := name; ; {
		elem, after, more := strings.Cut(rest, "/")
		switch elem {
		case "":
			return badName(name, "empty path component")
		case ".", "..":
			return badName(name, fmt.Sprintf("%q path component", elem))
		}
		if !more {
			return nil
		}
		rest = after
	}
}

// isControl reports whether r is a control character that CheckName refuses:
// C0 (U+0000 to U+001F), DEL (U+007F) or C1 (U+0080 to U+009F).
func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }

// badName returns an ErrBadName error that quotes at most the first 100
// bytes of name.
func badName(name, why string) error {
	const show = 100
	if len(name) > show {
		return fmt.Errorf("%w %q...: %s", ErrBadName, name[:show], why)
	}
	return fmt.Errorf("%w %q: %s", ErrBadName, name, why)
}

// appendName appends a name as varint length | bytes.
func appendName(b []byte, name string) []byte {
	b = appendVarint(b, uint64(len(name)))
	return append(b, name...)
}

// parseName parses a name written by appendName and checks it.
func parseName(b []byte) (string, []byte, error) {
	n, b, err := parseVarint(b)
	if err != nil {
		return "", nil, err
	}
	if n > MaxNameLen {
		return "", nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadName, n, MaxNameLen)
	}
	if n > uint64(len(b)) {
		return "", nil, fmt.Errorf("%w: name of %d bytes, %d left in the frame", ErrMalformed, n, len(b))
	}
	name := string(b[:n])
	if err := CheckName(name); err != nil {
		return "", nil, err
	}
	return name, b[n:], nil
}
