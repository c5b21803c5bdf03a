package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/quicxfer/quicxfer/internal/digest"
	"github.com/quicxfer/quicxfer/internal/randfile"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/seed"
)

// SeedShare is one seed's part of a Result.
type SeedShare struct {
	Rate     float64   `json:"link_rate_bytes_per_s"` // 0 = unlimited
	RTT      float64   `json:"link_rtt_s"`
	Loss     float64   `json:"link_loss"`
	Stalls   bool      `json:"stalls,omitempty"` // its link goes silent after the manifest
	Killed   bool      `json:"killed,omitempty"`
	Bytes    int64     `json:"bytes"` // accepted from it (all downloaders)
	Share    float64   `json:"share"` // Bytes ÷ the bytes downloaded
	Received int64     `json:"received_bytes"`
	Sent     int64     `json:"sent_bytes"` // block bytes the seed wrote to its streams; for a seed in a child process, the bytes its link delivered (see testbed.sent)
	Note     string    `json:"note,omitempty"`
	Link     LinkStats `json:"link"`
	// Conns is the most connections a downloader had to it at once
	// (--json "conns"), the highest over the downloaders.
	Conns int `json:"conns,omitempty"`
}

// Sample is the progress at one instant of a download.
type Sample struct {
	T     float64 `json:"t_s"`
	Bytes []int64 `json:"bytes"` // block bytes each seed has written to its streams so far
}

// Fairness is scenario 7's figures: one seed, many downloaders at once.
type Fairness struct {
	Downloaders        int       `json:"downloaders"`
	Alone              float64   `json:"alone_bytes_per_s"` // one downloader alone, launch to exit
	Aggregate          float64   `json:"aggregate_bytes_per_s"`
	AggregateOverAlone float64   `json:"aggregate_over_alone"`
	Jain               float64   `json:"jain_index"`
	PerDownloader      []float64 `json:"per_downloader_bytes_per_s"` // each launch to exit
}

// Resume is scenario 8's figures.
type Resume struct {
	// SentBeforeKill is what the seeds had written to their streams when
	// the first run was killed: at least what it received.
	SentBeforeKill int64 `json:"sent_before_kill"`
	Resumed        int64 `json:"resumed_bytes"` // from the second run's --json
	Fetched        int64 `json:"fetched_bytes"` // from the second run's --json
	// FetchedAgain is SentBeforeKill + Fetched − size: the bytes that
	// crossed the network twice (lost with the first run, or duplicated in
	// the second); an upper bound, as SentBeforeKill includes what was still
	// in flight.
	FetchedAgain         int64   `json:"fetched_again"`
	FetchedAgainOverSize float64 `json:"fetched_again_over_size"`
	// Duplicates is Fetched − (size − Resumed): the second run's bytes
	// beyond what it was missing.
	Duplicates int64 `json:"duplicates_in_second_run"`
}

// SeedCPU is what the seeds cost in CPU while they served one phase of a
// scenario: scenario 1's download, scenario 7's downloaders at once. It is
// measured only where the seeds' CPU can be told apart from the rest (see
// Measured).
type SeedCPU struct {
	CPUSeconds float64 `json:"cpu_s"`
	// Served is the block bytes the downloaders fetched in that phase
	// (their --json fetched_bytes, duplicates included).
	Served int64   `json:"served_bytes"`
	PerGiB float64 `json:"cpu_s_per_gib"` // CPUSeconds per GiB of Served
	// Measured says whose CPU time CPUSeconds is: seedCPUInBench or
	// seedCPUInChild.
	Measured string `json:"measured"`
}

// How SeedCPU is measured.
const (
	seedCPUInBench = "this process's CPU time (getrusage) over the download: the seed runs in it, without a link, and the downloader in a child process (this process also runs the 100 ms sampler and the child's RSS watch)"
	seedCPUInChild = "the `quicxfer seed` child's CPU time (" + procCPUHow + ") from the launch of the downloaders to the exit of the last"
)

// Process is a child process's cost.
type Process struct {
	CPUSeconds float64 `json:"cpu_s"`
	PeakRSS    int64   `json:"peak_rss_bytes"`
}

