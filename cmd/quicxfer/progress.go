package main

import (
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui"
	"github.com/quicxfer/quicxfer/quicxfer"
)

// How get shows a download is package ui's; here, what get's flags choose.

// viewOptions are get's flags for a view: --quiet, --json-progress and
// --json-progress-interval, with the command's standard output and error
// and the terminal's kind (TERM).
func viewOptions(c *cli.Context) ui.ViewOptions {
	return ui.ViewOptions{
		Stdout:    c.App.Writer,
		Stderr:    c.App.ErrWriter,
		Mode:      ui.PickMode(c.App.ErrWriter, os.Getenv("TERM"), c.Bool("quiet"), c.Bool("json-progress")),
		JSONEvery: c.Duration("json-progress-interval"),
	}
}

// summary is ui.Summary, for demo.go.
func summary(w io.Writer, out string, res *quicxfer.Result) { ui.Summary(w, out, res) }
