package quicxfer_test

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/seed"
)

// A server that speaks QUIC but another protocol is refused with a message
// that says so, not a TLS alert number.
func TestDescribeWrongProtocol(t *testing.T) {
	tlsCert, cert := selfSigned(t)
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	tr := &quic.Transport{Conn: udp}
	ln, err := tr.Listen(&tls.Config{Certificates: []tls.Certificate{tlsCert}, NextProtos: []string{"h3"}}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close(); tr.Close(); udp.Close() })
	go func() {
		for {
			if _, err := ln.Accept(context.Background()); err != nil {
				return
			}
		}
	}()

	client, err := quicxfer.NewClient()
	require.NoError(t, err)
	defer client.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	u := wire.URL{Host: "127.0.0.1", Port: uint16(udp.LocalAddr().(*net.UDPAddr).Port), Pin: wire.PinOf(cert), HasPin: true}
	_, err = client.Dial(ctx, u)
	require.Error(t, err)
	require.Contains(t, quicxfer.Describe(err), "does not speak this version")

}

func TestDescribePinMismatch(t *testing.T) {
	s := seedtest.Start(t, seed.Options{Paths: []string{t.TempDir()}})
	u, err := wire.ParseURL(s.URL())
	require.NoError(t, err)
	u.Pin[0] ^= 1
	client, err := quicxfer.NewClient()
	require.NoError(t, err)
	defer client.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err = client.Dial(ctx, u)
	require.ErrorIs(t, err, wire.ErrPinMismatch)
	require.Contains(t, quicxfer.Describe(err), "does not match the pin")
}
