package seed

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/quicxfer/quicxfer/internal/units"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// ErrClosed is returned by Serve on a Server that was closed or already served.
var ErrClosed = errors.New("seed: server closed")

// Receive windows: a seed only receives small request frames, so it offers
// small windows and a client cannot make it buffer much.
const (
	streamReceiveWindow = 64 << 10
	connReceiveWindow   = 1 << 20
)

// Server is a seed: it serves the files found under Options.Paths.
type Server struct {
	opts     Options
	log      *slog.Logger
	set      atomic.Pointer[fileSet] // what is served; Reload swaps it
	roots    []*os.Root              // one per PATH (nil for one that could not be opened at a reload); under reloadMu
	reloadMu sync.Mutex
	cacheDir string
	guard    *guard // what is never served
	pin      wire.Pin
	udp      *net.UDPConn
	tr       *quic.Transport
	ln       *quic.Listener
	urls     []string
	limiter  *sendLimiter // nil: unlimited
	metrics  *metrics
	state    atomic.Int32        // stateStarting, stateServing, stateStopping
	chunk    int                 // bytes read, rate-limited and written at once
	bufs     sync.Pool           // *[]byte of chunk bytes
	sendMem  *semaphore.Weighted // bytes of chunk buffers in use, at most MaxSendBuffers
	tokens   tokenSet            // digests; empty: not private
	streams  streamTracker
	stats    counters
	swarm    swarmState  // shared files and other sources: swarm.go
	bg       *background // the Serve that Start runs, nil without Start

	hardCtx   context.Context // done once Close is called
	hardStop  context.CancelFunc
	serving   atomic.Bool
	served    chan struct{} // closed when Serve returns
	tearOnce  sync.Once
	closeOnce sync.Once

	mu     sync.Mutex
	conns  map[*quic.Conn]struct{}
	fromIP map[netip.Prefix]int // connections registered, by client address (ipKey)
}

