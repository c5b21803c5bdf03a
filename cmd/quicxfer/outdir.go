package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
)

// getOut is where a get writes, from -o OUT and --dir DIR as given.
type getOut struct {
	file string // OUT of a one-file download
	dir  string // the directory of a directory download (get DIR, --all, or NAME found to be one)
	// mkdir is the directory the user asked to have made (--dir DIR, or
	// -o DIR/), made just before the download; "" if none.
	mkdir string
}

// outPaths reads -o and --dir as cp and aria2 do: an -o that is an
// existing directory, or ends in '/', is where the file goes under its own
// base name (NAME's, else the first mirror's); --dir DIR is the directory
// OUT (or a directory download) goes in, -o then naming it below DIR.
// A directory download keeps -o as its directory, as before.
func outPaths(c *cli.Context, name string, mirrors []string, all bool) (getOut, error) {
	o, d := c.String("output"), c.String("dir")
	switch {
	case o == "" && c.IsSet("output"):
		return getOut{}, usagef("get: --output%s is empty: give a file name, or leave it out for NAME's base name", fromEnv(c, "output"))
	case d == "" && c.IsSet("dir"):
		return getOut{}, usagef("get: --dir%s is empty: give a directory, or leave it out for here", fromEnv(c, "dir"))
	case d != "" && filepath.IsAbs(o):
		return getOut{}, usagef("get: -o %s is an absolute path: with --dir%s DIR, give OUT relative to DIR", showName(o), fromEnv(c, "dir"))
	}
	var g getOut
	into := strings.HasSuffix(o, "/")
	if into {
		g.mkdir = filepath.Join(d, o)
	} else if d != "" {
		g.mkdir = d
	}

	// A directory download: -o is the directory.
	g.dir = o
	if g.dir == "" {
		g.dir = "."
		if !all {
			g.dir = defaultOut(strings.TrimSuffix(name, "/"), nil)
		}
	}
	if d != "" {
		g.dir = filepath.Join(d, g.dir)
	}

	base := defaultOut(name, mirrors)
	if !into && o != "" {
		if fi, err := os.Stat(filepath.Join(d, o)); err == nil && fi.IsDir() {
			into = true
		}
	}
	switch {
	case o == "" && base == "":
		return g, usagef("get: give NAME or -o OUT")
	case into && base == "":
		return g, usagef("get: -o %s is a directory, and neither NAME nor a mirror's URL names the file: give -o DIR/FILE", showName(o))
	case o == "":
		g.file = filepath.Join(d, base)
	case into:
		g.file = filepath.Join(d, o, base)
	default:
		g.file = filepath.Join(d, o)
	}
	return g, nil
}

// prepare makes the directory the user asked for (--dir DIR, -o DIR/) and
// checks that OUT's directory is there: a download into a directory that
// does not exist fails at once, in one line that names it, rather than
// with the error of opening its partial file.
func (g getOut) prepare(out string) error {
	if g.mkdir != "" {
		if err := os.MkdirAll(g.mkdir, 0o777); err != nil {
			if pe, ok := errors.AsType[*fs.PathError](err); ok {
				err = pe.Err
			}
			return fmt.Errorf("making the directory %s: %w", showName(g.mkdir), err)
		}
	}
	parent := filepath.Dir(out)
	fi, err := os.Stat(parent)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("-o %s: there is no directory %s: make it first (an -o that ends in / is made: -o %s/)", showName(out), showName(parent), showName(parent))
	case err != nil:
		return fmt.Errorf("-o %s: %w", showName(out), err)
	case !fi.IsDir():
		return fmt.Errorf("-o %s: %s is not a directory", showName(out), showName(parent))
	}
	return nil
}
