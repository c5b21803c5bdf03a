// Package quictest runs the QUIC side of the seeds that tests write by
// hand (internal/scriptseed, quicxfer's fake seeds): a listener on
// 127.0.0.1 with a self-signed certificate that accepts connections and
// their streams, reads each stream's request and hands it to the test's function and stops when
// the test ends. No production code links it.
package quictest

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
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// Handler says what a seed does with what it accepts. ctx ends when the
// test ends.
type Handler struct {
	// Conn, if not nil, is called with each connection before its streams
	// are accepted.
	Conn func(ctx context.Context, conn *quic.Conn)
	// Request is called with each stream and the request read from it, in
	// a goroutine of its own; a stream whose request does not parse is
	// reset with wire.ErrCodeBadRequest.
	Request func(ctx context.Context, str *quic.Stream, req wire.Request)
	// Ranges passes GET_RANGE requests to Request. Without it they are
	// reset with wire.ErrCodeBadRequest, as a seed older than GET_RANGE
	// refuses the frame type it does not know.
	Ranges bool
}

// Serve listens on 127.0.0.1 (a free port) speaking wire.ALPN and serves
// with h until the test ends, when it closes the listener and waits for
// every goroutine it started. It returns the seed's URL, with its pin.
func Serve(t testing.TB, h Handler) string {
	t.Helper()
	tlsCert, cert := SelfSigned(t)
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	tr := &quic.Transport{Conn: udp}
	ln, err := tr.Listen(&tls.Config{Certificates: []tls.Certificate{tlsCert}, NextProtos: []string{wire.ALPN}, MinVersion: tls.VersionTLS13},
		&quic.Config{MaxIdleTimeout: 30 * time.Second})
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
	wg.Go(func() {
		for {
			conn, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.CloseWithError(0, "")
				if h.Conn != nil {
					h.Conn(ctx, conn)
				}
				for {
					str, err := conn.AcceptStream(ctx)
					if err != nil {
						return
					}
					wg.Go(func() {
						req, err := wire.ReadRequest(bufio.NewReader(str))
						if _, ok := req.(*wire.RangeRequest); ok && !h.Ranges {
							err = wire.ErrUnknownFrame
						}
						if err != nil {
							str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeBadRequest))
							return
						}
						h.Request(ctx, str, req)
					})
				}
			})
		}
	})
	port := uint16(udp.LocalAddr().(*net.UDPAddr).Port)
	return wire.URL{Host: "127.0.0.1", Port: port, Pin: wire.PinOf(cert), HasPin: true}.String()
}

// SelfSigned makes a self-signed certificate valid for an hour either side
// of now, and returns it with its parsed form.
func SelfSigned(t testing.TB) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, c
}
