package verify_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/verify"
)

// sumOf is the sum of s with a.
func sumOf(a verify.Algo, s string) []byte {
	d := a.New()
	d.Write([]byte(s))
	return d.Sum(nil)
}

func hexOf(a verify.Algo, s string) string { return hex.EncodeToString(sumOf(a, s)) }
func b64Of(a verify.Algo, s string) string { return base64.StdEncoding.EncodeToString(sumOf(a, s)) }

func TestParseChecksum(t *testing.T) {
	h256 := hexOf(verify.SHA256, "a")
	for _, tc := range []struct {
		name, in string
		algo     verify.Algo
		err      string
	}{
		{"rfc 5854 name", "sha-256=" + h256, verify.SHA256, ""},
		{"sha256sum name", "sha256=" + h256, verify.SHA256, ""},
		{"upper case", "SHA-256=" + strings.ToUpper(h256), verify.SHA256, ""},
		{"spaces", "  sha-256 = " + h256 + " ", verify.SHA256, ""},
		{"sha-512", "sha-512=" + hexOf(verify.SHA512, "a"), verify.SHA512, ""},
		{"sha-1", "sha-1=" + hexOf(verify.SHA1, "a"), verify.SHA1, ""},
		{"md5", "MD5=" + hexOf(verify.MD5, "a"), verify.MD5, ""},
		{"no type", h256, 0, `checksum "` + h256[:59] + `"…: want TYPE=HEX, TYPE one of sha-256, sha-512, sha-1, md5`},
		{"empty", "", 0, `checksum "": want TYPE=HEX, TYPE one of sha-256, sha-512, sha-1, md5`},
		{"unknown type", "blake3=00", 0, `checksum "blake3=00": unknown TYPE "blake3", want one of sha-256, sha-512, sha-1, md5`},
		{"short", "sha-256=" + h256[:62], 0, "sha-256 checksum has 31 bytes, want 32"},
		{"long", "md5=" + h256, 0, "md5 checksum has 32 bytes, want 16"},
		{"odd", "sha-1=abc", 0, "sha-1 checksum has 3 hex digits, want 40"},
		{"not hex", "sha-1=" + strings.Repeat("zz", 20), 0, `checksum "sha-1=zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz": "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz" is not hexadecimal`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := verify.ParseChecksum(tc.in)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				require.NotContains(t, err.Error(), "\n")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.algo, h.Algo)
			require.Equal(t, sumOf(tc.algo, "a"), h.Sum)
		})
	}
}

