package seed

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

func newSeed(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	s, err := New(context.Background(), opts)
	require.NoError(t, err)
	return s
}

func TestCertPersisted(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	state := t.TempDir()

	s1 := newSeed(t, Options{Paths: []string{dir}, StateDir: state})
	pin1, url1 := s1.Pin(), s1.URL()
	require.NoError(t, s1.Close())
	require.NoError(t, s1.Close()) // idempotent

	fi, err := os.Stat(filepath.Join(state, keyFileName))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	s2 := startForTest(t, Options{Paths: []string{dir}, StateDir: state})
	require.Equal(t, pin1, s2.Pin())
	u1, err := wire.ParseURL(url1)
	require.NoError(t, err)
	u2, err := wire.ParseURL(s2.URL())
	require.NoError(t, err)
	require.True(t, u2.HasPin)
	require.Equal(t, u1.Pin, u2.Pin)
	require.Equal(t, "127.0.0.1", u2.Host)
	require.EqualValues(t, s2.Addr().(*net.UDPAddr).Port, u2.Port)
	require.Len(t, list(t, dial(t, s2)), 1) // dial checks the pin

	// Another state dir, another pin.
	s3 := newSeed(t, Options{Paths: []string{dir}, StateDir: t.TempDir()})
	require.NotEqual(t, pin1, s3.Pin())
	s3.Close()
}

func TestURLsUnspecified(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	s := startForTest(t, Options{Paths: []string{dir}, Listen: "0.0.0.0:0"})
	urls := s.URLs()
	require.NotEmpty(t, urls)
	require.Equal(t, urls[0], s.URL())
	for i, raw := range urls {
		u, err := wire.ParseURL(raw)
		require.NoError(t, err, raw)
		require.True(t, u.HasPin)
		require.Equal(t, s.Pin(), u.Pin)
		require.EqualValues(t, s.Addr().(*net.UDPAddr).Port, u.Port)
		ip := net.ParseIP(u.Host)
		require.NotNil(t, ip, raw)
		if i == 0 {
			require.True(t, ip.IsLoopback(), raw)
			require.NotNil(t, ip.To4(), raw)
		} else {
			require.False(t, ip.IsLoopback(), raw)
			require.NotNil(t, ip.To4(), "0.0.0.0 is IPv4 only: %s", raw)
		}
	}
	require.Len(t, list(t, dial(t, s)), 1)
}

func TestManifestCache(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		writeFile(t, filepath.Join(dir, n), randBytes(bs+1, uint64(n[0])))
	}
	state := t.TempDir()
	start := func() Stats {
		s := newSeed(t, Options{Paths: []string{dir}, StateDir: state})
		defer s.Close()
		require.Len(t, s.Files(), 3)
		for _, f := range s.Files() {
			require.Equal(t, buildManifest(t, f.Path).ID(), f.ID, f.Name)
		}
		return s.Stats()
	}
	st := start()
	require.EqualValues(t, 3, st.FilesHashed)
	require.EqualValues(t, 0, st.FilesFromCache)

	st = start()
	require.EqualValues(t, 0, st.FilesHashed)
	require.EqualValues(t, 3, st.FilesFromCache)

	// A new modification time (same size, new content) invalidates b's entry.
	b := filepath.Join(dir, "b")
	writeFile(t, b, randBytes(bs+1, 99))
	fi, err := os.Stat(b)
	require.NoError(t, err)
	require.NoError(t, os.Chtimes(b, fi.ModTime(), fi.ModTime().Add(time.Second)))
	st = start()
	require.EqualValues(t, 1, st.FilesHashed)
	require.EqualValues(t, 2, st.FilesFromCache)

	// A damaged entry is ignored and rewritten.
	entry := (&manifestCache{dir: filepath.Join(state, "manifests")}).entryPath(filepath.Join(dir, "c"))
	raw, err := os.ReadFile(entry)
	require.NoError(t, err)
	raw[len(raw)/2] ^= 0x40
	require.NoError(t, os.WriteFile(entry, raw, 0o600))
	st = start()
	require.EqualValues(t, 1, st.FilesHashed)
	require.EqualValues(t, 2, st.FilesFromCache)
	require.NoError(t, os.WriteFile(entry, nil, 0o600)) // as after a crash
	st = start()
	require.EqualValues(t, 1, st.FilesHashed)
	st = start()
	require.EqualValues(t, 0, st.FilesHashed)
	require.EqualValues(t, 3, st.FilesFromCache)
}

