package metalink_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/metalink"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// content is the data every file of testdata describes: n bytes, byte i
// being i*7 mod 251. The sums in testdata are of content(size) for each
// file's size (TestTestdataSums checks them), so that a test can check
// pieces and hashes against real data. (Fedora's mm0:alternate, which
// Parse must not read, holds the sums of content(6311).)
func content(n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7 % 251)
	}
	return b
}

func parseFile(t *testing.T, path string) *metalink.Metalink {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	ml, err := metalink.Parse(bytes.NewReader(b))
	require.NoError(t, err, path)
	requireValid(t, ml)
	return ml
}

func parseString(s string) (*metalink.Metalink, error) {
	return metalink.Parse(strings.NewReader(s))
}

// flip returns a copy of b with one bit changed.
func flip(b []byte, at int) []byte {
	c := bytes.Clone(b)
	c[at] ^= 1
	return c
}

// requirePlanChecks checks that f's plan accepts content(f.Size), piece by
// piece and whole, and refuses each piece with a bit flipped.
func requirePlanChecks(t *testing.T, f metalink.File) {
	t.Helper()
	data := content(f.Size)
	plan, err := f.Plan()
	require.NoError(t, err)
	if f.Pieces != nil {
		require.True(t, plan.Checkable())
		n := len(f.Pieces.Sums)
		for i := range n {
			off := int64(i) * f.Pieces.Length
			piece := data[off:min(off+f.Pieces.Length, f.Size)]
			require.NoError(t, plan.Piece(i, piece), "%s: piece %d", f.Name, i)
			require.ErrorIs(t, plan.Piece(i, flip(piece, len(piece)-1)), verify.ErrMismatch, "%s: piece %d", f.Name, i)
		}
		require.Error(t, plan.Piece(n, nil), "out of range")
	}
	if w := plan.Whole(); w != nil {
		require.Equal(t, f.Hashes[0], *w, "the strongest hash")
		require.NoError(t, w.Check(bytes.NewReader(data)), f.Name)
		if len(data) > 0 {
			require.ErrorIs(t, w.Check(bytes.NewReader(flip(data, 0))), verify.ErrMismatch)
		}
	}
}

// Every sum in testdata is of content(size): every hash of every file, and
// every piece of every pieces element (the ones Parse does not choose
// too, by taking the chosen ones out). So the testdata cannot rot.
func TestTestdataSums(t *testing.T) {
	sum := map[verify.Algo]func([]byte) []byte{
		verify.MD5:    func(b []byte) []byte { s := md5.Sum(b); return s[:] },
		verify.SHA1:   func(b []byte) []byte { s := sha1.Sum(b); return s[:] },
		verify.SHA256: func(b []byte) []byte { s := sha256.Sum256(b); return s[:] },
		verify.SHA512: func(b []byte) []byte { s := sha512.Sum512(b); return s[:] },
	}
	paths, err := filepath.Glob("testdata/*.meta*")
	require.NoError(t, err)
	require.Len(t, paths, 4)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			for _, f := range parseFile(t, path).Files {
				if f.Size < 0 {
					continue // unsized.bin: its sums are of content(5000)
				}
				for _, h := range f.Hashes {
					assert.Equal(t, fmt.Sprintf("%x", sum[h.Algo](content(f.Size))), fmt.Sprintf("%x", h.Sum), "%s: %s", f.Name, h.Algo)
				}
				requirePlanChecks(t, f)
			}
		})
	}
	// multi.meta4's tarball has sha-1 pieces besides the sha-256 ones
	// Parse prefers.
	b, err := os.ReadFile("testdata/multi.meta4")
	require.NoError(t, err)
	without := regexp.MustCompile(`(?s)<pieces length="100000" type="sha-256">.*?</pieces>`).ReplaceAll(b, nil)
	require.NotEqual(t, b, without)
	ml, err := metalink.Parse(bytes.NewReader(without))
	require.NoError(t, err)
	f := ml.Files[0]
	require.Equal(t, verify.SHA1, f.Pieces.Algo)
	require.EqualValues(t, 262144, f.Pieces.Length)
	requirePlanChecks(t, f)
}

