package quicxfer

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/socks5test"
	"github.com/quicxfer/quicxfer/internal/testpki"
)

func TestParseHTTP3Mode(t *testing.T) {
	for _, m := range []HTTP3Mode{HTTP3Auto, HTTP3Always, HTTP3Never} {
		got, err := ParseHTTP3Mode(m.String())
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	assert.Equal(t, "auto", HTTP3Auto.String())
	assert.Equal(t, "HTTP3Mode(7)", HTTP3Mode(7).String())
	for _, bad := range []string{"", "Auto", "h3", "yes"} {
		_, err := ParseHTTP3Mode(bad)
		require.EqualError(t, err, fmt.Sprintf("HTTP/3 mode %q: want auto, always, never", bad))
	}
}

func TestParseAltSvc(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name   string
		values []string
		host   string
		port   int
		age    time.Duration
		found  bool
		clear  bool
	}{
		{"h3 with ma", []string{`h3=":443"; ma=86400, h3-29=":443"`}, "example.com", 443, day, true, false},
		{"default age", []string{`h3=":8443"`}, "example.com", 8443, altSvcDefaultAge, true, false},
		{"first h3 wins", []string{`h3-29=":1", h3=":2"; ma=60, h3=":3"`}, "example.com", 2, time.Minute, true, false},
		{"second field", []string{`h2=":443"`, `h3=":444"`}, "example.com", 444, altSvcDefaultAge, true, false},
		{"same host named", []string{`h3="Example.com:4433"; ma=10`}, "example.com", 4433, 10 * time.Second, true, false},
		{"other host skipped", []string{`h3="cdn.example.net:443", h3=":8443"`}, "example.com", 8443, altSvcDefaultAge, true, false},
		{"only other host", []string{`h3="cdn.example.net:443"`}, "example.com", 0, 0, false, false},
		{"ipv6 host", []string{`h3="[::1]:4433"`}, "[::1]", 4433, altSvcDefaultAge, true, false},
		{"ma zero", []string{`h3=":443"; ma=0`}, "example.com", 443, 0, true, false},
		{"ma huge", []string{`h3=":443"; ma=99999999999999999`}, "example.com", 443, altSvcMaxAge, true, false},
		{"ma quoted", []string{`h3=":443"; ma="120"; persist=1`}, "example.com", 443, 2 * time.Minute, true, false},
		{"ma unreadable", []string{`h3=":443"; ma=soon`}, "example.com", 443, altSvcDefaultAge, true, false},
		{"quoted comma", []string{`h3="a,b:1", h3=":5"`}, "example.com", 5, altSvcDefaultAge, true, false},
		{"escaped quote", []string{`x="\",h3=\":9\"", h3=":6"`}, "example.com", 6, altSvcDefaultAge, true, false},
		{"unquoted authority", []string{`h3=:7`}, "example.com", 7, altSvcDefaultAge, true, false},
		{"unterminated", []string{`h3=":443`}, "example.com", 0, 0, false, false},
		{"bad port", []string{`h3=":0", h3=":70000", h3=":x", h3=":1"`}, "example.com", 1, altSvcDefaultAge, true, false},
		{"no port", []string{`h3="example.com"`}, "example.com", 0, 0, false, false},
		{"clear", []string{`clear`}, "example.com", 0, 0, false, true},
		{"clear after", []string{`h2=":443"`, ` clear `}, "example.com", 0, 0, false, true},
		{"empty", []string{``, ` , ,`}, "example.com", 0, 0, false, false},
		{"too long", []string{`h3=":1"; x="` + string(bytes.Repeat([]byte("a"), maxAltSvcValue)) + `"`}, "example.com", 0, 0, false, false},
		{"too many", []string{string(bytes.Repeat([]byte(`h2=":1", `), maxAltSvcAlternatives)) + `h3=":2"`}, "example.com", 0, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, age, found, clear := parseAltSvc(tt.values, tt.host)
			assert.Equal(t, tt.found, found, "found")
			assert.Equal(t, tt.clear, clear, "clear")
			assert.Equal(t, tt.port, port, "port")
			assert.Equal(t, tt.age, age, "age")
		})
	}
}