// A manifest a seed remembers for a file (seed --from, once complete) is
// read back by seed.CachedManifest from the state directory alone, without
// a seed; once the file changes, it no longer counts.
func TestCachedManifestWithoutSeed(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	data := randBytes(3*bs+7, 51)
	path := filepath.Join(dir, "f.bin")
	writeFile(t, path, data)
	m, err := manifest.Build(t.Context(), bytes.NewReader(data), int64(len(data)), 1)
	require.NoError(t, err)

	s := startForTest(t, Options{NoPaths: true, StateDir: state})
	got, err := CachedManifest(state, path)
	require.NoError(t, err)
	require.Nil(t, got, "nothing remembered yet")
	require.NoError(t, s.RememberManifest(path, m))
	got, err = CachedManifest(state, path)
	require.NoError(t, err)
	require.Equal(t, m.ID(), got.ID())

	writeFile(t, path, append(data, 'x'))
	got, err = CachedManifest(state, path)
	require.NoError(t, err)
	require.Nil(t, got, "the file changed")
	_, err = CachedManifest(filepath.Join(t.TempDir(), "none"), path)
	require.Error(t, err, "no such state directory")
}

// TestManifestCachePruned: a seed's start removes the cache entries of files
// that are gone, damaged entries and old temporary files, and keeps the
// entries of files that exist but another seed serves.
func TestManifestCachePruned(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dir, "a"), randBytes(bs+1, 1))
	writeFile(t, filepath.Join(dir, "b"), randBytes(bs+1, 2))
	writeFile(t, filepath.Join(other, "x"), randBytes(bs+1, 3))
	state := t.TempDir()
	cache := &manifestCache{dir: filepath.Join(state, "manifests")}
	start := func(path string) {
		s := newSeed(t, Options{Paths: []string{path}, StateDir: state})
		require.NoError(t, s.Close())
	}
	exists := func(file string) bool {
		_, err := os.Stat(cache.entryPath(file))
		return err == nil
	}
	start(other)
	start(dir)
	for _, f := range []string{filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(other, "x")} {
		require.True(t, exists(f), f)
	}

	require.NoError(t, os.Remove(filepath.Join(dir, "b")))
	damaged := filepath.Join(cache.dir, "00000000000000000000000000000000")
	require.NoError(t, os.WriteFile(damaged, []byte("not an entry"), 0o600))
	oldTmp := filepath.Join(cache.dir, ".deadbeef.tmp123")
	newTmp := filepath.Join(cache.dir, ".cafe.tmp456")
	for _, p := range []string{oldTmp, newTmp} {
		require.NoError(t, os.WriteFile(p, []byte("half"), 0o600))
	}
	long := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(oldTmp, long, long))

	start(dir)
	require.True(t, exists(filepath.Join(dir, "a")), "a is served")
	require.False(t, exists(filepath.Join(dir, "b")), "b is gone")
	require.True(t, exists(filepath.Join(other, "x")), "x exists, served by another seed")
	for p, want := range map[string]bool{damaged: false, oldTmp: false, newTmp: true} {
		_, err := os.Stat(p)
		require.Equal(t, want, err == nil, p)
	}
}

func TestChangedFileServedAsIs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	orig := randBytes(2*bs, 5)
	writeFile(t, p, orig)
	s := startForTest(t, Options{Paths: []string{dir}})
	conn := dial(t, s)
	id := fileByName(t, s, "f").ID

	// Replaced by a new file of the same size: the new bytes are served.
	flipped := bytes.Clone(orig)
	flipped[bs+7] ^= 0xff
	tmp := filepath.Join(t.TempDir(), "new")
	writeFile(t, tmp, flipped)
	require.NoError(t, os.Rename(tmp, p))
	got, err := getBlock(t, conn, id, 1, bs)
	require.NoError(t, err)
	require.Equal(t, flipped[bs:], got)

	// Shrunk: the short block is refused as changed.
	require.NoError(t, os.Truncate(p, bs+10))
	_, err = getBlock(t, conn, id, 1, bs)
	requireCode(t, err, wire.ErrCodeFileChanged)
	// Removed.
	require.NoError(t, os.Remove(p))
	_, err = getBlock(t, conn, id, 0, bs)
	requireCode(t, err, wire.ErrCodeFileChanged)
}