// MirrorBrain's Metalink 4: whole-file hashes md5, sha-1 and sha-256, sha-1
// pieces, a torrent as a metaurl, and mirrors with priorities and
// locations of which ftp and rsync are skipped.
func TestMirrorBrain(t *testing.T) {
	ml := parseFile(t, "testdata/mirrorbrain.meta4")
	require.Equal(t, 4, ml.Version)
	require.Len(t, ml.Files, 1)
	f := ml.Files[0]
	const name = "openSUSE-Tumbleweed-NET-x86_64-Current.iso"
	require.Equal(t, name, f.Name)
	require.EqualValues(t, 700000, f.Size)
	require.Equal(t, []verify.Algo{verify.SHA256, verify.SHA1, verify.MD5}, algos(f.Hashes))
	require.Equal(t, verify.SHA256, f.Hash().Algo)
	require.NotNil(t, f.Pieces)
	require.Equal(t, verify.SHA1, f.Pieces.Algo)
	require.EqualValues(t, 262144, f.Pieces.Length)
	require.Len(t, f.Pieces.Sums, 3)
	const path = "/tumbleweed/iso/" + name
	require.Equal(t, []metalink.Mirror{
		{URL: "http://ftp.gwdg.de/pub/opensuse" + path, Priority: 1, Location: "de"},
		{URL: "https://ftp.fau.de/opensuse" + path, Priority: 2, Location: "de"},
		{URL: "https://mirror.nl.leaseweb.net/opensuse" + path, Priority: 3, Location: "nl"},
		{URL: "http://mirrors.acm.wpi.edu/opensuse" + path, Priority: 5, Location: "us"},
	}, f.Mirrors)
	require.Equal(t, []string{
		name + ": metaurl (torrent) skipped",
		name + ": ftp URL skipped",
		name + ": rsync URL skipped",
	}, ml.Notes)
}

// MirrorCache's Metalink 3.0: hashes and pieces inside verification, the
// pieces' piece indexes, mirrors inside resources with preferences, a
// bittorrent url skipped.
func TestMirrorCache(t *testing.T) {
	ml := parseFile(t, "testdata/mirrorcache.metalink")
	require.Equal(t, 3, ml.Version)
	require.Len(t, ml.Files, 1)
	f := ml.Files[0]
	const name = "openSUSE-Leap-15.6-NET-x86_64-Media.iso"
	require.Equal(t, name, f.Name)
	require.EqualValues(t, 700000, f.Size)
	require.Equal(t, []verify.Algo{verify.SHA256, verify.SHA1, verify.MD5}, algos(f.Hashes))
	require.Equal(t, verify.SHA1, f.Pieces.Algo)
	require.Len(t, f.Pieces.Sums, 3)
	var prio []int
	var locs []string
	for _, m := range f.Mirrors {
		prio = append(prio, m.Priority)
		locs = append(locs, m.Location)
	}
	require.Equal(t, []int{1, 2, 3, 4, 5}, prio, "101 - preference")
	require.Equal(t, []string{"de", "de", "at", "ch", "us"}, locs)
	require.Equal(t, "http://ftp.gwdg.de/pub/opensuse/distribution/leap/15.6/iso/"+name, f.Mirrors[0].URL)
	require.Equal(t, []string{name + `: url of type bittorrent skipped`}, ml.Notes)
	// The same file as MirrorBrain's, described in the other dialect.
	mb := parseFile(t, "testdata/mirrorbrain.meta4").Files[0]
	require.Equal(t, mb.Hashes, f.Hashes)
	require.Equal(t, mb.Pieces, f.Pieces)
}

// Fedora MirrorManager's Metalink 3.0 for repomd.xml: four hashes, the
// mm0 extension elements ignored (mm0:alternates holds an older version's
// size and hashes, which must not be taken), upper-case locations,
// rsync skipped, equal preferences in document order.
func TestFedoraMirrorManager(t *testing.T) {
	ml := parseFile(t, "testdata/fedora-repomd.metalink")
	require.Equal(t, 3, ml.Version)
	require.Len(t, ml.Files, 1)
	f := ml.Files[0]
	require.Equal(t, "repomd.xml", f.Name)
	require.EqualValues(t, 6349, f.Size, "not the alternate's 6311")
	require.Equal(t, []verify.Algo{verify.SHA512, verify.SHA256, verify.SHA1, verify.MD5}, algos(f.Hashes))
	want := sha512.Sum512(content(6349))
	require.Equal(t, want[:], f.Hash().Sum, "the current version's, not the alternate's")
	require.Nil(t, f.Pieces)
	plan, err := f.Plan()
	require.NoError(t, err)
	require.False(t, plan.Checkable())
	require.NoError(t, plan.Whole().Check(bytes.NewReader(content(6349))))
	require.ErrorIs(t, plan.Whole().Check(bytes.NewReader(content(6311))), verify.ErrMismatch)

	const path = "/fedora/linux/updates/39/Everything/x86_64/repodata/repomd.xml"
	require.Equal(t, []metalink.Mirror{
		{URL: "https://mirror.example.edu" + path, Priority: 1, Location: "us"},
		{URL: "http://mirror.example.edu" + path, Priority: 1, Location: "us"},
		{URL: "https://mirror.csclub.example.ca" + path, Priority: 2, Location: "ca"},
		{URL: "https://ftp.example.de/pub" + path, Priority: 3, Location: "de"},
		{URL: "http://ftp.example.jp/pub/linux" + path, Priority: 4, Location: "jp"},
	}, f.Mirrors)
	require.Equal(t, []string{`repomd.xml: url of type rsync skipped`}, ml.Notes)
}

