package wire

import (
	"crypto/sha256"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseURL(t *testing.T) {
	pin := Pin(sha256.Sum256([]byte("seed key")))
	ps := pin.String()
	for _, tc := range []struct {
		name  string
		in    string
		want  URL
		canon string // String() of the result
		addr  string
	}{
		{"IPv4", "quic://192.0.2.1:5000?pin=" + ps,
			URL{Host: "192.0.2.1", Port: 5000, Pin: pin, HasPin: true},
			"quic://192.0.2.1:5000?pin=" + ps, "192.0.2.1:5000"},
		{"IPv6", "quic://[2001:db8::1]:5000?pin=" + ps,
			URL{Host: "2001:db8::1", Port: 5000, Pin: pin, HasPin: true},
			"quic://[2001:db8::1]:5000?pin=" + ps, "[2001:db8::1]:5000"},
		{"IPv6 default port", "quic://[::1]",
			URL{Host: "::1", Port: DefaultPort},
			"quic://[::1]:4433", "[::1]:4433"},
		{"IPv6 zone", "quic://[fe80::1%25eth0]:7",
			URL{Host: "fe80::1%eth0", Port: 7},
			"quic://[fe80::1%25eth0]:7", "[fe80::1%eth0]:7"},
		{"DNS name, default port", "quic://seed.example.org?pin=" + ps,
			URL{Host: "seed.example.org", Port: DefaultPort, Pin: pin, HasPin: true},
			"quic://seed.example.org:4433?pin=" + ps, "seed.example.org:4433"},
		{"no pin", "quic://localhost:4433",
			URL{Host: "localhost", Port: 4433},
			"quic://localhost:4433", "localhost:4433"},
		{"trailing slash", "quic://h:1/?pin=" + ps,
			URL{Host: "h", Port: 1, Pin: pin, HasPin: true},
			"quic://h:1?pin=" + ps, "h:1"},
		{"upper-case scheme", "QUIC://h",
			URL{Host: "h", Port: DefaultPort},
			"quic://h:4433", "h:4433"},
		{"extra parameters", "quic://h?z=1&pin=" + ps + "&a=x+y&a=2&flag",
			URL{Host: "h", Port: DefaultPort, Pin: pin, HasPin: true, Extra: url.Values{"z": {"1"}, "a": {"x y", "2"}, "flag": {""}}},
			"quic://h:4433?pin=" + ps + "&a=x+y&a=2&flag=&z=1", "h:4433"},
		{"empty query", "quic://h?",
			URL{Host: "h", Port: DefaultPort},
			"quic://h:4433", "h:4433"},
		{"max port", "quic://h:65535",
			URL{Host: "h", Port: 65535},
			"quic://h:65535", "h:65535"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseURL(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, u)
			require.Equal(t, tc.canon, u.String())
			require.Equal(t, tc.addr, u.Addr())
			again, err := ParseURL(u.String())
			require.NoError(t, err)
			require.Equal(t, u, again, "round trip")
		})
	}
}

func TestParseURLRefuses(t *testing.T) {
	ps := Pin(sha256.Sum256([]byte("seed key"))).String()
	for _, tc := range []struct {
		name string
		in   string
		msg  string // the whole error message
	}{
		{"wrong scheme", "https://h:4433", `seed URL "https://h:4433": must start with quic://`},
		{"no scheme", "192.0.2.1:4433", `seed URL "192.0.2.1:4433": must start with quic://`},
		{"opaque", "quic:h", `seed URL "quic:h": must start with quic://`},
		{"empty", "", `seed URL "": must start with quic://`},
		{"missing host", "quic://:4433", `seed URL "quic://:4433": missing host`},
		{"nothing after scheme", "quic://", `seed URL "quic://": missing host`},
		{"path", "quic://h:4433/files", `seed URL "quic://h:4433/files": path "/files" is not allowed`},
		{"double slash path", "quic://h//", `seed URL "quic://h//": path "//" is not allowed`},
		{"port zero", "quic://h:0", `seed URL "quic://h:0": bad port "0": want 1 to 65535`},
		{"port too big", "quic://h:65536", `seed URL "quic://h:65536": bad port "65536": want 1 to 65535`},
		{"empty port", "quic://h:", `seed URL "quic://h:": empty port`},
		{"pin too short", "quic://h?pin=" + ps[:40], `seed URL "quic://h?pin=` + ps[:40] + `": bad pin "` + ps[:40] + `": want 43 base64url characters, got 40`},
		{"pin padded", "quic://h?pin=" + ps + "=", ""},
		{"pin not base64url", "quic://h?pin=" + ps[:42] + "*", ""},
		{"two pins", "quic://h?pin=" + ps + "&pin=" + ps, `seed URL "quic://h?pin=` + ps + "&pin=" + ps + `": more than one pin`},
		{"unbracketed IPv6", "quic://::1", ""},
		{"bracketed IPv4", "quic://[192.0.2.1]:1", ""},
		{"bracketed name", "quic://[seed]:1", ""},
		{"user info", "quic://u:p@h", `seed URL "quic://u:p@h": user information is not allowed`},
		{"fragment", "quic://h#x", `seed URL "quic://h#x": fragment is not allowed`},
		{"non-ASCII host", "quic://s%C3%A9ed", ""},
		{"space in host", "quic://a b", ""},
		{"bad query", "quic://h?a=%zz", ""},
		{"semicolon in query", "quic://h?a;b", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseURL(tc.in)
			require.Error(t, err)
			if tc.msg != "" {
				require.EqualError(t, err, tc.msg)
			}
			require.NotContains(t, err.Error(), "\n")
			require.Contains(t, err.Error(), `seed URL "`)
		})
	}
}

func TestURLZeroPort(t *testing.T) {
	u := URL{Host: "h"}
	require.Equal(t, "h:4433", u.Addr())
	require.Equal(t, "quic://h:4433", u.String())
}

func TestURLStringIgnoresPinInExtra(t *testing.T) {
	pin := Pin(sha256.Sum256([]byte("k")))
	u := URL{Host: "h", Port: 1, Pin: pin, HasPin: true, Extra: url.Values{"pin": {"x"}, "b": {"1"}}}
	got, err := ParseURL(u.String())
	require.NoError(t, err)
	require.Equal(t, URL{Host: "h", Port: 1, Pin: pin, HasPin: true, Extra: url.Values{"b": {"1"}}}, got)
}

func FuzzParseURL(f *testing.F) {
	ps := Pin(sha256.Sum256([]byte("seed key"))).String()
	for _, s := range []string{
		"quic://192.0.2.1:5000?pin=" + ps,
		"quic://[2001:db8::1]:5000?pin=" + ps,
		"quic://[fe80::1%25eth0]:7",
		"quic://h?z=1&pin=" + ps + "&a=x+y&a=2&flag",
		"quic://h:1/",
		"quic://h:",
		"quic://::1",
		"QUIC://H",
		"quic://h?a=%20",
		"https://h",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err != nil {
			return
		}
		require.NotEmpty(t, u.Host)
		require.NotZero(t, u.Port)
		canon := u.String()
		again, err := ParseURL(canon)
		require.NoError(t, err, "canonical form %q of %q", canon, s)
		require.Equal(t, u, again, "canonical form %q of %q", canon, s)
		require.Equal(t, canon, again.String())
	})
}
