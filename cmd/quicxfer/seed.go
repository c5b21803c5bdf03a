package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/seed"
)

func seedCommand() *cli.Command {
	return &cli.Command{
		Name:      "seed",
		Usage:     "serve every regular file under each PATH to downloaders",
		ArgsUsage: "PATH...",
		Description: `Hashes the files (manifests are cached across restarts), then prints one line
with the seed's URL (quic://HOST:PORT?pin=...) to standard output and serves
until SIGINT or SIGTERM. Give that URL to 'quicxfer get --seed'.

Examples:
   quicxfer seed /srv/isos
   quicxfer seed --listen 127.0.0.1:0 --rate-limit 100Mbit/s big.iso
   quicxfer seed --token-file /etc/quicxfer/tokens /srv/private    (a private seed)
   quicxfer seed --client-ca clients-ca.pem /srv/private           (clients need a certificate)
   quicxfer seed --from URL1 --from URL2 --id ID /srv/isos         (fill /srv/isos from other seeds, then seed)
   quicxfer seed --peer URL /srv/isos                              (tell clients about another seed)`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "0.0.0.0:4433", Usage: "UDP address to listen on (`HOST:PORT`; port 0 picks a free one)"},
			&cli.StringFlag{Name: "rate-limit", Value: "0", Usage: "cap on bytes per second sent to all clients together: 0 (none), 500KB/s, 12.5MB/s, 100Mbit/s, 4MiB/s"},
			&cli.StringFlag{Name: "state-dir", Usage: "where the seed keeps its key, certificate and manifest cache (default $XDG_STATE_HOME/quicxfer)"},
			&cli.StringFlag{Name: "cert", Usage: "TLS certificate `FILE` (PEM); default: a self-signed one kept in --state-dir"},
			&cli.StringFlag{Name: "key", Usage: "TLS private key `FILE` (PEM), with --cert"},
			&cli.IntFlag{Name: "max-conns", Value: 256, Usage: "concurrent connections; more are refused as busy"},
			&cli.IntFlag{Name: "max-streams", Value: 100, Usage: "concurrent requests per connection"},
			&cli.DurationFlag{Name: "idle-timeout", Value: 30 * time.Second, Usage: "close a connection idle this long; a response whose client reads nothing for this long is dropped"},
			&cli.DurationFlag{Name: "handshake-timeout", Value: seed.DefaultHandshakeTimeout, Usage: "time a client has to complete the QUIC handshake"},
			&cli.DurationFlag{Name: "request-timeout", Value: seed.DefaultRequestTimeout, Usage: "time a client has to send a whole request on a stream"},
			&cli.StringFlag{Name: "max-conn-inflight", Value: "64MiB", Usage: "`SIZE` of block responses one connection may have in progress at once; more wait"},
			&cli.StringFlag{Name: "max-send-buffers", Value: "256MiB", Usage: "memory `SIZE` for send buffers over all connections (64 KiB per response in progress); more wait"},
			&cli.Float64Flag{Name: "max-request-rate", Value: seed.DefaultMaxRequestRate, Usage: "requests per second one connection may make on average; more are refused as busy"},
			&cli.IntFlag{Name: "request-burst", Value: seed.DefaultRequestBurst, Usage: "requests one connection may make at once, above --max-request-rate"},
			&cli.StringSliceFlag{Name: "token", EnvVars: []string{"QUICXFER_TOKEN"}, Usage: "make the seed private: a client must give this access `TOKEN` (repeat for more; QUICXFER_TOKEN holds them comma-separated). --token-file keeps them out of ps"},
			&cli.StringFlag{Name: "token-file", Usage: "make the seed private: access tokens in `FILE`, one a line ('#' starts a comment)"},
			&cli.StringFlag{Name: "client-ca", Usage: "require client certificates signed by the CA certificates in `FILE` (PEM): mutual TLS"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		}, replicateFlags()...),
		Action: func(c *cli.Context) error {
			replicating := len(c.StringSlice("from")) > 0
			if err := checkReplicateFlags(c); err != nil {
				return err
			}
			if c.NArg() == 0 {
				return usagef("seed: give at least one PATH to serve")
			}
			rate, err := parseRate(c.String("rate-limit"))
			if err != nil {
				return usagef("--rate-limit: %v", err)
			}
			if (c.String("cert") == "") != (c.String("key") == "") {
				return usagef("--cert and --key go together")
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return usagef("--log-level: %v", err)
			}
			logger := slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level}))
			tokens := c.StringSlice("token")
			if f := c.String("token-file"); f != "" {
				more, err := readTokens(f)
				if err != nil {
					return err
				}
				tokens = append(tokens, more...)
			}
			var sizes [2]int64
			for i, name := range []string{"max-conn-inflight", "max-send-buffers"} {
				n, err := parseSize(c.String(name))
				if err != nil {
					return usagef("--%s: %v", name, err)
				}
				if n <= 0 {
					return usagef("--%s: must be more than 0", name)
				}
				sizes[i] = n
			}
			if c.Float64("max-request-rate") <= 0 || c.Int("request-burst") <= 0 {
				return usagef("--max-request-rate and --request-burst must be more than 0")
			}
			for _, p := range c.Args().Slice() {
				if replicating {
					break // DIR is made if needed
				}
				if _, err := os.Stat(p); err != nil {
					return fmt.Errorf("cannot serve %s: %w", p, err)
				}
			}
			opts := seed.Options{
				Paths:             c.Args().Slice(),
				Listen:            c.String("listen"),
				RateLimit:         rate,
				StateDir:          c.String("state-dir"),
				CertFile:          c.String("cert"),
				KeyFile:           c.String("key"),
				MaxConns:          c.Int("max-conns"),
				MaxStreamsPerConn: c.Int("max-streams"),
				IdleTimeout:       c.Duration("idle-timeout"),
				HandshakeTimeout:  c.Duration("handshake-timeout"),
				RequestTimeout:    c.Duration("request-timeout"),
				MaxConnInflight:   sizes[0],
				MaxSendBuffers:    sizes[1],
				MaxRequestRate:    c.Float64("max-request-rate"),
				RequestBurst:      c.Int("request-burst"),
				Tokens:            tokens,
				ClientCAFile:      c.String("client-ca"),
				Logger:            logger,
				Peers:             c.StringSlice("peer"),
			}
			if replicating {
				opts.Paths = nil
				return replicate(c, opts, c.Args().First())
			}
			return seed.Serve(c.Context, opts, func(s *seed.Server) {
				urls := s.URLs()
				files := "files"
				if len(s.Files()) == 1 {
					files = "file"
				}
				line := fmt.Sprintf("quicxfer seed ready, serving %d %s: %s", len(s.Files()), files, urls[0])
				if len(urls) > 1 {
					line += " (from other hosts: " + strings.Join(urls[1:], " ") + " )"
				}
				fmt.Fprintln(c.App.Writer, line)
			})
		},
	}
}
