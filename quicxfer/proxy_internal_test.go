package quicxfer

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/socks5test"
)

// envOf returns an env function reading m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestAllProxy(t *testing.T) {
	tests := []struct {
		name string
		flag string
		env  map[string]string
		want string
	}{
		{"flag first", "socks5://f:1", map[string]string{"ALL_PROXY": "socks5://e:1"}, "socks5://f:1"},
		{"ALL_PROXY", "", map[string]string{"ALL_PROXY": "socks5://e:1", "all_proxy": "socks5://l:1"}, "socks5://e:1"},
		{"all_proxy", "", map[string]string{"all_proxy": "socks5://l:1"}, "socks5://l:1"},
		{"none", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, allProxy(tt.flag, envOf(tt.env)))
		})
	}
}

func TestProxyDialerBadURL(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"http", "http://proxy:3128", `proxy URL "http://proxy:3128": want socks5:// or socks5h:// (http proxies come from HTTPS_PROXY/HTTP_PROXY)`},
		{"no scheme", "proxy:1080", `proxy URL "proxy:1080": want socks5:// or socks5h:// (http proxies come from HTTPS_PROXY/HTTP_PROXY)`},
		{"socks4", "socks4://u:secret@proxy", `proxy URL "socks4://u:xxxxx@proxy": want socks5:// or socks5h:// (http proxies come from HTTPS_PROXY/HTTP_PROXY)`},
		{"no host", "socks5://", `proxy URL "socks5://": no host`},
		{"bad port", "socks5://u:secret@proxy:x", `proxy URL "socks5://u:xxxxx@proxy:x": invalid port ":x" after host`},
		{"path", "socks5://proxy/x", `proxy URL "socks5://proxy/x": want only socks5://[user:pass@]host[:port]`},
		{"no user", "socks5://:secret@proxy", `proxy URL "socks5://:xxxxx@proxy": want a user name of 1 to 255 bytes and a password of at most 255`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := proxyDialer(tt.raw, envOf(nil))
			require.EqualError(t, err, tt.want)
			assert.Nil(t, d)
		})
	}
}

func TestProxyDialerEmpty(t *testing.T) {
	d, err := proxyDialer("", envOf(nil))
	require.NoError(t, err)
	assert.Nil(t, d)
}

func TestNoProxy(t *testing.T) {
	tests := []struct {
		list, addr string
		want       bool
	}{
		{"", "example.com:443", false},
		{"*", "example.com:443", true},
		{"example.com", "example.com:443", true},
		{"example.com", "www.example.com:443", true},
		{"example.com", "notexample.com:443", false},
		{" .example.com ", "example.com:443", false},
		{".example.com", "a.b.example.com:443", true},
		{"*.example.com", "www.example.com:443", true},
		{"*.example.com", "example.com:443", false},
		{"EXAMPLE.com", "www.Example.COM.:80", true},
		{"example.com:8443", "example.com:443", false},
		{"example.com:8443", "example.com:8443", true},
		{"127.0.0.1", "127.0.0.1:80", true},
		{"127.0.0.1", "127.0.0.2:80", false},
		{"127.0.0.1:80", "127.0.0.1:81", false},
		{"10.0.0.0/8", "10.20.30.40:443", true},
		{"10.0.0.0/8", "11.0.0.1:443", false},
		{"::1", "[::1]:443", true},
		{"[::1]:443", "[::1]:443", true},
		{"[::1]:443", "[::1]:80", false},
		{"fd00::/8", "[fd12::1]:443", true},
		{"127.0.0.1", "localhost:80", false}, // names are not resolved
		{"", "127.0.0.1:80", false},          // loopback only when listed
		{"a.example, ,b.example", "b.example:1", true},
	}
	for _, tt := range tests {
		t.Run(tt.list+"/"+tt.addr, func(t *testing.T) {
			assert.Equal(t, tt.want, parseNoProxy(tt.list).bypass(tt.addr))
		})
	}
}

// proxiedClient returns a client whose transport dials through the SOCKS
// proxy raw, with env as its environment.
func proxiedClient(t *testing.T, raw string, env map[string]string) (*http.Client, func(context.Context, string, string) (net.Conn, error)) {
	t.Helper()
	dial, err := proxyDialer(raw, envOf(env))
	require.NoError(t, err)
	require.NotNil(t, dial)
	tr := &http.Transport{DialContext: dial, Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, dial
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(b)
}

func helloServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestProxyDialer(t *testing.T) {
	srv := helloServer(t)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	named := "http://" + net.JoinHostPort("localhost", u.Port())

	tests := []struct {
		name    string
		opts    socks5test.Options
		scheme  string
		env     map[string]string
		url     string
		targets []string // what the proxy is asked for; nil: not used
	}{
		{"socks5, address", socks5test.Options{}, "socks5", nil, srv.URL, []string{u.Host}},
		{"socks5 resolves here", socks5test.Options{}, "socks5", nil, named, []string{u.Host}},
		{"socks5h lets the proxy resolve", socks5test.Options{}, "socks5h", nil, named, []string{"localhost:" + u.Port()}},
		{"user and password", socks5test.Options{User: "me", Password: "s3cret"}, "socks5h", nil, srv.URL, []string{u.Host}},
		{"NO_PROXY bypasses", socks5test.Options{}, "socks5", map[string]string{"NO_PROXY": "example.com,127.0.0.1"}, srv.URL, nil},
		{"no_proxy bypasses", socks5test.Options{}, "socks5h", map[string]string{"no_proxy": "localhost"}, named, nil},
		{"NO_PROXY of another port", socks5test.Options{}, "socks5", map[string]string{"NO_PROXY": "127.0.0.1:1"}, srv.URL, []string{u.Host}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := socks5test.New(t, tt.opts)
			c, dial := proxiedClient(t, s.URL(tt.scheme), tt.env)
			assert.Equal(t, "hello", get(t, c, tt.url))
			assert.Equal(t, tt.targets, s.Targets())
			if tt.targets == nil {
				assert.Zero(t, s.Conns())
			} else {
				assert.Equal(t, 1, s.Conns())
			}
			target, err := url.Parse(tt.url)
			require.NoError(t, err)
			assert.Equal(t, tt.targets != nil, viaSOCKS(dial, target.Host), "viaSOCKS")
			assert.Equal(t, len(tt.targets), len(s.Targets()), "viaSOCKS dials nothing")
		})
	}
}

func TestProxyDialerRefused(t *testing.T) {
	srv := helloServer(t)
	s := socks5test.New(t, socks5test.Options{User: "me", Password: "right"})
	u, err := url.Parse(s.URL("socks5"))
	require.NoError(t, err)
	u.User = url.UserPassword("me", "wrong")
	c, _ := proxiedClient(t, u.String(), nil)
	_, err = c.Get(srv.URL)
	require.Error(t, err)
	assert.Equal(t, 1, s.AuthFailures())
	assert.Empty(t, s.Targets())
}

func TestViaSOCKSOtherDialers(t *testing.T) {
	assert.False(t, viaSOCKS(nil, "127.0.0.1:1"))
	var d net.Dialer
	assert.False(t, viaSOCKS(d.DialContext, "127.0.0.1:1"))
	tr := http.DefaultTransport.(*http.Transport).Clone()
	assert.False(t, viaSOCKS(tr.DialContext, "example.com:443"))
}