// A multi-file Metalink 4: names with directories, sha-256 pieces of an
// odd length preferred over sha-1 pieces, a file with no size (its pieces
// dropped), an empty file, a file with no mirror, a hash of an unknown
// function.
func TestMultiFile(t *testing.T) {
	ml := parseFile(t, "testdata/multi.meta4")
	require.Equal(t, 4, ml.Version)
	var names []string
	for _, f := range ml.Files {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"tool-1.0/tool-1.0.tar.gz", "tool-1.0/doc/manual.pdf", "tool-1.0/EMPTY", "tool-1.0/unsized.bin"}, names)

	tar := ml.Files[0]
	require.EqualValues(t, 750000, tar.Size)
	require.Equal(t, []verify.Algo{verify.SHA512, verify.SHA256}, algos(tar.Hashes))
	require.Equal(t, verify.SHA256, tar.Pieces.Algo, "sha-256 pieces over sha-1")
	require.EqualValues(t, 100000, tar.Pieces.Length)
	require.Len(t, tar.Pieces.Sums, 8, "7 of 100000 bytes and one of 50000")
	require.Equal(t, []metalink.Mirror{
		{URL: "https://a.example.org/tool-1.0/tool-1.0.tar.gz", Priority: 1, Location: "fr"},
		{URL: "https://b.example.org/tool-1.0/tool-1.0.tar.gz", Priority: 2},
		{URL: "https://c.example.org/tool-1.0/tool-1.0.tar.gz"},
	}, tar.Mirrors, "by priority, none last")

	require.Equal(t, []verify.Algo{verify.SHA256}, algos(ml.Files[1].Hashes))

	empty := ml.Files[2]
	require.EqualValues(t, 0, empty.Size)
	require.Empty(t, empty.Mirrors)
	requirePlanChecks(t, empty)

	unsized := ml.Files[3]
	require.EqualValues(t, -1, unsized.Size)
	require.Nil(t, unsized.Pieces)
	plan, err := unsized.Plan()
	require.NoError(t, err)
	require.False(t, plan.Checkable())
	require.NoError(t, plan.Whole().Check(bytes.NewReader(content(5000))))

	require.Equal(t, []string{
		`tool-1.0/doc/manual.pdf: hash of type sha-384 ignored`,
		`tool-1.0/EMPTY: no usable mirror URL`,
		`tool-1.0/unsized.bin: pieces ignored: no size given`,
	}, ml.Notes)
}

func algos(hs []verify.Hash) []verify.Algo {
	var a []verify.Algo
	for _, h := range hs {
		a = append(a, h.Algo)
	}
	return a
}

// v4 doc of one file "f" with the given children.
func v4(children string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="f">` + children + `</file></metalink>`
}

// v3 doc of one file "f" with the given children.
func v3(children string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/"><files><file name="f">` + children + `</file></files></metalink>`
}