// New scans and hashes the files (cache first), loads or makes the
// certificate and binds the UDP socket. It returns when the server is ready
// to serve; nothing is served until Serve is called.
func New(ctx context.Context, opts Options) (_ *Server, err error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	cacheDir, err := cacheDirOf(o.StateDir)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("manifest cache: %w", err)
	}
	cert, pin, err := loadCert(o)
	if err != nil {
		return nil, err
	}
	// Made once the self-signed key exists, so that it is known by identity.
	g := newGuard(filepath.Dir(cacheDir), keyFiles(o)...)

	hctx, hstop := context.WithCancel(context.Background())
	s := &Server{
		opts:     o,
		log:      log,
		pin:      pin,
		hardCtx:  hctx,
		hardStop: hstop,
		served:   make(chan struct{}),
		conns:    make(map[*quic.Conn]struct{}),
		fromIP:   make(map[netip.Prefix]int),
		chunk:    chunkSize,
		sendMem:  semaphore.NewWeighted(o.MaxSendBuffers),
		tokens:   newTokenSet(o.Tokens),
		cacheDir: cacheDir,
		guard:    g,
	}
	s.metrics = newMetrics(s)
	defer func() {
		if err != nil {
			s.closeOnce.Do(func() {})
			s.teardown()
		}
	}()

	// Bind before hashing: a busy port fails at once, not after an hour of
	// hashing.
	laddr, err := net.ResolveUDPAddr("udp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", o.Listen, err)
	}
	network := "udp" // dual-stack for "[::]:port" or ":port"
	if laddr.IP.To4() != nil {
		network = "udp4" // 0.0.0.0 means IPv4 only
	}
	s.udp, err = net.ListenUDP(network, laddr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", o.Listen, err)
	}
	s.tr = &quic.Transport{Conn: s.udp, ConnContext: s.connContext}
	// The metrics and health endpoint answers from now on: /healthz says
	// "starting" while the files are hashed.
	if o.MetricsListen != "" {
		if err := s.metrics.listen(o.MetricsListen); err != nil {
			return nil, err
		}
	}
	tlsConf := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{wire.ALPN},
	}
	if o.ClientCAFile != "" {
		pool, err := loadClientCAs(o.ClientCAFile)
		if err != nil {
			return nil, err
		}
		tlsConf.ClientAuth = tls.RequireAndVerifyClientCert
		tlsConf.ClientCAs = pool
	}
	s.ln, err = s.tr.Listen(tlsConf, &quic.Config{
		HandshakeIdleTimeout:           o.HandshakeTimeout,
		MaxIdleTimeout:                 o.IdleTimeout,
		MaxIncomingStreams:             int64(o.MaxStreamsPerConn),
		MaxIncomingUniStreams:          -1,
		InitialStreamReceiveWindow:     streamReceiveWindow,
		MaxStreamReceiveWindow:         streamReceiveWindow,
		InitialConnectionReceiveWindow: connReceiveWindow,
		MaxConnectionReceiveWindow:     connReceiveWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", o.Listen, err)
	}

	if o.RateLimit > 0 {
		// A burst of about an eighth of a second, at most one chunk: chunks
		// shrink with the rate so a slow seed still sends smoothly.
		burst := int(min(float64(chunkSize), max(1024, o.RateLimit/8)))
		s.limiter = &sendLimiter{Limiter: rate.NewLimiter(rate.Limit(o.RateLimit), burst), m: s.metrics}
		s.chunk = burst
	}
	s.bufs.New = func() any { b := make([]byte, s.chunk); return &b }

	start := time.Now()
	var files []*servedFile
	s.roots, files, err = scan(o.Paths, s.guard, log)
	if err != nil {
		return nil, err
	}
	files, hashed, cached, err := hashAll(ctx, files, s.guard, &manifestCache{dir: cacheDir}, o.indexing(), log)
	if err != nil {
		return nil, fmt.Errorf("indexing files: %w", err)
	}
	if n, err := (&manifestCache{dir: cacheDir}).prune(time.Now()); err != nil {
		log.Warn("cannot prune the manifest cache", "dir", cacheDir, "err", err)
	} else if n > 0 {
		log.Info("manifest cache pruned: entries of files gone", "removed", n)
	}
	set := newFileSet(files)
	s.metrics.track(files)
	s.set.Store(set)
	total := set.bytes
	s.stats.filesHashed.Store(int64(hashed))
	s.stats.filesCached.Store(int64(cached))
	s.urls = buildURLs(s.udp.LocalAddr().(*net.UDPAddr), pin, log)
	s.swarm.init()
	s.swarm.cacheDir = cacheDir
	for _, p := range o.Peers {
		s.swarm.peers.addAll(p)
	}

	log.Info("seed ready",
		"files", len(files), "bytes", total, "hashed", hashed, "from_cache", cached,
		"took", time.Since(start).Round(time.Millisecond), "listen", s.udp.LocalAddr().String(),
		"rate_limit", units.FormatRate(o.RateLimit), "pin", pin.String(),
		"tokens", len(o.Tokens), "client_certs", o.ClientCAFile != "")
	if len(files) == 0 && len(o.Paths) > 0 {
		log.Warn("no files to serve", "paths", o.Paths)
	}
	return s, nil
}

// buildURLs lists the URLs a client can use: one loopback URL first; for
// an unspecified address also one per non-loopback interface address
// (IPv4 only for 0.0.0.0, IPv4 and IPv6 for a dual-stack socket).
func buildURLs(addr *net.UDPAddr, pin wire.Pin, log *slog.Logger) []string {
	port := uint16(addr.Port)
	mk := func(ip net.IP) string {
		return wire.URL{Host: ip.String(), Port: port, Pin: pin, HasPin: true}.String()
	}
	if !addr.IP.IsUnspecified() {
		return []string{mk(addr.IP)}
	}
	// One loopback URL, then those for other hosts: a dual-stack socket
	// answers [::1] too, but that is this host again.
	v4only := addr.IP.To4() != nil
	urls := []string{mk(net.IPv4(127, 0, 0, 1))}
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		log.Warn("listing interface addresses", "err", err)
		return urls
	}
	for _, a := range ifaddrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip := ipn.IP
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
			continue
		}
		if v4only && ip.To4() == nil {
			continue
		}
		urls = append(urls, mk(ip))
	}
	return urls
}

// URLs returns the seed's URLs, each with the certificate's pin: one
// loopback URL first (127.0.0.1 for an unspecified listen address, which
// [::1] reaches too on a dual-stack socket), then, for an unspecified
// listen address, one per non-loopback interface address: those for other
// hosts.
func (s *Server) URLs() []string { return append([]string(nil), s.urls...) }

// Addr returns the address of the UDP socket.
func (s *Server) Addr() net.Addr { return s.udp.LocalAddr() }

