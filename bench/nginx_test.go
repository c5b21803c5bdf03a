package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireNginx skips the test where nginx is not installed.
func requireNginx(t *testing.T) {
	t.Helper()
	if _, ok := NginxPath(); !ok {
		t.Skip(NginxMissing)
	}
}

// TestNginx starts nginx in a kernel link's namespace: it serves the file
// through the link, counts the body bytes it sent, and is gone after
// Close.
func TestNginx(t *testing.T) {
	requireKernelAvailable(t)
	requireNginx(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	require.NoError(t, os.MkdirAll(root, 0o755))
	_, err := writeFile(filepath.Join(root, fileName), 512<<10)
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(root, fileName))
	require.NoError(t, err)
	k, err := NewKernelLinks([]LinkConfig{{Rate: 40e6, QueueBytes: 256 << 10}})
	require.NoError(t, err)
	defer func() {
		require.NoError(t, k.Close())
		requireNoKernelLeftovers(t)
	}()
	ndir := filepath.Join(dir, "nginx")
	require.NoError(t, os.MkdirAll(ndir, 0o755))
	n, err := StartNginx(ctx, k.Namespace(0), netip.AddrPortFrom(k.SeedAddr(0), 80), root, ndir)
	require.NoError(t, err)
	defer n.Close()
	require.Equal(t, "http://"+k.SeedAddr(0).String()+"/"+fileName, n.URL("/"+fileName))

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL("/"+fileName), nil)
	require.NoError(t, err)
	req.Header.Set("Range", "bytes=100-100099")
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.True(t, bytes.Equal(data[100:100100], body))
	sent, err := n.settledBodySent()
	require.NoError(t, err)
	require.EqualValues(t, 100000, sent)

	require.NoError(t, n.Close())
	require.NoError(t, n.Close(), "idempotent")
	_, err = client.Get(n.URL("/" + fileName))
	require.Error(t, err, "nginx still answers after Close")
}