// Priorities: v4's from 1 to 999999 (more is 999999, 0 or less or none is
// none, last), v3's 101 - preference with the preference clamped to 1..100;
// equal priorities keep document order; a URL twice is kept once, at its
// best place.
func TestPriorities(t *testing.T) {
	t.Run("v4", func(t *testing.T) {
		ml, err := parseString(v4(`
			<url>http://none1/</url>
			<url priority="7">http://seven/</url>
			<url priority="0">http://zero/</url>
			<url priority="2000000">http://big/</url>
			<url priority=" 1 ">http://one/</url>
			<url priority="-3">http://negative/</url>
			<url priority="x">http://bad/</url>
			<url priority="7">http://seven-again/</url>
			<url priority="9">http://seven/</url>
			<url location="Europe">http://none2/</url>`))
		require.NoError(t, err)
		requireValid(t, ml)
		require.Equal(t, []metalink.Mirror{
			{URL: "http://one/", Priority: 1},
			{URL: "http://seven/", Priority: 7},
			{URL: "http://seven-again/", Priority: 7},
			{URL: "http://big/", Priority: 999999},
			{URL: "http://none1/"},
			{URL: "http://zero/"},
			{URL: "http://negative/"},
			{URL: "http://bad/"},
			{URL: "http://none2/"},
		}, ml.Files[0].Mirrors)
		require.Equal(t, []string{`f: priority x ignored`, `f: location europe ignored`, `f: duplicate URL dropped`}, ml.Notes)
	})
	t.Run("v3", func(t *testing.T) {
		ml, err := parseString(v3(`<resources>
			<url type="http">http://none/</url>
			<url type="http" preference="1">http://worst/</url>
			<url type="http" preference="0">http://zero/</url>
			<url type="https" preference="150">http://over/</url>
			<url type="HTTP" preference="100">http://best/</url>
			<url preference="50">https://no-type/</url>
			<url type="ftp" preference="100">ftp://ftp/</url>
			<url type="http" preference="abc">http://bad/</url>
			</resources>`))
		require.NoError(t, err)
		requireValid(t, ml)
		require.Equal(t, []metalink.Mirror{
			{URL: "http://over/", Priority: 1},
			{URL: "http://best/", Priority: 1},
			{URL: "https://no-type/", Priority: 51},
			{URL: "http://worst/", Priority: 100},
			{URL: "http://zero/", Priority: 100},
			{URL: "http://none/"},
			{URL: "http://bad/"},
		}, ml.Files[0].Mirrors)
		require.Equal(t, []string{`f: ftp URL skipped`, `f: preference abc ignored`}, ml.Notes)
	})
}

// Metalink 3.0 pieces are put in the order of their piece attributes.
func TestV3PieceOrder(t *testing.T) {
	data := content(5000)
	var hashes []string
	for i := range 3 {
		s := sha256.Sum256(data[i*2048 : min((i+1)*2048, len(data))])
		hashes = append(hashes, fmt.Sprintf(`<hash piece="%d">%x</hash>`, i, s))
	}
	doc := v3(`<size>5000</size><verification><pieces length="2048" type="sha256">` +
		hashes[2] + hashes[0] + hashes[1] + `</pieces></verification>`)
	ml, err := parseString(doc)
	require.NoError(t, err)
	requireValid(t, ml)
	requirePlanChecks(t, ml.Files[0])
}

// Skipped things make one note each per file, with a count.
func TestNotes(t *testing.T) {
	ml, err := parseString(v4(`<size>10</size>
		<metaurl mediatype="torrent">http://t/1.torrent</metaurl>
		<metaurl mediatype="torrent">http://t/2.torrent</metaurl>
		<url>rsync://a/f</url><url>rsync://b/f</url><url>rsync://c/f</url>
		<url>/relative/f</url><url>http:///no-host</url><url>http://bad host/</url>
		<hash>00</hash>
		<pieces length="1024" type="sha3-256"><hash>00</hash></pieces>`))
	require.NoError(t, err)
	requireValid(t, ml)
	require.Equal(t, []string{
		`f: metaurl (torrent) skipped (2 of them)`,
		`f: rsync URL skipped (3 of them)`,
		`f: URL without a scheme skipped`,
		`f: URL without a host skipped`,
		`f: unparsable URL skipped`,
		`f: hash of type "" ignored`,
		`f: pieces of type sha3-256 ignored`,
		`f: no usable mirror URL`,
	}, ml.Notes)

	// Past MaxNotes, one last note counts the rest.
	var b strings.Builder
	b.WriteString(`<metalink xmlns="urn:ietf:params:xml:ns:metalink">`)
	for i := range metalink.MaxNotes + 10 {
		fmt.Fprintf(&b, `<file name="f%d"/>`, i)
	}
	b.WriteString(`</metalink>`)
	ml, err = parseString(b.String())
	require.NoError(t, err)
	require.Len(t, ml.Notes, metalink.MaxNotes+1)
	require.Equal(t, "10 more notes left out", ml.Notes[metalink.MaxNotes])
}

