package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/internal/units"
	"github.com/quicxfer/quicxfer/quicxfer/dht"
	"github.com/quicxfer/quicxfer/seed"
)

// seedFlagEnv is the environment variable of a seed flag: QUICXFER_ and the
// flag's name in capitals with '_' for '-' (--rate-limit: QUICXFER_RATE_LIMIT).
func seedFlagEnv(name string) []string {
	return []string{"QUICXFER_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
}

func seedCommand() *cli.Command {
	return &cli.Command{
		Name:      "seed",
		Usage:     "serve every regular file under each PATH to downloaders",
		ArgsUsage: "PATH...",
		Description: `Hashes the files (manifests are cached across restarts; progress is logged
every 5s, and shown on a line of its own when standard error is a terminal),
then prints one line with the seed's URL (quic://HOST:PORT?pin=...) to
standard output and serves until SIGINT or SIGTERM (exit 0, also while
hashing). Give that URL to 'quicxfer get --seed'. SIGHUP
re-scans the PATHs: new files are hashed and served, removed ones are no
longer served, connections and downloads in progress go on.

Every flag can also be set with an environment variable: QUICXFER_ and the
flag's name in capitals, '-' as '_' (--rate-limit: QUICXFER_RATE_LIMIT); a
flag on the command line wins.

Examples:
   quicxfer seed /srv/isos
   quicxfer seed --listen 127.0.0.1:0 --rate-limit 100Mbit/s big.iso
   quicxfer seed --metrics 127.0.0.1:9464 --log-format json /srv/isos
   quicxfer seed --check --state-dir /var/lib/quicxfer /srv/isos    (validate, serve nothing)
   quicxfer seed --token-file /etc/quicxfer/tokens /srv/private    (a private seed)
   quicxfer seed --client-ca clients-ca.pem /srv/private           (clients need a certificate)
   quicxfer seed --from URL1 --from URL2 --id ID /srv/isos         (fill /srv/isos from other seeds, then seed)
   quicxfer seed --peer URL /srv/isos                              (tell clients about another seed)`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "listen", EnvVars: seedFlagEnv("listen"), Value: seed.DefaultListen, Usage: "UDP address to listen on (`HOST:PORT`; no HOST: every address, IPv4 and IPv6; port 0 picks a free one)"},
			&cli.StringFlag{Name: "rate-limit", EnvVars: seedFlagEnv("rate-limit"), Value: "0", Usage: "cap on bytes per second sent to all clients together: 0 (none), 500KB/s, 12.5MB/s, 100Mbit/s, 4MiB/s; any case, and K, M, G alone for KB/s, MB/s, GB/s (10M)"},
			&cli.StringFlag{Name: "state-dir", EnvVars: seedFlagEnv("state-dir"), Usage: "where the seed keeps its key, certificate and manifest cache (default $XDG_STATE_HOME/quicxfer)"},
			&cli.StringFlag{Name: "cert", EnvVars: seedFlagEnv("cert"), Usage: "TLS certificate `FILE` (PEM); default: a self-signed one kept in --state-dir"},
			&cli.StringFlag{Name: "key", EnvVars: seedFlagEnv("key"), Usage: "TLS private key `FILE` (PEM), with --cert"},
			&cli.IntFlag{Name: "max-conns", EnvVars: seedFlagEnv("max-conns"), Value: seed.DefaultMaxConns, Usage: "concurrent connections; more are refused as busy"},
			&cli.IntFlag{Name: "max-conns-per-ip", EnvVars: seedFlagEnv("max-conns-per-ip"), Value: seed.DefaultMaxConnsPerIP, Usage: "concurrent connections from one address (an IPv4 address, an IPv6 /64); more are refused as busy; 0 for no limit"},
			&cli.IntFlag{Name: "max-streams", EnvVars: seedFlagEnv("max-streams"), Value: seed.DefaultMaxStreamsPerConn, Usage: "concurrent requests per connection"},
			&cli.DurationFlag{Name: "idle-timeout", EnvVars: seedFlagEnv("idle-timeout"), Value: seed.DefaultIdleTimeout, Usage: "close a connection idle this long; a response whose client reads nothing for this long is dropped"},
			&cli.DurationFlag{Name: "handshake-timeout", EnvVars: seedFlagEnv("handshake-timeout"), Value: seed.DefaultHandshakeTimeout, Usage: "time a client has to complete the QUIC handshake"},
			&cli.DurationFlag{Name: "request-timeout", EnvVars: seedFlagEnv("request-timeout"), Value: seed.DefaultRequestTimeout, Usage: "time a client has to send a whole request on a stream"},
			&cli.StringFlag{Name: "max-conn-inflight", EnvVars: seedFlagEnv("max-conn-inflight"), Value: units.FormatSize(seed.DefaultMaxConnInflight), Usage: "`SIZE` of block responses one connection may have in progress at once; more wait"},
			&cli.StringFlag{Name: "max-send-buffers", EnvVars: seedFlagEnv("max-send-buffers"), Value: units.FormatSize(seed.DefaultMaxSendBuffers), Usage: "memory `SIZE` for send buffers over all connections (64 KiB per response in progress); more wait"},
			&cli.StringFlag{Name: "conn-send-reserve", EnvVars: seedFlagEnv("conn-send-reserve"), Value: units.FormatSize(seed.DefaultConnSendReserve), Usage: "send-buffer memory `SIZE` each connection has for itself beside --max-send-buffers, so that clients that never read cannot hold every buffer; 0 for none"},
			&cli.Float64Flag{Name: "max-request-rate", EnvVars: seedFlagEnv("max-request-rate"), Value: seed.DefaultMaxRequestRate, Usage: "requests per second one connection may make on average; more are refused as busy"},
			&cli.IntFlag{Name: "request-burst", EnvVars: seedFlagEnv("request-burst"), Value: seed.DefaultRequestBurst, Usage: "requests one connection may make at once, above --max-request-rate"},
			&cli.StringSliceFlag{Name: "token", EnvVars: seedFlagEnv("token"), Usage: "make the seed private: a client must give this access `TOKEN` (repeat for more; QUICXFER_TOKEN holds them comma-separated). --token-file keeps them out of ps"},
			&cli.StringFlag{Name: "token-file", EnvVars: seedFlagEnv("token-file"), Usage: "make the seed private: access tokens in `FILE`, one a line ('#' starts a comment)"},
			&cli.StringFlag{Name: "client-ca", EnvVars: seedFlagEnv("client-ca"), Usage: "require client certificates signed by the CA certificates in `FILE` (PEM): mutual TLS"},
			&cli.StringFlag{Name: "metrics", EnvVars: seedFlagEnv("metrics"), Usage: "serve Prometheus metrics at http://`HOST:PORT`/metrics and health at /healthz (port 0 picks a free one)"},
			&cli.StringFlag{Name: "log-level", EnvVars: seedFlagEnv("log-level"), Value: "info", Usage: "debug, info, warn or error (debug logs every block)"},
			&cli.StringFlag{Name: "log-format", EnvVars: seedFlagEnv("log-format"), Value: "text", Usage: "log lines on standard error as text or json"},
			&cli.BoolFlag{Name: "check", Usage: "validate the configuration (flags, PATHs, state directory, certificate, token files, addresses), print one line and exit; serves and hashes nothing"},
		}, append(replicateFlags(), dhtFlags("announce every served content ID on the BitTorrent mainline DHT, so that get --id finds this seed without its URL", ":6881")...)...),
		Action: runSeed,
	}
}