// SetRateLimit changes the rate limit, in bytes per second, of a server
// started with one (Options.RateLimit > 0): get --serve keeps its uploads
// at a share of its measured link this way.
func (s *Server) SetRateLimit(bps float64) error {
	if s.limiter == nil {
		return errors.New("seed: started without a rate limit, so none can be set")
	}
	if !(bps > 0) || math.IsInf(bps, 0) {
		return fmt.Errorf("seed: rate limit must be a positive number of bytes per second, got %v", bps)
	}
	s.limiter.SetLimit(rate.Limit(bps))
	return nil
}

// Pin returns the pin of the certificate the seed presents.
func (s *Server) Pin() wire.Pin { return s.pin }

// Files returns the files served now, full and shared, sorted by name.
func (s *Server) Files() []File {
	files := s.allFiles()
	out := make([]File, len(files))
	for i, f := range files {
		out[i] = f.File
	}
	return out
}

// Serve accepts connections until ctx is done, then shuts down gracefully:
// it stops accepting, refuses new streams with ErrCodeShuttingDown, lets
// in-flight streams finish for up to Options.ShutdownGrace, closes every
// connection with ErrCodeShuttingDown and closes the socket. It returns nil
// after such a shutdown or after Close, and ErrClosed if the server was
// closed before or Serve was called twice.
func (s *Server) Serve(ctx context.Context) error {
	if !s.serving.CompareAndSwap(false, true) {
		return ErrClosed
	}
	defer close(s.served)
	defer s.teardown()
	if s.hardCtx.Err() != nil {
		return ErrClosed
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.hardCtx, cancel)
	defer stop()

	var conns sync.WaitGroup
	var err error
	s.state.Store(stateServing)
	for {
		conn, aerr := s.ln.Accept(actx)
		if aerr != nil {
			if actx.Err() == nil && s.hardCtx.Err() == nil && !errors.Is(aerr, quic.ErrServerClosed) {
				err = fmt.Errorf("accepting connections: %w", aerr)
			}
			break
		}
		handshakeDone(conn)
		if !s.admit(conn) {
			code, reason := wire.ErrCodeBusy, "busy: too many connections"
			if s.hardCtx.Err() != nil {
				code, reason = wire.ErrCodeShuttingDown, "shutting down"
			}
			conns.Go(func() { conn.CloseWithError(quic.ApplicationErrorCode(code), reason) })
			continue
		}
		conns.Go(func() { s.handleConn(conn) })
	}
	s.state.Store(stateStopping)
	s.ln.Close()
	// Connections whose handshake completed but that were not accepted yet
	// are told why they go, like the others (Accept hands them over until
	// the queue is empty, then fails).
	for {
		conn, aerr := s.ln.Accept(context.Background())
		if aerr != nil {
			break
		}
		handshakeDone(conn)
		conns.Go(func() { conn.CloseWithError(quic.ApplicationErrorCode(wire.ErrCodeShuttingDown), "shutting down") })
	}
	s.swarm.stop()

	idle := s.streams.drain()
	if s.hardCtx.Err() == nil {
		if n := s.streams.active(); n > 0 {
			s.log.Info("shutting down: letting requests finish", "streams", n, "grace", s.opts.ShutdownGrace)
		}
		deadline := time.Now().Add(s.opts.ShutdownGrace)
		grace := time.NewTimer(s.opts.ShutdownGrace)
		select {
		case <-idle:
			// The responses are written, not yet delivered: closing a
			// connection drops what is unacknowledged, so give the last
			// packets a few round trips.
			s.linger(time.Until(deadline))
		case <-grace.C:
			s.log.Warn("shutting down: grace period over, cutting requests", "streams", s.streams.active())
		case <-s.hardCtx.Done():
		}
		grace.Stop()
	}
	s.closeConns("shutting down")
	conns.Wait()
	s.log.Info("seed stopped", "bytes_sent", s.stats.bytesSent.Load(), "blocks_sent", s.stats.blocksSent.Load(),
		"ranges_sent", s.stats.rangesSent.Load())
	return err
}