func TestRateLimit(t *testing.T) {
	dir := t.TempDir()
	const n = 3 * bs
	writeFile(t, filepath.Join(dir, "f"), randBytes(n, 6))
	const rate = 512 << 10 // n/rate = 0.75 s
	s := startForTest(t, Options{Paths: []string{dir}, RateLimit: rate})
	id := fileByName(t, s, "f").ID
	// Two connections fetch at once: the limit is for all clients together.
	c1, c2 := dial(t, s), dial(t, s)
	start := time.Now()
	errs := make(chan error, 3)
	for i, c := range []*quic.Conn{c1, c2, c1} {
		go func() {
			_, err := getBlock(t, c, id, uint64(i), bs)
			errs <- err
		}()
	}
	for range 3 {
		require.NoError(t, <-errs)
	}
	elapsed := time.Since(start)
	// The limiter lets one burst (at most a chunk) through at once.
	floor := time.Duration(float64(n-chunkSize) / rate * float64(time.Second))
	require.GreaterOrEqual(t, elapsed, floor*8/10, "sent %d bytes at %d B/s", n, rate)
	t.Logf("%d bytes in %v at a limit of %d B/s", n, elapsed, rate)
}

func TestMaxConns(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	s := startForTest(t, Options{Paths: []string{dir}, MaxConns: 2})
	c1, c2 := dial(t, s), dial(t, s)
	require.Len(t, list(t, c1), 1)
	require.Len(t, list(t, c2), 1)

	c3, err := tryDial(s)
	require.NoError(t, err) // the handshake completes; then the seed says busy
	defer c3.CloseWithError(0, "")
	select {
	case <-c3.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("third connection not closed")
	}
	requireCode(t, context.Cause(c3.Context()), wire.ErrCodeBusy)
	require.EqualValues(t, 1, s.Stats().ConnsRefused)

	// Once one closes, a new connection is served.
	c1.CloseWithError(0, "")
	require.Eventually(t, func() bool { return s.Stats().ConnsActive == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Len(t, list(t, dial(t, s)), 1)
}

func TestClientCancelsBlock(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), randBytes(bs, 7))
	s := startForTest(t, Options{Paths: []string{dir}, RateLimit: 64 << 10}) // 2 s for the block
	conn := dial(t, s)
	str, r := send(t, conn, (&wire.BlockRequest{ID: fileByName(t, s, "f").ID, Index: 0}).Append(nil))
	require.NoError(t, wire.ReadBlockHeader(r, bs))
	_, err := io.ReadFull(r, make([]byte, 1000))
	require.NoError(t, err)
	require.EqualValues(t, 1, s.Stats().StreamsActive)

	cancelled := time.Now()
	str.CancelRead(quic.StreamErrorCode(wire.ErrCodeCancelled))
	require.Eventually(t, func() bool { return s.Stats().StreamsActive == 0 }, time.Second, 5*time.Millisecond)
	t.Logf("handler ended %v after the cancel", time.Since(cancelled))
	st := s.Stats()
	require.EqualValues(t, 1, st.Cancelled)
	require.EqualValues(t, 0, st.BlocksSent)
	require.Less(t, st.BytesSent, int64(bs/2))

	// The connection is still good.
	require.Len(t, list(t, conn), 1)
}

