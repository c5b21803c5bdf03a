package seed

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// A minimal raw client: one connection, one stream per request.

func dial(t testing.TB, s *Server) *quic.Conn {
	t.Helper()
	conn, err := tryDial(s)
	require.NoError(t, err)
	t.Cleanup(func() { conn.CloseWithError(0, "") })
	return conn
}

func tryDial(s *Server) (*quic.Conn, error) { return tryDialTimeout(s, 5*time.Second) }

func tryDialTimeout(s *Server, d time.Duration) (*quic.Conn, error) {
	u, err := wire.ParseURL(s.URL())
	if err != nil {
		return nil, err
	}
	return tryDialAddr(u.Addr(), s.Pin(), d)
}

// tryDialAddr dials the seed at addr (HOST:PORT) whose pin is pin.
func tryDialAddr(addr string, pin wire.Pin, d time.Duration) (*quic.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tlsConf := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		NextProtos:         []string{wire.ALPN},
		InsecureSkipVerify: true, // the pin is the check
		VerifyConnection:   pin.Verify,
	}
	return quic.DialAddr(ctx, addr, tlsConf, &quic.Config{
		InitialStreamReceiveWindow: manifest.MaxBlockSize,
		MaxIdleTimeout:             5 * time.Second,
	})
}

// send opens a stream, writes raw request bytes and closes the send side.
func send(t testing.TB, conn *quic.Conn, raw []byte) (*quic.Stream, *bufio.Reader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	str, err := conn.OpenStreamSync(ctx)
	require.NoError(t, err)
	str.SetDeadline(time.Now().Add(10 * time.Second))
	// The seed may refuse a request before it has all of it (a bad frame
	// header, a request rate exceeded) and stop the stream, so writing can
	// fail; what the seed answered is read from the stream.
	_, _ = str.Write(raw)
	_ = str.Close()
	return str, bufio.NewReader(str)
}

func list(t testing.TB, conn *quic.Conn) []wire.FileEntry {
	t.Helper()
	_, r := send(t, conn, (&wire.ListRequest{}).Append(nil))
	var out []wire.FileEntry
	for {
		e, err := wire.ReadFileEntry(r)
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out = append(out, e)
	}
}

func getManifest(t testing.TB, conn *quic.Conn, req *wire.ManifestRequest) (wire.ManifestResponse, error) {
	t.Helper()
	_, r := send(t, conn, req.Append(nil))
	resp, err := wire.ReadManifestResponse(r)
	if err != nil {
		return resp, wire.FromQUIC(err)
	}
	return resp, wire.FromQUIC(wire.ReadEnd(r))
}

func getBlock(t testing.TB, conn *quic.Conn, id manifest.ID, i uint64, want int64) ([]byte, error) {
	t.Helper()
	_, r := send(t, conn, (&wire.BlockRequest{ID: id, Index: i}).Append(nil))
	if err := wire.ReadBlockHeader(r, want); err != nil {
		return nil, wire.FromQUIC(err)
	}
	b := make([]byte, want)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, wire.FromQUIC(err)
	}
	return b, wire.FromQUIC(wire.ReadEnd(r))
}

// requireCode checks that err is a stream reset or connection close with code.
func requireCode(t testing.TB, err error, code wire.ErrCode) {
	t.Helper()
	require.Error(t, err)
	var we *wire.Error
	require.True(t, errors.As(wire.FromQUIC(err), &we), "want %s, got %v", code, err)
	require.Equal(t, code, we.Code, "got %v", err)
	require.True(t, we.Remote)
}