// Result is the outcome of one scenario.
type Result struct {
	Number        int         `json:"number,omitempty"`
	Name          string      `json:"name"`
	Note          string      `json:"note,omitempty"`
	Target        string      `json:"target,omitempty"`
	Size          int64       `json:"size"`
	Elapsed       float64     `json:"elapsed_s"`
	Throughput    float64     `json:"throughput_bytes_per_s"`
	Ideal         float64     `json:"ideal_s,omitempty"`         // size ÷ the working seeds' rates; 0 when a seed is unlimited
	TimeOverIdeal float64     `json:"time_over_ideal,omitempty"` // 0 when Ideal is
	FetchedOver   float64     `json:"fetched_over_size"`         // bytes received ÷ bytes downloaded
	CPUSeconds    float64     `json:"cpu_s"`                     // the downloader's user+system (see DownloaderInChild)
	CPUPerGiB     float64     `json:"cpu_s_per_gib,omitempty"`   // CPUSeconds per GiB downloaded
	PeakRSS       int64       `json:"peak_rss_bytes,omitempty"`  // the downloader process's; 0 when it ran in this process
	Verified      bool        `json:"verified"`                  // output is byte-identical to the source
	Seeds         []SeedShare `json:"seeds"`
	// DownloaderInChild: the downloader ran as `quicxfer get --json` in a
	// child process, and CPUSeconds and PeakRSS are its own. Otherwise it
	// ran in this process, and CPUSeconds is the whole process's (seeds and
	// links included).
	DownloaderInChild bool `json:"downloader_in_child_process"`
	// Raw is the raw ceiling with Scenario.RawConns' first count (one
	// connection), OverRaw Throughput ÷ its; RawMulti are the runs with the
	// other counts, each carrying the same total.
	Raw      *RawResult  `json:"raw,omitempty"`
	OverRaw  float64     `json:"throughput_over_raw,omitempty"`
	RawMulti []RawResult `json:"raw_multi,omitempty"`
	// RawSameConns is the connections of the raw run whose count is
	// nearest the most quicxfer had to a seed (SeedShare.Conns), and
	// OverRawSameConns Throughput ÷ that run's: the target's ratio.
	RawSameConns     int     `json:"raw_same_conns,omitempty"`
	OverRawSameConns float64 `json:"throughput_over_raw_same_conns,omitempty"`
	// SeedCPU is the seeds' CPU time over the download (scenario 1, with
	// the binary) or the concurrent phase (scenario 7, with the binary).
	SeedCPU *SeedCPU `json:"seed_cpu,omitempty"`

	KilledAt    float64   `json:"killed_at_fraction,omitempty"` // scenario 3: the fraction sent when the seed was closed
	Fairness    *Fairness `json:"fairness,omitempty"`
	Resume      *Resume   `json:"resume,omitempty"`
	SeedProcess *Process  `json:"seed_process,omitempty"` // scenarios 9, 10 and 11 (the origin)
	Aria2       *Aria2    `json:"aria2,omitempty"`
	Plot        string    `json:"plot,omitempty"`  // the plot's file name, next to the report
	Err         string    `json:"error,omitempty"` // the scenario failed (RunSuite goes on)
	Samples     []Sample  `json:"-"`               // drawn in the plots; not kept in report.json (it made it half a megabyte)

	// Attack is scenario 10's figures (attack.go).
	Attack *AttackResult `json:"attack,omitempty"`
	// Swarm is scenario 11's figures (swarm.go).
	Swarm *SwarmFigures `json:"swarm,omitempty"`
	// Mirrors is scenario 12's figures (mirrors.go).
	Mirrors *MirrorsResult `json:"http_mirrors,omitempty"`
	// Nginx is scenario 1's downloads from nginx on 127.0.0.1
	// (nginxbaseline.go).
	Nginx *NginxBaseline `json:"nginx,omitempty"`
}

