package seed

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// dialWith dials s with the pin check and the given QUIC settings.
func dialWith(t testing.TB, s *Server, qconf *quic.Config) *quic.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pin := s.Pin()
	conn, err := quic.DialAddr(ctx, s.Addr().String(), &tls.Config{
		MinVersion:         tls.VersionTLS13,
		NextProtos:         []string{wire.ALPN},
		InsecureSkipVerify: true, // the pin is the check
		VerifyConnection:   pin.Verify,
	}, qconf)
	require.NoError(t, err)
	t.Cleanup(func() { conn.CloseWithError(0, "") })
	return conn
}

// smallWindows is a client that takes at most 16 KiB per stream before it
// reads: a response bigger than that stays in progress at the seed until
// the client reads it.
func smallWindows() *quic.Config {
	return &quic.Config{
		InitialStreamReceiveWindow:     16 << 10,
		MaxStreamReceiveWindow:         16 << 10,
		InitialConnectionReceiveWindow: 1 << 20,
		MaxConnectionReceiveWindow:     1 << 20,
		MaxIdleTimeout:                 10 * time.Second,
		KeepAlivePeriod:                time.Second,
	}
}

// requestBlock sends a GET_BLOCK and returns the stream, unread.
func requestBlock(t testing.TB, conn *quic.Conn, id [32]byte, i uint64) *quic.Stream {
	t.Helper()
	str, _ := send(t, conn, (&wire.BlockRequest{ID: id, Index: i}).Append(nil))
	return str
}

// readBlock reads a block answer from str to its end and checks it; it
// may run in its own goroutine.
func readBlock(t testing.TB, str *quic.Stream, want []byte) {
	t.Helper()
	str.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(str)
	want = append(wire.AppendBlockHeader(nil, len(want)), want...)
	if err != nil || !bytes.Equal(want, b) {
		t.Errorf("block answer: %d bytes, %v", len(b), err)
	}
}

// A connection's block responses in progress are bounded by
// MaxConnInflight: past it, a response waits for another to end.
func TestMaxConnInflight(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(3*bs, 21)
	writeFile(t, filepath.Join(dir, "f"), data)
	s := startForTest(t, Options{Paths: []string{dir}, MaxConnInflight: bs})
	id := fileByName(t, s, "f").ID
	conn := dialWith(t, s, smallWindows())

	strs := []*quic.Stream{requestBlock(t, conn, id, 0), requestBlock(t, conn, id, 1), requestBlock(t, conn, id, 2)}
	// Only one block fits: the other two wait, none is refused.
	require.Eventually(t, func() bool { return s.Stats().InflightWaits == 2 }, 5*time.Second, 5*time.Millisecond)
	require.EqualValues(t, 3, s.Stats().StreamsActive)
	// Another connection is not held up.
	got, err := getBlock(t, dial(t, s), id, 1, bs)
	require.NoError(t, err)
	require.Equal(t, data[bs:2*bs], got)
	// Reading lets them through, one after the other, in whatever order
	// they got their turn.
	var wg sync.WaitGroup
	for i, str := range strs {
		wg.Go(func() { readBlock(t, str, data[i*bs:(i+1)*bs]) })
	}
	wg.Wait()
	require.Zero(t, s.Stats().Cancelled)
}

// Send buffers over all connections are bounded by MaxSendBuffers.
func TestMaxSendBuffers(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(2*bs, 22)
	writeFile(t, filepath.Join(dir, "f"), data)
	s := startForTest(t, Options{Paths: []string{dir}, MaxSendBuffers: chunkSize, ConnSendReserve: -1}) // one buffer
	id := fileByName(t, s, "f").ID
	c1, c2 := dialWith(t, s, smallWindows()), dialWith(t, s, smallWindows())

	s1 := requestBlock(t, c1, id, 0)
	require.Eventually(t, func() bool { return s.Stats().StreamsActive == 1 }, 5*time.Second, 5*time.Millisecond)
	s2 := requestBlock(t, c2, id, 1)
	require.Eventually(t, func() bool { return s.Stats().BufferWaits == 1 }, 5*time.Second, 5*time.Millisecond)
	// A list needs a buffer too, so it waits as well; it is not refused.
	done := make(chan []wire.FileEntry, 1)
	go func() { done <- list(t, dial(t, s)) }()
	require.Eventually(t, func() bool { return s.Stats().BufferWaits == 2 }, 5*time.Second, 5*time.Millisecond)

	var wg sync.WaitGroup
	wg.Go(func() { readBlock(t, s1, data[:bs]) })
	wg.Go(func() { readBlock(t, s2, data[bs:]) })
	wg.Wait()
	require.Len(t, <-done, 1)
}

