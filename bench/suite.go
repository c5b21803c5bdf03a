package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SuiteOptions sizes a suite run. Zero values take the figures.
type SuiteOptions struct {
	// Size is the file size of scenarios 1 to 6 and 8, and the total of
	// scenario 7 (each of its downloaders fetches Size ÷ Downloaders);
	// default 1 GiB.
	Size int64
	// MemSize is scenario 9's file size, default 4 GiB.
	MemSize int64
	// MirrorsSize is scenario 12's file size, default 256 MiB.
	MirrorsSize int64
	// Unit is scenario 2's rate unit (4:2:1), bytes/s, default 50 Mbit/s;
	// scenarios 3, 4, 6 and 8 are scaled from it.
	Unit float64
	// WAN is scenario 5's rate per seed, bytes/s, default 100 Mbit/s.
	WAN float64
	// ManyRate is scenario 7's seed link, bytes/s, default 200 Mbit/s.
	ManyRate float64
	// Downloaders is scenario 7's number of downloaders, default 32.
	Downloaders int
	// SwarmDownloaders is scenario 11's number of downloaders, default 16;
	// each fetches Size ÷ SwarmDownloaders (at least 1 MiB).
	SwarmDownloaders int
	// SwarmOrigin is scenario 11's origin link, bytes/s, default 100
	// Mbit/s; SwarmUpload each sharing downloader's --upload-limit,
	// default 50 Mbit/s.
	SwarmOrigin, SwarmUpload float64
	// Only lists the scenario numbers to run; empty runs them all.
	Only []int
	// NoAria2 leaves out the aria2 baseline.
	NoAria2 bool
	// Keep keeps each scenario's working directory (the served file, the
	// seeds' state); by default it is removed after the scenario.
	Keep bool
	// Log, if set, receives one line as each scenario starts and ends.
	Log io.Writer
	// Run says how to run each scenario (the binary, the raw child).
	Run RunOptions
}

func (o SuiteOptions) withDefaults() SuiteOptions {
	if o.Size <= 0 {
		o.Size = 1 << 30
	}
	if o.MemSize <= 0 {
		o.MemSize = 4 << 30
	}
	if o.MirrorsSize <= 0 {
		o.MirrorsSize = 256 << 20
	}
	if o.Unit <= 0 {
		o.Unit = 50 * Mbit
	}
	if o.WAN <= 0 {
		o.WAN = 100 * Mbit
	}
	if o.ManyRate <= 0 {
		o.ManyRate = 200 * Mbit
	}
	if o.Downloaders <= 0 {
		o.Downloaders = 32
	}
	if o.SwarmDownloaders <= 0 {
		o.SwarmDownloaders = 16
	}
	if o.SwarmOrigin <= 0 {
		o.SwarmOrigin = 100 * Mbit
	}
	if o.SwarmUpload <= 0 {
		o.SwarmUpload = 50 * Mbit
	}
	return o
}

// Suite returns the scenarios of the benchmark issue, numbered 1 to 9, the
// seed under attack (10, with Size and three rounds), the swarm (11) and
// the HTTP mirrors (12, with MirrorsSize), that o selects. Scenarios 8 to 12 are
// left out unless o.Run.Exe is set.
func Suite(o SuiteOptions) []Scenario {
	o = o.withDefaults()
	all := []Scenario{
		Scenario1(o.Size),
		Scenario2(o.Size, o.Unit),
		Scenario3(o.Size, o.Unit),
		Scenario4(o.Size, o.Unit),
		Scenario5(o.Size, o.WAN),
		Scenario6(o.Size, o.Unit),
		Scenario7(max(o.Size/int64(o.Downloaders), 64<<10), o.ManyRate, o.Downloaders),
		Scenario8(o.Size, o.Unit),
		Scenario9(o.MemSize),
		ScenarioAttack(o.Size, 3),
		ScenarioSwarm(max(o.Size/int64(o.SwarmDownloaders), 1<<20), o.SwarmOrigin, o.SwarmDownloaders, o.SwarmUpload),
		ScenarioHTTPMirrors(o.MirrorsSize),
	}
	all[0].Nginx.NoAria2 = o.NoAria2
	all[len(all)-1].Mirrors.NoAria2 = o.NoAria2
	var out []Scenario
	for _, sc := range all {
		if len(o.Only) > 0 && !slices.Contains(o.Only, sc.Number) {
			continue
		}
		if o.Run.Exe == "" && needsExe(sc) {
			continue
		}
		out = append(out, sc)
	}
	return out
}