func TestRewound(t *testing.T) {
	body := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("x")), nil }
	tests := []struct {
		name    string
		method  string
		body    io.ReadCloser
		getBody func() (io.ReadCloser, error)
		err     string
	}{
		{"GET", http.MethodGet, nil, nil, ""},
		{"HEAD, no body", http.MethodHead, http.NoBody, nil, ""},
		{"PUT with GetBody", http.MethodPut, io.NopCloser(strings.NewReader("x")), body, ""},
		{"PUT without", http.MethodPut, io.NopCloser(strings.NewReader("x")), nil, "its body cannot be read again"},
		{"POST", http.MethodPost, nil, nil, "a POST request may have been processed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &http.Request{Method: tt.method, Body: tt.body, GetBody: tt.getBody}
			r, err := rewound(req)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			if tt.getBody != nil {
				b, err := io.ReadAll(r.Body)
				require.NoError(t, err)
				assert.Equal(t, "x", string(b))
			}
		})
	}
}

func TestOriginKey(t *testing.T) {
	tests := map[string]string{
		"example.com":      "example.com:443",
		"Example.COM:8443": "example.com:8443",
		"127.0.0.1:1":      "127.0.0.1:1",
		"[::1]":            "[::1]:443",
		"[::1]:8443":       "[::1]:8443",
		"bücher.example":   "xn--bcher-kva.example:443",
	}
	for in, want := range tests {
		assert.Equal(t, want, originKey(in), in)
		assert.Equal(t, want, originKey(want), "idempotent")
	}
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestAltSvcCache checks, without a network, how long an advertised h3
// alternative and a failure of HTTP/3 hold.
func TestAltSvcCache(t *testing.T) {
	tcp := &http.Transport{}
	mt := newHTTPTransport(tcp, HTTP3Auto, nil).(*mirrorTransport)
	t.Cleanup(func() { require.NoError(t, mt.Close()) })
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	mt.now = clock.now

	req, err := http.NewRequest(http.MethodGet, "https://Mirror.example/file", nil)
	require.NoError(t, err)
	origin := originKey(req.URL.Host)
	alt := func(v ...string) http.Header { return http.Header{"Alt-Svc": v} }
	uses := func() bool { return mt.useH3(req, origin) }

	require.False(t, uses(), "nothing advertised")
	mt.learn(origin, "mirror.example", alt(`h3="other.example:443"`))
	require.False(t, uses(), "another host")
	mt.learn(origin, "mirror.example", alt(`h3=":8443"; ma=60`))
	require.True(t, uses())
	require.Equal(t, 8443, mt.alt[origin].port)
	mt.learn(origin, "mirror.example", http.Header{})
	require.True(t, uses(), "a response without Alt-Svc changes nothing")
	clock.add(59 * time.Second)
	require.True(t, uses())
	clock.add(time.Second)
	require.False(t, uses(), "ma= passed")

	mt.learn(origin, "mirror.example", alt(`h3=":443"`))
	require.True(t, uses())
	clock.add(altSvcDefaultAge - time.Second)
	require.True(t, uses(), "a day by default")
	mt.learn(origin, "mirror.example", alt(`clear`))
	require.False(t, uses(), "clear")

	mt.learn(origin, "mirror.example", alt(`h3=":443"; ma=86400`))
	mt.markBroken(origin)
	require.False(t, uses(), "broken")
	mt.learn(origin, "mirror.example", alt(`h3=":443"; ma=86400`))
	require.False(t, uses(), "still broken whatever Alt-Svc says")
	clock.add(h3BrokenFor)
	require.True(t, uses(), "tried again once the failure is old")

	mt.learn(origin, "mirror.example", alt(`h3=":443"; ma=0`))
	require.False(t, uses(), "ma=0 forgets")
}

func TestAltSvcCacheBounded(t *testing.T) {
	mt := newHTTPTransport(&http.Transport{}, HTTP3Auto, nil).(*mirrorTransport)
	t.Cleanup(func() { require.NoError(t, mt.Close()) })
	for i := range maxAltSvcOrigins + 10 {
		o := originKey(fmt.Sprintf("m%d.example", i))
		mt.learn(o, fmt.Sprintf("m%d.example", i), http.Header{"Alt-Svc": {`h3=":443"`}})
		mt.markBroken(o)
	}
	assert.Len(t, mt.alt, maxAltSvcOrigins)
	assert.Len(t, mt.broken, maxAltSvcOrigins)
}

func TestAutoNotThroughHTTPProxy(t *testing.T) {
	proxyURL := &url.URL{Scheme: "http", Host: "proxy.example:3128"}
	tcp := &http.Transport{Proxy: http.ProxyURL(proxyURL)}
	mt := newHTTPTransport(tcp, HTTP3Auto, nil).(*mirrorTransport)
	t.Cleanup(func() { require.NoError(t, mt.Close()) })
	req, err := http.NewRequest(http.MethodGet, "https://mirror.example/file", nil)
	require.NoError(t, err)
	origin := originKey(req.URL.Host)
	mt.learn(origin, "mirror.example", http.Header{"Alt-Svc": {`h3=":443"`}})
	assert.False(t, mt.useH3(req, origin), "UDP would bypass the proxy")
	tcp.Proxy = nil
	assert.True(t, mt.useH3(req, origin))
}

// h3Content is the file every test server serves.
var h3Content = func() []byte {
	b := make([]byte, 256<<10)
	rand.Read(b)
	return b
}()

func serveContent(w http.ResponseWriter, r *http.Request) {
	http.ServeContent(w, r, "file", time.Time{}, bytes.NewReader(h3Content))
}

// testCert returns a server certificate for 127.0.0.1 and the pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	ca := testpki.NewCA(t, "mirror CA")
	pair, _, _ := ca.Issue(t, true, net.IPv4(127, 0, 0, 1))
	return pair, ca.Pool()
}

