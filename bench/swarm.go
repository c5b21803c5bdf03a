package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/seed"
)

// SwarmScenario is the swarm benchmark: one origin seed behind a Link (its
// uplink), and Downloaders started together, first each on its own, then
// each sharing what it has (get --serve) with an upload limit of PeerUpload.
type SwarmScenario struct {
	FileSize    int64
	Downloaders int
	Origin      LinkConfig // the origin's link; its Rate is what sharing saves
	PeerUpload  float64    // each sharing downloader's --upload-limit, bytes/s (0: none)
}

// SwarmRun is one round of a SwarmScenario.
type SwarmRun struct {
	Share      bool
	Seconds    float64 // until the last downloader finished
	OriginSent int64   // block bytes the origin sent
	Ratio      float64 // OriginSent ÷ FileSize (16 downloaders alone: 16)
	FromPeers  float64 // bytes the downloaders took from each other ÷ FileSize
}

// SwarmResult is both rounds.
type SwarmResult struct {
	Scenario SwarmScenario
	Alone    SwarmRun
	Shared   SwarmRun
}

// RunSwarm runs both rounds of sc in workDir, in process, and checks every
// downloaded file.
func RunSwarm(ctx context.Context, sc SwarmScenario, workDir string) (SwarmResult, error) {
	res := SwarmResult{Scenario: sc}
	served := filepath.Join(workDir, "served")
	if err := os.MkdirAll(served, 0o755); err != nil {
		return res, err
	}
	want, err := writeFile(filepath.Join(served, "swarm.bin"), sc.FileSize)
	if err != nil {
		return res, err
	}
	quiet := slog.New(slog.DiscardHandler)
	origin, err := seed.New(ctx, seed.Options{Paths: []string{served}, Listen: "127.0.0.1:0", StateDir: filepath.Join(workDir, "origin"), Logger: quiet})
	if err != nil {
		return res, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer origin.Close()
	wg.Go(func() { _ = origin.Serve(sctx) })
	link, err := NewLink(sctx, origin.Addr().(*net.UDPAddr), sc.Origin)
	if err != nil {
		return res, err
	}
	defer link.Close()
	url, err := linkURL(origin.URLs()[0], link)
	if err != nil {
		return res, err
	}

	for _, share := range []bool{false, true} {
		run, err := swarmRound(ctx, sc, workDir, url, origin, share, want)
		if err != nil {
			return res, err
		}
		if share {
			res.Shared = run
		} else {
			res.Alone = run
		}
	}
	return res, nil
}

func swarmRound(ctx context.Context, sc SwarmScenario, workDir, url string, origin *seed.Server, share bool, want [32]byte) (SwarmRun, error) {
	run := SwarmRun{Share: share}
	dir := filepath.Join(workDir, fmt.Sprintf("round-share-%v", share))
	if err := os.RemoveAll(dir); err != nil {
		return run, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return run, err
	}
	quiet := slog.New(slog.DiscardHandler)
	n := sc.Downloaders
	peers := make([]*seed.Server, n)
	sharers := make([]*seed.DownloadSharer, n)
	pctx, cancel := context.WithCancel(ctx)
	var serving sync.WaitGroup
	defer func() {
		cancel()
		for i := range peers {
			if peers[i] != nil {
				peers[i].Close()
				_ = sharers[i].Close()
			}
		}
		serving.Wait()
	}()
	if share {
		for i := range peers {
			p, err := seed.New(ctx, seed.Options{NoPaths: true, Listen: "127.0.0.1:0", RateLimit: sc.PeerUpload,
				StateDir: filepath.Join(dir, fmt.Sprintf("peer%d", i)), Logger: quiet})
			if err != nil {
				return run, err
			}
			peers[i], sharers[i] = p, p.NewDownloadSharer()
			serving.Go(func() { _ = p.Serve(pctx) })
		}
	}
	before := origin.Stats().BytesSent
	start := time.Now()
	results := make([]*quicxfer.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			o := quicxfer.Options{Seeds: []string{url}, Name: "swarm.bin", Out: filepath.Join(dir, fmt.Sprintf("out%d", i)), MaxPeers: -1}
			if share {
				o.MaxPeers, o.Share, o.SelfURLs = 0, sharers[i], peers[i].URLs()
				o.SyncInterval = 250 * time.Millisecond
			}
			results[i], errs[i] = quicxfer.Download(ctx, o)
		})
	}
	wg.Wait()
	run.Seconds = time.Since(start).Seconds()
	if err := errors.Join(errs...); err != nil {
		return run, err
	}
	for i := range n {
		if err := verify(filepath.Join(dir, fmt.Sprintf("out%d", i)), want); err != nil {
			return run, err
		}
		for _, s := range results[i].Seeds {
			if s.URL != url {
				run.FromPeers += float64(s.Bytes)
			}
		}
	}
	run.OriginSent = origin.Stats().BytesSent - before
	run.Ratio = float64(run.OriginSent) / float64(sc.FileSize)
	run.FromPeers /= float64(sc.FileSize)
	return run, nil
}

