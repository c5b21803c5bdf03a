package linkheader_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/linkheader"
)

// A MirrorBrain response for a file (download.opensuse.org's form).
const mirrorBrain = `<http://a/x.iso>; rel=duplicate; pri=1; geo=de, <http://b/x.iso>; rel=duplicate; pri=2; geo=us, <http://a/x.iso.meta4>; rel=describedby; type="application/metalink4+xml"`

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
		want    []linkheader.Link
	}{
		{"mirrorbrain", []string{mirrorBrain}, []linkheader.Link{
			{URL: "http://a/x.iso", Rel: []string{"duplicate"}, Params: map[string]string{"rel": "duplicate", "pri": "1", "geo": "de"}},
			{URL: "http://b/x.iso", Rel: []string{"duplicate"}, Params: map[string]string{"rel": "duplicate", "pri": "2", "geo": "us"}},
			{URL: "http://a/x.iso.meta4", Rel: []string{"describedby"}, Params: map[string]string{"rel": "describedby", "type": "application/metalink4+xml"}},
		}},
		{"several values", []string{`<http://a/>; rel=duplicate`, `<http://b/>; rel="duplicate"`}, []linkheader.Link{
			{URL: "http://a/", Rel: []string{"duplicate"}, Params: map[string]string{"rel": "duplicate"}},
			{URL: "http://b/", Rel: []string{"duplicate"}, Params: map[string]string{"rel": "duplicate"}},
		}},
		{"case and spaces", []string{" <http://a/x> ;REL = \"Duplicate  DescribedBy\" ; Pri=3 ;\tGEO=DE , "}, []linkheader.Link{
			{URL: "http://a/x", Rel: []string{"duplicate", "describedby"}, Params: map[string]string{"rel": "Duplicate  DescribedBy", "pri": "3", "geo": "DE"}},
		}},
		{"commas and semicolons inside", []string{`<http://a/x,y;z>; title="a, b; c \"d\" \\"; rel=next, <http://b/>`}, []linkheader.Link{
			{URL: "http://a/x,y;z", Rel: []string{"next"}, Params: map[string]string{"title": `a, b; c "d" \`, "rel": "next"}},
			{URL: "http://b/", Params: map[string]string{}},
		}},
		{"first of a parameter", []string{`<x>; rel=a; rel=b; pri=1; pri=2`}, []linkheader.Link{
			{URL: "x", Rel: []string{"a"}, Params: map[string]string{"rel": "a", "pri": "1"}},
		}},
		{"no value, empty parameters, ext value", []string{`<x>;; pref ;title*=UTF-8'de'n%c3%a4chstes;`}, []linkheader.Link{
			{URL: "x", Params: map[string]string{"pref": "", "title*": "UTF-8'de'n%c3%a4chstes"}},
		}},
		{"bad entries skipped", []string{
			`http://no-angle/; rel=duplicate, <http://a/>; rel=duplicate`,
			`<http://b/>; rel=duplicate junk "x,y", <http://c/>; rel=duplicate`,
			`<http://d/>; (bad)=1, <http://e/>; rel=duplicate`,
			`<http://f/>; rel="unterminated, <http://g/>; rel=duplicate`,
			`<http://h/`,
		}, []linkheader.Link{
			{URL: "http://a/", Rel: []string{"duplicate"}, Params: map[string]string{"rel": "duplicate"}},
			{URL: "http://c/", Rel: []string{"duplicate"}, Params: map[string]string{"rel": "duplicate"}},
			{URL: "http://e/", Rel: []string{"duplicate"}, Params: map[string]string{"rel": "duplicate"}},
		}},
		{"escape at the end of a bad link", []string{`<x>; a=b c"\`, `<y>`}, []linkheader.Link{
			{URL: "y", Params: map[string]string{}},
		}},
		{"empty", []string{"", " , ,"}, nil},
		{"none", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, linkheader.Parse(tc.headers))
		})
	}
}

func TestParseCap(t *testing.T) {
	one := strings.Repeat("<http://a/>; rel=duplicate, ", 600)
	ls := linkheader.Parse([]string{one, one})
	require.Len(t, ls, linkheader.MaxLinks)
}

func TestDuplicates(t *testing.T) {
	base, err := url.Parse("https://download.example.org/distribution/x.iso")
	require.NoError(t, err)
	headers := []string{
		`<http://c/x.iso>; rel=duplicate; geo=fr`,
		mirrorBrain,
		`<//d.example/x.iso>; rel=duplicate; pri=2; geo=NL, <mirror/x.iso>; rel="duplicate"; pri=1`,
		`<ftp://e/x.iso>; rel=duplicate; pri=1, <file:///etc/passwd>; rel=duplicate; pri=1, <http:///nohost>; rel=duplicate`,
		`<http://a/x.iso>; rel=duplicate; pri=9, <http://f/x.iso>; rel=duplicate; pri=-3, <http://g/x.iso>; rel=duplicate; pri=x`,
		`<http://h/x.iso>; rel=alternate; pri=1`,
	}
	require.Equal(t, []linkheader.Duplicate{
		{URL: "http://a/x.iso", Priority: 1, Geo: "de"},
		{URL: "https://download.example.org/distribution/mirror/x.iso", Priority: 1},
		{URL: "http://b/x.iso", Priority: 2, Geo: "us"},
		{URL: "https://d.example/x.iso", Priority: 2, Geo: "nl"},
		{URL: "http://c/x.iso", Geo: "fr"},
		{URL: "http://f/x.iso"},
		{URL: "http://g/x.iso"},
	}, linkheader.Duplicates(base, headers))

	// Without a base, only absolute URLs.
	require.Equal(t, []linkheader.Duplicate{
		{URL: "http://a/x.iso", Priority: 1, Geo: "de"},
		{URL: "http://b/x.iso", Priority: 2, Geo: "us"},
	}, linkheader.Duplicates(nil, []string{mirrorBrain, `<mirror/x.iso>; rel=duplicate; pri=1`}))
	require.Empty(t, linkheader.Duplicates(base, nil))
}

func TestDescribed(t *testing.T) {
	base, err := url.Parse("http://download.example.org/x.iso")
	require.NoError(t, err)
	got := linkheader.Described(base, []string{
		mirrorBrain,
		`<x.iso.torrent>; rel=describedby; type="application/x-bittorrent", <ftp://a/x.meta4>; rel=describedby`,
	})
	require.Equal(t, []linkheader.Link{
		{URL: "http://a/x.iso.meta4", Rel: []string{"describedby"}, Params: map[string]string{"rel": "describedby", "type": "application/metalink4+xml"}},
		{URL: "http://download.example.org/x.iso.torrent", Rel: []string{"describedby"}, Params: map[string]string{"rel": "describedby", "type": "application/x-bittorrent"}},
	}, got)
}

func TestHasRel(t *testing.T) {
	l := linkheader.Parse([]string{`<x>; rel="Duplicate describedby"`})[0]
	require.True(t, l.HasRel("duplicate"))
	require.True(t, l.HasRel("DescribedBy"))
	require.False(t, l.HasRel("next"))
}

// Example of what a downloader does with a redirector's answer.
func ExampleDuplicates() {
	base, _ := url.Parse("https://download.example.org/x.iso")
	for _, d := range linkheader.Duplicates(base, []string{mirrorBrain}) {
		fmt.Println(d.Priority, d.Geo, d.URL)
	}
	// Output:
	// 1 de http://a/x.iso
	// 2 us http://b/x.iso
}

// FuzzParse: Parse never panics, keeps to MaxLinks, gives lower-case
// relations and parameter names, and reads again what it read, written out
// with every value quoted.
func FuzzParse(f *testing.F) {
	f.Add(mirrorBrain, "<x>; rel=next")
	f.Add(`<http://a/x,y;z>; title="a, b; c \"d\" \\"; rel=next, <http://b/>`, `<x>;; pref ;title*=UTF-8'de'n%c3%a4chstes;`)
	f.Add(`http://no-angle/, <http://b/>; rel=duplicate junk "x,y", <http://c/>`, `<http://f/>; rel="unterminated, <g>`)
	f.Fuzz(func(t *testing.T, a, b string) {
		ls := linkheader.Parse([]string{a, b})
		require.LessOrEqual(t, len(ls), linkheader.MaxLinks)
		var out []string
		for _, l := range ls {
			require.NotContains(t, l.URL, ">")
			for _, r := range l.Rel {
				require.Equal(t, strings.ToLower(r), r)
			}
			s := "<" + l.URL + ">"
			for k, v := range l.Params {
				require.Equal(t, strings.ToLower(k), k)
				s += "; " + k + `="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
			}
			out = append(out, s)
		}
		again := linkheader.Parse([]string{strings.Join(out, ", ")})
		if len(ls) == 0 {
			require.Empty(t, again)
			return
		}
		require.Equal(t, ls, again)

		base, _ := url.Parse("http://example.org/d/x")
		for _, d := range linkheader.Duplicates(base, []string{a, b}) {
			require.True(t, strings.HasPrefix(d.URL, "http://") || strings.HasPrefix(d.URL, "https://"), d.URL)
			require.GreaterOrEqual(t, d.Priority, 0)
		}
		linkheader.Described(base, []string{a, b})
	})
}