// startH3 serves serveContent over HTTP/3 on a free UDP port of 127.0.0.1
// and returns the port and a function that stops it (also called when t
// ends).
func startH3(t *testing.T, cert tls.Certificate) (int, func()) {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http3.Server{
		Handler:   http.HandlerFunc(serveContent),
		TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(conn)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			assert.NoError(t, srv.Close())
			<-done
			conn.Close()
		})
	}
	t.Cleanup(stop)
	return conn.LocalAddr().(*net.UDPAddr).Port, stop
}

// deadUDPPort returns a UDP port of 127.0.0.1 that nobody listens on.
func deadUDPPort(t *testing.T) int {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	port := conn.LocalAddr().(*net.UDPAddr).Port
	require.NoError(t, conn.Close())
	return port
}

// startTCP serves serveContent over TLS (HTTP/2 and 1.1) on 127.0.0.1,
// advertising altSvc, and returns the file's URL.
func startTCP(t *testing.T, cert tls.Certificate, altSvc string) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if altSvc != "" {
			w.Header().Set("Alt-Svc", altSvc)
		}
		serveContent(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL + "/file"
}

// newTestTransport returns a mirror transport in mode that trusts pool,
// closed when t ends; tcp is changed by change if not nil.
func newTestTransport(t *testing.T, mode HTTP3Mode, pool *x509.CertPool, change func(*http.Transport)) (*mirrorTransport, *http.Client) {
	t.Helper()
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	tcp := http.DefaultTransport.(*http.Transport).Clone()
	tcp.Proxy = nil // whatever the environment says
	tcp.TLSClientConfig = tlsConf.Clone()
	tcp.ForceAttemptHTTP2 = true
	tcp.DisableCompression = true
	if change != nil {
		change(tcp)
	}
	mt := newHTTPTransport(tcp, mode, tlsConf).(*mirrorTransport)
	t.Cleanup(func() { require.NoError(t, mt.Close()) })
	return mt, &http.Client{Transport: mt}
}

