package seed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/quic-go/quic-go"
	"golang.org/x/time/rate"

	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// The server's life, as /healthz tells it.
const (
	stateStarting int32 = iota // New: hashing, not yet serving
	stateServing               // Serve is accepting connections
	stateStopping              // Serve's context ended, or the server was closed
)

// metrics is a Server's Prometheus registry and its endpoint. Most values
// are the server's own atomic counters, read when scraped (collector); the
// per-file requests are a CounterVec whose series follow the files served.
type metrics struct {
	s            *Server
	reg          *prometheus.Registry
	fileRequests *prometheus.CounterVec

	rateLimitWaits     atomic.Int64 // chunks that waited for the rate limiter
	rateLimitWaitNanos atomic.Int64
	handshakeFailures  atomic.Int64
	reloadsOK          atomic.Int64 // kept apart from the failures so that neither series can go down
	reloadFailures     atomic.Int64

	http *http.Server
	addr net.Addr
	done chan struct{} // closed when the HTTP server's goroutine ends
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		s:   s,
		reg: prometheus.NewRegistry(),
		fileRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quicxfer_seed_file_requests_total",
			Help: "Manifest, block and range requests for a file the seed serves, by file name.",
		}, []string{"file"}),
	}
	m.reg.MustRegister(
		m.fileRequests,
		collector{m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// requested counts a manifest, block or range request for f.
func (f *servedFile) requested() {
	if f.reqs != nil {
		f.reqs.Inc()
	}
}

// track gives each file its series of quicxfer_seed_file_requests_total
// (a file kept over a reload keeps its counter).
func (m *metrics) track(files []*servedFile) {
	for _, f := range files {
		if f.reqs == nil {
			f.reqs = m.fileRequests.WithLabelValues(f.Name)
		}
	}
}

// untrack drops the series of files no longer served, so that the labels
// stay bounded by the files served.
func (m *metrics) untrack(names []string) {
	for _, n := range names {
		m.fileRequests.DeleteLabelValues(n)
	}
}

// listen binds addr (TCP) and serves /metrics and /healthz on it until
// close. It fails at once if the address is busy.
func (m *metrics) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listening on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("GET /healthz", m.health)
	m.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	m.addr = ln.Addr()
	m.done = make(chan struct{})
	go func() { // owned by m: close waits for it
		defer close(m.done)
		if err := m.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.s.log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	m.s.log.Info("metrics endpoint", "url", "http://"+ln.Addr().String()+"/metrics", "health", "http://"+ln.Addr().String()+"/healthz")
	return nil
}

// close stops the HTTP server and waits for it. Idempotent.
func (m *metrics) close() {
	if m.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if m.http.Shutdown(ctx) != nil {
		m.http.Close()
	}
	<-m.done
}

// servedTotals returns how many files the server serves, full and shared, and
// their total size.
func (s *Server) servedTotals() (n int, bytes int64) {
	if s.set.Load() == nil {
		return 0, 0
	}
	files := s.allFiles()
	for _, f := range files {
		bytes += f.Size
	}
	return len(files), bytes
}

// health answers 200 "ok: serving N files" while the seed serves, 503 while
// it starts (hashes) or stops.
func (m *metrics) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch m.s.state.Load() {
	case stateServing:
		n, bytes := m.s.servedTotals()
		fmt.Fprintf(w, "ok: serving %d files, %d bytes\n", n, bytes)
	case stateStarting:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "starting")
	default:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "shutting down")
	}
}

// MetricsAddr returns the address of the metrics endpoint, or nil without
// Options.MetricsListen.
func (s *Server) MetricsAddr() net.Addr { return s.metrics.addr }

// Registry returns the server's own Prometheus registry (not the global
// default one), for embedding its metrics elsewhere.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// rejectReasons names the label values of quicxfer_seed_rejected_requests_total,
// by the index of counters.rejected; the last slot counts any other code.
func rejectReason(i int, slots int) string {
	switch {
	case i == slots-1:
		return "other"
	case wire.ErrCode(i) == wire.ErrCodeNotAvailable:
		return "not_available"
	}
	return strings.ReplaceAll(wire.ErrCode(i).String(), " ", "_")
}

