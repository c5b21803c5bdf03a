package main

import (
	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// httpFlags say how get reaches HTTP(S) mirrors: over HTTP/3 or not, and
// through a SOCKS5 proxy.
func httpFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "http3", Value: "auto", EnvVars: []string{"QUICXFER_HTTP3"}, Usage: "use https mirrors over HTTP/3 (QUIC): `auto` (once a mirror offers it, in its Alt-Svc header, falling back to HTTP/2 or 1.1 when it fails), always, or never"},
		&cli.StringFlag{Name: "all-proxy", Usage: "reach mirrors through the SOCKS5 proxy at `URL` (socks5://[user:pass@]host[:port] resolves names here, socks5h:// at the proxy); default: ALL_PROXY, if it is a socks5 URL. NO_PROXY names the hosts reached directly; HTTP proxies come from HTTPS_PROXY and HTTP_PROXY"},
	}
}

// httpAccess sets in o what httpFlags say.
func httpAccess(c *cli.Context, o *quicxfer.ClientOptions) error {
	mode, err := quicxfer.ParseHTTP3Mode(c.String("http3"))
	if err != nil {
		return usagef("--http3%s: %v", fromEnv(c, "http3"), err)
	}
	o.HTTP3, o.Proxy = mode, c.String("all-proxy")
	if o.Proxy == "" {
		return nil
	}
	if mode == quicxfer.HTTP3Always {
		return usagef("--http3 always and --all-proxy: HTTP/3 goes over UDP, which a SOCKS5 proxy does not carry; give one")
	}
	if err := quicxfer.CheckProxy(o.Proxy); err != nil {
		return usagef("--all-proxy: %v", err)
	}
	return nil
}
