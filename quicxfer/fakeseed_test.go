package quicxfer_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// behaviour says how a fake seed answers block requests.
type behaviour int

const (
	stallBlocks behaviour = iota // read the request, then send nothing, ever
)

// fakeSeed is a hand-written seed for behaviours a real one never shows. It
// answers manifest requests for one file honestly.
type fakeSeed struct {
	url string
}

func (f *fakeSeed) URL() string { return f.url }

func selfSigned(t testing.TB) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, cert
}

func startFakeSeed(t testing.TB, dir, name string, b behaviour) *fakeSeed {
	t.Helper()
	m, err := manifest.BuildFile(context.Background(), filepath.Join(dir, name), 1)
	require.NoError(t, err)
	tlsCert, cert := selfSigned(t)
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	tr := &quic.Transport{Conn: udp}
	ln, err := tr.Listen(&tls.Config{Certificates: []tls.Certificate{tlsCert}, NextProtos: []string{wire.ALPN}, MinVersion: tls.VersionTLS13}, &quic.Config{MaxIdleTimeout: 30 * time.Second})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		_ = ln.Close()
		_ = tr.Close()
		_ = udp.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.CloseWithError(0, "")
				for {
					str, err := conn.AcceptStream(ctx)
					if err != nil {
						return
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						req, err := wire.ReadRequest(bufio.NewReader(str))
						if err != nil {
							str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeBadRequest))
							return
						}
						switch req.(type) {
						case *wire.ManifestRequest:
							resp := wire.ManifestResponse{Name: name, Manifest: m}
							_, _ = str.Write(resp.Append(nil))
							_ = str.Close()
						case *wire.BlockRequest:
							switch b {
							case stallBlocks:
								select {
								case <-ctx.Done():
								case <-str.Context().Done():
								}
							}
						default:
							str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeNotFound))
						}
					}()
				}
			}()
		}
	}()
	port := uint16(udp.LocalAddr().(*net.UDPAddr).Port)
	u := wire.URL{Host: "127.0.0.1", Port: port, Pin: wire.PinOf(cert), HasPin: true}
	return &fakeSeed{url: u.String()}
}
