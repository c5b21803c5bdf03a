package quicxfer

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/socks5test"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
)

// h3Checksum is h3Content's SHA-256.
func h3Checksum() *verify.Hash {
	s := sha256.Sum256(h3Content)
	return &verify.Hash{Algo: verify.SHA256, Sum: s[:]}
}

// TestDownloadOverHTTP3: an https mirror that offers HTTP/3 in its Alt-Svc
// is used over it (auto: after its first answer over TCP), its result says
// so; with HTTP/3 turned off, or offered on a port nobody answers, the
// download goes over TCP and is as exact.
func TestDownloadOverHTTP3(t *testing.T) {
	cert, pool := testCert(t)
	port, _ := startH3(t, cert)
	for _, tc := range []struct {
		name  string
		alt   int
		mode  HTTP3Mode
		proto string
	}{
		{"auto", port, HTTP3Auto, "HTTP/3.0"},
		{"never", port, HTTP3Never, "HTTP/2.0"},
		{"auto, nobody on the port", deadUDPPort(t), HTTP3Auto, "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := startTCP(t, cert, fmt.Sprintf(`h3=":%d"; ma=3600`, tc.alt))
			out := filepath.Join(t.TempDir(), "f")
			res, err := Download(t.Context(), Options{Mirrors: []string{u}, Out: out, Checksum: h3Checksum(),
				Auth: ClientOptions{RootCAs: pool, HTTP3: tc.mode}})
			require.NoError(t, err)
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			require.Equal(t, h3Content, got)
			require.Equal(t, tc.proto, res.Seeds[0].Protocol)
		})
	}
}

// TestDownloadThroughSOCKS5: mirrors reached through a SOCKS5 proxy
// (ClientOptions.Proxy), with and without a password: every connection goes
// through it, and NO_PROXY's hosts do not.
func TestDownloadThroughSOCKS5(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(serveContent))
	t.Cleanup(srv.Close)
	for _, v := range []string{"NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"} {
		t.Setenv(v, "") // whatever the machine says
	}
	for _, o := range []socks5test.Options{{}, {User: "u", Password: "p w"}} {
		px := socks5test.New(t, o)
		out := filepath.Join(t.TempDir(), "f")
		res, err := Download(t.Context(), Options{Mirrors: []string{srv.URL + "/file"}, Out: out, Checksum: h3Checksum(),
			Auth: ClientOptions{Proxy: px.URL("socks5")}})
		require.NoError(t, err)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, h3Content, got)
		require.Positive(t, px.Conns())
		require.Contains(t, px.Targets(), srv.Listener.Addr().String())
		require.Equal(t, "HTTP/1.1", res.Seeds[0].Protocol)
	}

	px := socks5test.New(t, socks5test.Options{})
	t.Setenv("NO_PROXY", "127.0.0.1")
	out := filepath.Join(t.TempDir(), "f")
	_, err := Download(t.Context(), Options{Mirrors: []string{srv.URL + "/file"}, Out: out, Auth: ClientOptions{Proxy: px.URL("socks5")}})
	require.NoError(t, err)
	require.Zero(t, px.Conns(), "NO_PROXY's host is reached directly")

	_, err = Download(t.Context(), Options{Mirrors: []string{srv.URL + "/file"}, Out: filepath.Join(t.TempDir(), "g"), Auth: ClientOptions{Proxy: "http://127.0.0.1:1"}})
	require.ErrorContains(t, err, "socks5")
}
