package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/internal/pemfile"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// clientAccessFlags are the flags of get and ls that say how to reach a
// private seed and how to check a seed whose URL has no pin.
func clientAccessFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "token", EnvVars: []string{"QUICXFER_TOKEN"}, Usage: "access `TOKEN` for a private seed (better: QUICXFER_TOKEN or --token-file, which ps does not show)"},
		&cli.StringFlag{Name: "token-file", Usage: "read the access token from the first line of `FILE`"},
		&cli.StringFlag{Name: "client-cert", Usage: "client certificate `FILE` (PEM) for a seed that asks for one (mutual TLS)"},
		&cli.StringFlag{Name: "client-key", Usage: "private key `FILE` (PEM) of --client-cert"},
		&cli.StringFlag{Name: "ca", Usage: "CA certificates `FILE` (PEM) to check seeds whose URL has no pin and https mirrors (default: the system's roots)"},
		&cli.BoolFlag{Name: "insecure", Usage: "do not check the certificate of seeds whose URL has no pin, nor of https mirrors (anyone on the path can pose as them; blocks are still verified against the manifest)"},
	}
}

// clientAccess turns the flags of clientAccessFlags into client options. A
// file that cannot be read is an error; flags that do not go together are a
// usage error. With --insecure it prints a warning to w.
func clientAccess(c *cli.Context, w io.Writer) (quicxfer.ClientOptions, error) {
	var o quicxfer.ClientOptions
	token := c.String("token")
	if f := c.String("token-file"); f != "" {
		if onCommandLine(c, "token") {
			return o, usagef("--token and --token-file: give one")
		}
		tokens, err := readTokens(f)
		if err != nil {
			return o, err
		}
		if len(tokens) != 1 {
			return o, fmt.Errorf("token file %s: want one token, found %d", f, len(tokens))
		}
		token = tokens[0]
	}
	if token != "" {
		if err := wire.CheckToken([]byte(token)); err != nil {
			return o, usagef("--token: %v", err)
		}
		o.Token = []byte(token)
	}
	if err := clientTLS(c, "", &o); err != nil {
		return o, err
	}
	if c.Bool("insecure") {
		if o.RootCAs != nil {
			return o, usagef("--ca and --insecure: give one")
		}
		o.Insecure = true
		fmt.Fprintln(w, "quicxfer: warning: --insecure: the certificate of a seed whose URL has no pin, or of an https mirror, is not checked; anyone on the path can pose as it")
	}
	return o, nil
}

// clientTLS reads the flags prefix+"client-cert", prefix+"client-key" and
// prefix+"ca" into o: get and ls have them bare, seed --from as "from-...".
func clientTLS(c *cli.Context, prefix string, o *quicxfer.ClientOptions) error {
	certFlag, keyFlag, caFlag := prefix+"client-cert", prefix+"client-key", prefix+"ca"
	certFile, keyFile := c.String(certFlag), c.String(keyFlag)
	if (certFile == "") != (keyFile == "") {
		return usagef("--%s and --%s go together", certFlag, keyFlag)
	}
	if certFile != "" {
		cert, err := pemfile.KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("--%s: %w", certFlag, err)
		}
		o.Certificate = &cert
	}
	if f := c.String(caFlag); f != "" {
		pool, err := pemfile.CertPool(f)
		if errors.Is(err, pemfile.ErrNoCertificate) {
			return fmt.Errorf("--%s %s: %w", caFlag, f, pemfile.ErrNoCertificate)
		}
		if err != nil {
			return fmt.Errorf("--%s: %w", caFlag, err)
		}
		o.RootCAs = pool
	}
	return nil
}

// maxTokenFileLen bounds a token file: room for tens of thousands of
// tokens, and no more is read.
const maxTokenFileLen = 4 << 20

// readTokens reads access tokens, one a line; blank lines and lines
// starting with '#' are skipped, and spaces around a token are not part of
// it. It reads a regular file only (a FIFO does not block it), of at most
// maxTokenFileLen bytes. Errors never quote a token.
func readTokens(file string) ([]string, error) {
	b, err := atomicfile.ReadFile(file, maxTokenFileLen)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if err := wire.CheckToken([]byte(t)); err != nil {
			return nil, fmt.Errorf("token file %s, line %d: %w", file, n, err)
		}
		tokens = append(tokens, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("token file %s: %w", file, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("token file %s: %w", file, errors.New("no token in it"))
	}
	return tokens, nil
}

// parseSize parses a byte count such as "0", "65536", "512KB", "64MiB",
// "1GiB": decimal prefixes are powers of 1000, binary ones (Ki, Mi, Gi) of
// 1024.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i == 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit, e.g. 64MiB or 512KB", s)
	}
	num, unit := t, ""
	if i > 0 {
		num, unit = t[:i], t[i:]
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: bad number", s)
	}
	scale := map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
	f, ok := scale[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (use B, KB, MB, GB, KiB, MiB or GiB)", s, unit)
	}
	return int64(n * f), nil
}
