package link

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

var (
	testID  = manifest.ID(sha256.Sum256([]byte("debian.iso")))
	testHex = testID.String()
	testPin = wire.Pin(sha256.Sum256([]byte("seed key"))).String()
)

func TestParse(t *testing.T) {
	seed := "quic://10.0.0.5:4433?pin=" + testPin
	for _, tc := range []struct {
		name  string
		in    string
		want  Link
		canon string // String() of the result
	}{
		{"id only", "qx:?id=" + testHex,
			Link{ID: testID},
			"qx:?id=" + testHex},
		{"the issue's form", "qx:?id=" + testHex + "&name=debian.iso&size=123&seed=" + seed,
			Link{ID: testID, Name: "debian.iso", Size: 123, HasSize: true, Seeds: []string{seed}},
			"qx:?id=" + testHex + "&name=debian.iso&size=123&seed=" + seed},
		{"everything percent-encoded (url.Values.Encode's way)",
			"qx:?id=" + testHex + "&mirror=https%3A%2F%2Fftp.example.org%2Fd.iso&name=a+b%2Fc.iso&seed=quic%3A%2F%2F%5B2001%3Adb8%3A%3A1%5D%3A7",
			Link{ID: testID, Name: "a b/c.iso", Seeds: []string{"quic://[2001:db8::1]:7"}, Mirrors: []string{"https://ftp.example.org/d.iso"}},
			"qx:?id=" + testHex + "&name=a%20b/c.iso&seed=quic://%5B2001:db8::1%5D:7&mirror=https://ftp.example.org/d.iso"},
		{"upper-case scheme and hex", "QX:?id=" + strings.ToUpper(testHex),
			Link{ID: testID},
			"qx:?id=" + testHex},
		{"parameters in any order", "qx:?seed=quic://b&size=0&seed=quic://a:1&id=" + testHex,
			Link{ID: testID, Size: 0, HasSize: true, Seeds: []string{"quic://b:4433", "quic://a:1"}},
			"qx:?id=" + testHex + "&size=0&seed=quic://b:4433&seed=quic://a:1"},
		{"seed canonicalized, duplicates dropped", "qx:?id=" + testHex + "&seed=QUIC://h&seed=quic://h:4433/&seed=quic://h:4433",
			Link{ID: testID, Seeds: []string{"quic://h:4433"}},
			"qx:?id=" + testHex + "&seed=quic://h:4433"},
		{"seed with extra parameters keeps them", "qx:?id=" + testHex + "&seed=quic://h:1?a=1%26b%3D2",
			Link{ID: testID, Seeds: []string{"quic://h:1?a=1&b=2"}},
			"qx:?id=" + testHex + "&seed=quic://h:1?a=1%26b=2"},
		{"mirrors kept as given, duplicates dropped", "qx:?id=" + testHex + "&mirror=HTTP://m/x%3Fa%3D1%26b&mirror=http://m/y&mirror=HTTP://m/x%3Fa%3D1%26b",
			Link{ID: testID, Mirrors: []string{"HTTP://m/x?a=1&b", "http://m/y"}},
			"qx:?id=" + testHex + "&mirror=HTTP://m/x?a=1%26b&mirror=http://m/y"},
		{"non-ASCII name, raw and encoded", "qx:?id=" + testHex + "&name=caf%C3%A9/ünï.txt",
			Link{ID: testID, Name: "café/ünï.txt"},
			"qx:?id=" + testHex + "&name=caf%C3%A9/%C3%BCn%C3%AF.txt"},
		{"shell characters in a name are escaped", "qx:?id=" + testHex + "&name=it's%20$HOME!%20%2B%20%3B%23%25",
			Link{ID: testID, Name: "it's $HOME! + ;#%"},
			"qx:?id=" + testHex + "&name=it%27s%20%24HOME%21%20%2B%20%3B%23%25"},
		{"extensions skipped", "qx:?x.pe=1.2.3.4:5&id=" + testHex + "&x.=&x.foo",
			Link{ID: testID},
			"qx:?id=" + testHex},
		{"empty parameters skipped", "qx:?&&id=" + testHex + "&",
			Link{ID: testID},
			"qx:?id=" + testHex},
		{"largest size", "qx:?id=" + testHex + fmt.Sprintf("&size=%d", int64(manifest.MaxSize)),
			Link{ID: testID, Size: manifest.MaxSize, HasSize: true},
			"qx:?id=" + testHex + fmt.Sprintf("&size=%d", int64(manifest.MaxSize))},
		{"size with leading zeros", "qx:?id=" + testHex + "&size=007",
			Link{ID: testID, Size: 7, HasSize: true},
			"qx:?id=" + testHex + "&size=7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, IsLink(tc.in))
			l, err := Parse(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, l)
			require.Equal(t, tc.canon, l.String())
			again, err := Parse(l.String())
			require.NoError(t, err)
			require.Equal(t, l, again, "round trip")
		})
	}
}