// SwarmConfig sets up ModeSwarm (scenario 11): Downloaders `quicxfer get`
// child processes started together against one `quicxfer seed` child
// process (the origin) behind the scenario's only Link, twice: each on its
// own, then each with --serve and an --upload-limit of PeerUpload.
type SwarmConfig struct {
	Downloaders int
	PeerUpload  float64 // bytes/s, each sharing downloader's --upload-limit; 0: none
}

// ScenarioSwarm is scenario 11: an origin seed behind a link of originRate
// bytes/s and 20 ms RTT, and n downloaders of a file of size bytes started
// together, first without --serve, then with --serve and an upload limit
// of peerUpload bytes/s each.
func ScenarioSwarm(size int64, originRate float64, n int, peerUpload float64) Scenario {
	return Scenario{
		Number: 11,
		Name:   fmt.Sprintf("11-swarm-%d", n),
		Note: fmt.Sprintf("`quicxfer seed` (the origin) as a child process behind a %s, 20 ms link; %d `quicxfer get` child processes started together, "+
			"first each on its own (--max-peers 0), then each with --serve (upload limit %s each), stopped with SIGTERM once all are done; "+
			"the time until the last one is done, what the origin sent (its quicxfer_seed_bytes_sent_total) ÷ the file size, "+
			"and what the downloaders took from each other (their --json per-source bytes)", formatRate(originRate), n, formatRate(peerUpload)),
		Target:   "with --serve the origin sends far less than the downloaders' copies; every file verified",
		FileSize: size,
		Seeds:    []LinkConfig{{Rate: originRate, RTT: 20 * time.Millisecond, Seed: 111}},
		Mode:     ModeSwarm,
		Swarm:    &SwarmConfig{Downloaders: n, PeerUpload: peerUpload},
	}
}

// SwarmFigures is scenario 11's figures: both rounds.
type SwarmFigures struct {
	Downloaders int     `json:"downloaders"`
	PeerUpload  float64 `json:"peer_upload_limit_bytes_per_s"`
	// AloneIdeal is the alone round's ideal: Downloaders copies through
	// the origin's link.
	AloneIdeal float64        `json:"alone_ideal_s"`
	Alone      SwarmProcRound `json:"alone"`
	Shared     SwarmProcRound `json:"shared"`
}

// SwarmProcRound is one round of scenario 11, with child processes.
type SwarmProcRound struct {
	Serve bool `json:"serve"`
	// FirstDone and LastDone are from launching the downloaders to the
	// first and the last printing its --json result (ok).
	FirstDone float64 `json:"first_done_s"`
	LastDone  float64 `json:"last_done_s"`
	// OriginSent is the origin process's quicxfer_seed_bytes_sent_total
	// (block payload bytes written to clients), scraped from its metrics
	// endpoint once every downloader was done.
	OriginSent     int64   `json:"origin_sent_bytes"`
	OriginOverSize float64 `json:"origin_sent_over_size"`
	// FromOrigin and FromPeers are the downloaders' --json per-source
	// bytes accepted, from the origin's URL and from every other URL.
	FromOrigin        int64   `json:"accepted_from_origin_bytes"`
	FromPeers         int64   `json:"accepted_from_peers_bytes"`
	FromPeersOverSize float64 `json:"from_peers_over_size"`
	Fetched           int64   `json:"fetched_bytes"` // the downloaders' fetched_bytes, summed
	// Verified counts the outputs whose size and SHA-256 match the source
	// (and whose --json said ok).
	Verified       int     `json:"verified"`
	DownloaderCPU  float64 `json:"downloader_cpu_s"` // summed over the downloaders
	DownloaderRSS  int64   `json:"downloader_peak_rss_bytes"`
	OriginCPU      float64 `json:"origin_cpu_s"`
	OriginPeakRSS  int64   `json:"origin_peak_rss_bytes"`
	OriginLinkDown int64   `json:"origin_link_down_bytes"` // datagram bytes the link carried to the downloaders
}