// shortHandshake makes a dial to a port nobody answers on give up soon.
func shortHandshake(mt *mirrorTransport) {
	mt.h3.QUICConfig.HandshakeIdleTimeout = 500 * time.Millisecond
}

// fetch gets u (its bytes from..to if to >= 0) and returns the response's
// protocol after checking its status and body.
func fetch(t *testing.T, c *http.Client, u string, from, to int) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	want, status := h3Content, http.StatusOK
	if to >= 0 {
		req.Header.Set("Range", "bytes="+strconv.Itoa(from)+"-"+strconv.Itoa(to))
		want, status = h3Content[from:to+1], http.StatusPartialContent
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode)
	require.True(t, bytes.Equal(want, body), "body")
	return resp.Proto
}

func TestHTTP3Auto(t *testing.T) {
	cert, pool := testCert(t)
	udpPort, _ := startH3(t, cert)
	u := startTCP(t, cert, fmt.Sprintf(`h3=":%d"; ma=3600, h3-29=":%d"`, udpPort, udpPort))
	mt, c := newTestTransport(t, HTTP3Auto, pool, nil)

	assert.Equal(t, "HTTP/2.0", fetch(t, c, u, 0, -1), "first over TCP, which advertises h3")
	assert.Equal(t, "HTTP/3.0", fetch(t, c, u, 0, -1))
	assert.Equal(t, "HTTP/3.0", fetch(t, c, u, 1000, 70000), "a range over HTTP/3")
	assert.Equal(t, "HTTP/3.0", fetch(t, c, u, len(h3Content)-1, len(h3Content)-1))
	assert.EqualValues(t, 1, mt.h3Dials.Load(), "one QUIC connection, reused")

	mt.CloseIdleConnections()
	assert.Equal(t, "HTTP/3.0", fetch(t, c, u, 0, 9), "a new connection after CloseIdleConnections")
}

func TestHTTP3AutoPlainHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Alt-Svc", `h3=":443"`)
		serveContent(w, r)
	}))
	t.Cleanup(srv.Close)
	mt, c := newTestTransport(t, HTTP3Auto, nil, nil)
	for range 2 {
		assert.Equal(t, "HTTP/1.1", fetch(t, c, srv.URL, 0, 9))
	}
	assert.Empty(t, mt.alt, "an http origin's Alt-Svc is not used")
	assert.Zero(t, mt.h3Dials.Load())
}

func TestHTTP3AutoFallback(t *testing.T) {
	tests := []struct {
		name string
		// start returns the UDP port to advertise, and a function that
		// breaks HTTP/3 after the first request over it (nil: it never
		// works).
		start func(t *testing.T, cert tls.Certificate) (int, func())
	}{
		{"nobody on the port", func(t *testing.T, _ tls.Certificate) (int, func()) { return deadUDPPort(t), nil }},
		{"server stopped", startH3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, pool := testCert(t)
			udpPort, stop := tt.start(t, cert)
			u := startTCP(t, cert, fmt.Sprintf(`h3=":%d"`, udpPort))
			mt, c := newTestTransport(t, HTTP3Auto, pool, nil)
			shortHandshake(mt)

			require.Equal(t, "HTTP/2.0", fetch(t, c, u, 0, -1))
			if stop != nil {
				require.Equal(t, "HTTP/3.0", fetch(t, c, u, 0, 99))
				stop()
			}
			dials := mt.h3Dials.Load()
			assert.Equal(t, "HTTP/2.0", fetch(t, c, u, 100, 199), "HTTP/3 fails, the request is sent again over TCP")
			mt.mu.Lock()
			_, broken := mt.broken[originKey(strings.TrimPrefix(strings.TrimSuffix(u, "/file"), "https://"))]
			mt.mu.Unlock()
			assert.True(t, broken, "HTTP/3 was tried and failed")
			dials = mt.h3Dials.Load()
			for range 3 {
				assert.Equal(t, "HTTP/2.0", fetch(t, c, u, 0, 99), "then straight over TCP")
			}
			assert.Equal(t, dials, mt.h3Dials.Load(), "no more HTTP/3 attempts")
		})
	}
}

