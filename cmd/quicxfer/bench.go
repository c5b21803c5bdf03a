package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/bench"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "run the benchmark suite on this machine and write its report",
		Description: `Runs the scenarios of the benchmark (bench/doc.go): real seeds behind emulated
links on 127.0.0.1, each download by this binary as a child process
('quicxfer get --json'), with the raw quic-go ceiling and aria2c (if installed)
as baselines. Writes report.md, report.json and one plot per scenario to --out.

A full run takes tens of minutes and several GiB of disk under --work;
--smoke runs every scenario on tiny files in seconds.

Examples:
   quicxfer bench
   quicxfer bench --smoke --out /tmp/smoke
   quicxfer bench --size 64MiB --only 2,3,4`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "size", Value: "1GiB", Usage: "file `SIZE` of scenarios 1-6, 8 and 10, and the total of scenarios 7 and 11 (split over their downloaders); scenario 9 uses 4 times it"},
			&cli.BoolFlag{Name: "smoke", Usage: "tiny files (4 MiB, scenario 9 16 MiB): checks that every scenario runs, in seconds"},
			&cli.StringFlag{Name: "only", Usage: "run only these scenarios (`LIST` of numbers, e.g. 1,2,5; 10 is the seed under attack, 11 the swarm)"},
			&cli.StringFlag{Name: "out", Usage: "report `DIR` (default bench/results/YYYY-MM-DD)"},
			&cli.StringFlag{Name: "work", Usage: "working `DIR` for the files (default: a temporary directory, removed after)"},
			&cli.BoolFlag{Name: "keep", Usage: "keep each scenario's working directory"},
			&cli.BoolFlag{Name: "no-aria2", Usage: "leave out the aria2c baseline"},
			&cli.BoolFlag{Name: "kernel", Usage: "root only: shape the rate-only scenarios (2, 3, 8) with kernel links, each seed in its own network namespace behind a veth with tbf, instead of the user-space links (no delay or loss: no netem here)"},
		},
		Action: func(c *cli.Context) error {
			// The raw ceiling's server runs as this command in a child
			// process (bench.RawOptions.ChildArgs); there it ends here.
			bench.RunChild()
			if c.NArg() > 0 {
				return usagef("bench: no arguments expected")
			}
			opts, err := benchOptions(c)
			if err != nil {
				return err
			}
			out := c.String("out")
			if out == "" {
				out = filepath.Join("bench", "results", time.Now().Format("2006-01-02"))
			}
			work := c.String("work")
			if work == "" {
				work, err = os.MkdirTemp("", "quicxfer-bench-")
				if err != nil {
					return err
				}
				if !opts.Keep {
					defer os.RemoveAll(work)
				}
			}
			results, err := bench.RunSuite(c.Context, opts, work, out)
			bench.WriteTable(c.App.Writer, results)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.ErrWriter, "report: %s\n", filepath.Join(out, "report.md"))
			for _, r := range results {
				if r.Err != "" {
					return fmt.Errorf("scenario %s failed: %s", r.Name, r.Err)
				}
			}
			return nil
		},
	}
}

func benchOptions(c *cli.Context) (bench.SuiteOptions, error) {
	exe, err := os.Executable()
	if err != nil {
		return bench.SuiteOptions{}, fmt.Errorf("finding this binary: %w", err)
	}
	opts := bench.SuiteOptions{
		NoAria2: c.Bool("no-aria2"),
		Keep:    c.Bool("keep"),
		Log:     c.App.ErrWriter,
		Run:     bench.RunOptions{Exe: exe, ChildArgs: []string{"bench"}, Kernel: c.Bool("kernel")},
	}
	if opts.Run.Kernel {
		if why := bench.KernelUnavailable(); why != "" {
			return opts, fmt.Errorf("--kernel: %s", why)
		}
	}
	size, err := parseBenchSize(c.String("size"))
	if err != nil {
		return opts, usagef("--size: %v", err)
	}
	if c.Bool("smoke") {
		if c.IsSet("size") {
			return opts, usagef("--smoke and --size go separately")
		}
		size = 4 << 20
	}
	opts.Size, opts.MemSize = size, 4*size
	if s := c.String("only"); s != "" {
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n > 11 {
				return opts, usagef("--only: %q is not a scenario number (1 to 11)", f)
			}
			opts.Only = append(opts.Only, n)
		}
	}
	return opts, nil
}

// parseBenchSize parses "1073741824", "64MiB", "1GiB" or "500MB" into bytes.
func parseBenchSize(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return n, nil
	}
	f, err := parseRate(s)
	if err != nil || f < 1 || strings.Contains(strings.ToLower(s), "bit") || strings.HasSuffix(s, "/s") {
		return 0, fmt.Errorf("size %q: want bytes with a unit, e.g. 64MiB, 1GiB, 500MB", s)
	}
	return int64(f), nil
}
