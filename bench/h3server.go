package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// H3Mirror is one https mirror on 127.0.0.1 over both HTTP/1.1 and
// HTTP/3, for scenario 12's protocol comparison: a net/http server over
// TLS on a TCP port that speaks HTTP/1.1 only (no HTTP/2: TLSNextProto is
// empty and ALPN offers http/1.1) and advertises `Alt-Svc: h3=":PORT"`,
// and a quic-go http3.Server on the same port number over UDP, both with
// the same self-signed certificate (for 127.0.0.1: clients need
// --insecure) and both serving one file with http.ServeContent.
type H3Mirror struct {
	path  string
	port  int
	tcp   net.Listener
	udp   net.PacketConn
	https *http.Server
	h3    *http3.Server
	wg    sync.WaitGroup
	once  sync.Once
}

// h3PortTries is how many times StartH3Mirror looks for a port free over
// both TCP and UDP.
const h3PortTries = 10

// StartH3Mirror serves the file at path as /<base name> over HTTPS and
// HTTP/3 on 127.0.0.1 until Close.
func StartH3Mirror(path string) (*H3Mirror, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("h3 mirror: not a regular file: " + path)
	}
	cert, err := loopbackCert()
	if err != nil {
		return nil, err
	}
	m := &H3Mirror{path: path}
	// One port number for both: Alt-Svc could name another, but quicxfer's
	// --http3 always dials the URL's port over UDP.
	for try := 0; ; try++ {
		tcp, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := tcp.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			m.tcp, m.udp, m.port = tcp, udp, port
			break
		}
		tcp.Close()
		if try+1 >= h3PortTries {
			return nil, fmt.Errorf("h3 mirror: no port free over both TCP and UDP: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/"+filepath.Base(path), m.serve)
	m.https = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
		// HTTP/1.1 only: no h2 in ALPN, no HTTP/2 upgrade.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12},
	}
	m.h3 = &http3.Server{
		Handler:   mux,
		TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}),
		Logger:    slog.New(slog.DiscardHandler),
	}
	m.wg.Go(func() { _ = m.https.ServeTLS(m.tcp, "", "") })
	m.wg.Go(func() { _ = m.h3.Serve(m.udp) })
	return m, nil
}

// URL returns the file's https URL.
func (m *H3Mirror) URL() string {
	return "https://127.0.0.1:" + strconv.Itoa(m.port) + "/" + filepath.Base(m.path)
}

// Port returns the port number, the same over TCP and UDP.
func (m *H3Mirror) Port() int { return m.port }

func (m *H3Mirror) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Alt-Svc", `h3=":`+strconv.Itoa(m.port)+`"; ma=86400`)
	serveFile(w, r, m.path)
}

// Close stops both servers, closing their listeners and connections, and
// waits for them. It is idempotent.
func (m *H3Mirror) Close() error {
	var err error
	m.once.Do(func() {
		err = errors.Join(m.https.Close(), m.h3.Close())
		m.udp.Close()
		m.wg.Wait()
	})
	return err
}

// loopbackCert makes a self-signed ECDSA P-256 certificate for 127.0.0.1
// and localhost, valid for a day.
func loopbackCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "quicxfer-bench h3 mirror"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
