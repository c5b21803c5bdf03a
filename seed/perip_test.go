package seed

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// dialFrom dials s from the UDP address local (e.g. "127.0.0.2:0": Linux
// routes all of 127/8 to the loopback interface).
func dialFrom(t *testing.T, s *Server, local string) (*quic.Conn, error) {
	t.Helper()
	laddr, err := net.ResolveUDPAddr("udp4", local)
	require.NoError(t, err)
	udp, err := net.ListenUDP("udp4", laddr)
	require.NoError(t, err)
	tr := &quic.Transport{Conn: udp}
	t.Cleanup(func() { tr.Close(); udp.Close() })
	u, err := wire.ParseURL(s.URL())
	require.NoError(t, err)
	raddr, err := net.ResolveUDPAddr("udp4", u.Addr())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := tr.Dial(ctx, raddr, &tls.Config{
		MinVersion:         tls.VersionTLS13,
		NextProtos:         []string{wire.ALPN},
		InsecureSkipVerify: true, // the pin is the check
		VerifyConnection:   s.Pin().Verify,
	}, &quic.Config{InitialStreamReceiveWindow: manifest.MaxBlockSize, MaxIdleTimeout: 10 * time.Second, KeepAlivePeriod: 2 * time.Second})
	if err == nil {
		t.Cleanup(func() { conn.CloseWithError(0, "") })
	}
	return conn, err
}

// TestMaxConnsPerIP: one address holding its MaxConnsPerIP connections
// (idle ones, that never close) gets BUSY for the next, as from a full
// seed, and is counted; a client from another address is still served, and
// the address gets a connection again once one of its own closes.
func TestMaxConnsPerIP(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	s := startForTest(t, Options{Paths: []string{dir}, MaxConnsPerIP: 3, MetricsListen: "127.0.0.1:0"})

	var held []*quic.Conn
	for range 3 {
		c, err := dialFrom(t, s, "127.0.0.1:0")
		require.NoError(t, err)
		require.Len(t, list(t, c), 1)
		held = append(held, c)
	}
	extra, err := dialFrom(t, s, "127.0.0.1:0")
	require.NoError(t, err) // the handshake completes; then the seed says busy
	select {
	case <-extra.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a connection past the address's limit was not closed")
	}
	requireCode(t, context.Cause(extra.Context()), wire.ErrCodeBusy)

	other, err := dialFrom(t, s, "127.0.0.2:0")
	require.NoError(t, err)
	require.Len(t, list(t, other), 1, "another address is served")

	st := s.Stats()
	require.EqualValues(t, 1, st.ConnsRefused)
	require.EqualValues(t, 1, st.ConnsRefusedPerIP)
	m := scrape(t, s)
	require.EqualValues(t, 1, m["quicxfer_seed_connections_refused_per_ip_total"])
	require.EqualValues(t, 1, m["quicxfer_seed_connections_refused_total"])

	held[0].CloseWithError(0, "")
	require.Eventually(t, func() bool { return s.Stats().ConnsActive == 3 }, 10*time.Second, 10*time.Millisecond)
	again, err := dialFrom(t, s, "127.0.0.1:0")
	require.NoError(t, err)
	require.Len(t, list(t, again), 1, "a connection of the address closed, so it gets one again")
}

// TestMaxConnsPerIPOff: a negative MaxConnsPerIP is no limit.
func TestMaxConnsPerIPOff(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	s := startForTest(t, Options{Paths: []string{dir}, MaxConnsPerIP: -1, MaxConns: DefaultMaxConnsPerIP + 8})
	for range DefaultMaxConnsPerIP + 1 {
		c, err := dialFrom(t, s, "127.0.0.1:0")
		require.NoError(t, err)
		require.Len(t, list(t, c), 1)
	}
	require.Zero(t, s.Stats().ConnsRefused)
}

func TestIPKey(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want string
	}{
		{"192.0.2.7:4433", "192.0.2.7/32"},
		{"[::ffff:192.0.2.7]:1", "192.0.2.7/32"},
		{"[2001:db8:1:2:3:4:5:6]:1", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:9", "2001:db8:1:2::/64"},
	} {
		a, err := net.ResolveUDPAddr("udp", tc.addr)
		require.NoError(t, err)
		require.Equal(t, netip.MustParsePrefix(tc.want), ipKey(a), tc.addr)
	}
	require.Equal(t, netip.Prefix{}, ipKey(&net.UnixAddr{Name: "x"}))
}