func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(bs, 8)
	writeFile(t, filepath.Join(dir, "f"), data)
	s := newSeed(t, Options{Paths: []string{dir}, StateDir: t.TempDir(), RateLimit: 256 << 10}) // 0.5 s a block
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()

	idle := dial(t, s)
	require.Len(t, list(t, idle), 1)
	busy := dial(t, s)
	_, r := send(t, busy, (&wire.BlockRequest{ID: fileByName(t, s, "f").ID}).Append(nil))
	require.NoError(t, wire.ReadBlockHeader(r, bs))

	// The client reads as data arrives, as a downloader does.
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, bs)
		if _, err := io.ReadFull(r, b); err != nil || wire.ReadEnd(r) != nil {
			b = nil
		}
		got <- b
	}()

	t0 := time.Now()
	cancel()
	// A new request during the grace period is refused...
	require.Eventually(t, func() bool {
		s.streams.mu.Lock()
		defer s.streams.mu.Unlock()
		return s.streams.draining
	}, 2*time.Second, time.Millisecond)
	_, err := getManifest(t, idle, &wire.ManifestRequest{Name: "f"})
	requireCode(t, err, wire.ErrCodeShuttingDown)
	t.Log("refused", time.Since(t0))
	// ...while the one in flight completes.
	require.Equal(t, data, <-got)
	t.Log("got", time.Since(t0))

	select {
	case err := <-served:
		require.NoError(t, err)
		t.Log("served", time.Since(t0))
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	for _, c := range []*quic.Conn{idle, busy} {
		select {
		case <-c.Context().Done():
		case <-time.After(2 * time.Second):
			t.Fatal("connection not closed")
		}
		requireCode(t, context.Cause(c.Context()), wire.ErrCodeShuttingDown)
	}
	require.ErrorIs(t, s.Serve(context.Background()), ErrClosed)
	require.NoError(t, s.Close())
}

func TestShutdownGraceRunsOut(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), randBytes(bs, 9))
	s := newSeed(t, Options{Paths: []string{dir}, StateDir: t.TempDir(), RateLimit: 32 << 10, ShutdownGrace: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	conn := dial(t, s)
	_, r := send(t, conn, (&wire.BlockRequest{ID: fileByName(t, s, "f").ID}).Append(nil))
	require.NoError(t, wire.ReadBlockHeader(r, bs))
	start := time.Now()
	cancel()
	require.NoError(t, <-served)
	require.Less(t, time.Since(start), 3*time.Second)
	_, err := io.ReadAll(r)
	requireCode(t, err, wire.ErrCodeShuttingDown)
}

func TestCloseMidTransfer(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), randBytes(bs, 10))
	s := startForTest(t, Options{Paths: []string{dir}, RateLimit: 32 << 10})
	conn := dial(t, s)
	_, r := send(t, conn, (&wire.BlockRequest{ID: fileByName(t, s, "f").ID}).Append(nil))
	require.NoError(t, wire.ReadBlockHeader(r, bs))
	start := time.Now()
	require.NoError(t, s.Close())
	require.Less(t, time.Since(start), time.Second)
	_, err := io.ReadAll(r)
	require.Error(t, err)
	require.NoError(t, s.Close())
	_, err = tryDialTimeout(s, 300*time.Millisecond)
	require.Error(t, err)
}

func TestServeFunc(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	var url string
	ctx, cancel := context.WithCancel(context.Background())
	listed := make(chan int, 1)
	err := Serve(ctx, Options{Paths: []string{dir}, Listen: "127.0.0.1:0", StateDir: t.TempDir()}, func(s *Server) {
		url = s.URL()
		conn, err := tryDial(s)
		require.NoError(t, err)
		go func() {
			// Serve runs once ready returns.
			defer cancel()
			defer conn.CloseWithError(0, "")
			str, err := conn.OpenStreamSync(ctx)
			if err != nil {
				listed <- -1
				return
			}
			str.Write((&wire.ListRequest{}).Append(nil))
			str.Close()
			b, _ := io.ReadAll(str)
			listed <- len(b)
		}()
	})
	require.NoError(t, err)
	require.Positive(t, <-listed)
	require.True(t, strings.HasPrefix(url, "quic://127.0.0.1:"), url)

	_, err = New(context.Background(), Options{Paths: []string{dir}, Listen: "127.0.0.1:-1", StateDir: t.TempDir()})
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrClosed))
}