// RunOptions says how to run scenarios.
type RunOptions struct {
	// Exe is the quicxfer binary. When set, every downloader runs as `Exe
	// get --json` in a child process, so that its CPU seconds and peak RSS
	// are its own; scenarios 8 and 9 need it. When empty, downloads run in
	// this process.
	Exe string
	// ChildArgs are the arguments that make this executable reach RunChild,
	// for the raw ceiling's server process: nil for a test binary whose
	// TestMain calls RunChild, and for quicxfer-bench, whose main does.
	ChildArgs []string
	// SampleInterval is how often the seeds' counters are sampled for the
	// plots, default 100ms.
	SampleInterval time.Duration
	// Kernel puts each seed in its own network namespace behind a veth
	// with a tbf qdisc (kernel.go) instead of a user-space Link, in the
	// scenarios kernel links can express (KernelUnsupported: rate only, no
	// loss, jitter, stall or RTT above KernelMaxRTT); the others keep their
	// Links. Needs root, ip and tc (KernelUnavailable).
	Kernel bool
}

// fileName is the served file's name.
const fileName = "bench.bin"

// Run runs one scenario in workDir (which must exist; Run fills it with the
// served file, the seeds' state and the output) and returns its figures. An
// output that differs from the source is an error.
func Run(ctx context.Context, sc Scenario, workDir string, o RunOptions) (Result, error) {
	if len(sc.Seeds) == 0 {
		return Result{}, errors.New("bench: scenario without seeds")
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = 100 * time.Millisecond
	}
	if needsExe(sc) && o.Exe == "" {
		return Result{}, fmt.Errorf("bench: scenario %s runs the quicxfer binary: give RunOptions.Exe", sc.Name)
	}
	served := filepath.Join(workDir, "served")
	if err := os.MkdirAll(served, 0o755); err != nil {
		return Result{}, err
	}
	want, err := writeFile(filepath.Join(served, fileName), sc.FileSize)
	if err != nil {
		return Result{}, fmt.Errorf("writing the source file: %w", err)
	}
	r := Result{
		Number: sc.Number, Name: sc.Name, Note: sc.Note, Target: sc.Target,
		Size: sc.FileSize, Ideal: sc.Ideal(), DownloaderInChild: o.Exe != "",
	}
	if n := kernelNote(sc, o.Kernel); n != "" {
		r.Note += "; " + n
	}
	switch sc.Mode {
	case ModeMemory:
		err = runMemory(ctx, sc, workDir, o, want, &r)
	case ModeAttack:
		err = runAttack(ctx, sc, workDir, o, want, &r)
	case ModeSwarm:
		err = runSwarm(ctx, sc, workDir, o, want, &r)
	case ModeMirrors:
		err = runMirrors(ctx, sc, workDir, o, want, &r)
	default:
		err = runWithSeeds(ctx, sc, workDir, o, want, &r)
	}
	if err != nil {
		return r, err
	}
	if r.Ideal > 0 {
		r.TimeOverIdeal = r.Elapsed / r.Ideal
	}
	if sc.Raw {
		if err := runRaw(ctx, sc, o, &r); err != nil {
			return r, fmt.Errorf("raw ceiling: %w", err)
		}
	}
	if sc.Nginx != nil {
		if r.Nginx, err = runNginxBaseline(ctx, sc, workDir, o, want); err != nil {
			return r, fmt.Errorf("nginx baseline: %w", err)
		}
	}
	return r, nil
}

// runRaw measures the raw ceiling with each of sc.RawConns on the seed's
// path, and compares r's throughput with the run whose number of
// connections is nearest quicxfer's.
func runRaw(ctx context.Context, sc Scenario, o RunOptions, r *Result) error {
	counts := sc.RawConns
	if len(counts) == 0 {
		counts = []int{1}
	}
	var runs []RawResult
	for _, n := range counts {
		ro := RawOptions{Size: max(sc.FileSize, 1), Conns: n, ChildArgs: o.ChildArgs}
		if !sc.NoLink {
			cfg := sc.Seeds[0]
			ro.Link = &cfg
		}
		raw, err := RawQUIC(ctx, ro)
		if err != nil {
			return fmt.Errorf("%d connections: %w", n, err)
		}
		runs = append(runs, raw)
	}
	r.Raw, r.RawMulti = &runs[0], runs[1:]
	if runs[0].Throughput > 0 {
		r.OverRaw = r.Throughput / runs[0].Throughput
	}
	conns := 1
	for _, s := range r.Seeds {
		conns = max(conns, s.Conns)
	}
	near := nearestConns(runs, conns)
	r.RawSameConns = near.Conns
	if near.Throughput > 0 {
		r.OverRawSameConns = r.Throughput / near.Throughput
	}
	return nil
}