// runSwarm runs ModeSwarm: both rounds, each with a fresh origin process.
func runSwarm(ctx context.Context, sc Scenario, workDir string, o RunOptions, want [32]byte, r *Result) error {
	cfg := sc.Swarm
	if cfg == nil || cfg.Downloaders < 1 {
		return errors.New("bench: swarm scenario without downloaders")
	}
	f := &SwarmFigures{Downloaders: cfg.Downloaders, PeerUpload: cfg.PeerUpload, AloneIdeal: sc.Ideal()}
	for _, serve := range []bool{false, true} {
		round, err := swarmProcRound(ctx, sc, workDir, o, serve, want)
		if err != nil {
			return fmt.Errorf("round with serve=%v: %w", serve, err)
		}
		if serve {
			f.Shared = round
		} else {
			f.Alone = round
		}
	}
	r.Swarm = f
	r.Verified = true
	s := f.Shared
	total := float64(sc.FileSize) * float64(cfg.Downloaders)
	r.Ideal = 0 // the alone round's is in f.AloneIdeal; sharing has none
	r.Elapsed = s.LastDone
	if s.LastDone > 0 {
		r.Throughput = total / s.LastDone
	}
	if total > 0 {
		r.FetchedOver = float64(s.Fetched) / total
	}
	r.CPUSeconds, r.PeakRSS = s.DownloaderCPU, s.DownloaderRSS
	r.SeedProcess = &Process{CPUSeconds: s.OriginCPU, PeakRSS: s.OriginPeakRSS}
	c := sc.Seeds[0]
	r.Seeds = []SeedShare{{Rate: c.Rate, RTT: c.RTT.Seconds(), Loss: c.Loss, Bytes: s.FromOrigin, Sent: s.OriginSent, Share: float64(s.FromOrigin) / max(total, 1)}}
	return nil
}

// swarmGet is one downloader child of a swarm round.
type swarmGet struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer // read after Wait
	rss    func() int64
	res    *getJSON
	doneAt float64 // seconds from the launch to its --json line
	err    error   // it exited without an ok --json line
}