func runSeed(c *cli.Context) error {
	if err := checkReplicateFlags(c); err != nil {
		return err
	}
	view := newIndexView(c.App.ErrWriter)
	opts, err := seedOptions(c, view)
	if err != nil {
		return err
	}
	opts.OnIndexProgress = view.report
	replicating := len(c.StringSlice("from")) > 0
	if replicating && c.Bool("check") {
		return usagef("--check validates a seed of PATHs; it does not go with --from")
	}
	if c.Bool("check") {
		res, err := seed.Check(opts)
		if err != nil {
			return fmt.Errorf("configuration not OK: %w", err)
		}
		fmt.Fprintln(c.App.Writer, checkSummary(res))
		return nil
	}

	limitMemory(opts)
	if replicating {
		// Nothing to re-scan: a reload signal must not kill a replication.
		signal.Ignore(syscall.SIGHUP)
		opts.Paths = nil
		return replicate(c, opts, c.Args().First())
	}

	// SIGHUP reloads. Caught from before the files are hashed, so that one
	// that arrives early does not kill the seed; it reloads once serving.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	if err := checkSeedDHT(c, opts); err != nil {
		return err
	}
	var dcfg dht.Config
	if c.Bool("dht") {
		dir := opts.StateDir
		if dir == "" {
			if dir, err = seed.DefaultStateDir(); err != nil {
				return err
			}
		}
		if dcfg, err = dhtConfig(c, dir, c.App.ErrWriter); err != nil {
			return err
		}
	}
	s, err := seed.New(c.Context, opts)
	if err != nil {
		if errors.Is(err, context.Canceled) && c.Context.Err() != nil {
			// SIGINT or SIGTERM: the seed stops, as it would serving.
			fmt.Fprintln(c.App.ErrWriter, stoppedIndexing(view.lastReport()))
			return nil
		}
		return err
	}
	defer s.Close()
	var sd *seedDHT
	if c.Bool("dht") {
		if sd, err = startSeedDHT(c.Context, dcfg, s); err != nil {
			return err
		}
		defer sd.close()
	}
	urls := s.URLs()
	line := fmt.Sprintf("quicxfer seed ready, serving %d %s: %s", len(s.Files()), units.Plural(len(s.Files()), "file"), urls[0])
	if len(urls) > 1 {
		line += " (from other hosts: " + strings.Join(urls[1:], " ") + " )"
	}
	fmt.Fprintln(c.App.Writer, line)

	ctx, cancel := context.WithCancel(c.Context)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_, _ = s.Reload(ctx) // it logs its outcome
				if sd != nil {
					sd.served(s)
				}
			}
		}
	})
	err = s.Serve(c.Context)
	cancel()
	wg.Wait()
	return err
}

