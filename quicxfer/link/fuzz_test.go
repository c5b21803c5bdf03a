package link

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse checks that whatever Parse accepts it reads back the same from
// its String, that String is then a fixed point within the limits, and that
// IsLink agrees.
func FuzzParse(f *testing.F) {
	seed := "quic://10.0.0.5:4433?pin=" + testPin
	for _, s := range []string{
		"qx:?id=" + testHex,
		"qx:?id=" + testHex + "&name=debian.iso&size=123&seed=" + seed + "&mirror=https://m/x",
		"qx:?id=" + testHex + "&name=a+b%2Fc&seed=quic%3A%2F%2F%5B::1%5D&x.pe=1",
		"qx:?id=" + testHex + "&seed=quic://h&seed=QUIC://h:4433/&mirror=http://u@h",
		"qx:?id=" + testHex + "&name=caf%C3%A9&size=007",
		"QX:?&id=" + testHex + "&&",
		"magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567",
		"qx:?id=" + testHex + "&seed=quic://[fe80::1%25eth0]:7?a=%26&mirror=https://h/%25",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		require.True(t, IsLink(s))
		out := l.String()
		require.LessOrEqual(t, len(out), MaxLen)
		again, err := Parse(out)
		require.NoError(t, err, "Parse(%q), from %q", out, s)
		require.Equal(t, l, again, "round trip of %q", s)
		require.Equal(t, out, again.String(), "String is canonical")
	})
}