// One file's notes are of at most 16 kinds and one for the rest: a document
// inventing a url type per url makes 17 notes, not one per url.
func TestNoteKinds(t *testing.T) {
	var b strings.Builder
	const n = 100000
	for i := range n {
		fmt.Fprintf(&b, `<url type="t%d">http://m/</url>`, i)
	}
	ml, err := parseString(v3(`<resources>` + b.String() + `</resources>`))
	require.NoError(t, err)
	require.Len(t, ml.Notes, 16+2)
	require.Equal(t, "f: url of type t0 skipped", ml.Notes[0])
	require.Equal(t, fmt.Sprintf("f: other things skipped (%d of them)", n-16), ml.Notes[16])
	require.Equal(t, "f: no usable mirror URL", ml.Notes[17])
}

// The bound on attributes counts the '=' between two '<': a text, or a
// comment, with many of them is fine up to it.
func TestEqualsInText(t *testing.T) {
	ml, err := parseString(v4(`<!-- ` + strings.Repeat("=", 1000) + ` --><url>http://a/?` + strings.Repeat("a=b&amp;", 20) + `</url>`))
	require.NoError(t, err)
	require.Len(t, ml.Files[0].Mirrors, 1)
	_, err = parseString(v4(`<!-- ` + strings.Repeat("=", 1100) + ` -->`))
	require.ErrorIs(t, err, metalink.ErrInvalid)
	// An HTML page's script is not an element with many attributes.
	_, err = parseString(`<html><head><script>var a=1` + strings.Repeat(",b=2", 2000) + `;</script></head></html>`)
	require.ErrorIs(t, err, metalink.ErrNotMetalink)
}

// Plan: pieces with the whole-file hash besides, a whole-file hash alone,
// nothing; pieces of a file whose size is unknown cannot be planned.
func TestPlan(t *testing.T) {
	f := parseFile(t, "testdata/multi.meta4").Files[0]
	plan, err := f.Plan()
	require.NoError(t, err)
	require.True(t, plan.Checkable())
	require.Equal(t, verify.SHA512, plan.Whole().Algo)
	data := content(f.Size)
	require.NoError(t, plan.Piece(7, data[700000:]), "the short last piece of the odd length")
	require.ErrorIs(t, plan.Piece(7, data[600000:700000]), verify.ErrMismatch, "a full piece as the short one")
	require.ErrorIs(t, plan.Piece(3, data[400000:500000]), verify.ErrMismatch, "piece 4 as piece 3")

	none := metalink.File{Name: "n", Size: 10}
	plan, err = none.Plan()
	require.NoError(t, err)
	require.False(t, plan.Checkable())
	require.Nil(t, plan.Whole())
	require.Nil(t, none.Hash())

	f.Size = -1
	_, err = f.Plan()
	require.ErrorContains(t, err, "size")
	f.Size = 850001
	_, err = f.Plan()
	require.ErrorContains(t, err, "piece sums")
}

