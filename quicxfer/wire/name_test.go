package wire

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// badNames are names CheckName must refuse.
var badNames = map[string]string{
	"empty":             "",
	"absolute":          "/abs",
	"root":              "/",
	"dot dot first":     "../x",
	"dot dot inside":    "a/../b",
	"dot dot last":      "a/..",
	"dot dot alone":     "..",
	"dot":               ".",
	"dot inside":        "a/./b",
	"double slash":      "a//b",
	"trailing slash":    "a/",
	"backslash":         "a\\b",
	"backslash dotdot":  "..\\x",
	"NUL":               "a\x00b",
	"newline":           "a\nb",
	"carriage return":   "ls\r",
	"tab":               "a\tb",
	"escape sequence":   "x\x1b]2;owned\x07",
	"unit separator":    "a\x1fb",
	"DEL":               "a\x7f",
	"C1 first":          "a\u0080b",
	"C1 CSI":            "\u009b31m",
	"C1 last":           "a/\u009fb",
	"invalid UTF-8":     "a\xffb",
	"truncated UTF-8":   "caf\xc3",
	"too long":          strings.Repeat("a", MaxNameLen+1),
	"too long with dir": "d/" + strings.Repeat("a", MaxNameLen-1),
}

func TestCheckNameRefuses(t *testing.T) {
	for name, bad := range badNames {
		t.Run(name, func(t *testing.T) {
			err := CheckName(bad)
			require.ErrorIs(t, err, ErrBadName)
			require.Less(t, len(err.Error()), 200, "one short line")
		})
	}
}

func TestCheckNameAccepts(t *testing.T) {
	for _, good := range []string{
		"a",
		"file.iso",
		"dir/sub/file.tar.gz",
		".hidden",
		"a/.b",
		"...",
		"a/.../b",
		"..a",
		"a..",
		"café/naïve.txt",
		"with space/and:colon",
		"a\u00a0b",     // no-break space: the first after C1
		"\u0100\u0142", // Āł: their UTF-8 has bytes 0x80 and 0x82, no C1 rune
		"~tilde\u2028", // a line separator is not a control character: printing escapes it
		"日本語/ファイル.txt",
		strings.Repeat("a", MaxNameLen),
		strings.Repeat("a/", MaxNameLen/2-1) + "bc",
	} {
		require.NoError(t, CheckName(good), "%q", good)
	}
}
