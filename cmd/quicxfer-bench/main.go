// Command quicxfer-bench runs quicxfer's benchmark suite (package bench) on
// this machine and writes its report. It is a binary of its own so that the
// quicxfer binary users run links none of it (no plotting, no attack code).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/bench"
	"github.com/quicxfer/quicxfer/internal/units"
)

// usageError marks errors in how the command was called (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	// The raw ceiling's server and scenario 10's attackers run as this
	// binary in child processes (bench.RunOptions.ChildArgs); there they
	// end here.
	bench.RunChild()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp(os.Stdout, os.Stderr).RunContext(ctx, os.Args)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err as one line and returns the exit code: 0 done, 1
// failed, 2 called wrongly, 130 interrupted (as quicxfer's).
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "quicxfer-bench: %v\n", err)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return 2
	case errors.Is(err, context.Canceled):
		return 130
	}
	return 1
}

func newApp(stdout, stderr io.Writer) *cli.App {
	cmd := benchCommand()
	return &cli.App{
		Name:            "quicxfer-bench",
		Usage:           cmd.Usage,
		Description:     cmd.Description,
		Flags:           cmd.Flags,
		Action:          cmd.Action,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "run the benchmark suite on this machine and write its report",
		Description: `Runs the scenarios of the benchmark (bench/doc.go): real seeds behind emulated
links on 127.0.0.1, each download by the quicxfer binary as a child process
('quicxfer get --json'), with the raw quic-go ceiling and aria2c (if installed)
as baselines. The quicxfer binary is --quicxfer BIN, or else built from this
module's source into the working directory (go build). Writes report.md, report.json and one plot per scenario to --out.

Scenario 12 (HTTP mirrors) runs nginx mirrors in network namespaces behind
kernel tbf links, so its parts (a) and (b) need root, iproute2 and nginx;
where they are missing they are skipped with the reason, and its part (c),
HTTP/3 against HTTP/1.1 on loopback, runs anyway.

A full run takes tens of minutes and several GiB of disk under --work;
--smoke runs every scenario on tiny files in seconds.

Examples:
   go run ./cmd/quicxfer-bench
   go run ./cmd/quicxfer-bench --smoke --out /tmp/smoke
   go run ./cmd/quicxfer-bench --size 64MiB --only 2,3,4
   quicxfer-bench --quicxfer ./quicxfer --only 10
   sudo quicxfer-bench --kernel --only 12 --out bench/results/DATE-s12`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "size", Value: "1GiB", Usage: "file `SIZE` of scenarios 1-6, 8 and 10, and the total of scenarios 7 and 11 (split over their downloaders); scenario 9 uses 4 times it; scenario 12 uses 256 MiB unless --size is given"},
			&cli.BoolFlag{Name: "smoke", Usage: "tiny files (4 MiB, scenario 9 16 MiB): checks that every scenario runs, in seconds"},
			&cli.StringFlag{Name: "only", Usage: "run only these scenarios (`LIST` of numbers, e.g. 1,2,5; 10 is the seed under attack, 11 the swarm, 12 the HTTP mirrors)"},
			&cli.StringFlag{Name: "out", Usage: "report `DIR` (default bench/results/YYYY-MM-DD)"},
			&cli.StringFlag{Name: "work", Usage: "working `DIR` for the files (default: a temporary directory, removed after)"},
			&cli.BoolFlag{Name: "keep", Usage: "keep each scenario's working directory"},
			&cli.BoolFlag{Name: "no-aria2", Usage: "leave out the aria2c baseline"},
			&cli.StringFlag{Name: "quicxfer", Usage: "the quicxfer `BIN` the downloads and seeds run as (default: built from this module with go build)"},
			&cli.BoolFlag{Name: "kernel", Usage: "root only: shape the rate-only scenarios (2, 3, 8) with kernel links, each seed in its own network namespace behind a veth with tbf, instead of the user-space links (no delay or loss: no netem here); scenario 12's nginx mirrors are always on kernel links, and skipped where they cannot be made"},
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
			if opts.Run.Exe == "" {
				if opts.Run.Exe, err = buildQuicxfer(c.Context, work, c.App.ErrWriter); err != nil {
					return err
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
	opts := bench.SuiteOptions{
		NoAria2: c.Bool("no-aria2"),
		Keep:    c.Bool("keep"),
		Log:     c.App.ErrWriter,
		// The children of bench (raw server, attackers) are this binary,
		// which calls bench.RunChild first: no arguments lead to it.
		Run: bench.RunOptions{Exe: c.String("quicxfer"), Kernel: c.Bool("kernel")},
	}
	if opts.Run.Exe != "" {
		exe, err := exec.LookPath(opts.Run.Exe)
		if err != nil {
			return opts, usagef("--quicxfer: %v", err)
		}
		if opts.Run.Exe, err = filepath.Abs(exe); err != nil {
			return opts, usagef("--quicxfer: %v", err)
		}
	}
	if opts.Run.Kernel {
		if why := bench.KernelUnavailable(); why != "" {
			return opts, fmt.Errorf("--kernel: %s", why)
		}
	}
	size, err := units.ParseSize(c.String("size"))
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
	if c.IsSet("size") || c.Bool("smoke") {
		opts.MirrorsSize = size
	}
	if s := c.String("only"); s != "" {
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n > 12 {
				return opts, usagef("--only: %q is not a scenario number (1 to 12)", f)
			}
			opts.Only = append(opts.Only, n)
		}
	}
	return opts, nil
}

// buildQuicxfer builds the quicxfer binary from this module's source into
// dir, for a run without --quicxfer.
func buildQuicxfer(ctx context.Context, dir string, log io.Writer) (string, error) {
	bin := filepath.Join(dir, "quicxfer")
	fmt.Fprintf(log, "building quicxfer into %s (give --quicxfer BIN to use another)\n", bin)
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/quicxfer/quicxfer/cmd/quicxfer").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building quicxfer (go build; or give --quicxfer BIN): %v: %s", err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}