func TestParseRefuses(t *testing.T) {
	id := "qx:?id=" + testHex
	many := func(key, val string, n int) string {
		var b strings.Builder
		b.WriteString(id)
		for i := range n {
			fmt.Fprintf(&b, "&%s=%s%d", key, val, i+1)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name string
		in   string
		msg  string // the whole error message
	}{
		{"empty", "", "invalid link: want qx:?id=<content ID>..."},
		{"a file name", "debian.iso", "invalid link: want qx:?id=<content ID>..."},
		{"a magnet link", "magnet:?xt=urn:btih:" + testHex[:40], `invalid link: unknown scheme "magnet": want qx:?id=<content ID>...`},
		{"a seed URL", "quic://h", `invalid link: unknown scheme "quic": want qx:?id=<content ID>...`},
		{"no query", "qx:", "invalid link: want qx:? followed by the parameters"},
		{"hierarchical", "qx://?id=" + testHex, "invalid link: want qx:? followed by the parameters"},
		{"no question mark", "qx:id=" + testHex, "invalid link: want qx:? followed by the parameters"},
		{"no id", "qx:?name=a", "invalid link: missing id (the content ID)"},
		{"empty query", "qx:?", "invalid link: missing id (the content ID)"},
		{"short id", "qx:?id=abc", `invalid link: content ID "abc": want 64 hex digits`},
		{"id not hex", "qx:?id=" + strings.Repeat("g", 64), `invalid link: content ID "` + strings.Repeat("g", 64) + `": not hex`},
		{"zero id", "qx:?id=" + strings.Repeat("0", 64), "invalid link: the content ID is all zeros"},
		{"empty id", "qx:?id", `invalid link: content ID "": want 64 hex digits`},
		{"two ids", id + "&id=" + testHex, "invalid link: more than one id"},
		{"two names", id + "&name=a&name=b", "invalid link: more than one name"},
		{"two sizes", id + "&size=1&size=1", "invalid link: more than one size"},
		{"empty name", id + "&name=", "invalid link: name: bad file name: empty"},
		{"absolute name", id + "&name=%2Fetc%2Fpasswd", `invalid link: name: bad file name "/etc/passwd": absolute path`},
		{"dot-dot name", id + "&name=a/../b", `invalid link: name: bad file name "a/../b": ".." path component`},
		{"control character in name", id + "&name=a%0Ab", `invalid link: name: bad file name "a\nb": contains the control character U+000A`},
		{"negative size", id + "&size=-1", `invalid link: size "-1": want a number of bytes`},
		{"size with sign", id + "&size=%2B1", `invalid link: size "+1": want a number of bytes`},
		{"empty size", id + "&size=", `invalid link: size "": want a number of bytes`},
		{"size in units", id + "&size=1G", `invalid link: size "1G": want a number of bytes`},
		{"size too large", id + fmt.Sprintf("&size=%d", int64(manifest.MaxSize)+1),
			fmt.Sprintf(`invalid link: size "%d": larger than %d bytes, the largest file a manifest describes`, int64(manifest.MaxSize)+1, int64(manifest.MaxSize))},
		{"size overflows", id + "&size=99999999999999999999",
			fmt.Sprintf(`invalid link: size "99999999999999999999": larger than %d bytes, the largest file a manifest describes`, int64(manifest.MaxSize))},
		{"seed not quic", id + "&seed=https://h", `invalid link: seed URL "https://h": must start with quic://`},
		{"seed bad port", id + "&seed=quic://h:0", `invalid link: seed URL "quic://h:0": bad port "0": want 1 to 65535`},
		{"seed bad pin", id + "&seed=quic://h?pin=x", `invalid link: seed URL "quic://h?pin=x": bad pin "x": want 43 base64url characters, got 1`},
		{"mirror not http", id + "&mirror=ftp://h/f", `invalid link: mirror URL "ftp://h/f": want an http:// or https:// URL`},
		{"mirror relative", id + "&mirror=/f", `invalid link: mirror URL "/f": want an http:// or https:// URL`},
		{"mirror without host", id + "&mirror=https:///f", `invalid link: mirror URL "https:///f": missing host`},
		{"mirror with password", id + "&mirror=https://u:secret@h/f", `invalid link: mirror URL "https://h/f": user information is not allowed in a link`},
		{"mirror unparsable with password", id + "&mirror=https://u:secret@h:x/f", `invalid link: mirror URL: invalid port ":x" after host`},
		{"mirror unparsable", id + "&mirror=http://h:x/f", `invalid link: mirror URL "http://h:x/f": invalid port ":x" after host`},
		{"too many seeds", many("seed", "quic://h:", MaxSeeds+1), fmt.Sprintf("invalid link: more than %d seeds", MaxSeeds)},
		{"too many mirrors", many("mirror", "http://h/", MaxMirrors+1), fmt.Sprintf("invalid link: more than %d mirrors", MaxMirrors)},
		{"unknown parameter", id + "&seeds=quic://h", `invalid link: unknown parameter "seeds"`},
		{"keys are case-sensitive", "qx:?ID=" + testHex, `invalid link: unknown parameter "ID"`},
		{"magnet's parameters are unknown", id + "&dn=a", `invalid link: unknown parameter "dn"`},
		{"bad escape in a value", id + "&name=%zz", `invalid link: parameter name: invalid URL escape "%zz"`},
		{"bad escape in a key", id + "&%zz=1", `invalid link: parameter "%zz": invalid URL escape "%zz"`},
		{"bad escape in an extension", id + "&x.a=%", `invalid link: parameter x.a: invalid URL escape "%"`},
		{"raw space", id + "&name=a b", `invalid link: ' ' at byte 78: a link is one line, with spaces and control characters percent-encoded`},
		{"raw newline", id + "\n", `invalid link: '\n' at byte 71: a link is one line, with spaces and control characters percent-encoded`},
		{"raw fragment", id + "#top", "invalid link: '#' must be percent-encoded (%23)"},
		{"semicolon separator", id + ";name=a", "invalid link: ';' must be percent-encoded (%3B): it is not a separator"},
		{"too long", id + "&x.pad=" + strings.Repeat("a", MaxLen), fmt.Sprintf("invalid link: too long: %d bytes, limit %d", len(id)+7+MaxLen, MaxLen)},
		{"too long once canonical", id + "&name=" + strings.Repeat("é", 2000),
			fmt.Sprintf("invalid link: too long: %d bytes once written in canonical form, limit %d", len(id)+6+2000*6, MaxLen)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			require.ErrorIs(t, err, ErrInvalid)
			require.EqualError(t, err, tc.msg)
		})
	}
}

