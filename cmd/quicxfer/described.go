package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/link"
	"github.com/quicxfer/quicxfer/quicxfer/metalink"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
)

// What a get's arguments say of a file that has no manifest: the mirrors
// among its arguments (http and https URLs, as aria2 takes them), a
// Metalink (--metalink, or an argument named *.meta4 or *.metalink), and
// a published hash (--checksum, --checksum-file).

// getArgs are a get's arguments, sorted.
type getArgs struct {
	names    []string   // NAMEs: files on the seeds
	mirrors  []string   // --mirror and the http(s) URLs among the arguments, in order
	metalink string     // --metalink, or the one Metalink among the arguments
	link     *link.Link // the one qx: link among the arguments
}

// argKind is what an argument of get is.
type argKind int

const (
	argName     argKind = iota // a NAME on the seeds
	argMirror                  // an http(s) URL: a mirror
	argMetalink                // a Metalink: a local *.meta4 / *.metalink, or its http(s) URL
	argLink                    // a qx: link (quicxfer/link)
)

// kindOf tells what the argument a of get is.
func kindOf(a string) argKind {
	_, _, isURL := strings.Cut(a, "://")
	web := isWebURL(a)
	switch {
	case link.IsLink(a):
		return argLink
	case metalink.Sniff(a, "") && (web || !isURL):
		return argMetalink
	case web:
		return argMirror
	}
	return argName
}

// isWebURL reports whether s is an http or https URL, by its scheme.
func isWebURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	return ok && (strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https"))
}

// splitArgs sorts the arguments of get.
func splitArgs(c *cli.Context) (getArgs, error) {
	g := getArgs{mirrors: c.StringSlice("mirror"), metalink: c.String("metalink")}
	for _, a := range c.Args().Slice() {
		switch kindOf(a) {
		case argMetalink:
			if g.metalink != "" {
				return g, usagef("get: give one Metalink (%s and %s)", showName(redactURL(g.metalink)), showName(redactURL(a)))
			}
			g.metalink = a
		case argMirror:
			g.mirrors = append(g.mirrors, a)
		case argLink:
			if g.link != nil {
				return g, usagef("get: give one link")
			}
			l, err := link.Parse(a)
			if err != nil {
				return g, usagef("get: %v", err)
			}
			g.link = &l
		default:
			g.names = append(g.names, a)
		}
	}
	return g, nil
}

// loadMetalink reads the Metalink at src: a local file, or an http(s) URL
// fetched with hc.
func loadMetalink(ctx context.Context, src string, hc *http.Client) (*metalink.Metalink, error) {
	if !isWebURL(src) {
		f, err := os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("Metalink: %w", err)
		}
		defer f.Close()
		ml, err := metalink.Parse(f)
		if err != nil {
			return nil, fmt.Errorf("Metalink %s: %w", showName(src), err)
		}
		return ml, nil
	}
	ml, err := quicxfer.FetchMetalink(ctx, hc, src)
	if err != nil {
		return nil, fmt.Errorf("Metalink %s: %w", showName(redactURL(src)), err)
	}
	return ml, nil
}

// checksumFlag reads --checksum TYPE=HEX, or the line of --checksum-file
// SUMS for out's name; nil if neither is given.
func checksumFlag(c *cli.Context, out string) (*verify.Hash, error) {
	sum, file := c.String("checksum"), c.String("checksum-file")
	switch {
	case sum != "" && file != "":
		return nil, usagef("get: --checksum and --checksum-file: give one")
	case sum != "":
		h, err := verify.ParseChecksum(sum)
		if err != nil {
			return nil, usagef("--checksum%s: %v", fromEnv(c, "checksum"), err)
		}
		return &h, nil
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--checksum-file: %w", err)
		}
		defer f.Close()
		h, err := verify.ParseSums(f, filepath.Base(out))
		if err != nil {
			return nil, fmt.Errorf("--checksum-file %s: %w", showName(file), err)
		}
		return &h, nil
	}
	return nil, nil
}