// RunSuite runs every scenario of Suite(o) in a fresh directory under
// workDir, one after the other, with the aria2 baseline where it applies,
// and writes the report (report.md, report.json, one plot per scenario)
// into reportDir if it is not empty. A scenario that fails is reported with
// its error and the suite goes on; the error returned is for the report
// itself, or ctx's.
func RunSuite(ctx context.Context, o SuiteOptions, workDir, reportDir string) ([]Result, error) {
	o = o.withDefaults()
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	var results []Result
	for _, sc := range Suite(o) {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		dir := filepath.Join(workDir, sc.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return results, err
		}
		logf("scenario %s: %s, %s", sc.Name, formatSize(sc.FileSize), sc.Note)
		start := time.Now()
		r, err := Run(ctx, sc, dir, o.Run)
		if err != nil {
			r.Number, r.Name, r.Note, r.Target, r.Size = sc.Number, sc.Name, sc.Note, sc.Target, sc.FileSize
			r.Err = err.Error()
			logf("  failed: %v", err)
		} else {
			ideal := ""
			if r.TimeOverIdeal > 0 {
				ideal = fmt.Sprintf(", time ÷ ideal %.3f", r.TimeOverIdeal)
			}
			logf("  %.2f s, %s%s, fetched ÷ size %.4f (%.0f s in all)",
				r.Elapsed, formatRate(r.Throughput), ideal, r.FetchedOver, time.Since(start).Seconds())
		}
		if r.Mirrors != nil {
			logMirrors(logf, r.Mirrors)
		}
		if !o.NoAria2 && aria2Applies(sc) {
			r.Aria2 = runAria2Baseline(ctx, sc, dir, logf)
			if o.Run.Kernel && KernelUnsupported(sc) == "" {
				r.Aria2.Caveat = strings.TrimPrefix(r.Aria2.Caveat+"; aria2's links are the user-space TUN fabric (with the links' RTT), quicxfer's are kernel tbf links", "; ")
			}
		}
		results = append(results, r)
		if !o.Keep {
			_ = os.RemoveAll(dir)
		}
	}
	if reportDir != "" {
		return results, WriteReport(reportDir, results)
	}
	return results, nil
}

// Aria2 is a scenario's aria2c baseline: aria2's defaults and the best of
// the settings tried (Aria2Variants).
type Aria2 struct {
	Default *Aria2Run  `json:"default,omitempty"`
	Best    *Aria2Run  `json:"best,omitempty"`
	Runs    []Aria2Run `json:"runs"`
	// Links says how the links were emulated for TCP (see RunAria2).
	Links string `json:"links,omitempty"`
	// Failure says how the scenario's failing seed was reproduced for
	// aria2 (a killed mirror, a stalling link), "" if there is none.
	Failure string `json:"failure,omitempty"`
	// Caveat says where the baseline's conditions differ from quicxfer's
	// (the report marks its figures †).
	Caveat  string `json:"caveat,omitempty"`
	Skipped string `json:"skipped,omitempty"`
}

