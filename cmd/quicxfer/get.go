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
	"github.com/quicxfer/quicxfer/seed"
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
   QUICXFER_TOKEN=... quicxfer get --seed URL -o report.pdf private/report.pdf
   quicxfer get --serve --upload-limit 10MB/s --seed URL debian.iso   (share while downloading)`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "seed", Required: true, Usage: "a seed's `URL` (repeat for more seeds)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "where the file appears (`OUT`; default: NAME's base name here)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object with the figures of this run when it ends"},
			&cli.StringFlag{Name: "id", Usage: "accept only the manifest with this content `ID`"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress display"},
			&cli.IntFlag{Name: "conns-per-seed", Value: 1, Usage: "QUIC connections to each seed; more help on paths with random loss, where one connection's congestion control caps its rate"},
		}, append(serveFlags(), clientAccessFlags()...)...),
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
			if err := swarmOptions(c, &opts); err != nil {
				return err
			}
			var sh *sharing
			if c.Bool("serve") {
				up, err := parseRate(c.String("upload-limit"))
				if err != nil {
					return usagef("--upload-limit: %v", err)
				}
				sh, err = startSharing(c.Context, c, seed.Options{Listen: c.String("listen"), RateLimit: up, StateDir: c.String("state-dir")}, "serving while downloading")
				if err != nil {
					return err
				}
				opts.Share, opts.SelfURLs = sh.sharer, sh.srv.URLs()
			}
			var view *progressView
			if !c.Bool("quiet") {
				view = newProgressView(c.App.ErrWriter)
				opts.OnProgress = view.update
			}
			opts.Logf = func(format string, args ...any) {
				if view != nil {
					view.clear()
				}
				fmt.Fprintf(c.App.ErrWriter, "quicxfer: "+format+"\n", args...)
			}
			res, err := quicxfer.Download(c.Context, opts)
			if view != nil {
				view.clear()
			}
			if c.Bool("json") {
				if jerr := writeJSON(c.App.Writer, res, err); jerr != nil {
					return jerr
				}
			}
			if err != nil {
				if sh != nil {
					_ = sh.stop()
				}
				if errors.Is(err, context.Canceled) && res != nil {
					return fmt.Errorf("interrupted; verified blocks are saved in %s.qxpart: run the same command to resume: %w", out, err)
				}
				return err
			}
			if !c.Bool("quiet") {
				summary(c.App.ErrWriter, out, res)
			}
			if sh != nil {
				sh.seedOn(c.Context, c.App.ErrWriter, auth, usedSources(res), res.ID, c.Duration("seed-time"))
				return sh.stop()
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
	return json.NewEncoder(w).Encode(j)
}

func summary(w io.Writer, out string, res *quicxfer.Result) {
	secs := res.Elapsed.Seconds()
	fetched := res.Size - res.ResumedBytes
	rate := 0.0
	if secs > 0 {
		rate = float64(fetched) / secs
	}
	fmt.Fprintf(w, "%s: %s verified (content ID %s) in %s, %s/s", out, formatBytes(float64(res.Size)), res.ID, res.Elapsed.Round(time.Millisecond), formatBytes(rate))
	if res.ResumedBytes > 0 {
		fmt.Fprintf(w, ", %s resumed from disk", formatBytes(float64(res.ResumedBytes)))
	}
	fmt.Fprintln(w)
	for _, s := range res.Seeds {
		share := 0.0
		if fetched > 0 {
			share = 100 * float64(s.Bytes) / float64(fetched)
		}
		line := fmt.Sprintf("  %-60s %10s %5.1f%% %5d blocks", s.URL, formatBytes(float64(s.Bytes)), share, s.Blocks)
		if s.BadBlocks > 0 {
			line += fmt.Sprintf(", %d bad", s.BadBlocks)
		}
		if s.Note != "" {
			line += " (" + s.Note + ")"
		}
		fmt.Fprintln(w, line)
	}
}
