package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// # Scenario 1's nginx baseline
//
// With Scenario.Nginx (scenario 1), Run also serves the file from nginx on
// 127.0.0.1, in this network namespace and without a link
// (StartNginxLoopback: one process, sendfile on), and downloads it from
// there
//
//   - with aria2c, once with each of Aria2Variants(sc): the sweep the suite's
//     aria2 baseline makes against the bench's own Go net/http mirror
//     (RunAria2), which still runs and fills the table's aria2 columns;
//   - with `quicxfer get --json --quiet --manifest MFILE --mirror URL -o
//     OUT`, MFILE written beforehand by `quicxfer manifest --out`: every
//     block is verified against the manifest before it is written, as a
//     seed's is (with --checksum instead, only the whole file would be
//     checked, at the end).
//
// Each run's figures are its wall time from launch to exit, the
// downloader's CPU seconds (its rusage) and nginx's over the run
// (procCPU before and after), both also per GiB of the
// file, the body bytes nginx's access log counts for the run, and whether
// the output is the source's bytes (its SHA-256).

// NginxConfig sets up scenario 1's nginx baseline.
type NginxConfig struct {
	NoAria2 bool // leaves out aria2c
}

// NginxBaseline is scenario 1's downloads from nginx on 127.0.0.1.
type NginxBaseline struct {
	// Skipped says why nothing ran (nginx is missing).
	Skipped string `json:"skipped,omitempty"`
	Version string `json:"nginx_version,omitempty"`
	URL     string `json:"url,omitempty"`
	// Aria2Skipped says why aria2c did not run.
	Aria2Skipped string `json:"aria2_skipped,omitempty"`
	// Aria2 is one aria2c run with each of Aria2Variants.
	Aria2 []NginxRun `json:"aria2,omitempty"`
	// Aria2Best is the index in Aria2 of the fastest byte-identical run
	// ("aria2 from nginx" in the report), -1 if none.
	Aria2Best int `json:"aria2_best"`
	// QuicxferSkipped says why `quicxfer get` did not run (no binary).
	QuicxferSkipped string    `json:"quicxfer_skipped,omitempty"`
	Quicxfer        *NginxRun `json:"quicxfer,omitempty"`
}

// NginxRun is one download from scenario 1's nginx.
type NginxRun struct {
	// Options are aria2c's settings (Aria2Options.String), or get's
	// arguments (the output written OUT, the manifest MFILE).
	Options string  `json:"options"`
	Elapsed float64 `json:"elapsed_s"` // launch to exit
	// GetElapsed is `quicxfer get`'s own elapsed_s (--json); 0 for aria2c.
	GetElapsed float64 `json:"get_elapsed_s,omitempty"`
	Throughput float64 `json:"throughput_bytes_per_s"` // size ÷ Elapsed
	CPUSeconds float64 `json:"cpu_s"`                  // the downloader's
	CPUPerGiB  float64 `json:"cpu_s_per_gib"`
	PeakRSS    int64   `json:"peak_rss_bytes"`
	// NginxCPU is nginx's CPU seconds over the run.
	NginxCPU       float64 `json:"nginx_cpu_s"`
	NginxCPUPerGiB float64 `json:"nginx_cpu_s_per_gib"`
	// Sent is the body bytes nginx sent in the run (its access log).
	Sent int64 `json:"nginx_sent_bytes"`
	// Verified is get's --json "verified": checked against the manifest.
	Verified  bool   `json:"verified,omitempty"`
	Identical bool   `json:"byte_identical"`
	Err       string `json:"error,omitempty"`
}

// bestNginxRun returns the index of the fastest byte-identical run of runs, -1 if
// none.
func bestNginxRun(runs []NginxRun) int {
	best := -1
	for i, run := range runs {
		if run.Err == "" && run.Identical && (best < 0 || run.Elapsed < runs[best].Elapsed) {
			best = i
		}
	}
	return best
}