// linger waits a few round trips of the slowest connection, at most limit
// and at most a second, or until Close. A client that reads its streams as
// data arrives (as downloaders do) gets its last bytes; data it received but
// had not read when the close arrives is lost to it, as QUIC drops a closed
// connection's buffers.
func (s *Server) linger(limit time.Duration) {
	var rtt time.Duration
	s.mu.Lock()
	for c := range s.conns {
		st := c.ConnectionStats()
		rtt = max(rtt, 2*st.SmoothedRTT+4*st.MeanDeviation)
	}
	s.mu.Unlock()
	d := min(limit, time.Second, rtt+50*time.Millisecond)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.hardCtx.Done():
	}
}

// Close stops the server at once: it closes every connection with
// ErrCodeShuttingDown, without a grace period, and the socket. If Serve is
// running, Close waits for it to return. Close is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.hardStop()
		if s.ln != nil {
			s.ln.Close()
		}
		s.closeConns("closed")
	})
	if s.serving.Load() {
		<-s.served
	} else {
		s.teardown()
	}
	return nil
}

// teardown releases the socket, the metrics endpoint and the roots once.
func (s *Server) teardown() {
	s.tearOnce.Do(func() {
		s.state.Store(stateStopping)
		s.hardStop() // also stops a Reload in progress
		if s.tr != nil {
			s.tr.Close()
		}
		if s.udp != nil {
			s.udp.Close()
		}
		s.metrics.close()
		s.reloadMu.Lock()
		defer s.reloadMu.Unlock()
		for _, r := range s.roots {
			if r != nil {
				r.Close()
			}
		}
		s.roots = nil
	})
}

// admit registers conn unless the server is full, its address has
// MaxConnsPerIP connections already, or the server is closing.
func (s *Server) admit(conn *quic.Conn) bool {
	ip := ipKey(conn.RemoteAddr())
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) >= s.opts.MaxConns || s.hardCtx.Err() != nil {
		s.stats.connsRefused.Add(1)
		s.log.Debug("refusing connection: busy", "remote", conn.RemoteAddr(), "conns", len(s.conns))
		return false
	}
	if n := s.fromIP[ip]; s.opts.MaxConnsPerIP > 0 && n >= s.opts.MaxConnsPerIP {
		s.stats.connsRefused.Add(1)
		s.stats.connsRefusedPerIP.Add(1)
		s.log.Debug("refusing connection: busy, too many from its address", "remote", conn.RemoteAddr(), "from_address", n)
		return false
	}
	s.conns[conn] = struct{}{}
	s.fromIP[ip]++
	s.stats.connsAccepted.Add(1)
	return true
}

func (s *Server) release(conn *quic.Conn) {
	ip := ipKey(conn.RemoteAddr())
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[conn]; !ok {
		return
	}
	delete(s.conns, conn)
	if s.fromIP[ip] <= 1 {
		delete(s.fromIP, ip)
	} else {
		s.fromIP[ip]--
	}
}

// ipKey is what MaxConnsPerIP counts by: an IPv4 address (also one in
// IPv6 form), or an IPv6 address's /64, since one host is given a whole
// /64 and can pick any address in it.
func ipKey(a net.Addr) netip.Prefix {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			ip = ap.Addr()
		}
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{} // not an IP address: all such count as one
	}
	return p
}

// closeConns closes every registered connection with ErrCodeShuttingDown.
func (s *Server) closeConns(reason string) {
	s.mu.Lock()
	conns := make([]*quic.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.CloseWithError(quic.ApplicationErrorCode(wire.ErrCodeShuttingDown), reason) })
	}
	wg.Wait()
}

// streamTracker counts in-flight request streams and, once draining,
// refuses new ones and signals when the last one ends.
type streamTracker struct {
	mu       sync.Mutex
	n        int
	draining bool
	idle     chan struct{}
}

func (t *streamTracker) add() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.draining {
		return false
	}
	t.n++
	return true
}

func (t *streamTracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 && t.draining {
		close(t.idle)
	}
}

func (t *streamTracker) active() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// drain refuses new streams from now on and returns a channel closed once no
// stream is in flight.
func (t *streamTracker) drain() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.draining {
		t.draining = true
		t.idle = make(chan struct{})
		if t.n == 0 {
			close(t.idle)
		}
	}
	return t.idle
}

// Serve runs a seed for the command line: New, then ready (if not nil) with
// the server once it is ready, then Serve until ctx is done.
func Serve(ctx context.Context, opts Options, ready func(*Server)) error {
	s, err := New(ctx, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	if ready != nil {
		ready(s)
	}
	return s.Serve(ctx)
}
