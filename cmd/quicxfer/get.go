package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

func getCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "download NAME from every seed at once, verified, into OUT",
		ArgsUsage: "NAME",
		Description: `Every block is checked against the file's manifest before it is kept. Partial
data lives in OUT.qxpart and its bitmap in OUT.qxstate; OUT appears, complete
and verified, only at the end. Run the same command again after any
interruption to resume.

Examples:
   quicxfer get --seed URL1 --seed URL2 --seed URL3 -o debian.iso debian.iso
   quicxfer get --seed URL --json isos/debian.iso
   quicxfer get --seed URL --json-progress isos/debian.iso | my-gui
   QUICXFER_TOKEN=... quicxfer get --seed URL -o report.pdf private/report.pdf`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "seed", Required: true, Usage: "a seed's `URL` (repeat for more seeds)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "where the file appears (`OUT`; default: NAME's base name here)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object with the figures of this run when it ends"},
			&cli.StringFlag{Name: "id", Usage: "accept only the manifest with this content `ID`"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress display"},
			&cli.BoolFlag{Name: "json-progress", Usage: "write one JSON event per line on standard output (start, progress, sources joining or dropped, rejected blocks; done or error last) instead of the progress display"},
			&cli.DurationFlag{Name: "json-progress-interval", Value: time.Second, Usage: "how often --json-progress writes a progress event"},
			&cli.IntFlag{Name: "conns-per-seed", Value: 1, Usage: "QUIC connections to each seed; more help on paths with random loss, where one connection's congestion control caps its rate"},
		}, clientAccessFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("get: give exactly one NAME")
			}
			name := c.Args().First()
			out := c.String("output")
			if out == "" {
				out = path.Base(name)
			}
			auth, err := clientAccess(c, c.App.ErrWriter)
			if err != nil {
				return err
			}
			if n := c.Int("conns-per-seed"); n < 1 || n > 64 {
				return usagef("--conns-per-seed: want 1 to 64, got %d", n)
			}
			opts := quicxfer.Options{Seeds: c.StringSlice("seed"), Name: name, Out: out, Auth: auth, ConnsPerSeed: c.Int("conns-per-seed")}
			if s := c.String("id"); s != "" {
				id, err := manifest.ParseID(s)
				if err != nil {
					return usagef("--id: %v", err)
				}
				opts.ID = id
			}
			if c.Bool("json") && c.Bool("json-progress") {
				return usagef("--json and --json-progress: choose one (the last --json-progress event, done or error, carries every --json field)")
			}
			if d := c.Duration("json-progress-interval"); d <= 0 {
				return usagef("--json-progress-interval: want a positive duration, got %s", d)
			}
			view := newProgressView(c.App.Writer, c.App.ErrWriter, c.Bool("quiet"), c.Bool("json-progress"), c.Duration("json-progress-interval"))
			opts.OnProgress, opts.OnEvent, opts.Logf = view.progress, view.event, view.logf
			res, err := quicxfer.Download(c.Context, opts)
			jsonErr := err
			if err != nil && errors.Is(err, context.Canceled) && res != nil {
				err = fmt.Errorf("interrupted; verified blocks are saved in %s.qxpart: run the same command to resume: %w", out, err)
			}
			view.finish(res, err)
			if c.Bool("json") {
				if jerr := writeJSON(c.App.Writer, res, jsonErr); jerr != nil {
					return jerr
				}
			}
			if err != nil {
				return err
			}
			if !c.Bool("quiet") {
				summary(c.App.ErrWriter, out, res)
			}
			return nil
		},
	}
}

type jsonSeed struct {
	URL       string `json:"url"`
	Bytes     int64  `json:"bytes"`
	Blocks    int64  `json:"blocks"`
	BadBlocks int64  `json:"bad_blocks"`
	Received  int64  `json:"received_bytes"`
	Note      string `json:"note,omitempty"`
}

type jsonResult struct {
	Name         string     `json:"name,omitempty"`
	ContentID    string     `json:"content_id,omitempty"`
	Size         int64      `json:"size"`
	FetchedBytes int64      `json:"fetched_bytes"`
	ResumedBytes int64      `json:"resumed_bytes"`
	ElapsedS     float64    `json:"elapsed_s"`
	Seeds        []jsonSeed `json:"seeds"`
	OK           bool       `json:"ok"`
	Error        string     `json:"error,omitempty"`
}

func writeJSON(w io.Writer, res *quicxfer.Result, err error) error {
	return json.NewEncoder(w).Encode(jsonResultOf(res, err))
}

// jsonResultOf is the --json object, also the body of --json-progress's
// last event.
func jsonResultOf(res *quicxfer.Result, err error) jsonResult {
	j := jsonResult{Seeds: []jsonSeed{}, OK: err == nil}
	if err != nil {
		j.Error = err.Error()
	}
	if res != nil {
		j.Name, j.ContentID, j.Size = res.Name, res.ID.String(), res.Size
		j.FetchedBytes, j.ResumedBytes = res.FetchedBytes, res.ResumedBytes
		j.ElapsedS = res.Elapsed.Seconds()
		for _, s := range res.Seeds {
			j.Seeds = append(j.Seeds, jsonSeed{s.URL, s.Bytes, s.Blocks, s.BadBlocks, s.Received, s.Note})
		}
	}
	return j
}
