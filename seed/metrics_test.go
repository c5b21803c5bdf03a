package seed

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/internal/testpki"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// scrape fetches /metrics from s over HTTP and returns each sample by its
// name and labels, e.g. `quicxfer_seed_blocks_sent_total` or
// `quicxfer_seed_rejected_requests_total{reason="not_found"}`.
func scrape(t testing.TB, s *Server) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.MetricsAddr().String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	out := make(map[string]float64)
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			key := name
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func health(t testing.TB, s *Server) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.MetricsAddr().String() + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(2*bs+bs/3, 11) // three blocks
	writeFile(t, filepath.Join(dir, "big.bin"), data)
	writeFile(t, filepath.Join(dir, "other.bin"), randBytes(100, 12))
	s := startForTest(t, Options{Paths: []string{dir}, MetricsListen: "127.0.0.1:0"})
	// A second seed in the same process has its own registry.
	s2 := startForTest(t, Options{Paths: []string{dir}, MetricsListen: "127.0.0.1:0"})

	code, body := health(t, s)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok: serving 2 files, "+strconv.Itoa(len(data)+100)+" bytes\n", body)

	out := filepath.Join(t.TempDir(), "big.bin")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{s.URL()}, Name: "big.bin", Out: out})
	require.NoError(t, err)
	require.EqualValues(t, len(data), res.Size)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, data, got)

	// A request for a file the seed does not have, and a handshake that
	// fails (wrong ALPN).
	conn := dial(t, s)
	_, err = getBlock(t, conn, manifest.ID{1}, 0, bs)
	requireCode(t, err, wire.ErrCodeNotFound)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	u := parseURL(t, s.URL())
	_, err = quic.DialAddr(ctx, u.Addr(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"not-quicxfer"}}, nil)
	require.Error(t, err)

	var m map[string]float64
	require.Eventually(t, func() bool {
		m = scrape(t, s)
		return m["quicxfer_seed_handshake_failures_total"] == 1 && m["quicxfer_seed_connections_active"] == 1
	}, 10*time.Second, 20*time.Millisecond, "handshake failures and connections: %v", m)
	require.EqualValues(t, len(data), m["quicxfer_seed_bytes_sent_total"])
	require.EqualValues(t, 3, m["quicxfer_seed_blocks_sent_total"])
	require.EqualValues(t, 1, m["quicxfer_seed_manifests_sent_total"])
	// The manifest and three blocks.
	require.EqualValues(t, 4, m[`quicxfer_seed_file_requests_total{file="big.bin"}`])
	require.EqualValues(t, 1, m[`quicxfer_seed_rejected_requests_total{reason="not_found"}`])
	require.Contains(t, m, `quicxfer_seed_rejected_requests_total{reason="busy"}`, "known reasons are exported at 0")
	require.EqualValues(t, 0, m[`quicxfer_seed_rejected_requests_total{reason="busy"}`])
	require.EqualValues(t, 2, m["quicxfer_seed_connections_total"]) // the download's and conn
	require.EqualValues(t, 0, m["quicxfer_seed_connections_refused_total"])
	require.EqualValues(t, 2, m["quicxfer_seed_files"])
	require.EqualValues(t, len(data)+100, m["quicxfer_seed_file_bytes"])
	require.EqualValues(t, 2, m["quicxfer_seed_files_hashed_total"])
	require.EqualValues(t, 1, m["quicxfer_seed_serving"])
	require.EqualValues(t, 0, m["quicxfer_seed_streams_active"])
	require.GreaterOrEqual(t, m["quicxfer_seed_streams_total"], 5.0)
	require.Contains(t, m, "go_goroutines")

	m2 := scrape(t, s2)
	require.EqualValues(t, 0, m2["quicxfer_seed_bytes_sent_total"])
	require.EqualValues(t, 0, m2[`quicxfer_seed_file_requests_total{file="big.bin"}`])
}

func TestMetricsRateLimitWaits(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(2*bs, 13)
	writeFile(t, filepath.Join(dir, "f"), data)
	s := startForTest(t, Options{Paths: []string{dir}, MetricsListen: "127.0.0.1:0", RateLimit: 4e6})
	conn := dial(t, s)
	id := fileByName(t, s, "f").ID
	for i := range 2 {
		_, err := getBlock(t, conn, id, uint64(i), bs)
		require.NoError(t, err)
	}
	m := scrape(t, s)
	require.Greater(t, m["quicxfer_seed_rate_limit_waits_total"], 0.0)
	require.Greater(t, m["quicxfer_seed_rate_limit_wait_seconds_total"], 0.0)
	require.EqualValues(t, 2*bs, m["quicxfer_seed_bytes_sent_total"])
}