// nearestConns returns the run of runs (not empty) whose number of
// connections is nearest conns, the first of those as near.
func nearestConns(runs []RawResult, conns int) RawResult {
	best := runs[0]
	for _, raw := range runs[1:] {
		if abs(raw.Conns-conns) < abs(best.Conns-conns) {
			best = raw
		}
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// testbed is a scenario's seeds, each behind its link: in this process,
// or with Scenario.ChildSeeds and the binary each in a child process.
type testbed struct {
	seeds  []*seed.Server // in this process; none with child seeds
	procs  []*seedProcess // child seeds, else none
	links  []*Link        // one per seed; nil entries with NoLink or kernel links
	kernel *KernelLinks   // with RunOptions.Kernel, for the scenarios it applies to
	urls   []string
	stop   func()
}

func startTestbed(ctx context.Context, sc Scenario, workDir string, o RunOptions) (_ *testbed, err error) {
	ctx, cancel := context.WithCancel(ctx)
	tb := &testbed{}
	var wg sync.WaitGroup
	tb.stop = func() {
		// Close, not the context: a graceful stop would wait
		// ShutdownGrace for requests of a downloader that was killed.
		for _, s := range tb.seeds {
			s.Close()
		}
		for _, sp := range tb.procs {
			_, _, _ = sp.stop() // SIGTERM: every downloader is done or dead
		}
		cancel()
		for _, l := range tb.links {
			if l != nil {
				l.Close()
			}
		}
		wg.Wait()
		if tb.kernel != nil {
			_ = tb.kernel.Close() // after the seeds: their sockets hold the namespaces
		}
	}
	defer func() {
		if err != nil {
			tb.stop()
		}
	}()
	if o.Kernel && KernelUnsupported(sc) == "" {
		if tb.kernel, err = NewKernelLinks(sc.Seeds); err != nil {
			return nil, err
		}
	}
	served := filepath.Join(workDir, "served")
	child := sc.ChildSeeds && o.Exe != "" && !sc.NoLink && tb.kernel == nil
	for i, cfg := range sc.Seeds {
		stateDir := filepath.Join(workDir, fmt.Sprintf("seed%d", i+1))
		if child {
			sp, err := startSeedProcess(ctx, o.Exe, served, stateDir)
			if err != nil {
				return nil, fmt.Errorf("starting seed %d: %w", i+1, err)
			}
			tb.procs = append(tb.procs, sp)
			addr, err := seedAddr(sp.URL)
			if err != nil {
				return nil, err
			}
			if err := tb.addLink(ctx, addr, sp.URL, cfg); err != nil {
				return nil, err
			}
			continue
		}
		opts := seed.Options{
			Paths:    []string{served},
			Listen:   "127.0.0.1:0",
			StateDir: stateDir,
			Logger:   slog.New(slog.DiscardHandler),
		}
		var s *seed.Server
		if tb.kernel != nil {
			s, err = tb.kernel.NewSeed(ctx, i, opts)
		} else {
			s, err = seed.New(ctx, opts)
		}
		if err != nil {
			return nil, fmt.Errorf("starting seed %d: %w", i+1, err)
		}
		wg.Go(func() { _ = s.Serve(ctx) })
		tb.seeds = append(tb.seeds, s)
		if sc.NoLink || tb.kernel != nil {
			tb.links = append(tb.links, nil)
			tb.urls = append(tb.urls, s.URLs()[0])
			continue
		}
		if err := tb.addLink(ctx, s.Addr().(*net.UDPAddr), s.URLs()[0], cfg); err != nil {
			return nil, err
		}
	}
	return tb, nil
}

// addLink puts a link with cfg in front of the seed at addr, whose URL is
// seedURL, for the URL the downloaders are given.
func (tb *testbed) addLink(ctx context.Context, addr *net.UDPAddr, seedURL string, cfg LinkConfig) error {
	l, err := NewLink(ctx, addr, cfg)
	if err != nil {
		return err
	}
	tb.links = append(tb.links, l)
	u, err := linkURL(seedURL, l)
	if err != nil {
		return err
	}
	tb.urls = append(tb.urls, u)
	return nil
}

// sent returns what each seed has sent so far, and their sum: the block
// bytes an in-process seed has written to its streams (seed.Server.Stats),
// or for a seed in a child process, whose counters are not at hand, the
// bytes its link delivered downstream (LinkStats.Down.Bytes: QUIC packets,
// so headers, handshakes and retransmissions too).
func (tb *testbed) sent() ([]int64, int64) {
	out := make([]int64, len(tb.links))
	var sum int64
	for i := range out {
		if len(tb.procs) > 0 {
			out[i] = tb.links[i].Stats().Down.Bytes
		} else {
			out[i] = tb.seeds[i].Stats().BytesSent
		}
		sum += out[i]
	}
	return out, sum
}

// childCPU returns the CPU seconds the child seeds have used so far
// (procCPU), summed; 0 without child seeds.
func (tb *testbed) childCPU() (float64, error) {
	var sum float64
	for i, sp := range tb.procs {
		cpu, err := procCPU(sp.cmd.Process.Pid)
		if err != nil {
			return 0, fmt.Errorf("seed %d's CPU: %w", i+1, err)
		}
		sum += cpu
	}
	return sum, nil
}

// watch samples the seeds' counters every interval from start until the
// returned function is called, calling tick (if not nil) with each sample's
// total; the returned function stops it and returns the samples.
func (tb *testbed) watch(start time.Time, interval time.Duration, tick func(total int64)) func() []Sample {
	return sampleEvery(interval, func() Sample {
		b, sum := tb.sent()
		if tick != nil {
			tick(sum)
		}
		return Sample{T: time.Since(start).Seconds(), Bytes: b}
	})
}

// sampleEvery calls take at once, then every interval, until the returned
// function is called, which takes a last sample and returns them all.
func sampleEvery(interval time.Duration, take func() Sample) func() []Sample {
	var samples []Sample
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		samples = append(samples, take())
		for {
			select {
			case <-t.C:
				samples = append(samples, take())
			case <-stop:
				samples = append(samples, take())
				return
			}
		}
	}()
	return func() []Sample {
		close(stop)
		<-done
		return samples
	}
}

// clearOut removes out and what a download leaves beside it.
func clearOut(out string) error {
	for _, p := range []string{out, out + ".qxpart", out + ".qxstate"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// verify checks out against the source's hash, then removes it.
func verify(out string, want [32]byte) error {
	got, err := digest.File(out)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("bench: %s differs from the source", out)
	}
	return os.Remove(out)
}

// runWithSeeds runs ModeDownload and ModeResume scenarios: in-process seeds
// behind links, the downloader here or in a child.
func runWithSeeds(ctx context.Context, sc Scenario, workDir string, o RunOptions, want [32]byte, r *Result) error {
	tb, err := startTestbed(ctx, sc, workDir, o)
	if err != nil {
		return err
	}
	defer tb.stop()

	var downloads []download
	switch {
	case sc.Mode == ModeResume:
		downloads, err = runResume(ctx, sc, workDir, o, tb, r)
	case sc.Downloaders > 1:
		downloads, err = runMany(ctx, sc, workDir, o, tb, want, r)
	default:
		downloads, err = runOne(ctx, sc, workDir, o, tb, want, r)
	}
	if err != nil {
		return err
	}
	r.Verified = true

	var fetched, downloaded int64
	shares := make([]SeedShare, len(sc.Seeds))
	for _, d := range downloads {
		fetched += d.Fetched
		downloaded += d.Size - d.Resumed
		r.CPUSeconds += d.CPU
		r.PeakRSS = max(r.PeakRSS, d.RSS)
		for i, s := range d.Seeds {
			if i < len(shares) {
				shares[i].Bytes += s.Bytes
				shares[i].Received += s.Received
				shares[i].Conns = max(shares[i].Conns, s.Conns)
				if s.Note != "" {
					shares[i].Note = s.Note
				}
			}
		}
	}
	sent, _ := tb.sent()
	for i, cfg := range sc.Seeds {
		sh := &shares[i]
		sh.Rate, sh.RTT, sh.Loss = cfg.Rate, cfg.RTT.Seconds(), cfg.Loss
		sh.Stalls, sh.Killed = cfg.DownBudget > 0, sc.KillSeed == i+1 && r.KilledAt > 0
		sh.Sent = sent[i]
		if tb.links[i] != nil {
			sh.Link = tb.links[i].Stats()
		} else if tb.kernel != nil {
			sh.Link = tb.kernel.Stats(i)
		}
		if downloaded > 0 {
			sh.Share = float64(sh.Bytes) / float64(downloaded)
		}
	}
	r.Seeds = shares
	if downloaded > 0 {
		r.FetchedOver = float64(fetched) / float64(downloaded)
	}
	r.CPUPerGiB = perGiB(r.CPUSeconds, downloaded)
	return nil
}

// runOne is one download; with KillSeed, that seed is closed once KillAt of
// the file was sent.
func runOne(ctx context.Context, sc Scenario, workDir string, o RunOptions, tb *testbed, want [32]byte, r *Result) ([]download, error) {
	out := filepath.Join(workDir, "out.bin")
	if err := clearOut(out); err != nil {
		return nil, err
	}
	var tick func(int64)
	if k := sc.KillSeed - 1; k >= 0 && k < len(tb.seeds) {
		tick = func(total int64) {
			if r.KilledAt == 0 && float64(total) >= sc.KillAt*float64(sc.FileSize) {
				r.KilledAt = float64(total) / float64(max(sc.FileSize, 1))
				tb.seeds[k].Close()
			}
		}
	}
	// With the downloader in a child and the seeds here without links,
	// this process's CPU time is the seeds'.
	seedCPU := o.Exe != "" && sc.NoLink && tb.kernel == nil
	start := time.Now()
	stop := tb.watch(start, o.SampleInterval, tick)
	cpu0 := cpuSeconds()
	d, err := runDownload(ctx, o.Exe, tb.urls, out, sc.ConnsPerSeed)
	cpu := cpuSeconds() - cpu0
	r.Samples = stop()
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	if seedCPU {
		r.SeedCPU = &SeedCPU{CPUSeconds: cpu, Served: d.Fetched, PerGiB: perGiB(cpu, d.Fetched), Measured: seedCPUInBench}
	}
	if err := verify(out, want); err != nil {
		return nil, err
	}
	if k := sc.KillSeed - 1; k >= 0 && r.KilledAt > 0 {
		r.Ideal = sc.idealWithKill(k, min(r.KilledAt, 1))
	}
	r.Elapsed = d.Elapsed
	if r.Elapsed > 0 {
		r.Throughput = float64(sc.FileSize) / r.Elapsed
	}
	return []download{d}, nil
}

// runMany downloads the file once alone, then sc.Downloaders times at once.
func runMany(ctx context.Context, sc Scenario, workDir string, o RunOptions, tb *testbed, want [32]byte, r *Result) ([]download, error) {
	out := func(i int) string { return filepath.Join(workDir, fmt.Sprintf("out%02d.bin", i)) }
	for i := range sc.Downloaders + 1 {
		if err := clearOut(out(i)); err != nil {
			return nil, err
		}
	}
	alone, err := runDownload(ctx, o.Exe, tb.urls, out(0), sc.ConnsPerSeed)
	if err != nil {
		return nil, fmt.Errorf("download alone: %w", err)
	}
	if err := verify(out(0), want); err != nil {
		return nil, err
	}
	sent0, _ := tb.sent()

	cpu0, err := tb.childCPU()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	stop := tb.watch(start, o.SampleInterval, nil)
	downloads := make([]download, sc.Downloaders)
	errs := make([]error, sc.Downloaders)
	var wg sync.WaitGroup
	for i := range sc.Downloaders {
		wg.Go(func() { downloads[i], errs[i] = runDownload(ctx, o.Exe, tb.urls, out(i+1), sc.ConnsPerSeed) })
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	cpu1, cerr := tb.childCPU()
	r.Samples = stop()
	// The plot shows the concurrent phase only.
	for i := range r.Samples {
		for j := range r.Samples[i].Bytes {
			r.Samples[i].Bytes[j] -= sent0[j]
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("downloads at once: %w", err)
	}
	if cerr != nil {
		return nil, cerr
	}
	if len(tb.procs) > 0 {
		var served int64
		for _, d := range downloads {
			served += d.Fetched
		}
		cpu := cpu1 - cpu0
		r.SeedCPU = &SeedCPU{CPUSeconds: cpu, Served: served, PerGiB: perGiB(cpu, served), Measured: seedCPUInChild}
	}
	f := &Fairness{Downloaders: sc.Downloaders}
	for i, d := range downloads {
		if err := verify(out(i+1), want); err != nil {
			return nil, err
		}
		f.PerDownloader = append(f.PerDownloader, float64(sc.FileSize)/d.Wall)
	}
	f.Alone = float64(sc.FileSize) / alone.Wall
	f.Aggregate = float64(sc.FileSize) * float64(sc.Downloaders) / wall
	f.AggregateOverAlone = f.Aggregate / f.Alone
	f.Jain = Jain(f.PerDownloader)
	r.Fairness = f
	r.Elapsed, r.Throughput = wall, f.Aggregate
	return downloads, nil
}

// Jain returns Jain's fairness index of xs: (Σx)² ÷ (n·Σx²), 1 when all are
// equal, 1/n when one has everything; 0 for no values.
func Jain(xs []float64) float64 {
	var sum, sq float64
	for _, x := range xs {
		sum += x
		sq += x * x
	}
	if sq == 0 {
		return 0
	}
	return sum * sum / (float64(len(xs)) * sq)
}

// runResume runs the binary, SIGKILLs it once the seeds have sent half the
// file, and runs it again.
func runResume(ctx context.Context, sc Scenario, workDir string, o RunOptions, tb *testbed, r *Result) ([]download, error) {
	out := filepath.Join(workDir, "out.bin")
	if err := clearOut(out); err != nil {
		return nil, err
	}
	cmd, stdout, stderr := getCommand(ctx, o.Exe, tb.urls, out, sc.ConnsPerSeed)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	rss := watchRSS(cmd.Process.Pid)
	var killedAt int64
	stop := tb.watch(start, 10*time.Millisecond, func(total int64) {
		if killedAt == 0 && total >= sc.FileSize/2 {
			killedAt = total
			_ = cmd.Process.Kill()
		}
	})
	first, ferr := finishGet(cmd, rss, start, stdout, stderr)
	stop()
	if killedAt == 0 {
		return nil, fmt.Errorf("resume: the first run ended before it was half way (%v); use a larger file", ferr)
	}
	res := &Resume{SentBeforeKill: killedAt}

	start = time.Now()
	stop = tb.watch(start, o.SampleInterval, nil)
	second, err := runDownload(ctx, o.Exe, tb.urls, out, sc.ConnsPerSeed)
	r.Samples = stop()
	if err != nil {
		return nil, fmt.Errorf("second run: %w", err)
	}
	res.Resumed, res.Fetched = second.Resumed, second.Fetched
	res.FetchedAgain = res.SentBeforeKill + res.Fetched - sc.FileSize
	res.Duplicates = res.Fetched - (sc.FileSize - res.Resumed)
	if sc.FileSize > 0 {
		res.FetchedAgainOverSize = float64(res.FetchedAgain) / float64(sc.FileSize)
	}
	r.Resume = res
	r.Elapsed = second.Elapsed
	if r.Elapsed > 0 {
		r.Throughput = float64(sc.FileSize-second.Resumed) / r.Elapsed
	}
	// The ideal is for what the second run had to fetch.
	if sum := sc.workingRate(); sum > 0 {
		r.Ideal = float64(sc.FileSize-second.Resumed) / sum
	}
	// The peak RSS is the larger of the two runs'; CPU is the second's.
	second.RSS = max(second.RSS, first.RSS)
	return []download{second}, nil
}

// runMemory runs `quicxfer seed` and `quicxfer get` as child processes on
// loopback, for their peak RSS.
func runMemory(ctx context.Context, sc Scenario, workDir string, o RunOptions, want [32]byte, r *Result) error {
	sp, err := startSeedProcess(ctx, o.Exe, filepath.Join(workDir, "served"), filepath.Join(workDir, "seed1"))
	if err != nil {
		return err
	}
	out := filepath.Join(workDir, "out.bin")
	d, derr := func() (download, error) {
		if err := clearOut(out); err != nil {
			return download{}, err
		}
		return runDownload(ctx, o.Exe, []string{sp.URL}, out, sc.ConnsPerSeed)
	}()
	scpu, srss, serr := sp.stop()
	if derr != nil {
		return fmt.Errorf("download: %w", derr)
	}
	if serr != nil {
		return serr
	}
	if err := verify(out, want); err != nil {
		return err
	}
	r.Verified = true
	r.Elapsed = d.Elapsed
	if r.Elapsed > 0 {
		r.Throughput = float64(sc.FileSize) / r.Elapsed
	}
	r.CPUSeconds, r.PeakRSS = d.CPU, d.RSS
	r.SeedProcess = &Process{CPUSeconds: scpu, PeakRSS: srss}
	if d.Size > 0 {
		r.FetchedOver = float64(d.Fetched) / float64(d.Size-d.Resumed)
	}
	var sh SeedShare
	if len(d.Seeds) > 0 {
		sh = SeedShare{Bytes: d.Seeds[0].Bytes, Received: d.Seeds[0].Received, Note: d.Seeds[0].Note}
	}
	if sc.FileSize > 0 {
		sh.Share = float64(sh.Bytes) / float64(sc.FileSize)
	}
	r.Seeds = []SeedShare{sh}
	return nil
}

// seedAddr is the UDP address on 127.0.0.1 of the seed at seedURL (a seed
// of this machine, listening there).
func seedAddr(seedURL string) (*net.UDPAddr, error) {
	su, err := wire.ParseURL(seedURL)
	if err != nil {
		return nil, err
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(su.Port)}, nil
}

// linkURL returns the URL of the seed at seedURL as reached through l: the
// link's port with the seed's pin.
func linkURL(seedURL string, l *Link) (string, error) {
	su, err := wire.ParseURL(seedURL)
	if err != nil {
		return "", err
	}
	u := wire.URL{Host: "127.0.0.1", Port: uint16(l.Addr().Port), Pin: su.Pin, HasPin: su.HasPin}
	if !u.HasPin {
		return "", errors.New("bench: seed URL without a pin")
	}
	return u.String(), nil
}

// benchSeed is the seed of the benchmark file's pseudo-random content
// (randfile): "qxbench" in little-endian order.
const benchSeed = 'q' | 'x'<<8 | 'b'<<16 | 'e'<<24 | 'n'<<32 | 'c'<<40 | 'h'<<48

// writeFile writes size deterministic pseudo-random bytes to path (unless
// it already holds them) and returns their SHA-256.
func writeFile(path string, size int64) ([32]byte, error) {
	h := sha256.New()
	r := randfile.Reader(benchSeed)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return [32]byte{}, err
	}
	// Same size: check the content instead of rewriting it, which would
	// change the modification time and make the seeds hash it again.
	same := fi.Size() == size
	buf := make([]byte, 1<<20)
	disk := make([]byte, 1<<20)
	if !same {
		if err := f.Truncate(0); err != nil {
			return [32]byte{}, err
		}
	}
	for off := int64(0); off < size; {
		n := int(min(int64(len(buf)), size-off))
		_, _ = r.Read(buf[:n])
		h.Write(buf[:n])
		if same {
			if _, err := io.ReadFull(f, disk[:n]); err != nil || !bytes.Equal(disk[:n], buf[:n]) {
				same = false
				if err := f.Truncate(off); err != nil {
					return [32]byte{}, err
				}
			}
		}
		if !same {
			if _, err := f.WriteAt(buf[:n], off); err != nil {
				return [32]byte{}, err
			}
		}
		off += int64(n)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, f.Close()
}

// cpuSeconds returns the user and system CPU time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