// Each hostile file in testdata/hostile is refused with an error that says
// what is wrong.
func TestHostile(t *testing.T) {
	tests := []struct {
		file string
		want string // in the error
		is   error
	}{
		{"dotdot.meta4", `file 1: bad file name "../etc/passwd": ".." path component`, wire.ErrBadName},
		{"absolute.meta4", `bad file name "/etc/x": absolute path`, wire.ErrBadName},
		{"backslash.meta4", "backslash", wire.ErrBadName},
		{"newline.meta4", "control character U+000A", wire.ErrBadName},
		{"duplicate.meta4", `file 2: "same.bin": two files have this name`, metalink.ErrInvalid},
		{"hugesize.meta4", "huge.iso: size 99999999999999999999: not a number of bytes from 0 to 2^50", metalink.ErrInvalid},
		{"negsize.meta4", "negative.iso: size -1: not a number", metalink.ErrInvalid},
		{"overmax.meta4", "petabytes.iso: size 1125899906842625: not a number", metalink.ErrInvalid},
		{"claims-1e7-pieces.meta4", "claims.iso: 10000000 pieces of 1024 bytes, more than 1048576", metalink.ErrInvalid},
		{"tiny-pieces.meta4", "tiny-pieces.iso: sha-1 pieces: length 512: not a number of bytes from 1 KiB to 64 MiB", metalink.ErrInvalid},
		{"too-few-pieces.meta4", "short.iso: 1 sha-256 piece hashes for 1500 bytes in pieces of 1024 bytes, want 2", metalink.ErrInvalid},
		{"badhex.meta4", "badhex.iso: sha-1 hash: not hex", metalink.ErrInvalid},
		{"billion-laughs.meta4", "invalid Metalink file: <!DOCTYPE> not allowed in a Metalink file", metalink.ErrInvalid},
		{"v3-duplicate-piece.metalink", "dup-piece.bin: sha-1 piece 1: given twice", metalink.ErrInvalid},
		{"v3-missing-piece.metalink", "gap.bin: sha-1 piece 1: missing", metalink.ErrInvalid},
		{"no-namespace.meta4", `not a Metalink file: its root element is <metalink> of namespace ""`, metalink.ErrNotMetalink},
		{"html.meta4", `not a Metalink file: its root element is <html> of namespace ""`, metalink.ErrNotMetalink},
	}
	paths, err := filepath.Glob("testdata/hostile/*")
	require.NoError(t, err)
	require.Len(t, paths, len(tests), "a test for each file")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata/hostile", tt.file))
			require.NoError(t, err)
			ml, err := metalink.Parse(bytes.NewReader(b))
			require.Nil(t, ml)
			require.ErrorContains(t, err, tt.want)
			require.ErrorIs(t, err, tt.is)
			require.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

// Inline documents that Parse refuses, one flaw each.
func TestInvalid(t *testing.T) {
	const sha1Hex = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	tests := []struct {
		name, doc, want string
		is              error
	}{
		{"empty", "", "not a Metalink file", metalink.ErrNotMetalink},
		{"text", "hello", "not a Metalink file", metalink.ErrNotMetalink},
		{"binary", "\x00\x01\x02<", "not a Metalink file", metalink.ErrNotMetalink},
		{"other root", `<feed xmlns="http://www.w3.org/2005/Atom"/>`, "not a Metalink file: its root element is <feed>", metalink.ErrNotMetalink},
		{"v4 name, v3 namespace wrong", `<metalink xmlns="http://www.metalinker.org"/>`, "not a Metalink file", metalink.ErrNotMetalink},
		{"no file", `<metalink xmlns="urn:ietf:params:xml:ns:metalink"><generator>x</generator></metalink>`, "invalid Metalink file: no file in it", metalink.ErrInvalid},
		{"v3 file outside files", `<metalink xmlns="http://www.metalinker.org/"><file name="a"/></metalink>`, "no file in it", metalink.ErrInvalid},
		{"file of another namespace", `<metalink xmlns="urn:ietf:params:xml:ns:metalink" xmlns:x="urn:x"><x:file name="a"/></metalink>`, "no file in it", metalink.ErrInvalid},
		{"no name", `<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file/></metalink>`, "file 1: no name", metalink.ErrInvalid},
		{"empty name", `<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name=""/></metalink>`, "file 1: bad file name: empty", wire.ErrBadName},
		{"trailing slash", `<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="dir/"/></metalink>`, "empty path component", wire.ErrBadName},
		{"C1 control", `<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="a&#x9b;b"/></metalink>`, "control character U+009B", wire.ErrBadName},
		{"truncated", `<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="a"><size>1`, "a: XML syntax error", metalink.ErrInvalid},
		{"entity", v4(`<url>http://a/&lol;</url>`), "f: XML syntax error on line 2: invalid character entity &lol;", metalink.ErrInvalid},
		{"entity declaration", v4(`<!ENTITY lol "lol">`), "f: <!ENTITY> not allowed", metalink.ErrInvalid},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + v4("")[38:], `encoding "ISO-8859-1" not supported`, metalink.ErrInvalid},
		{"two sizes", v4(`<size>1</size><size>1</size>`), "f: two sizes", metalink.ErrInvalid},
		{"size not a number", v4(`<size>12abc</size>`), "f: size 12abc: not a number", metalink.ErrInvalid},
		{"size empty", v4(`<size> </size>`), `f: size "": not a number`, metalink.ErrInvalid},
		{"size hex", v4(`<size>0x10</size>`), `f: size 0x10: not a number`, metalink.ErrInvalid},
		{"two sha-256", v4(`<hash type="sha-256">` + strings.Repeat("00", 32) + `</hash><hash type="sha256">` + strings.Repeat("01", 32) + `</hash>`), "f: two different sha-256 hashes", metalink.ErrInvalid},
		{"short hash", v4(`<hash type="sha-256">` + strings.Repeat("00", 31) + `</hash>`), "f: sha-256 hash: 62 hex digits, want 64", metalink.ErrInvalid},
		{"long md5", v4(`<hash type="md5">` + sha1Hex + `</hash>`), "f: md5 hash: 40 hex digits, want 32", metalink.ErrInvalid},
		{"piece length not a number", v4(`<size>1</size><pieces type="sha-1" length="1k"></pieces>`), `f: sha-1 pieces: length 1k: not a number`, metalink.ErrInvalid},
		{"piece length missing", v4(`<size>1</size><pieces type="sha-1"></pieces>`), `f: sha-1 pieces: length "": not a number`, metalink.ErrInvalid},
		{"piece length too big", v4(`<size>1</size><pieces type="sha-1" length="67108865"></pieces>`), `length 67108865: not a number of bytes from 1 KiB to 64 MiB`, metalink.ErrInvalid},
		{"piece bad hex", v4(`<size>1</size><pieces type="sha-1" length="1024"><hash>` + strings.Repeat("g", 40) + `</hash></pieces>`), `f: sha-1 piece 0: not hex`, metalink.ErrInvalid},
		{"too many pieces", v4(`<size>1</size><pieces type="sha-1" length="1024"><hash>` + sha1Hex + `</hash><hash>` + sha1Hex + `</hash></pieces>`), `f: 2 sha-1 piece hashes for 1 bytes in pieces of 1024 bytes, want 1`, metalink.ErrInvalid},
		{"bad sha-1 pieces beside good sha-256", v4(`<size>1</size><pieces type="sha-256" length="1024"><hash>` + strings.Repeat("00", 32) + `</hash></pieces><pieces type="sha-1" length="1024"></pieces>`), `f: 0 sha-1 piece hashes`, metalink.ErrInvalid},
		{"two sha-1 pieces", v4(`<size>1</size><pieces type="sha-1" length="1024"><hash>` + sha1Hex + `</hash></pieces><pieces type="sha1" length="2048"></pieces>`), `f: two sha-1 pieces elements`, metalink.ErrInvalid},
		{"v3 piece without index", v3(`<size>1</size><verification><pieces type="sha1" length="1024"><hash>` + sha1Hex + `</hash></pieces></verification>`), `f: sha-1 piece hash 0: no piece index`, metalink.ErrInvalid},
		{"v3 piece index negative", v3(`<size>1</size><verification><pieces type="sha1" length="1024"><hash piece="-1">` + sha1Hex + `</hash></pieces></verification>`), `f: sha-1 piece hash 0: bad piece index -1`, metalink.ErrInvalid},
		{"v3 piece index huge", v3(`<size>1</size><verification><pieces type="sha1" length="1024"><hash piece="99999999999">` + sha1Hex + `</hash></pieces></verification>`), `bad piece index 99999999999`, metalink.ErrInvalid},
		{"v3 piece index past the end", v3(`<size>1</size><verification><pieces type="sha1" length="1024"><hash piece="1">` + sha1Hex + `</hash></pieces></verification>`), `f: sha-1 piece 0: missing`, metalink.ErrInvalid},
		{"deep", v4(`<x>` + strings.Repeat("<a>", 10<<20)), "f: elements nested more than 64 deep", metalink.ErrInvalid},
		{"deep in text", v4(`<url>` + strings.Repeat("<a>", 100) + `</url>`), "f: elements nested more than 64 deep", metalink.ErrInvalid},
		{"deep outside files", `<metalink xmlns="urn:ietf:params:xml:ns:metalink">` + strings.Repeat("<a>", 100), "invalid Metalink file: elements nested more than 64 deep", metalink.ErrInvalid},
		{"many attributes", `<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="f"` + strings.Repeat(` a=""`, 1100) + `/></metalink>`, "invalid Metalink file: an element with more than 1024 attributes", metalink.ErrInvalid},
		{"many namespaces", `<metalink xmlns="urn:ietf:params:xml:ns:metalink"` + strings.Repeat(` xmlns:p="u"`, 1100) + `/>`, "an element with more than 1024 attributes", metalink.ErrInvalid},
		{"long URL", v4(`<url>http://a/` + strings.Repeat("a", 70000) + `</url>`), `f: <url> longer than 64 KiB`, metalink.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ml, err := parseString(tt.doc)
			require.Nil(t, ml)
			require.ErrorContains(t, err, tt.want)
			require.ErrorIs(t, err, tt.is)
			require.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

// The limits on files and mirrors, and on the document's size: one past
// is an error, at the limit is not.
func TestLimits(t *testing.T) {
	files := func(n int) string {
		var b strings.Builder
		b.WriteString(`<metalink xmlns="urn:ietf:params:xml:ns:metalink">`)
		for i := range n {
			fmt.Fprintf(&b, `<file name="%d"/>`, i)
		}
		b.WriteString(`</metalink>`)
		return b.String()
	}
	ml, err := parseString(files(metalink.MaxFiles))
	require.NoError(t, err)
	require.Len(t, ml.Files, metalink.MaxFiles)
	_, err = parseString(files(metalink.MaxFiles + 1))
	require.ErrorIs(t, err, metalink.ErrInvalid)
	require.ErrorContains(t, err, "more than 65536 files")

	urls := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, `<url>http://m%d/f</url>`, i)
		}
		return v4(b.String())
	}
	ml, err = parseString(urls(metalink.MaxMirrors))
	require.NoError(t, err)
	require.Len(t, ml.Files[0].Mirrors, metalink.MaxMirrors)
	_, err = parseString(urls(metalink.MaxMirrors + 1))
	require.ErrorIs(t, err, metalink.ErrInvalid)
	require.ErrorContains(t, err, "f: more than 4096 mirror URLs")

	// A valid document padded inside with a comment to exactly MaxSize
	// bytes, then one byte more.
	pad := func(n int) []byte {
		k := n - len(v4(`<url>http://a/f</url><!---->`))
		return []byte(v4(`<url>http://a/f</url><!--` + strings.Repeat("x", k) + `-->`))
	}
	at := pad(metalink.MaxSize)
	require.Len(t, at, metalink.MaxSize)
	_, err = metalink.Parse(bytes.NewReader(at))
	require.NoError(t, err)
	_, err = metalink.Parse(bytes.NewReader(pad(metalink.MaxSize + 1)))
	require.ErrorIs(t, err, metalink.ErrTooLarge)
	require.EqualError(t, err, "Metalink file larger than 32 MiB")
}