// swarmProcRound starts the origin process behind a link, the downloaders
// together, waits until every one printed its --json result, stops them
// and the origin, and checks every file.
func swarmProcRound(ctx context.Context, sc Scenario, workDir string, o RunOptions, serve bool, want [32]byte) (SwarmProcRound, error) {
	round := SwarmProcRound{Serve: serve}
	n := sc.Swarm.Downloaders
	dir := filepath.Join(workDir, fmt.Sprintf("round-serve-%v", serve))
	if err := os.RemoveAll(dir); err != nil {
		return round, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return round, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The origin logs its metrics endpoint's address at level info.
	origin, err := startSeedProcessArgs(ctx, o.Exe, []string{"--listen", "127.0.0.1:0", "--state-dir", filepath.Join(workDir, "origin"),
		"--metrics", "127.0.0.1:0", "--log-level", "info", "--log-format", "json", filepath.Join(workDir, "served")})
	if err != nil {
		return round, err
	}
	originUp := true
	stopOrigin := func() error {
		if !originUp {
			return nil
		}
		originUp = false
		var err error
		round.OriginCPU, round.OriginPeakRSS, err = origin.stop()
		return err
	}
	defer func() { _ = stopOrigin() }()
	metricsURL, err := seedMetricsURL(ctx, origin)
	if err != nil {
		return round, err
	}
	addr, err := seedAddr(origin.URL)
	if err != nil {
		return round, err
	}
	link, err := NewLink(ctx, addr, sc.Seeds[0])
	if err != nil {
		return round, err
	}
	defer link.Close()
	originURL, err := linkURL(origin.URL, link)
	if err != nil {
		return round, err
	}

	out := func(i int) string { return filepath.Join(dir, fmt.Sprintf("out%02d.bin", i)) }
	gets := make([]*swarmGet, n)
	var wg sync.WaitGroup
	done := make(chan int, n)
	start := time.Now()
	for i := range n {
		args := []string{"get", "--json", "--quiet", "-o", out(i), "--seed", originURL}
		if serve {
			args = append(args, "--serve", "--listen", "127.0.0.1:0", "--state-dir", filepath.Join(dir, fmt.Sprintf("peer%02d", i)))
			if sc.Swarm.PeerUpload > 0 {
				args = append(args, "--upload-limit", fmt.Sprintf("%.0fB/s", sc.Swarm.PeerUpload))
			}
		} else {
			args = append(args, "--max-peers", "0")
		}
		g := &swarmGet{cmd: exec.CommandContext(ctx, o.Exe, append(args, fileName)...)}
		g.cmd.Env = cleanEnv()
		g.cmd.Stderr = &g.stderr
		g.cmd.WaitDelay = 5 * time.Second
		stdout, err := g.cmd.StdoutPipe()
		if err == nil {
			err = g.cmd.Start()
		}
		if err != nil {
			cancel()
			wg.Wait()
			return round, fmt.Errorf("starting downloader %d: %w", i+1, err)
		}
		g.rss = watchRSS(g.cmd.Process.Pid)
		gets[i] = g
		wg.Go(func() {
			// With --serve the first line is the URL it serves at; the
			// --json result is the line that starts with '{'.
			sendDone := func() { done <- i }
			scan := bufio.NewScanner(stdout)
			scan.Buffer(make([]byte, 64<<10), 4<<20)
			for scan.Scan() {
				line := scan.Bytes()
				if len(line) == 0 || line[0] != '{' || g.res != nil {
					continue
				}
				var j getJSON
				if err := json.Unmarshal(line, &j); err != nil {
					g.err = fmt.Errorf("bad --json line: %v", err)
					continue
				}
				g.doneAt = time.Since(start).Seconds()
				g.res = &j
				if !j.OK {
					g.err = fmt.Errorf("get: %s", j.Error)
				}
				sendDone()
				sendDone = func() {}
			}
			werr := g.cmd.Wait()
			if g.res == nil && g.err == nil {
				g.err = fmt.Errorf("get exited without a result: %v: %s", werr, lastLine(g.stderr.String()))
			}
			sendDone()
		})
	}
	// Every downloader reports once: its result, or its exit without one.
	var failed []error
	for range n {
		select {
		case i := <-done:
			if gets[i].err != nil {
				failed = append(failed, fmt.Errorf("downloader %d: %w", i+1, gets[i].err))
			}
		case <-ctx.Done():
			failed = append(failed, ctx.Err())
		}
		if len(failed) > 0 {
			break
		}
	}
	if len(failed) == 0 {
		// The origin's count, before anything stops.
		round.OriginSent, err = scrapeCounter(ctx, metricsURL, "quicxfer_seed_bytes_sent_total")
		if err != nil {
			failed = append(failed, fmt.Errorf("origin metrics: %w", err))
		}
	}
	// The sharing downloaders seed until stopped.
	for _, g := range gets {
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
	}
	wg.Wait()
	if len(failed) > 0 {
		return round, errors.Join(failed...)
	}
	round.OriginLinkDown = link.Stats().Down.Bytes
	if err := stopOrigin(); err != nil {
		return round, err
	}

	round.FirstDone = gets[0].doneAt
	for i, g := range gets {
		cpu, rss := usage(g.cmd.ProcessState, g.rss())
		round.DownloaderCPU += cpu
		round.DownloaderRSS = max(round.DownloaderRSS, rss)
		round.FirstDone = min(round.FirstDone, g.doneAt)
		round.LastDone = max(round.LastDone, g.doneAt)
		round.Fetched += g.res.FetchedBytes
		for _, s := range g.res.Seeds {
			if s.URL == originURL {
				round.FromOrigin += s.Bytes
			} else {
				round.FromPeers += s.Bytes
			}
		}
		if fi, err := os.Stat(out(i)); err != nil || fi.Size() != sc.FileSize {
			return round, fmt.Errorf("downloader %d: output missing or of the wrong size (%v)", i+1, err)
		}
		if err := verify(out(i), want); err != nil {
			return round, fmt.Errorf("downloader %d: %w", i+1, err)
		}
		round.Verified++
	}
	if sc.FileSize > 0 {
		round.OriginOverSize = float64(round.OriginSent) / float64(sc.FileSize)
		round.FromPeersOverSize = float64(round.FromPeers) / float64(sc.FileSize)
	}
	return round, nil
}

// seedMetricsURL waits for a seed process started with --metrics and
// --log-format json to log its metrics endpoint, and returns its URL.
func seedMetricsURL(ctx context.Context, sp *seedProcess) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		for line := range strings.Lines(sp.stderr.String()) {
			var l struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "metrics endpoint" && l.URL != "" {
				return l.URL, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the seed logged no metrics endpoint: %s", lastLine(sp.stderr.String()))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// scrapeCounter reads one unlabelled metric from a Prometheus text
// endpoint.
func scrapeCounter(ctx context.Context, url, name string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", url, resp.Status)
	}
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) >= 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %q: %w", name, f[1], err)
			}
			return int64(v), nil
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no %s", url, name)
}