// Streams past a connection's request rate are reset with ErrCodeBusy
// without being read; the connection goes on.
func TestMaxRequestRate(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	s := startForTest(t, Options{Paths: []string{dir}, MaxRequestRate: 2, RequestBurst: 5})
	conn := dial(t, s)
	var ok, busy int
	for range 20 {
		str, err := conn.OpenStreamSync(context.Background())
		require.NoError(t, err)
		str.SetDeadline(time.Now().Add(5 * time.Second))
		// A stream past the rate may be stopped before it is written.
		str.Write((&wire.ListRequest{}).Append(nil))
		str.Close()
		_, err = wire.ReadFileEntry(bufio.NewReader(str))
		var we *wire.Error
		switch {
		case err == nil:
			ok++
		case errors.As(wire.FromQUIC(err), &we) && we.Code == wire.ErrCodeBusy:
			busy++
		default:
			t.Fatalf("unexpected answer: %v", err)
		}
	}
	// The burst, and at 2/s perhaps one or two more while the loop ran.
	require.GreaterOrEqual(t, ok, 5)
	require.LessOrEqual(t, ok, 8)
	require.Equal(t, 20-ok, busy)
	require.EqualValues(t, busy, s.Stats().RejectedByReason[wire.ErrCodeBusy])
	// A rate, not a ban: after a while the connection is served again, and
	// another connection was never limited.
	require.Len(t, list(t, dial(t, s)), 1)
	time.Sleep(600 * time.Millisecond)
	require.Len(t, list(t, conn), 1)
}

// The seed tells clients its stream limit: a client cannot open more.
func TestMaxStreams(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	s := startForTest(t, Options{Paths: []string{dir}, MaxStreamsPerConn: 3})
	conn := dial(t, s)
	for range 3 {
		_, err := conn.OpenStream()
		require.NoError(t, err)
	}
	_, err := conn.OpenStream()
	var limit *quic.StreamLimitReachedError
	require.ErrorAs(t, err, &limit)
}

// A client that stops reading loses its response after IdleTimeout, even
// while its connection is kept alive; a silent connection is closed.
func TestIdleTimeout(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(bs, 23)
	writeFile(t, filepath.Join(dir, "f"), data)
	s := startForTest(t, Options{Paths: []string{dir}, IdleTimeout: 400 * time.Millisecond})
	id := fileByName(t, s, "f").ID

	q := smallWindows()
	q.KeepAlivePeriod = 100 * time.Millisecond
	slow := dialWith(t, s, q)
	str := requestBlock(t, slow, id, 0)
	require.Eventually(t, func() bool { return s.Stats().Cancelled == 1 }, 5*time.Second, 10*time.Millisecond)
	str.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.ReadAll(str)
	requireCode(t, err, wire.ErrCodeCancelled)
	require.NoError(t, slow.Context().Err(), "the connection itself lives on")

	// The seed drops a silent connection after IdleTimeout (silently, as
	// QUIC does; the client, which takes no idle timeout under 5 s from a
	// peer, notices later).
	dialWith(t, s, &quic.Config{MaxIdleTimeout: 10 * time.Second})
	require.Eventually(t, func() bool { return s.Stats().ConnsActive == 2 }, 5*time.Second, 10*time.Millisecond)
	start := time.Now()
	require.Eventually(t, func() bool { return s.Stats().ConnsActive == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Less(t, time.Since(start), 3*time.Second)
	require.NoError(t, slow.Context().Err())
}

// TestSetRateLimit: a server started with a rate limit takes a new one (get
// --serve --upload-limit N% follows its link this way); one started without
// cannot, and a limit must be a positive number.
func TestSetRateLimit(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), randBytes(1000, 1))
	s := startForTest(t, Options{Paths: []string{dir}, RateLimit: 256 << 10})
	require.NoError(t, s.SetRateLimit(50e6))
	require.Equal(t, rate.Limit(50e6), s.limiter.Limit())
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		require.Error(t, s.SetRateLimit(bad), "%v", bad)
	}
	require.Equal(t, rate.Limit(50e6), s.limiter.Limit(), "a refused limit changes nothing")

	free := startForTest(t, Options{Paths: []string{dir}})
	require.Error(t, free.SetRateLimit(1e6))
}