// Aria2Run is one aria2c run of a baseline.
type Aria2Run struct {
	Options    string  `json:"options"`
	Elapsed    float64 `json:"elapsed_s"`
	Throughput float64 `json:"throughput_bytes_per_s"`
	CPUSeconds float64 `json:"cpu_s"`
	PeakRSS    int64   `json:"peak_rss_bytes"`
	Skipped    string  `json:"skipped,omitempty"`
	Err        string  `json:"error,omitempty"`
	// KilledAt is, in a scenario with a KillSeed, the fraction of the
	// file the mirrors had sent when that mirror was killed (see RunAria2);
	// 0 if the download ended first.
	KilledAt float64 `json:"killed_at_fraction,omitempty"`
}

// aria2Failure describes how RunAria2 reproduces sc's failing seed: a
// KillSeed or a link with a DownBudget.
func aria2Failure(sc Scenario) string {
	var f []string
	if sc.KillSeed > 0 {
		f = append(f, fmt.Sprintf("mirror %d killed (listener closed, connections reset) once the mirrors had sent %.0f %% of the file", sc.KillSeed, 100*sc.KillAt))
	}
	for i, c := range sc.Seeds {
		if c.DownBudget > 0 {
			f = append(f, fmt.Sprintf("mirror %d's link goes silent after %s downstream, as seed %d's does", i+1, formatSize(c.DownBudget), i+1))
		}
	}
	return strings.Join(f, "; ")
}

// aria2Applies says whether scenario sc has an aria2 baseline: the single
// downloads (1 to 6), not the many downloaders, the resume or the memory
// scenarios.
func aria2Applies(sc Scenario) bool {
	return sc.Mode == ModeDownload && sc.Downloaders <= 1
}

// runAria2Baseline runs aria2c with each of Aria2Variants(sc) in dir (see
// aria2.go, RunAria2) and keeps every figure, the default's and the best's.
func runAria2Baseline(ctx context.Context, sc Scenario, dir string, logf func(string, ...any)) *Aria2 {
	a := &Aria2{Runs: []Aria2Run{}, Failure: aria2Failure(sc)}
	for _, opt := range Aria2Variants(sc) {
		res, err := RunAria2(ctx, sc, dir, opt)
		run := Aria2Run{
			Options:    opt.String(),
			Elapsed:    res.Elapsed.Seconds(),
			Throughput: res.ThroughputBps,
			CPUSeconds: res.CPUSeconds,
			PeakRSS:    res.PeakRSSBytes,
			Skipped:    res.Skipped,
			Err:        res.Err,
			KilledAt:   res.KilledAt,
		}
		if err != nil && run.Err == "" {
			run.Err = err.Error()
		}
		a.Links = res.Links
		if run.Skipped != "" {
			// aria2c is missing: the same for every variant.
			a.Skipped = run.Skipped
			logf("  aria2: skipped: %s", run.Skipped)
			return a
		}
		a.Runs = append(a.Runs, run)
		if run.Err != "" {
			logf("  aria2 %s: failed: %s", run.Options, run.Err)
		} else {
			logf("  aria2 %s: %.2f s, %s", run.Options, run.Elapsed, formatRate(run.Throughput))
		}
		if ctx.Err() != nil {
			break
		}
	}
	// A run that ended before the kill had all the mirrors throughout.
	if sc.KillSeed > 0 {
		var notKilled []string
		for _, r := range a.Runs {
			if r.Err == "" && r.KilledAt == 0 {
				notKilled = append(notKilled, "`"+r.Options+"`")
			}
		}
		if len(notKilled) > 0 {
			a.Caveat = fmt.Sprintf("mirror %d was not killed in %s: the download ended before the mirrors had sent %.0f %% of the file", sc.KillSeed, strings.Join(notKilled, ", "), 100*sc.KillAt)
		}
	}
	// Pointers into a.Runs are taken once it no longer grows.
	for i := range a.Runs {
		r := &a.Runs[i]
		if i == 0 {
			a.Default = r
		}
		if r.Err == "" && r.Elapsed > 0 && (a.Best == nil || r.Elapsed < a.Best.Elapsed) {
			a.Best = r
		}
	}
	return a
}
