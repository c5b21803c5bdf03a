package lsd

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	ih1 = InfohashOf(testID("one"))
	ih2 = InfohashOf(testID("two"))
	hx1 = hex.EncodeToString(ih1[:])
	hx2 = hex.EncodeToString(ih2[:])
)

func TestInfohashOf(t *testing.T) {
	id := testID("x")
	h := InfohashOf(id)
	require.Equal(t, id[:20], h[:])
	require.Equal(t, id.String()[:40], h.String())
}

func TestAppend(t *testing.T) {
	m := Message{Host: Group4, Port: 4433, Infohashes: []Infohash{ih1, ih2}, Cookie: "c00kie"}
	require.Equal(t, "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 4433\r\n"+
		"Infohash: "+hx1+"\r\nInfohash: "+hx2+"\r\ncookie: c00kie\r\n\r\n\r\n", string(m.Append(nil)))
	q := Message{Port: 0, Infohashes: []Infohash{ih1}}
	require.Equal(t, "BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: "+hx1+"\r\n\r\n\r\n", string(q.Append(nil)))
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Message
	}{
		{"BEP 14's form", "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: " + hx1 + "\r\ncookie: abc\r\n\r\n\r\n",
			Message{Host: Group4, Port: 6881, Infohashes: []Infohash{ih1}, Cookie: "abc"}},
		{"IPv6 host, several infohashes", "BT-SEARCH * HTTP/1.1\r\nHost: [ff15::efc0:988f]:6771\r\nPort: 1\r\nInfohash: " + hx1 + "\r\nInfohash: " + hx2 + "\r\n\r\n",
			Message{Host: Group6, Port: 1, Infohashes: []Infohash{ih1, ih2}}},
		{"a query", "BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: " + hx1 + "\r\n\r\n",
			Message{Port: 0, Infohashes: []Infohash{ih1}}},
		{"bare newlines, odd case, no spaces", "bt-search * http/1.1\nHOST:h\nport:65535\ninfohash:" + strings.ToUpper(hx1) + "\nCOOKIE:\t x y \t\n\n",
			Message{Host: "h", Port: 65535, Infohashes: []Infohash{ih1}, Cookie: "x y"}},
		{"unknown headers skipped", "BT-SEARCH * HTTP/1.1\r\nX-Client: foo\r\nPort: 7\r\nInfohash: " + hx1 + "\r\nUser-Agent: a:b\r\n\r\n\r\n\r\n",
			Message{Port: 7, Infohashes: []Infohash{ih1}}},
		{"empty Host and cookie", "BT-SEARCH * HTTP/1.1\r\nHost:\r\nPort: 7\r\nInfohash: " + hx1 + "\r\ncookie: \r\n\r\n",
			Message{Port: 7, Infohashes: []Infohash{ih1}}},
		{"port with leading zeros", "BT-SEARCH * HTTP/1.1\r\nPort: 00080\r\nInfohash: " + hx1 + "\r\n\r\n",
			Message{Port: 80, Infohashes: []Infohash{ih1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(tc.in))
			require.NoError(t, err)
			require.Equal(t, tc.want, m)
			again, err := Parse(m.Append(nil))
			require.NoError(t, err)
			require.Equal(t, m, again, "round trip")
		})
	}
}

