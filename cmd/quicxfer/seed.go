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
   quicxfer seed --listen 127.0.0.1:0 --rate-limit 100Mbit/s big.iso`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "0.0.0.0:4433", Usage: "UDP address to listen on (`HOST:PORT`; port 0 picks a free one)"},
			&cli.StringFlag{Name: "rate-limit", Value: "0", Usage: "cap on bytes per second sent to all clients together: 0 (none), 500KB/s, 12.5MB/s, 100Mbit/s, 4MiB/s"},
			&cli.StringFlag{Name: "state-dir", Usage: "where the seed keeps its key, certificate and manifest cache (default $XDG_STATE_HOME/quicxfer)"},
			&cli.StringFlag{Name: "cert", Usage: "TLS certificate `FILE` (PEM); default: a self-signed one kept in --state-dir"},
			&cli.StringFlag{Name: "key", Usage: "TLS private key `FILE` (PEM), with --cert"},
			&cli.IntFlag{Name: "max-conns", Value: 256, Usage: "concurrent connections; more are refused as busy"},
			&cli.IntFlag{Name: "max-streams", Value: 100, Usage: "concurrent requests per connection"},
			&cli.DurationFlag{Name: "idle-timeout", Value: 30 * time.Second, Usage: "close a connection idle this long"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Action: func(c *cli.Context) error {
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
			for _, p := range c.Args().Slice() {
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
				Logger:            logger,
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