func TestParseNameErrorIsBadName(t *testing.T) {
	_, err := Parse("qx:?id=" + testHex + "&name=..")
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorIs(t, err, wire.ErrBadName)
}

func TestLimitsAccepted(t *testing.T) {
	l := Link{ID: testID}
	for i := range MaxSeeds {
		l.Seeds = append(l.Seeds, fmt.Sprintf("quic://h:%d", i+1))
	}
	for i := range MaxMirrors {
		l.Mirrors = append(l.Mirrors, fmt.Sprintf("http://h/%d", i))
	}
	got, err := Parse(l.String())
	require.NoError(t, err)
	require.Equal(t, l, got)
}

func TestIsLink(t *testing.T) {
	for in, want := range map[string]bool{
		"qx:?id=1":   true,
		"QX:":        true, // a link, if a bad one: Parse says why
		"qX:x":       true,
		"qx":         false,
		"qx.iso":     false,
		"qxy:?id=1":  false,
		"magnet:?xt": false,
		"debian.iso": false,
		"":           false,
	} {
		require.Equal(t, want, IsLink(in), in)
	}
}

// TestStringBuiltByHand: String of a Link built by hand writes what the
// fields say (a zero size too), and Parse reads it back.
func TestStringBuiltByHand(t *testing.T) {
	l := Link{ID: testID, Name: "dir/file name.bin", Size: 0, HasSize: true,
		Seeds: []string{"quic://[fe80::1%25eth0]:7"}, Mirrors: []string{"https://m.example/f?x=1&y=2#frag"}}
	s := l.String()
	require.Equal(t, "qx:?id="+testHex+"&name=dir/file%20name.bin&size=0&seed=quic://%5Bfe80::1%2525eth0%5D:7&mirror=https://m.example/f?x=1%26y=2%23frag", s)
	got, err := Parse(s)
	require.NoError(t, err)
	require.Equal(t, l, got)
}