// stoppedIndexing is the line of a seed stopped before it served, as
// far as p, its last report of indexing, got.
func stoppedIndexing(p seed.IndexProgress) string {
	const line = "quicxfer: seed stopped while indexing"
	if p.Files == 0 {
		return line
	}
	s := fmt.Sprintf("%s (%d of %d %s indexed", line, p.FilesDone, p.Files, units.Plural(p.Files, "file"))
	if p.FilesDone > 0 {
		s += "; the next start does not hash those again"
	}
	return s + ")"
}

// seedOptions turns the flags into seed options, with the logger writing
// to logs; a bad value is a usage error, a file that cannot be read a
// failure.
func seedOptions(c *cli.Context, logs io.Writer) (seed.Options, error) {
	var none seed.Options
	if c.NArg() == 0 {
		return none, usagef("seed: give at least one PATH to serve")
	}
	rate, err := parseRate(c.String("rate-limit"))
	if err != nil {
		return none, usagef("--rate-limit: %v", err)
	}
	if (c.String("cert") == "") != (c.String("key") == "") {
		return none, usagef("--cert and --key go together")
	}
	logger, err := seedLogger(logs, c.String("log-format"), c.String("log-level"))
	if err != nil {
		return none, err
	}
	if err := checkHostPort(c.String("listen")); err != nil {
		return none, usagef("--listen%s: %v", fromEnv(c, "listen"), err)
	}
	if m := c.String("metrics"); m != "" {
		if err := checkHostPort(m); err != nil {
			return none, usagef("--metrics%s: %v", fromEnv(c, "metrics"), err)
		}
	}
	tokens := c.StringSlice("token")
	if f := c.String("token-file"); f != "" {
		more, err := readTokens(f)
		if err != nil {
			return none, err
		}
		tokens = append(tokens, more...)
	}
	var sizes [2]int64
	for i, name := range []string{"max-conn-inflight", "max-send-buffers"} {
		n, err := parseSize(c.String(name))
		if err != nil {
			return none, usagef("--%s: %v", name, err)
		}
		if n <= 0 {
			return none, usagef("--%s: must be more than 0", name)
		}
		sizes[i] = n
	}
	reserve, err := parseSize(c.String("conn-send-reserve"))
	if err != nil {
		return none, usagef("--conn-send-reserve: %v", err)
	}
	if reserve == 0 {
		reserve = -1 // none
	}
	perIP := c.Int("max-conns-per-ip")
	switch {
	case perIP < 0:
		return none, usagef("--max-conns-per-ip: want 0 (no limit) or more, got %d", perIP)
	case perIP == 0:
		perIP = -1 // no limit
	}
	if c.Float64("max-request-rate") <= 0 || c.Int("request-burst") <= 0 {
		return none, usagef("--max-request-rate and --request-burst must be more than 0")
	}
	for _, p := range c.Args().Slice() {
		if len(c.StringSlice("from")) > 0 {
			break // the DIR to fill is made if needed
		}
		if _, err := os.Stat(p); err != nil {
			return none, fmt.Errorf("cannot serve %s: %w", p, err)
		}
	}
	return seed.Options{
		Paths:             c.Args().Slice(),
		Listen:            c.String("listen"),
		RateLimit:         rate,
		StateDir:          c.String("state-dir"),
		CertFile:          c.String("cert"),
		KeyFile:           c.String("key"),
		MaxConns:          c.Int("max-conns"),
		MaxConnsPerIP:     perIP,
		MaxStreamsPerConn: c.Int("max-streams"),
		IdleTimeout:       c.Duration("idle-timeout"),
		HandshakeTimeout:  c.Duration("handshake-timeout"),
		RequestTimeout:    c.Duration("request-timeout"),
		MaxConnInflight:   sizes[0],
		MaxSendBuffers:    sizes[1],
		ConnSendReserve:   reserve,
		MaxRequestRate:    c.Float64("max-request-rate"),
		RequestBurst:      c.Int("request-burst"),
		Tokens:            tokens,
		ClientCAFile:      c.String("client-ca"),
		MetricsListen:     c.String("metrics"),
		Logger:            logger,
		Peers:             c.StringSlice("peer"),
	}, nil
}