// knownReject reports whether slot i is a code the seed sends, so that its
// series is exported even at zero.
func knownReject(i int) bool {
	switch wire.ErrCode(i) {
	case wire.ErrCodeBadRequest, wire.ErrCodeNotFound, wire.ErrCodeInternal, wire.ErrCodeBusy,
		wire.ErrCodeShuttingDown, wire.ErrCodeUnauthorized, wire.ErrCodeFileChanged, wire.ErrCodeNotAvailable:
		return true
	}
	return false
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("quicxfer_seed_"+name, help, labels, nil)
}

var (
	descBytesSent       = desc("bytes_sent_total", "Block payload bytes written to clients, of blocks and ranges.")
	descBlocksSent      = desc("blocks_sent_total", "Blocks sent whole (GET_BLOCK answers).")
	descRangesSent      = desc("ranges_sent_total", "Ranges of blocks sent whole (GET_RANGE answers).")
	descManifestsSent   = desc("manifests_sent_total", "Manifests sent.")
	descListsSent       = desc("lists_sent_total", "File lists sent.")
	descStreams         = desc("streams_total", "Request streams accepted (one request each).")
	descStreamsActive   = desc("streams_active", "Request streams being handled now.")
	descRejected        = desc("rejected_requests_total", "Request streams reset with an error code, by reason.", "reason")
	descCancelled       = desc("cancelled_responses_total", "Responses stopped part-way: the client cancelled, the connection was lost, or the seed stopped.")
	descConns           = desc("connections_total", "Connections accepted (handshake done and admitted).")
	descConnsActive     = desc("connections_active", "Connections open now.")
	descConnsRefused    = desc("connections_refused_total", "Connections closed at once as busy (--max-conns or --max-conns-per-ip reached) or because the seed was stopping.")
	descConnsRefusedIP  = desc("connections_refused_per_ip_total", "Connections closed at once as busy because their address had --max-conns-per-ip open (also counted in connections_refused_total).")
	descHandshakeFail   = desc("handshake_failures_total", "QUIC/TLS handshakes that did not complete while serving: timeouts, wrong ALPN, missing or bad client certificates.")
	descAuthFailures    = desc("auth_failures_total", "Access tokens refused.")
	descRateWaits       = desc("rate_limit_waits_total", "Chunks (at most 64 KiB) that waited for --rate-limit.")
	descRateWaitSeconds = desc("rate_limit_wait_seconds_total", "Time chunks spent waiting for --rate-limit, summed over streams.")
	descInflightWaits   = desc("inflight_waits_total", "Block responses that waited for their connection's --max-conn-inflight.")
	descBufferWaits     = desc("send_buffer_waits_total", "Responses that waited for a send buffer (--max-send-buffers).")
	descBufferBytes     = desc("send_buffer_bytes", "Bytes of send buffers held now.")
	descFiles           = desc("files", "Files served now.")
	descFileBytes       = desc("file_bytes", "Bytes of the files served now.")
	descHashed          = desc("files_hashed_total", "Manifests hashed (at start-up and at reloads).")
	descFromCache       = desc("files_from_cache_total", "Manifests loaded from the cache (at start-up and at reloads).")
	descReloads         = desc("reloads_total", "Reloads (SIGHUP), by result.", "result")
	descUp              = desc("serving", "1 while the seed serves, 0 while it starts or stops.")
)

