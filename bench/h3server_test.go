package bench

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/quic-go/quic-go/http3"
	"github.com/stretchr/testify/require"
)

// TestH3Mirror: the same file over HTTPS (HTTP/1.1 only, with Alt-Svc
// naming its port) and over HTTP/3 on that port.
func TestH3Mirror(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, fileName)
	_, err := writeFile(src, 1<<20)
	require.NoError(t, err)
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	m, err := StartH3Mirror(src)
	require.NoError(t, err)
	defer m.Close()
	require.Contains(t, m.URL(), "https://127.0.0.1:")

	tlsConf := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // a test's self-signed certificate
	h1 := &http.Transport{TLSClientConfig: tlsConf, ForceAttemptHTTP2: true}
	defer h1.CloseIdleConnections()
	h3 := &http3.Transport{TLSClientConfig: tlsConf}
	defer h3.Close()
	for _, tc := range []struct {
		name  string
		rt    http.RoundTripper
		proto string
	}{
		{"https", h1, "HTTP/1.1"},
		{"http3", h3, "HTTP/3.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, m.URL(), nil)
			require.NoError(t, err)
			req.Header.Set("Range", "bytes=1000-4999")
			resp, err := tc.rt.RoundTrip(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusPartialContent, resp.StatusCode)
			require.Equal(t, tc.proto, resp.Proto)
			require.Equal(t, `h3=":`+strconv.Itoa(m.Port())+`"; ma=86400`, resp.Header.Get("Alt-Svc"))
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.True(t, bytes.Equal(data[1000:5000], body))
		})
	}
	require.NoError(t, m.Close())
	require.NoError(t, m.Close(), "idempotent")
}