// /healthz says 503 "starting" before Serve, 200 while serving, and the
// endpoint is gone once the server stopped.
func TestHealthLifecycle(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	s, err := New(t.Context(), Options{Paths: []string{dir}, Listen: "127.0.0.1:0", StateDir: t.TempDir(), MetricsListen: "127.0.0.1:0"})
	require.NoError(t, err)
	code, body := health(t, s)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "starting\n", body)
	require.EqualValues(t, 0, scrape(t, s)["quicxfer_seed_serving"])

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	require.Eventually(t, func() bool { c, _ := health(t, s); return c == http.StatusOK }, 5*time.Second, 10*time.Millisecond)
	_, body = health(t, s)
	require.Equal(t, "ok: serving 1 files, 1 bytes\n", body)
	addr := s.MetricsAddr().String()
	cancel()
	require.NoError(t, <-done)
	_, err = http.Get("http://" + addr + "/healthz")
	require.Error(t, err, "the endpoint closes with the seed")
}

func TestMetricsListenBusy(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	s := startForTest(t, Options{Paths: []string{dir}, MetricsListen: "127.0.0.1:0"})
	_, err := New(t.Context(), Options{Paths: []string{dir}, Listen: "127.0.0.1:0", StateDir: t.TempDir(), MetricsListen: s.MetricsAddr().String()})
	require.ErrorContains(t, err, "metrics: listening on")
}

// Handshakes refused for a missing or foreign client certificate count as
// handshake failures; the accepted one does not.
func TestMetricsHandshakeFailuresMutualTLS(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("for members only"))
	ca, other := testpki.NewCA(t, "clients"), testpki.NewCA(t, "strangers")
	s := startForTest(t, Options{Paths: []string{dir}, ClientCAFile: testpki.WritePEM(t, ca.PEM), MetricsListen: "127.0.0.1:0"})
	u := parseURL(t, s.URL())
	good, _, _ := ca.Issue(t, false)
	bad, _, _ := other.Issue(t, false)

	_, err := listWith(t, quicxfer.ClientOptions{}, u)
	require.Error(t, err)
	_, err = listWith(t, quicxfer.ClientOptions{Certificate: &bad}, u)
	require.Error(t, err)
	_, err = listWith(t, quicxfer.ClientOptions{Certificate: &good}, u)
	require.NoError(t, err)
	var m map[string]float64
	require.Eventually(t, func() bool {
		m = scrape(t, s)
		return m["quicxfer_seed_handshake_failures_total"] == 2
	}, 10*time.Second, 20*time.Millisecond, "%v", m)
	require.EqualValues(t, 1, m["quicxfer_seed_connections_total"])
}

// A handshake still in progress when the seed shuts down is not counted as a
// failed one: the client here holds its handshake open (its certificate
// check waits) until the seed has stopped.
func TestHandshakeCutByShutdownIsNoFailure(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	s, err := New(t.Context(), Options{Paths: []string{dir}, Listen: "127.0.0.1:0", StateDir: t.TempDir(), ShutdownGrace: 100 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()

	checking, release := make(chan struct{}), make(chan struct{})
	dialed := make(chan struct{})
	go func() {
		defer close(dialed)
		dctx, dcancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer dcancel()
		conn, err := quic.DialAddr(dctx, s.Addr().String(), &tls.Config{
			MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN}, InsecureSkipVerify: true,
			VerifyConnection: func(tls.ConnectionState) error {
				close(checking)
				<-release
				return nil
			},
		}, nil)
		if err == nil {
			conn.CloseWithError(0, "")
		}
	}()
	<-checking
	cancel()
	require.NoError(t, <-done)
	close(release)
	<-dialed
	require.Zero(t, s.metrics.handshakeFailures.Load())
}

// At debug level the seed logs a line per block; at info it does not.
func TestBlockLogLinesOnlyAtDebug(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), randBytes(2*bs, 14))
	for _, tc := range []struct {
		level slog.Level
		lines int
	}{{slog.LevelDebug, 2}, {slog.LevelInfo, 0}} {
		var logs syncbuf.Buffer
		s := startForTest(t, Options{Paths: []string{dir}, Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: tc.level}))})
		conn := dial(t, s)
		id := fileByName(t, s, "f").ID
		for i := range uint64(2) {
			_, err := getBlock(t, conn, id, i, bs)
			require.NoError(t, err)
		}
		// The line follows the block's FIN: wait for it.
		require.Eventually(t, func() bool {
			return strings.Count(logs.String(), `"msg":"block sent"`) == tc.lines
		}, 5*time.Second, 10*time.Millisecond, "level %v: %s", tc.level, logs.String())
	}
}

