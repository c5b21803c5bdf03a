package seed

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// Defaults for the zero values of Options.
const (
	DefaultListen            = ":4433"
	DefaultMaxConns          = 256
	DefaultMaxConnsPerIP     = 64
	DefaultMaxStreamsPerConn = 100
	DefaultIdleTimeout       = 30 * time.Second
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultRequestTimeout    = 10 * time.Second
	DefaultShutdownGrace     = 5 * time.Second
	DefaultMaxConnInflight   = 64 << 20
	DefaultMaxSendBuffers    = 64 << 20
	DefaultConnSendReserve   = 256 << 10
	DefaultMaxRequestRate    = 5000
	DefaultRequestBurst      = 1000
	DefaultIndexLogEvery     = 5 * time.Second

	// chunkSize is the most a stream reads from disk, waits for from the rate
	// limiter, or holds in memory at once.
	chunkSize = 64 << 10
)

// Options configure a Server. The zero value of each field means its default.
type Options struct {
	// Paths are files or directories; every regular file under each is
	// served. A file's name is its path relative to the PATH it was found
	// under, with '/'; a file PATH is served under its base name.
	Paths []string
	// Listen is the UDP address to bind, default ":4433": every address,
	// IPv4 and IPv6 (where the host has IPv6). An IPv4 address
	// ("0.0.0.0:4433", "127.0.0.1:0") binds IPv4 only, an IPv6 one
	// ("[::1]:4433") that one; port 0 picks a free port.
	Listen string
	// RateLimit is bytes per second for all clients together; 0 is unlimited.
	RateLimit float64
	// StateDir keeps the self-signed key and certificate (so the pin
	// survives restarts) and the manifest cache. Default
	// $XDG_STATE_HOME/quicxfer, or ~/.local/state/quicxfer.
	StateDir string
	// CertFile and KeyFile name the operator's own certificate and key (PEM);
	// both or neither.
	CertFile, KeyFile string
	// MaxConns bounds concurrent connections, default 256; past it a new
	// connection is closed with wire.ErrCodeBusy.
	MaxConns int
	// MaxConnsPerIP bounds the connections from one address (an IPv4
	// address; an IPv6 /64, what one host is given), default 64, as many
	// as a downloader opens to one seed at most
	// (quicxfer.DefaultMaxConnsPerSeed): past it a new connection from
	// that address is closed with wire.ErrCodeBusy, as past MaxConns, so
	// that one address cannot take every connection. Negative: no limit.
	MaxConnsPerIP int
	// MaxStreamsPerConn bounds concurrent request streams per connection,
	// default 100.
	MaxStreamsPerConn int
	// IdleTimeout closes a silent connection, default 30s.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds the QUIC handshake, default 10s.
	HandshakeTimeout time.Duration
	// RequestTimeout is the time a client has to send its whole request on a
	// stream (frame and FIN), default 10s.
	RequestTimeout time.Duration
	// MaxConnInflight bounds the bytes of block responses one connection may
	// have in progress at once, default 64 MiB: a block, or a range of one,
	// counts with its length (at most MaxConnInflight) from its first byte to its last, and a
	// request past the bound waits for one to end. It keeps one connection
	// from taking every send buffer.
	MaxConnInflight int64
	// MaxSendBuffers bounds the memory of send buffers over all
	// connections, default 64 MiB (1024 responses in progress at once). Every response in progress holds one
	// chunk (64 KiB at most); a response waits for a free one.
	MaxSendBuffers int64
	// ConnSendReserve is send-buffer memory each connection has for
	// itself, beside MaxSendBuffers, default 256 KiB (four buffers): a
	// response takes its buffer from its connection's reserve first, then
	// from the shared MaxSendBuffers, and when both are used up it waits
	// for its own connection's reserve, which one of its own responses
	// gives back. So clients that never read cannot starve the others by
	// holding every shared buffer. Worst-case memory for send buffers is
	// MaxSendBuffers + MaxConns × ConnSendReserve. Negative: no reserve.
	ConnSendReserve int64
	// MaxRequestRate is the requests (streams) per second one connection may
	// open, on average, default 5000; RequestBurst, default 1000, is how many
	// it may open at once. Streams past the rate are reset with
	// wire.ErrCodeBusy without being read.
	MaxRequestRate float64
	RequestBurst   int
	// Tokens make the seed private: every request on a connection is refused
	// with wire.ErrCodeUnauthorized until the connection sends one of them in
	// an AUTH frame (1 to wire.MaxTokenLen bytes each). They are compared in
	// constant time and never logged.
	Tokens []string
	// ClientCAFile names a PEM file of CA certificates: the seed then asks
	// every client for a certificate and refuses a connection without one
	// that these CAs signed (mutual TLS). With Tokens as well, a client needs
	// both.
	ClientCAFile string
	// ShutdownGrace is how long in-flight streams may run on after Serve's
	// context ends, default 5s.
	ShutdownGrace time.Duration
	// HashWorkers is how many goroutines hash at start-up, default GOMAXPROCS.
	HashWorkers int
	// IndexLogEvery is how often a line of progress ("indexing": files
	// and bytes indexed, the hashing rate, an ETA) is logged at info while
	// the files are indexed, at start-up and at a reload, default 5s; when
	// one was, a last one ("indexed") follows at the end.
	IndexLogEvery time.Duration
	// OnIndexProgress, if set, is called while the files are indexed,
	// about twice a second, and once more when indexing ends (Done), from
	// one goroutine at a time: a terminal shows it on a line of its own.
	OnIndexProgress func(IndexProgress)
	// indexReader, if set (tests), wraps each file's reader as it is
	// hashed.
	indexReader func(name string, r io.ReaderAt) io.ReaderAt
	// MetricsListen, if set, is a TCP address (HOST:PORT; port 0 picks a
	// free one) where the seed serves Prometheus metrics at /metrics and its
	// health at /healthz, from New on.
	MetricsListen string
	// Logger receives the seed's logs; default discards.
	Logger *slog.Logger
	// NoPaths allows Paths to be empty: the server then serves only files
	// added with Share (a downloader that shares what it has).
	NoPaths bool
	// Peers are URLs of other sources of the same files, told to clients
	// that ask (GET_PEERS), for every file served.
	Peers []string
}