// collector reads the server's counters when scraped.
type collector struct{ m *metrics }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBytesSent, descBlocksSent, descRangesSent, descManifestsSent, descListsSent,
		descStreams, descStreamsActive, descRejected, descCancelled, descConns, descConnsActive,
		descConnsRefused, descConnsRefusedIP, descHandshakeFail, descAuthFailures, descRateWaits, descRateWaitSeconds,
		descInflightWaits, descBufferWaits, descBufferBytes, descFiles, descFileBytes, descHashed,
		descFromCache, descReloads, descUp} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m, st := c.m, &c.m.s.stats
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(descBytesSent, float64(st.bytesSent.Load()))
	counter(descBlocksSent, float64(st.blocksSent.Load()))
	counter(descRangesSent, float64(st.rangesSent.Load()))
	counter(descManifestsSent, float64(st.manifestsSent.Load()))
	counter(descListsSent, float64(st.listsSent.Load()))
	counter(descStreams, float64(st.requests.Load()))
	gauge(descStreamsActive, float64(st.streamsActive.Load()))
	for i := range st.rejected {
		if n := st.rejected[i].Load(); n > 0 || knownReject(i) {
			counter(descRejected, float64(n), rejectReason(i, len(st.rejected)))
		}
	}
	counter(descCancelled, float64(st.cancelled.Load()))
	counter(descConns, float64(st.connsAccepted.Load()))
	gauge(descConnsActive, float64(st.connsActive.Load()))
	counter(descConnsRefused, float64(st.connsRefused.Load()))
	counter(descConnsRefusedIP, float64(st.connsRefusedPerIP.Load()))
	counter(descHandshakeFail, float64(m.handshakeFailures.Load()))
	counter(descAuthFailures, float64(st.authFailures.Load()))
	counter(descRateWaits, float64(m.rateLimitWaits.Load()))
	counter(descRateWaitSeconds, time.Duration(m.rateLimitWaitNanos.Load()).Seconds())
	counter(descInflightWaits, float64(st.inflightWaits.Load()))
	counter(descBufferWaits, float64(st.bufferWaits.Load()))
	gauge(descBufferBytes, float64(st.sendBufferBytes.Load()))
	n, bytes := m.s.servedTotals()
	gauge(descFiles, float64(n))
	gauge(descFileBytes, float64(bytes))
	counter(descHashed, float64(st.filesHashed.Load()))
	counter(descFromCache, float64(st.filesCached.Load()))
	counter(descReloads, float64(m.reloadsOK.Load()), "ok")
	counter(descReloads, float64(m.reloadFailures.Load()), "error")
	up := 0.0
	if m.s.state.Load() == stateServing {
		up = 1
	}
	gauge(descUp, up)
}

// sendLimiter is the seed's rate.Limiter that counts the waits it imposes.
type sendLimiter struct {
	*rate.Limiter
	m *metrics
}

// WaitN is rate.Limiter.WaitN, counting a wait when the tokens are not
// there yet.
func (l *sendLimiter) WaitN(ctx context.Context, n int) error {
	r := l.ReserveN(time.Now(), n)
	if !r.OK() {
		return fmt.Errorf("rate: wait(n=%d) exceeds the limiter's burst", n)
	}
	d := r.Delay()
	if d <= 0 {
		return nil
	}
	l.m.rateLimitWaits.Add(1)
	start := time.Now()
	defer func() { l.m.rateLimitWaitNanos.Add(int64(time.Since(start))) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}

// handshakeKey marks a connection's context with whether its handshake
// completed (Serve accepted it).
type handshakeKey struct{}

// connContext is the transport's ConnContext: quic-go cancels the context it
// gets when the connection ends or its handshake fails, so a context that
// ends before Serve accepted its connection, while Serve still accepts, is a
// failed handshake. One cut short by the seed's own shutdown is not.
func (s *Server) connContext(ctx context.Context, ci *quic.ClientInfo) (context.Context, error) {
	accepted := new(atomic.Bool)
	context.AfterFunc(ctx, func() {
		if !accepted.Load() && s.state.Load() == stateServing && s.hardCtx.Err() == nil {
			s.metrics.handshakeFailures.Add(1)
			s.log.Debug("handshake failed", "remote", ci.RemoteAddr, "reason", context.Cause(ctx))
		}
	})
	return context.WithValue(ctx, handshakeKey{}, accepted), nil
}

// handshakeDone marks conn's handshake as completed.
func handshakeDone(conn *quic.Conn) {
	if a, ok := conn.Context().Value(handshakeKey{}).(*atomic.Bool); ok {
		a.Store(true)
	}
}