// Every prefix of a valid document short of its root's end is an error, and
// no panic.
func TestTruncated(t *testing.T) {
	b, err := os.ReadFile("testdata/mirrorcache.metalink")
	require.NoError(t, err)
	end := bytes.LastIndex(b, []byte("</metalink>"))
	require.Positive(t, end)
	for n := range end + len("</metalink>") {
		_, err := metalink.Parse(bytes.NewReader(b[:n]))
		require.Error(t, err, "%d bytes", n)
		require.True(t, errors.Is(err, metalink.ErrInvalid) || errors.Is(err, metalink.ErrNotMetalink), "%d bytes: %v", n, err)
	}
}

// A reader's error is returned as it is, wrapped.
func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := metalink.Parse(iotest.ErrReader(boom))
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "reading a Metalink file: boom")
}

// An encoding that is a subset of UTF-8 may be declared.
func TestEncodingDeclared(t *testing.T) {
	for _, enc := range []string{"UTF-8", "utf-8", "US-ASCII"} {
		ml, err := parseString(`<?xml version="1.0" encoding="` + enc + `"?>` + v4(`<url>http://a/f</url>`)[38:])
		require.NoError(t, err, enc)
		require.Len(t, ml.Files[0].Mirrors, 1)
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name, contentType string
		want              bool
	}{
		{"foo.iso.meta4", "", true},
		{"foo.iso.METALINK", "", true},
		{"https://download.opensuse.org/foo.iso.meta4", "", true},
		{"https://mirrors.fedoraproject.org/metalink?repo=fedora-39&arch=x86_64", "application/metalink+xml", true},
		{"https://download.opensuse.org/foo.iso.Meta4?mirrorlist=1#top", "", true},
		{"https://example.org/get?file=foo.meta4", "", false},
		{"foo.iso", "application/metalink4+xml", true},
		{"foo.iso", "Application/Metalink4+XML; charset=utf-8", true},
		{"foo.iso", "application/metalink+xml;charset=UTF-8", true},
		{"foo.iso", "application/metalink4+xml; bad", true},
		{"foo.iso", "application/xml", false},
		{"foo.iso", "text/html", false},
		{"foo.meta4.iso", "application/octet-stream", false},
		{"meta4", "", false},
		{"", "", false},
		{"foo.torrent", "application/x-bittorrent", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, metalink.Sniff(tt.name, tt.contentType), "%q %q", tt.name, tt.contentType)
	}
}