// Sums files as Debian, Ubuntu and Fedora publish them, and as the tools
// that make them write them.
func TestParseSums(t *testing.T) {
	iso := "debian-12.5.0-amd64-netinst.iso"
	s256, s512, s1, m5 := hexOf(verify.SHA256, iso), hexOf(verify.SHA512, iso), hexOf(verify.SHA1, iso), hexOf(verify.MD5, iso)
	other := hexOf(verify.SHA256, "other")
	for _, tc := range []struct {
		name, file, want string
		algo             verify.Algo
	}{
		{"text mode", s256 + "  " + iso + "\n", iso, verify.SHA256},
		{"binary mode", s256 + " *" + iso + "\n", iso, verify.SHA256},
		{"md5 -r", s256 + " " + iso + "\n", iso, verify.SHA256},
		{"upper case hex", strings.ToUpper(s256) + "  " + iso, iso, verify.SHA256},
		{"sha512sum", s512 + "  " + iso + "\n", iso, verify.SHA512},
		{"sha1sum", s1 + "  " + iso + "\n", iso, verify.SHA1},
		{"md5sum", m5 + "  " + iso + "\n", iso, verify.MD5},
		{"among others", other + "  a.iso\n" + s256 + "  " + iso + "\n" + other + "  b.iso\n", iso, verify.SHA256},
		{"crlf", other + "  a.iso\r\n" + s256 + "  " + iso + "\r\n", iso, verify.SHA256},
		{"comments and blanks", "# made by hand\n\n   \n" + s256 + "  " + iso + "\n# end\n", iso, verify.SHA256},
		{"tag", "SHA256 (" + iso + ") = " + s256 + "\n", iso, verify.SHA256},
		{"tag sha512", "SHA512 (" + iso + ") = " + s512 + "\n", iso, verify.SHA512},
		{"tag sha1", "SHA1 (" + iso + ") = " + s1 + "\n", iso, verify.SHA1},
		{"tag md5", "MD5 (" + iso + ") = " + m5 + "\n", iso, verify.MD5},
		{"cksum sha2", "SHA2-256 (" + iso + ") = " + s256 + "\n", iso, verify.SHA256},
		{"openssl dgst", "SHA2-256(" + iso + ")= " + s256 + "\n", iso, verify.SHA256},
		{"tag base64", "SHA256 (" + iso + ") = " + b64Of(verify.SHA256, iso) + "\n", iso, verify.SHA256},
		{"tag name with parentheses", "SHA256 (a (1) = b.iso) = " + hexOf(verify.SHA256, "a (1) = b.iso") + "\n", "a (1) = b.iso", verify.SHA256},
		{"escaped backslash", `\` + hexOf(verify.SHA256, `na\me`) + `  na\\me` + "\n", `na\me`, verify.SHA256},
		{"escaped newline", `\` + hexOf(verify.SHA256, "na\nme") + ` *na\nme` + "\n", "na\nme", verify.SHA256},
		{"escaped tag", `\SHA256 (na\\me) = ` + hexOf(verify.SHA256, `na\me`) + "\n", `na\me`, verify.SHA256},
		{"dot slash", s256 + "  ./" + iso + "\n", iso, verify.SHA256},
		{"directory", s256 + "  iso/" + iso + "\n", iso, verify.SHA256},
		{"exact beats dot slash", other + "  ./" + iso + "\n" + s256 + "  " + iso + "\n", iso, verify.SHA256},
		{"exact beats directory", other + "  iso/" + iso + "\n" + s256 + "  " + iso + "\n", iso, verify.SHA256},
		{"dot slash beats directory", other + "  iso/" + iso + "\n" + s256 + "  ./" + iso + "\n", iso, verify.SHA256},
		{"asked with its directory", s256 + "  " + iso + "\n", "iso/" + iso, verify.SHA256},
		{"strongest of two", s256 + "  " + iso + "\n" + "SHA512 (" + iso + ") = " + s512 + "\n", iso, verify.SHA512},
		{"same sum twice", s256 + "  " + iso + "\n" + "SHA256 (" + iso + ") = " + s256 + "\n", iso, verify.SHA256},
		{"unknown tag beside", "SHA384 (" + iso + ") = " + strings.Repeat("ab", 48) + "\n" + "BLAKE2b (" + iso + ") = ab\n" + s256 + "  " + iso + "\n", iso, verify.SHA256},
		{"bad lines skipped", "garbage\n" + s256[:63] + "  x\n" + "SHA256 (" + iso + ") = " + s1 + "\n" + s256 + "  " + iso + "\n", iso, verify.SHA256},
		{"ubuntu clearsigned", `-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

` + other + ` *ubuntu-24.04-live-server-amd64.iso
` + s256 + ` *` + iso + `
-----BEGIN PGP SIGNATURE-----

iQIzBAEBCgAdFiEEyIo9B6CjGdDo6rkaFS3tBK6ZIuUFAmYpfV0ACgkQFS3tBK6Z
` + s512 + `  ` + iso + `
=Jn6o
-----END PGP SIGNATURE-----
`, iso, verify.SHA256},
		{"fedora checksum", `-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

# Fedora-Workstation-Live-x86_64-40-1.14.iso: 2295853056 bytes
SHA256 (Fedora-Workstation-Live-x86_64-40-1.14.iso) = ` + other + `
# ` + iso + `: 1 bytes
SHA256 (` + iso + `) = ` + s256 + `
-----BEGIN PGP SIGNATURE-----

wsFzBAEBCAAnBQJl
-----END PGP SIGNATURE-----
`, iso, verify.SHA256},
		{"dash-escaped", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n- " + s256 + "  " + iso + "\n-----BEGIN PGP SIGNATURE-----\n\nxx\n-----END PGP SIGNATURE-----\n", iso, verify.SHA256},
		{"signature then sums", "-----BEGIN PGP SIGNATURE-----\n\n" + other + "  " + iso + "\n-----END PGP SIGNATURE-----\n" + s256 + "  " + iso + "\n", iso, verify.SHA256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := verify.ParseSums(strings.NewReader(tc.file), tc.want)
			require.NoError(t, err)
			require.Equal(t, tc.algo, h.Algo)
			name := tc.want[strings.LastIndexByte(tc.want, '/')+1:]
			require.Equal(t, sumOf(tc.algo, name), h.Sum)
		})
	}
}

func TestParseSumsErrors(t *testing.T) {
	iso := "debian.iso"
	s256 := hexOf(verify.SHA256, iso)
	other := hexOf(verify.SHA256, "other")
	lines := func(names ...string) string {
		var b strings.Builder
		for _, n := range names {
			b.WriteString(other + "  " + n + "\n")
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, file string
		err        string
		notListed  bool
	}{
		{"empty", "", `sums: no sum for "debian.iso", no sums found: not listed`, true},
		{"only a signature", "-----BEGIN PGP SIGNATURE-----\n\niQIz\n-----END PGP SIGNATURE-----\n", `sums: no sum for "debian.iso", no sums found: not listed`, true},
		{"others", lines("a.iso", "b.iso"), `sums: no sum for "debian.iso", only for "a.iso", "b.iso": not listed`, true},
		{"many others", lines("a.iso", "b.iso", "a.iso", "c.iso", "d.iso", "e\n.iso"), `sums: no sum for "debian.iso", only for "a.iso", "b.iso", "c.iso" and 2 more: not listed`, true},
		{"quoted", lines("a\x1b[2J"), `sums: no sum for "debian.iso", only for "a\x1b[2J": not listed`, true},
		{"a longer name", lines("debian.iso.torrent"), `sums: no sum for "debian.iso", only for "debian.iso.torrent": not listed`, true},
		{"unsupported only", "SHA384 (debian.iso) = " + strings.Repeat("ab", 48) + "\n", `sums: "debian.iso" is listed only with "SHA384", not sha-256, sha-512, sha-1 or md5: not listed`, true},
		{"sha224sum only", strings.Repeat("ab", 28) + "  debian.iso\n", `sums: "debian.iso" is listed only with "a 224-bit hash", not sha-256, sha-512, sha-1 or md5: not listed`, true},
		{"two sums", s256 + "  debian.iso\n" + other + " *debian.iso\n", `sums: "debian.iso" has two different sha-256 sums`, false},
		{"two sums by base name", s256 + "  amd64/debian.iso\n" + other + "  arm64/debian.iso\n", `sums: "debian.iso" has two different sha-256 sums`, false},
		{"line too long", s256 + "  debian.iso\n" + strings.Repeat("x", verify.MaxSumsLine+3) + "\n", "sums: line 2 is longer than 64 KiB", false},
		{"file too long", strings.Repeat("#"+strings.Repeat("x", 1022)+"\n", verify.MaxSumsFile/1024) + s256 + "  debian.iso\n", "sums: longer than 16 MiB", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify.ParseSums(strings.NewReader(tc.file), iso)
			require.EqualError(t, err, tc.err)
			require.Equal(t, tc.notListed, errors.Is(err, verify.ErrNotListed))
		})
	}

	t.Run("at the limits", func(t *testing.T) {
		kib := "#" + strings.Repeat("x", 1022) + "\n"
		f := strings.Repeat(kib, 1000) + "#" + strings.Repeat("x", verify.MaxSumsLine-1) + "\r\n"
		f += s256 + "  debian.iso\n"
		f += strings.Repeat(kib, (verify.MaxSumsFile-len(f))/1024)
		f += strings.Repeat("#", verify.MaxSumsFile-len(f))
		require.Len(t, f, verify.MaxSumsFile)
		h, err := verify.ParseSums(strings.NewReader(f), iso)
		require.NoError(t, err)
		require.Equal(t, sumOf(verify.SHA256, iso), h.Sum)
	})

	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := verify.ParseSums(io.MultiReader(strings.NewReader(s256+"  debian.iso\n"), iotest.ErrReader(boom)), iso)
		require.ErrorIs(t, err, boom)
		require.EqualError(t, err, "reading sums: boom")
	})
}

func TestParseDigest(t *testing.T) {
	s256, s512, s1, m5 := b64Of(verify.SHA256, "x"), b64Of(verify.SHA512, "x"), b64Of(verify.SHA1, "x"), b64Of(verify.MD5, "x")
	for _, tc := range []struct {
		name, in string
		want     []verify.Algo
	}{
		{"one", "SHA-256=" + s256, []verify.Algo{verify.SHA256}},
		{"strongest first", "MD5=" + m5 + ", SHA=" + s1 + ",sha-256=" + s256 + " , SHA-512=" + s512, []verify.Algo{verify.SHA512, verify.SHA256, verify.SHA1, verify.MD5}},
		{"unknown skipped", "UNIXsum=30637, SHA-256=" + s256 + ", CRC32C=abcd", []verify.Algo{verify.SHA256}},
		{"bad entries skipped", "SHA-256=" + s1 + ", MD5, =, MD5=!!!!, SHA-512=" + s512, []verify.Algo{verify.SHA512}},
		{"first of a function", "SHA-256=" + s256 + ", SHA-256=" + b64Of(verify.SHA256, "y"), []verify.Algo{verify.SHA256}},
		{"unpadded", "SHA-256=" + strings.TrimRight(s256, "="), []verify.Algo{verify.SHA256}},
		{"hex", "sha-256=" + hexOf(verify.SHA256, "x") + ", md5=" + hexOf(verify.MD5, "x"), []verify.Algo{verify.SHA256, verify.MD5}},
		{"quoted", `SHA-256="` + s256 + `"`, []verify.Algo{verify.SHA256}},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := verify.ParseDigest(tc.in)
			var got []verify.Algo
			for _, h := range hs {
				got = append(got, h.Algo)
				require.Equal(t, sumOf(h.Algo, "x"), h.Sum, h.Algo)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseReprDigest(t *testing.T) {
	s256, s512, m5 := b64Of(verify.SHA256, "x"), b64Of(verify.SHA512, "x"), b64Of(verify.MD5, "x")
	for _, tc := range []struct {
		name, in string
		want     []verify.Algo
	}{
		{"one", "sha-256=:" + s256 + ":", []verify.Algo{verify.SHA256}},
		{"strongest first", "md5=:" + m5 + ":, sha-256=:" + s256 + ":,\tsha-512=:" + s512 + ":", []verify.Algo{verify.SHA512, verify.SHA256, verify.MD5}},
		{"spaces around", "  sha-256=:" + s256 + ":  ", []verify.Algo{verify.SHA256}},
		{"unpadded", "sha-256=:" + strings.TrimRight(s256, "=") + ":", []verify.Algo{verify.SHA256}},
		{"parameters", "sha-256=:" + s256 + ":;a=1;b=?0;c=\"s;,\\\"\";d=tok/en, sha-512=:" + s512 + ":;e", []verify.Algo{verify.SHA512, verify.SHA256}},
		{"unknown keys and other items", `unixsum=30637, crc32c=:AAAAAA==:, x=(1 2.5 "a" :AA==:);p=1, y, z=?1, w=@1659578233, v=%"caf%c3%a9", sha-256=:` + s256 + ":", []verify.Algo{verify.SHA256}},
		{"not a byte sequence", "sha-256=" + hexOf(verify.SHA256, "x") + `, md5="` + m5 + `"`, nil},
		{"wrong length", "sha-256=:" + m5 + ":, md5=:" + m5 + ":", []verify.Algo{verify.MD5}},
		{"last of a key", "sha-256=:" + b64Of(verify.SHA256, "y") + ":, sha-256=:" + s256 + ":", []verify.Algo{verify.SHA256}},
		{"upper case key", "SHA-256=:" + s256 + ":", nil},
		{"trailing comma", "sha-256=:" + s256 + ":,", nil},
		{"unterminated", "sha-256=:" + s256, nil},
		{"bad base64", "sha-256=:" + s256[:10] + "*" + ":", nil},
		{"junk after", "sha-256=:" + s256 + ": junk", nil},
		{"bad string", `sha-256=:` + s256 + `:, a="\x"`, nil},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := verify.ParseReprDigest(tc.in)
			var got []verify.Algo
			for _, h := range hs {
				got = append(got, h.Algo)
				require.Equal(t, sumOf(h.Algo, "x"), h.Sum, h.Algo)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestStrongest(t *testing.T) {
	require.Nil(t, verify.Strongest(nil))
	md5 := verify.Hash{Algo: verify.MD5, Sum: sumOf(verify.MD5, "x")}
	sha1 := verify.Hash{Algo: verify.SHA1, Sum: sumOf(verify.SHA1, "x")}
	sha256 := verify.Hash{Algo: verify.SHA256, Sum: sumOf(verify.SHA256, "x")}
	sha512 := verify.Hash{Algo: verify.SHA512, Sum: sumOf(verify.SHA512, "x")}
	require.Equal(t, &sha512, verify.Strongest([]verify.Hash{md5, sha512, sha256, sha1}))
	require.Equal(t, &sha256, verify.Strongest([]verify.Hash{md5, sha1, sha256}))
	require.Equal(t, &sha1, verify.Strongest([]verify.Hash{md5, sha1}))
	require.Equal(t, &md5, verify.Strongest([]verify.Hash{md5}))
	other := verify.Hash{Algo: verify.SHA256, Sum: sumOf(verify.SHA256, "y")}
	require.Equal(t, &sha256, verify.Strongest([]verify.Hash{sha256, other}), "the first of equals")
	require.Nil(t, verify.Strongest([]verify.Hash{{Algo: 99, Sum: []byte{1}}, {Algo: verify.SHA256, Sum: []byte{1}}}), "unknown or short")

	hs := []verify.Hash{sha256}
	s := verify.Strongest(hs)
	s.Sum[0] ^= 1
	require.Equal(t, sumOf(verify.SHA256, "x"), hs[0].Sum, "a copy")
}