// Shared files count in /healthz, quicxfer_seed_files and _file_bytes and
// Files(), and have their file_requests series; a block not available is
// counted under reason "not_available", exported from 0.
func TestMetricsCountSharedFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "full.bin"), randBytes(100, 41))
	s := startForTest(t, Options{Paths: []string{dir}, MetricsListen: "127.0.0.1:0"})
	require.EqualValues(t, 0, scrape(t, s)[`quicxfer_seed_rejected_requests_total{reason="not_available"}`])
	require.Contains(t, scrape(t, s), `quicxfer_seed_rejected_requests_total{reason="not_available"}`)

	data := randBytes(2*bs, 42)
	m, err := manifest.Build(t.Context(), bytes.NewReader(data), int64(len(data)), 1)
	require.NoError(t, err)
	_, err = s.Share("part.bin", m, bytes.NewReader(data), func(i int) bool { return i == 0 })
	require.NoError(t, err)

	_, body := health(t, s)
	require.Equal(t, "ok: serving 2 files, "+strconv.Itoa(100+len(data))+" bytes\n", body)
	var files []string
	for _, f := range s.Files() {
		files = append(files, f.Name)
	}
	require.Equal(t, []string{"full.bin", "part.bin"}, files)

	conn := dial(t, s)
	_, err = getBlock(t, conn, m.ID(), 0, bs)
	require.NoError(t, err)
	_, err = getBlock(t, conn, m.ID(), 1, bs)
	requireCode(t, err, wire.ErrCodeNotAvailable)
	got := scrape(t, s)
	require.EqualValues(t, 2, got["quicxfer_seed_files"])
	require.EqualValues(t, 100+len(data), got["quicxfer_seed_file_bytes"])
	require.EqualValues(t, 2, got[`quicxfer_seed_file_requests_total{file="part.bin"}`])
	require.EqualValues(t, 1, got[`quicxfer_seed_rejected_requests_total{reason="not_available"}`])

	// A reload keeps both.
	_, err = s.Reload(t.Context())
	require.NoError(t, err)
	got = scrape(t, s)
	require.EqualValues(t, 2, got["quicxfer_seed_files"])
	require.EqualValues(t, 2, got[`quicxfer_seed_file_requests_total{file="part.bin"}`])
}

// reloads_total{result="ok"} counts successful reloads only: failed ones,
// however they interleave with scrapes, never show in it.
func TestMetricsReloadsNeverGoDown(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	s := startForTest(t, Options{Paths: []string{dir}, MetricsListen: "127.0.0.1:0"})
	got := scrape(t, s)
	require.Contains(t, got, `quicxfer_seed_reloads_total{result="ok"}`)
	require.EqualValues(t, 0, got[`quicxfer_seed_reloads_total{result="ok"}`])
	_, err := s.Reload(t.Context())
	require.NoError(t, err)

	// A file to hash and a context already done: each reload fails.
	writeFile(t, filepath.Join(dir, "g"), randBytes(bs, 43))
	done, cancel := context.WithCancel(t.Context())
	cancel()
	const failures = 500
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for range failures {
			if _, err := s.Reload(done); err == nil {
				t.Error("a reload with a done context succeeded")
				return
			}
		}
	}()
	// Only the seed's own collector: quick to gather, many looks.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s.metrics})
	value := func(result string) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() != "quicxfer_seed_reloads_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
		return -1
	}
	for running := true; running; {
		select {
		case <-finished:
			running = false
		default:
		}
		require.EqualValues(t, 1, value("ok"))
	}
	require.EqualValues(t, failures, value("error"))
}