// runNginxBaseline runs scenario 1's nginx baseline in workDir (whose
// served directory holds the file, of SHA-256 want). A download that fails
// is in its run's Err; so is aria2c's, but quicxfer's is also the error
// returned, as is a failure of the bench itself.
func runNginxBaseline(ctx context.Context, sc Scenario, workDir string, o RunOptions, want [32]byte) (*NginxBaseline, error) {
	nb := &NginxBaseline{Aria2Best: -1}
	if _, ok := NginxPath(); !ok {
		nb.Skipped = NginxMissing
		return nb, nil
	}
	dir := filepath.Join(workDir, "nginx")
	outDir := filepath.Join(dir, "out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nb, err
	}
	served := filepath.Join(workDir, "served")
	n, err := StartNginxLoopback(ctx, served, dir)
	if err != nil {
		return nb, err
	}
	defer n.Close()
	nb.Version, nb.URL = nginxVersion(), n.URL("/"+fileName)
	timeout := aria2Timeout(sc)

	var aria2 string
	switch p, err := exec.LookPath("aria2c"); {
	case sc.Nginx != nil && sc.Nginx.NoAria2:
		nb.Aria2Skipped = "left out (--no-aria2)"
	case err != nil:
		nb.Aria2Skipped = Aria2Missing
	default:
		aria2 = p
	}
	if aria2 != "" {
		out := filepath.Join(outDir, fileName)
		for _, opt := range Aria2Variants(sc) {
			args := append(aria2Common(outDir), "--out="+fileName)
			args = append(append(args, opt.Args()...), nb.URL)
			run, err := measureNginx(n, out, want, sc.FileSize, func(run *NginxRun) {
				x := runAria2Child(ctx, aria2, args, timeout)
				run.Elapsed, run.CPUSeconds, run.PeakRSS = x.elapsed, x.cpu, x.rss
				if x.err != nil {
					run.Err = x.err.Error()
				}
			})
			run.Options = opt.String()
			nb.Aria2 = append(nb.Aria2, run)
			if err != nil {
				return nb, err
			}
			if ctx.Err() != nil {
				return nb, ctx.Err()
			}
		}
		nb.Aria2Best = bestNginxRun(nb.Aria2)
	}

	if o.Exe == "" {
		nb.QuicxferSkipped = "needs the quicxfer binary (RunOptions.Exe)"
		return nb, nil
	}
	mfile := filepath.Join(dir, fileName+".qxm")
	if err := writeManifest(ctx, o.Exe, filepath.Join(served, fileName), mfile); err != nil {
		return nb, err
	}
	out := filepath.Join(outDir, "quicxfer.bin")
	args := []string{"get", "--json", "--quiet", "--manifest", mfile, "--mirror", nb.URL, "-o", out}
	run, err := measureNginx(n, out, want, sc.FileSize, func(run *NginxRun) {
		g := runGetChild(ctx, o.Exe, args, timeout)
		run.Elapsed, run.CPUSeconds, run.PeakRSS = g.wall, g.cpu, g.rss
		if j := g.result; j != nil {
			run.GetElapsed, run.Verified = j.ElapsedS, j.Verified
		}
		if g.err != nil {
			run.Err = g.err.Error()
		}
	})
	run.Options = strings.ReplaceAll(strings.Join(shownArgs(args, out), " "), mfile, "MFILE")
	nb.Quicxfer = &run
	if err != nil {
		return nb, err
	}
	switch {
	case run.Err != "":
		return nb, fmt.Errorf("quicxfer get from nginx: %s", run.Err)
	case !run.Verified:
		return nb, errors.New("quicxfer get from nginx: --json says the file was not verified")
	}
	return nb, nil
}

// measureNginx runs download, which starts one downloader that writes out
// and fills in its own figures, and adds nginx's CPU time and body bytes
// over it and the check of out against want (size bytes); out is removed
// before and after. The error is the bench's own (reading nginx's
// figures).
func measureNginx(n *Nginx, out string, want [32]byte, size int64, download func(*NginxRun)) (NginxRun, error) {
	var run NginxRun
	remove := func() error {
		if err := os.Remove(out + ".aria2"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return clearOut(out)
	}
	if err := remove(); err != nil {
		return run, err
	}
	sent0, err := n.settledBodySent()
	if err != nil {
		return run, err
	}
	cpu0, err := n.CPUSeconds()
	if err != nil {
		return run, fmt.Errorf("nginx's CPU: %w", err)
	}
	download(&run)
	cpu1, err := n.CPUSeconds()
	if err != nil {
		return run, fmt.Errorf("nginx's CPU: %w", err)
	}
	sent1, err := n.settledBodySent()
	if err != nil {
		return run, err
	}
	run.NginxCPU, run.Sent = cpu1-cpu0, sent1-sent0
	run.Identical = identical(out, want)
	if run.Err == "" && !run.Identical {
		run.Err = "exited 0, but the output differs from the source"
	}
	if run.Elapsed > 0 {
		run.Throughput = float64(size) / run.Elapsed
	}
	run.CPUPerGiB, run.NginxCPUPerGiB = perGiB(run.CPUSeconds, size), perGiB(run.NginxCPU, size)
	return run, remove()
}

// writeManifest writes the manifest of file to mfile with `exe manifest
// --out`.
func writeManifest(ctx context.Context, exe, file, mfile string) error {
	cmd := exec.CommandContext(ctx, exe, "manifest", "--out", mfile, file)
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("quicxfer manifest --out: %w: %s", err, lastLine(string(out)))
	}
	return nil
}
