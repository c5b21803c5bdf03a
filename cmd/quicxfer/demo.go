package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/internal/digest"
	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/internal/randfile"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/seed"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a whole download on loopback: three rate-limited seeds, an interruption half way, a resume",
		Description: `Generates a file, starts three seeds on 127.0.0.1 limited to 40, 20 and 10 MB/s,
downloads the file from all three, interrupts the download about half way,
resumes it, checks the result byte for byte, and prints what each seed
contributed. Everything lives in a temporary directory that is removed after.

Examples:
   quicxfer demo
   quicxfer demo --size-mib 512
   quicxfer demo --size-mib 32 --keep     # look at the files afterwards`,
		Flags: []cli.Flag{
			&cli.Int64Flag{Name: "size-mib", Value: 128, Usage: "size of the generated file in MiB"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the temporary directory"},
		},
		Action: func(c *cli.Context) error {
			// Before any seed starts: a file of no bytes cannot be
			// interrupted half way, and one past int64 cannot be written.
			if n := c.Int64("size-mib"); n <= 0 || n > math.MaxInt64>>20 {
				return usagef("demo: --size-mib%s: want a positive number of MiB, got %d", envNote(c, "size-mib"), n)
			}
			if c.NArg() != 0 {
				return usagef("demo: takes no arguments, only flags")
			}
			return runDemo(c.Context, c.App.Writer, c.Int64("size-mib")<<20, c.Bool("keep"))
		},
	}
}

func runDemo(ctx context.Context, w io.Writer, size int64, keep bool) error {
	dir, err := os.MkdirTemp("", "quicxfer-demo-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintf(w, "working in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	srcDir := filepath.Join(dir, "served")
	if err := os.Mkdir(srcDir, 0o755); err != nil {
		return err
	}
	const name = "demo.bin"
	fmt.Fprintf(w, "generating %s (%s) ...\n", name, formatBytes(float64(size)))
	want, err := randfile.Write(filepath.Join(srcDir, name), size, demoSeed)
	if err != nil {
		return err
	}

	ctx, stopSeeds := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopSeeds()
		wg.Wait()
	}()
	rates := []float64{40e6, 20e6, 10e6}
	var urls []string
	for i, rate := range rates {
		s, err := seed.New(ctx, seed.Options{
			Paths:     []string{srcDir},
			Listen:    "127.0.0.1:0",
			RateLimit: rate,
			StateDir:  filepath.Join(dir, fmt.Sprintf("seed%d", i+1)),
			Logger:    slog.New(slog.DiscardHandler),
		})
		if err != nil {
			return fmt.Errorf("starting seed %d: %w", i+1, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Serve(ctx)
		}()
		urls = append(urls, s.URLs()[0])
		fmt.Fprintf(w, "seed %d: %s/s  %s\n", i+1, formatBytes(rate), s.URLs()[0])
	}

	out := filepath.Join(dir, "downloaded.bin")
	opts := quicxfer.Options{Seeds: urls, Name: name, Out: out, Logf: func(f string, a ...any) { fmt.Fprintf(w, "  "+f+"\n", a...) }}

	// First run: interrupted about half way.
	fmt.Fprintf(w, "\ndownloading from all three seeds; interrupting at about 50%% ...\n")
	runCtx, interrupt := context.WithCancel(ctx)
	opts.ProgressInterval = 20e6 // 20 ms
	opts.OnProgress = func(p quicxfer.Progress) {
		if p.Verified >= size/2 {
			interrupt()
		}
	}
	res, err := quicxfer.Download(runCtx, opts)
	interrupt()
	if err == nil {
		return errors.New("demo: the download finished before it could be interrupted; try a larger --size-mib")
	}
	if !errors.Is(err, context.Canceled) {
		return err
	}
	fmt.Fprintf(w, "interrupted after %s: %s received; verified blocks saved in %s\n",
		res.Elapsed.Round(1e6), formatBytes(float64(res.FetchedBytes)), filepath.Base(partial.PartPath(out)))

	// Second run: the same command resumes.
	fmt.Fprintf(w, "\nresuming with the same command ...\n")
	opts.OnProgress = nil
	res, err = quicxfer.Download(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "resumed: %s were already verified on disk, %s fetched in %s\n",
		formatBytes(float64(res.ResumedBytes)), formatBytes(float64(res.FetchedBytes)), res.Elapsed.Round(1e6))

	got, err := digest.File(out)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("demo: %s differs from the original", out)
	}
	fmt.Fprintf(w, "\n%s is byte-identical to the original (SHA-256 %x...)\n\n", filepath.Base(out), got[:8])
	summary(w, filepath.Base(out), res)
	return nil
}

// demoSeed is the seed of the demo file's pseudo-random content.
const demoSeed = 'q' | 'x'<<8