func TestParseRefuses(t *testing.T) {
	const head = "BT-SEARCH * HTTP/1.1\r\n"
	ih := "Infohash: " + hx1 + "\r\n"
	many := strings.Repeat(ih, MaxInfohashes+1)
	for _, tc := range []struct {
		name string
		in   string
		msg  string // the whole error message
	}{
		{"empty", "", "malformed LSD message: truncated in the first line"},
		{"another method", "M-SEARCH * HTTP/1.1\r\n\r\n", `malformed LSD message: first line "M-SEARCH * HTTP/1.1": want "BT-SEARCH * HTTP/1.1"`},
		{"an HTTP response", "HTTP/1.1 200 OK\r\n\r\n", `malformed LSD message: first line "HTTP/1.1 200 OK": want "BT-SEARCH * HTTP/1.1"`},
		{"no end of headers", head + "Port: 1\r\n" + ih, "malformed LSD message: truncated in the headers"},
		{"no Port", head + ih + "\r\n", "malformed LSD message: no Port"},
		{"no Infohash", head + "Port: 1\r\n\r\n", "malformed LSD message: no Infohash"},
		{"two Ports", head + "Port: 1\r\nPort: 1\r\n" + ih + "\r\n", "malformed LSD message: more than one Port"},
		{"two Hosts", head + "Host: a\r\nhost: a\r\nPort: 1\r\n" + ih + "\r\n", "malformed LSD message: more than one Host"},
		{"two cookies", head + "cookie: a\r\nCookie: b\r\nPort: 1\r\n" + ih + "\r\n", "malformed LSD message: more than one cookie"},
		{"port too large", head + "Port: 65536\r\n" + ih + "\r\n", `malformed LSD message: Port "65536": want a number from 0 to 65535`},
		{"port too long", head + "Port: 0000001\r\n" + ih + "\r\n", `malformed LSD message: Port "0000001": want a number from 0 to 65535`},
		{"negative port", head + "Port: -1\r\n" + ih + "\r\n", `malformed LSD message: Port "-1": want a number from 0 to 65535`},
		{"empty port", head + "Port:\r\n" + ih + "\r\n", `malformed LSD message: Port "": want a number from 0 to 65535`},
		{"short infohash", head + "Port: 1\r\nInfohash: abc\r\n\r\n", `malformed LSD message: Infohash "abc": want 40 hex digits`},
		{"a 64-digit infohash", head + "Port: 1\r\nInfohash: " + strings.Repeat("a", 64) + "\r\n\r\n",
			`malformed LSD message: Infohash "` + strings.Repeat("a", 40) + `...": want 40 hex digits`},
		{"infohash not hex", head + "Port: 1\r\nInfohash: " + strings.Repeat("z", 40) + "\r\n\r\n", `malformed LSD message: Infohash "` + strings.Repeat("z", 40) + `": not hex`},
		{"too many infohashes", head + "Port: 1\r\n" + many + "\r\n", fmt.Sprintf("malformed LSD message: more than %d infohashes", MaxInfohashes)},
		{"long cookie", head + "Port: 1\r\n" + ih + "cookie: " + strings.Repeat("c", MaxValueLen+1) + "\r\n\r\n",
			fmt.Sprintf("malformed LSD message: cookie of %d bytes, limit %d", MaxValueLen+1, MaxValueLen)},
		{"long Host", head + "Host: " + strings.Repeat("h", MaxValueLen+1) + "\r\nPort: 1\r\n" + ih + "\r\n",
			fmt.Sprintf("malformed LSD message: Host of %d bytes, limit %d", MaxValueLen+1, MaxValueLen)},
		{"a line without a colon", head + "Port 1\r\n" + ih + "\r\n", `malformed LSD message: header line "Port 1": want Name: value`},
		{"a space before the colon", head + "Port : 1\r\n" + ih + "\r\n", `malformed LSD message: header line "Port : 1": want Name: value`},
		{"a folded line", head + "Port: 1\r\n " + ih + "\r\n", `malformed LSD message: header line " Infohash: ` + hx1[:29] + `...": want Name: value`},
		{"a control character", head + "Port: 1\r\n" + ih + "cookie: a\x00b\r\n\r\n", `malformed LSD message: header "cookie": control character '\x00'`},
		{"a lone carriage return", head + "Port: 1\r\r\n" + ih + "\r\n", `malformed LSD message: header "Port": control character '\r'`},
		{"a body", head + "Port: 1\r\n" + ih + "\r\nhello", "malformed LSD message: data after the headers"},
		{"too long", head + "Port: 1\r\n" + ih + "\r\n" + strings.Repeat("\r\n", MaxMessageLen),
			fmt.Sprintf("malformed LSD message: %d bytes, limit %d", len(head)+9+len(ih)+2+2*MaxMessageLen, MaxMessageLen)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			require.ErrorIs(t, err, ErrMalformed)
			require.EqualError(t, err, tc.msg)
		})
	}
}

// TestParseTruncated: every prefix of a message that ends before the empty
// line after the headers is refused.
func TestParseTruncated(t *testing.T) {
	full := (&Message{Host: Group6, Port: 4433, Infohashes: []Infohash{ih1, ih2}, Cookie: "c"}).Append(nil)
	end := bytes.Index(full, []byte("\r\n\r\n")) + 4
	for n := range end {
		_, err := Parse(full[:n])
		require.ErrorIs(t, err, ErrMalformed, "prefix of %d bytes: %q", n, full[:n])
	}
	for n := end; n <= len(full); n++ {
		_, err := Parse(full[:n])
		require.NoError(t, err, "prefix of %d bytes", n)
	}
}

func TestPack(t *testing.T) {
	var hs []Infohash
	for i := range 100 {
		hs = append(hs, InfohashOf(testID(fmt.Sprint(i))))
	}
	cookie := strings.Repeat("c", MaxValueLen)
	msgs := pack(Group6, 65535, cookie, hs)
	require.Len(t, msgs, 5, "100 infohashes of 52 bytes each, in messages of at most %d bytes", SendLen)
	var got []Infohash
	for _, b := range msgs {
		require.LessOrEqual(t, len(b), SendLen)
		m, err := Parse(b)
		require.NoError(t, err)
		require.Equal(t, Message{Host: Group6, Port: 65535, Infohashes: m.Infohashes, Cookie: cookie}, m)
		got = append(got, m.Infohashes...)
	}
	require.Equal(t, hs, got)
	require.Empty(t, pack(Group4, 1, "c", nil))
}

func FuzzParse(f *testing.F) {
	f.Add((&Message{Host: Group4, Port: 4433, Infohashes: []Infohash{ih1, ih2}, Cookie: "c00kie"}).Append(nil))
	f.Add((&Message{Port: 0, Infohashes: []Infohash{ih1}}).Append(nil))
	f.Add([]byte("bt-search * http/1.1\nHOST:h\nport:65535\ninfohash:" + strings.ToUpper(hx1) + "\nX: y\nCOOKIE:\t x y \t\n\n"))
	f.Add([]byte("BT-SEARCH * HTTP/1.1\r\nHost:\r\nPort: 007\r\nInfohash: " + hx1 + "\r\ncookie: \r\n\r\n\r\n"))
	f.Add([]byte("M-SEARCH * HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		out := m.Append(nil)
		require.LessOrEqual(t, len(out), MaxMessageLen)
		again, err := Parse(out)
		require.NoError(t, err, "Parse(%q)", out)
		require.Equal(t, m, again)
		require.Equal(t, out, again.Append(nil), "Append is canonical")
	})
}
