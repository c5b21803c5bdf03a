package quicxfer

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMirrorURLErrorsHidePasswords: a mirror URL that is refused is quoted
// in the error with its password replaced, whether it parses or not.
func TestMirrorURLErrorsHidePasswords(t *testing.T) {
	for _, raw := range []string{
		"ftp://u:s3cret@host/f",          // parses, wrong scheme
		"http://u:s3cret@host:badport/f", // does not parse
		"http://u:s3cret@[::1/f",         // does not parse
		"http://u:p@ss:s3cret@host:x/f",  // an @ in the password, a bad port
	} {
		_, err := parseMirrorURL(raw)
		require.Error(t, err, raw)
		require.NotContains(t, err.Error(), "s3cret", raw)
		require.Contains(t, err.Error(), "xxxxx", raw)
	}
	for raw, want := range map[string]string{
		"http://host/f":                 "http://host/f",
		"http://u@host/f":               "http://u@host/f",
		"http://u:pw@host/f?a=b@c":      "http://u:xxxxx@host/f?a=b@c",
		"no scheme at all":              "no scheme at all",
		"https://u:pw@h:1/p/x@y:z/file": "https://u:xxxxx@h:1/p/x@y:z/file",
	} {
		require.Equal(t, want, redactRaw(raw), raw)
	}
}
