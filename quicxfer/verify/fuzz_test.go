package verify_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/verify"
)

// FuzzParseSums: ParseSums never panics, a sum it returns has its
// function's length, and a line written for any name, as sha256sum writes
// it (escaped if need be), is found again.
func FuzzParseSums(f *testing.F) {
	s256 := hexOf(verify.SHA256, "x")
	for _, s := range []string{
		s256 + "  x.iso\n",
		s256 + " *./x.iso\r\n",
		`\` + s256 + `  x\\.i\nso`,
		"SHA256 (x.iso) = " + s256,
		"SHA2-512(x.iso)= " + b64Of(verify.SHA512, "x"),
		"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n- " + s256 + "  x.iso\n-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n",
		"# c\n\n" + hexOf(verify.MD5, "x") + "  dir/x.iso\n" + hexOf(verify.MD5, "y") + "  x.iso\n",
	} {
		f.Add([]byte(s), "x.iso")
	}
	f.Fuzz(func(t *testing.T, file []byte, name string) {
		h, err := verify.ParseSums(bytes.NewReader(file), name)
		if err == nil {
			require.Equal(t, h.Algo.Size(), len(h.Sum))
		} else {
			require.NotContains(t, err.Error(), "\n")
		}
		if name == "" || len(name) > 1000 {
			return
		}
		line := s256 + " *" + name + "\n"
		if strings.ContainsAny(name, "\\\n\r") {
			esc := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`).Replace(name)
			line = `\` + s256 + "  " + esc + "\n"
		}
		h, err = verify.ParseSums(strings.NewReader(line), name)
		require.NoError(t, err, "%q", line)
		require.Equal(t, verify.Hash{Algo: verify.SHA256, Sum: sumOf(verify.SHA256, "x")}, h)
	})
}

// FuzzParseChecksum: ParseChecksum never panics, and what it reads it
// reads again as its own String writes it.
func FuzzParseChecksum(f *testing.F) {
	for _, s := range []string{"sha-256=" + hexOf(verify.SHA256, "x"), "MD5=" + hexOf(verify.MD5, "x"), "sha1=", "=", "sha-512=zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := verify.ParseChecksum(s)
		if err != nil {
			require.NotContains(t, err.Error(), "\n")
			return
		}
		require.Equal(t, h.Algo.Size(), len(h.Sum))
		again, err := verify.ParseChecksum(h.Algo.String() + "=" + hex.EncodeToString(h.Sum))
		require.NoError(t, err)
		require.Equal(t, h, again)
	})
}

// FuzzParseDigest: ParseDigest and ParseReprDigest never panic, return
// sums of the right length, one per function, the strongest first, and
// read again what they return written as the RFCs write it.
func FuzzParseDigest(f *testing.F) {
	for _, s := range []string{
		"SHA-256=" + b64Of(verify.SHA256, "x") + ", MD5=" + b64Of(verify.MD5, "x"),
		"sha-512=:" + b64Of(verify.SHA512, "x") + ":, sha-256=:" + b64Of(verify.SHA256, "x") + ":;p=1",
		`a=(1 "s" :AA==:);x, b=?1, c=@-12, d=%"%c3%a9", e=1.5`,
		"sha=" + hexOf(verify.SHA1, "x"),
	} {
		f.Add(s)
	}
	check := func(t *testing.T, hs []verify.Hash) {
		seen := map[verify.Algo]bool{}
		for i, h := range hs {
			require.Equal(t, h.Algo.Size(), len(h.Sum))
			require.False(t, seen[h.Algo], "one sum per function")
			seen[h.Algo] = true
			if i == 0 {
				require.Equal(t, &h, verify.Strongest(hs))
			}
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		hs := verify.ParseDigest(s)
		check(t, hs)
		var d []string
		for _, h := range hs {
			d = append(d, strings.ToUpper(h.Algo.String())+"="+base64.StdEncoding.EncodeToString(h.Sum))
		}
		require.Equal(t, hs, verify.ParseDigest(strings.Join(d, ", ")))

		rs := verify.ParseReprDigest(s)
		check(t, rs)
		var r []string
		for _, h := range rs {
			r = append(r, h.Algo.String()+"=:"+base64.StdEncoding.EncodeToString(h.Sum)+":")
		}
		require.Equal(t, rs, verify.ParseReprDigest(strings.Join(r, ", ")))
	})
}
