package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A private seed tells nothing, not even its list, to a client without the
// token; the client says so in one line and exits 1.
func TestPrivateSeedCLI(t *testing.T) {
	const token = "9f2c-private-token"
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "p.bin"), 1<<20+3, 7)
	tokens := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(tokens, []byte("# seed tokens\n\n  other-token \n"+token+"\n"), 0o600))
	u := startSeed(t, "--token-file", tokens, dir)
	out := filepath.Join(t.TempDir(), "p.bin")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ls", "--seed", u}, "not authorised: this seed needs --token"},
		{[]string{"get", "--seed", u, "-o", out, "p.bin"}, "not authorised: this seed needs --token"},
		{[]string{"ls", "--seed", u, "--token", "wrong"}, "not authorised: the seed refused the token"},
	} {
		r := run(t, tc.args...)
		require.Equal(t, 1, r.code, "%v: %s", tc.args, r.stderr)
		require.Empty(t, r.stdout, "%v: no data", tc.args)
		require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
		require.Contains(t, r.stderr, tc.want)
	}
	require.NoFileExists(t, out)

	ls := run(t, "ls", "--seed", u, "--token", token)
	require.Zero(t, ls.code, ls.stderr)
	require.True(t, strings.HasPrefix(ls.stdout, "p.bin\t"), ls.stdout)

	get := exec.Command(bin, "get", "--seed", u, "-o", out, "--quiet", "p.bin")
	get.Env = append(os.Environ(), "QUICXFER_TOKEN="+token)
	b, err := get.CombinedOutput()
	require.NoError(t, err, string(b))
	requireFile(t, out, data)
}

func TestInsecureWarns(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "f"), 10, 8)
	u := startSeed(t, dir)
	r := run(t, "ls", "--seed", u, "--insecure")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stderr, "warning: --insecure")
	require.Contains(t, r.stdout, "f\t10\t")

	r = run(t, "ls", "--seed", u, "--client-cert", "x.pem")
	require.Equal(t, 2, r.code, r.stderr)
	require.Contains(t, r.stderr, "--client-cert and --client-key go together")
}