// seedLogger makes the seed's structured logger: text or JSON lines on w,
// from level on.
func seedLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level: %q: want debug, info, warn or error", level)
	}
	ho := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		// Durations as seconds (a number), not slog's nanoseconds.
		ho.ReplaceAttr = func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				a.Value = slog.Float64Value(a.Value.Duration().Seconds())
			}
			return a
		}
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, usagef("--log-format: %q: want text or json", format)
}

// checkHostPort checks that addr is HOST:PORT with a port from 0 to 65535
// and HOST empty (every interface), an IP address or a host name; what
// only binding or resolving can tell (a name that does not resolve, an
// address that is not this host's) is left to them.
func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want HOST:PORT", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: bad port %q: want a number from 0 to 65535", addr, port)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && !isHostName(host) {
			return fmt.Errorf("%q: bad host %q: want an IP address or a host name", addr, host)
		}
	}
	return nil
}

// isHostName reports whether s is a host name by its syntax (RFC 1123):
// dot-separated labels of letters, digits and inner hyphens, 1 to 63 bytes
// each, 253 in all, the last not all digits (else it is a mistyped IPv4
// address, such as 10.0.0.256).
func isHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}

// checkSummary is the one line --check prints; it never holds a token.
func checkSummary(r seed.CheckResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "quicxfer seed: configuration OK: %d %s (%s) under %d %s", r.Files, units.Plural(r.Files, "file"), formatBytes(float64(r.Bytes)), r.Paths, units.Plural(r.Paths, "PATH"))
	if r.Unreadable > 0 {
		fmt.Fprintf(&b, ", %d unreadable (skipped)", r.Unreadable)
	}
	fmt.Fprintf(&b, "; listen %s", r.Listen)
	if r.MetricsListen != "" {
		fmt.Fprintf(&b, "; metrics %s", r.MetricsListen)
	}
	fmt.Fprintf(&b, "; state dir %s", r.StateDir)
	if r.StateDirNew {
		b.WriteString(" (to be made)")
	}
	fmt.Fprintf(&b, "; certificate: %s", r.Certificate)
	switch {
	case r.Tokens > 0 && r.ClientCA:
		fmt.Fprintf(&b, "; private: %d tokens and client certificates", r.Tokens)
	case r.Tokens > 0:
		fmt.Fprintf(&b, "; private: %d tokens", r.Tokens)
	case r.ClientCA:
		b.WriteString("; private: client certificates")
	default:
		b.WriteString("; public")
	}
	return b.String()
}

// limitMemory gives the Go runtime a soft memory limit a little above what
// the seed's own limits allow it to hold (seed.Options.MemoryBound).
// GOMEMLIMIT, when set, wins.
func limitMemory(o seed.Options) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(o.MemoryBound())
}
