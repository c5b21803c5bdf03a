package seed

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// gatedReader holds its first read until gate is closed, and says on
// entered that it got there.
type gatedReader struct {
	io.ReaderAt
	once    *sync.Once
	gate    <-chan struct{}
	entered chan<- struct{}
}

func (g gatedReader) ReadAt(b []byte, off int64) (int, error) {
	g.once.Do(func() {
		g.entered <- struct{}{}
		<-g.gate
	})
	return g.ReaderAt.ReadAt(b, off)
}

// indexing is a seed whose indexing of three files holds at the first
// read of b, the second file, until gate is closed.
type indexing struct {
	sizes   map[string]int
	logs    *syncbuf.Buffer
	mu      sync.Mutex
	reports []IndexProgress
	gate    chan struct{}
	done    chan struct{}
	srv     *Server
	err     error
}

func startIndexing(t *testing.T, ctx context.Context) *indexing {
	t.Helper()
	dir := t.TempDir()
	ix := &indexing{sizes: map[string]int{"a": 3*bs + 1, "b": 2 * bs, "c": bs}, logs: &syncbuf.Buffer{}, gate: make(chan struct{}), done: make(chan struct{})}
	for n, size := range ix.sizes {
		writeFile(t, filepath.Join(dir, n), randBytes(size, uint64(n[0])))
	}
	entered := make(chan struct{}, 1)
	var once sync.Once
	opts := Options{
		Paths: []string{dir}, Listen: "127.0.0.1:0", StateDir: t.TempDir(),
		HashWorkers:   1, // a, then b, then c
		IndexLogEvery: 10 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(ix.logs, nil)),
		OnIndexProgress: func(p IndexProgress) {
			ix.mu.Lock()
			defer ix.mu.Unlock()
			ix.reports = append(ix.reports, p)
		},
		indexReader: func(name string, r io.ReaderAt) io.ReaderAt {
			if name != "b" {
				return r
			}
			return gatedReader{ReaderAt: r, once: &once, gate: ix.gate, entered: entered}
		},
	}
	go func() {
		defer close(ix.done)
		ix.srv, ix.err = New(ctx, opts)
	}()
	t.Cleanup(func() {
		select {
		case <-ix.gate:
		default:
			close(ix.gate)
		}
		<-ix.done
		if ix.srv != nil {
			ix.srv.Close()
		}
	})
	select {
	case <-entered:
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("b was never read")
	}
	return ix
}

func (ix *indexing) last() IndexProgress {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if len(ix.reports) == 0 {
		return IndexProgress{}
	}
	return ix.reports[len(ix.reports)-1]
}

// finish lets b be read and waits for New to return.
func (ix *indexing) finish(t *testing.T) {
	t.Helper()
	close(ix.gate)
	select {
	case <-ix.done:
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("New did not return")
	}
}

func TestIndexProgress(t *testing.T) {
	ix := startIndexing(t, context.Background())
	total := int64(ix.sizes["a"] + ix.sizes["b"] + ix.sizes["c"])

	// Held in b: a is indexed, and both the log and the reports say so.
	require.Eventually(t, func() bool {
		return strings.Contains(ix.logs.String(), `msg=indexing progress="1/3 files,`) && ix.last().FilesDone == 1
	}, time.Minute, 10*time.Millisecond, "no progress while b is held: %s", ix.logs)
	p := ix.last()
	require.False(t, p.Done)
	require.Equal(t, 3, p.Files)
	require.Equal(t, total, p.Bytes)
	require.EqualValues(t, ix.sizes["a"], p.BytesDone)
	require.EqualValues(t, ix.sizes["a"], p.Hashed)
	require.Contains(t, ix.logs.String(), "files_done=1 files=3")
	require.NotContains(t, ix.logs.String(), "msg=indexed")

	ix.finish(t)
	require.NoError(t, ix.err)
	require.Len(t, ix.srv.Files(), 3)
	p = ix.last()
	require.True(t, p.Done)
	require.Equal(t, 3, p.FilesDone)
	require.Equal(t, total, p.BytesDone)
	require.Equal(t, total, p.Hashed)
	require.Contains(t, ix.logs.String(), `msg=indexed progress="3 files, `)
	require.Contains(t, ix.logs.String(), "rate_limit=0 ")
}

func TestIndexStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ix := startIndexing(t, ctx)
	cancel()
	ix.finish(t)
	require.ErrorIs(t, ix.err, context.Canceled)
	p := ix.last()
	require.True(t, p.Done)
	require.Less(t, p.FilesDone, p.Files)
	require.NotContains(t, ix.logs.String(), "msg=indexed")
	require.NotContains(t, ix.logs.String(), "seed ready")
}

func TestIndexProgressString(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    IndexProgress
		want string
	}{
		{"nothing hashed yet", IndexProgress{Files: 12, Bytes: 4e9, Elapsed: time.Second}, "0/12 files, 0 B of 4.00 GB"},
		{"hashing", IndexProgress{Files: 12, FilesDone: 3, Bytes: 4e9, BytesDone: 1.2e9, Hashed: 1.23e9, Elapsed: 3 * time.Second}, "3/12 files, 1.20 GB of 4.00 GB, 410.0 MB/s, ETA 7s"},
		{"minutes", IndexProgress{Files: 1, Bytes: 100e9, BytesDone: 1e6, Hashed: 1e6, Elapsed: 10 * time.Millisecond}, "0/1 file, 1.0 MB of 100.00 GB, 100.0 MB/s, ETA 16m40s"},
		{"no meaningful ETA", IndexProgress{Files: 2, Bytes: 4e12, BytesDone: 1, Hashed: 1, Elapsed: time.Hour}, "0/2 files, 1 B of 4.00 TB"},
		{"done", IndexProgress{Files: 12, FilesDone: 12, Bytes: 4e9, BytesDone: 4e9, Hashed: 4e9, Elapsed: 9760 * time.Millisecond, Done: true}, "12 files, 4.00 GB in 9.8s, hashed at 409.8 MB/s"},
		{"done from the cache", IndexProgress{Files: 1, FilesDone: 1, Bytes: 5, BytesDone: 5, Elapsed: time.Millisecond, Done: true}, "1 file, 5 B in 0s"},
		{"stopped", IndexProgress{Files: 12, FilesDone: 3, Bytes: 4e9, BytesDone: 1.2e9, Hashed: 1.23e9, Elapsed: 3 * time.Second, Done: true}, "3/12 files, 1.20 GB of 4.00 GB, 410.0 MB/s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.p.String())
		})
	}
}

// TestDualStackByDefault: the default listen address takes IPv6 as well
// as IPv4 (on any free port here, as 4433 may be taken), and the URLs
// after the first are for other hosts only.
func TestDualStackByDefault(t *testing.T) {
	if ln, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	} else {
		ln.Close()
	}
	host, _, err := net.SplitHostPort(DefaultListen)
	require.NoError(t, err)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	s := startForTest(t, Options{Paths: []string{dir}, Listen: net.JoinHostPort(host, "0")})
	port := s.Addr().(*net.UDPAddr).Port

	for _, addr := range []string{"127.0.0.1", "::1"} {
		conn, err := tryDialAddr(net.JoinHostPort(addr, strconv.Itoa(port)), s.Pin(), 30*time.Second)
		require.NoError(t, err, addr)
		require.Len(t, list(t, conn), 1, addr)
		conn.CloseWithError(0, "")
	}

	urls := s.URLs()
	u, err := wire.ParseURL(urls[0])
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", u.Host)
	for _, raw := range urls[1:] {
		u, err := wire.ParseURL(raw)
		require.NoError(t, err, raw)
		require.False(t, net.ParseIP(u.Host).IsLoopback(), "for other hosts: %s", raw)
	}
}
