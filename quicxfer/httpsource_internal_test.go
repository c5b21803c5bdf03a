package quicxfer

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{"bytes 131072-262143/1000000", 131072, 262143, 1000000, true},
		{"bytes 0-9/*", 0, 9, -1, true},
		{"bytes 5-4/10", 0, 0, 0, false},
		{"bytes 0-10/10", 0, 0, 0, false},
		{"bytes -1-9/10", 0, 0, 0, false},
		{"bytes +1-9/10", 0, 0, 0, false},
		{"bytes 0-9", 0, 0, 0, false},
		{"bytes */10", 0, 0, 0, false},
		{"items 0-9/10", 0, 0, 0, false},
		{"bytes 0-9/10x", 0, 0, 0, false},
		{"bytes 0-99999999999999999999/10", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	} {
		first, last, total, ok := parseContentRange(tc.in)
		require.Equal(t, tc.ok, ok, tc.in)
		if ok {
			require.Equal(t, []int64{tc.first, tc.last, tc.total}, []int64{first, last, total}, tc.in)
		}
	}
}

func TestCheckContentRange(t *testing.T) {
	h := func(cr, ct string) http.Header {
		x := http.Header{}
		x.Set("Content-Range", cr)
		if ct != "" {
			x.Set("Content-Type", ct)
		}
		return x
	}
	require.NoError(t, checkContentRange(h("bytes 100-199/1000", ""), 100, 100, 1000))
	require.NoError(t, checkContentRange(h("bytes 100-199/*", ""), 100, 100, 1000))
	for name, hdr := range map[string]http.Header{
		"another range":     h("bytes 101-200/1000", ""),
		"shorter range":     h("bytes 100-198/1000", ""),
		"another file size": h("bytes 100-199/1001", ""),
		"no Content-Range":  {},
		"multipart":         h("bytes 100-199/1000", "multipart/byteranges; boundary=x"),
	} {
		require.ErrorIs(t, checkContentRange(hdr, 100, 100, 1000), ErrBadRange, name)
	}
}

// FuzzParseContentRange: any header a mirror sends parses to a range that
// is well formed (0 <= first <= last, and last < total when the total is
// known) or is refused; it never panics, and what it accepts prints back
// to the same range.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-9/10", "bytes 0-9/*", "bytes 5-4/10", "bytes */10", "bytes 0-99999999999999999999/10", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, last, total, ok := parseContentRange(s)
		if !ok {
			return
		}
		if first < 0 || last < first || (total >= 0 && last >= total) || total < -1 {
			t.Fatalf("%q accepted as %d-%d/%d", s, first, last, total)
		}
		tot := "*"
		if total >= 0 {
			tot = strconv.FormatInt(total, 10)
		}
		back := fmt.Sprintf("bytes %d-%d/%s", first, last, tot)
		f2, l2, t2, ok2 := parseContentRange(back)
		if !ok2 || f2 != first || l2 != last || t2 != total {
			t.Fatalf("%q accepted as %q, which does not parse back", s, back)
		}
	})
}