func (o Options) withDefaults() (Options, error) {
	if len(o.Paths) == 0 && !o.NoPaths {
		return o, errors.New("no paths to serve")
	}
	o.Peers = slices.Clone(o.Peers)
	for i, p := range o.Peers {
		u, err := wire.ParseURL(p)
		if err != nil {
			return o, fmt.Errorf("peer %d: %w", i+1, err)
		}
		o.Peers[i] = u.String()
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return o, errors.New("certificate and key: give both files or neither")
	}
	if o.RateLimit < 0 {
		return o, fmt.Errorf("negative rate limit %v", o.RateLimit)
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	o.sendMemoryDefaults()
	if o.MaxConnsPerIP == 0 {
		o.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	positive(&o.MaxStreamsPerConn, DefaultMaxStreamsPerConn)
	positive(&o.IdleTimeout, DefaultIdleTimeout)
	positive(&o.HandshakeTimeout, DefaultHandshakeTimeout)
	positive(&o.RequestTimeout, DefaultRequestTimeout)
	positive(&o.ShutdownGrace, DefaultShutdownGrace)
	positive(&o.MaxConnInflight, DefaultMaxConnInflight)
	positive(&o.MaxRequestRate, DefaultMaxRequestRate)
	positive(&o.RequestBurst, DefaultRequestBurst)
	for i, t := range o.Tokens {
		if err := wire.CheckToken([]byte(t)); err != nil {
			return o, fmt.Errorf("token %d: %w", i+1, err) // never the token itself
		}
	}
	positive(&o.HashWorkers, runtime.GOMAXPROCS(0))
	positive(&o.IndexLogEvery, DefaultIndexLogEvery)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StateDir == "" {
		d, err := DefaultStateDir()
		if err != nil {
			return o, err
		}
		o.StateDir = d
	}
	return o, nil
}

// sendMemoryDefaults sets the defaults of the options that bound the
// memory of send buffers: MaxConns, MaxSendBuffers, ConnSendReserve.
func (o *Options) sendMemoryDefaults() {
	positive(&o.MaxConns, DefaultMaxConns)
	positive(&o.MaxSendBuffers, DefaultMaxSendBuffers)
	// Every response needs one chunk buffer, so fewer than one never serves.
	o.MaxSendBuffers = max(o.MaxSendBuffers, chunkSize)
	switch {
	case o.ConnSendReserve == 0:
		o.ConnSendReserve = DefaultConnSendReserve
	case o.ConnSendReserve < 0:
		o.ConnSendReserve = 0
	default:
		o.ConnSendReserve = max(o.ConnSendReserve, chunkSize)
	}
}

// Room for what a seed holds besides its send buffers, in MemoryBound.
const (
	connMemory = 256 << 10 // per connection: its QUIC state and buffers
	baseMemory = 64 << 20  // the rest: the file set, the code, the runtime
)

// MemoryBound returns a little more than the memory a seed with options o
// holds at most: the shared send buffers (MaxSendBuffers), every
// connection's reserve (MaxConns × ConnSendReserve), and room for the
// connections themselves and the rest. A command may give it to the Go
// runtime as a soft memory limit (debug.SetMemoryLimit), so that under load
// the garbage collector works harder instead of letting the heap grow to
// twice what is live.
func (o Options) MemoryBound() int64 {
	o.sendMemoryDefaults()
	conns := int64(o.MaxConns)
	return o.MaxSendBuffers + conns*(o.ConnSendReserve+connMemory) + baseMemory
}

// positive sets *v to def unless it is positive.
func positive[T int | int64 | float64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// DefaultStateDir returns $XDG_STATE_HOME/quicxfer, or
// ~/.local/state/quicxfer when XDG_STATE_HOME is unset.
func DefaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "quicxfer"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the state directory: %w (set --state-dir or XDG_STATE_HOME)", err)
	}
	return filepath.Join(home, ".local", "state", "quicxfer"), nil
}
