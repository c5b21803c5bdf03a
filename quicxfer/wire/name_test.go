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
		strings.Repeat("a", MaxNameLen),
		strings.Repeat("a/", MaxNameLen/2-1) + "bc",
	} {
		require.NoError(t, CheckName(good), "%q", good)
	}
}