func TestHTTP3AutoNotThroughSOCKS(t *testing.T) {
	cert, pool := testCert(t)
	udpPort, _ := startH3(t, cert)
	u := startTCP(t, cert, fmt.Sprintf(`h3=":%d"`, udpPort))
	tests := []struct {
		name    string
		env     map[string]string
		proxied bool
	}{
		{"through the proxy", nil, true},
		{"NO_PROXY", map[string]string{"NO_PROXY": "127.0.0.1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := socks5test.New(t, socks5test.Options{})
			dial, err := proxyDialer(s.URL("socks5"), envOf(tt.env))
			require.NoError(t, err)
			mt, c := newTestTransport(t, HTTP3Auto, pool, func(tcp *http.Transport) { tcp.DialContext = dial })
			require.Equal(t, "HTTP/2.0", fetch(t, c, u, 0, -1))
			want := "HTTP/3.0"
			if tt.proxied {
				want = "HTTP/2.0"
			}
			for range 2 {
				assert.Equal(t, want, fetch(t, c, u, 0, 99))
			}
			if tt.proxied {
				assert.Zero(t, mt.h3Dials.Load(), "UDP would bypass the proxy")
				assert.Equal(t, 1, s.Conns())
			} else {
				assert.Zero(t, s.Conns())
			}
		})
	}
}

func TestHTTP3Always(t *testing.T) {
	cert, pool := testCert(t)
	udpPort, _ := startH3(t, cert)
	mt, c := newTestTransport(t, HTTP3Always, pool, nil)
	u := fmt.Sprintf("https://127.0.0.1:%d/file", udpPort)
	assert.Equal(t, "HTTP/3.0", fetch(t, c, u, 0, -1), "no TCP first")
	assert.Equal(t, "HTTP/3.0", fetch(t, c, u, 5, 5000))
	assert.EqualValues(t, 1, mt.h3Dials.Load())
}

func TestHTTP3AlwaysNoFallback(t *testing.T) {
	cert, pool := testCert(t)
	tcpURL := startTCP(t, cert, "")
	mt, c := newTestTransport(t, HTTP3Always, pool, nil)
	shortHandshake(mt)
	_, err := c.Get(tcpURL) // nobody on its UDP port (most likely)
	require.Error(t, err)
	assert.EqualValues(t, 1, mt.h3Dials.Load())
}

func TestHTTP3Never(t *testing.T) {
	cert, pool := testCert(t)
	udpPort, _ := startH3(t, cert)
	u := startTCP(t, cert, fmt.Sprintf(`h3=":%d"`, udpPort))
	mt, c := newTestTransport(t, HTTP3Never, pool, nil)
	for range 3 {
		assert.Equal(t, "HTTP/2.0", fetch(t, c, u, 0, 99))
	}
	assert.Nil(t, mt.h3)
	require.NoError(t, mt.Close())
}

func TestHTTP3Close(t *testing.T) {
	cert, pool := testCert(t)
	udpPort, _ := startH3(t, cert)
	mt, c := newTestTransport(t, HTTP3Always, pool, nil)
	u := fmt.Sprintf("https://127.0.0.1:%d/file", udpPort)
	require.Equal(t, "HTTP/3.0", fetch(t, c, u, 0, 9))
	var rt http.RoundTripper = mt
	closer, ok := rt.(io.Closer)
	require.True(t, ok)
	_, ok = rt.(interface{ CloseIdleConnections() })
	require.True(t, ok)
	require.NoError(t, closer.Close())
	require.NoError(t, closer.Close(), "idempotent")
	_, err := c.Get(u)
	require.Error(t, err, "closed")
}
