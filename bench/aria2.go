package bench

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/quicxfer/quicxfer/internal/digest"
)

// # The aria2 baseline
//
// RunAria2 downloads a scenario's file with aria2c, one URL per mirror
// (aria2's multi-source mode), from one HTTPSeed per entry of sc.Seeds, each
// behind a link with that entry's LinkConfig:
//
//   - sc.NoLink: the HTTP seeds listen on 127.0.0.1 and aria2c reaches them
//     directly, as quicxfer does in that case;
//   - where NetnsAvailable (root): a Fabric, whose links are the same pipes
//     as a Link (rate, RTT, jitter, loss, drop-tail queue) applied to IP
//     packets, so TCP meets the same RTT and the same loss as QUIC does; see
//     netns.go;
//   - otherwise: a TCPLink per seed, a relay on 127.0.0.1 with the same rate
//     and one-way delays on the byte stream; loss cannot be applied to a
//     byte stream and is left out (Aria2Result.Links says so). See
//     tcplink.go.
//
// The scenario's failures are reproduced as for quicxfer:
//
//   - LinkConfig.DownBudget (scenario 4): the Fabric's or the relay's link
//     goes silent once the budget has crossed it, so that mirror answers
//     the first request (headers and a few KiB of body) and then never
//     sends again;
//   - Scenario.KillSeed (scenario 3): once the mirrors together have sent
//     KillAt of the file (HTTPSeed.Sent, summed every aria2KillTick), that
//     mirror is killed (HTTPSeed.Kill: listener closed, connections reset)
//     and, with relays, its TCPLink closed. A Fabric's link stays, as a
//     Link does for quicxfer, so the resets reach aria2c over it, as
//     seed.Server.Close's CONNECTION_CLOSE reaches quicxfer, and later
//     connections are refused. Aria2Result.KilledAt is the fraction sent
//     at that moment.
//
// aria2c runs as a child process; the figures are its own: wall time from
// start to exit, user+system CPU seconds and peak RSS from its rusage. The
// output is checked against the source's SHA-256.

// Aria2Options are the aria2c settings a run tries. Zero values leave
// aria2's defaults (-s 5, -x 1, -k 20M, --uri-selector=feedback).
type Aria2Options struct {
	Split        int    // -s, --split: connections in total
	PerServer    int    // -x, --max-connection-per-server (aria2 caps it at 16)
	MinSplitSize string // -k, --min-split-size, e.g. "1M"
	URISelector  string // --uri-selector: inorder, feedback or adaptive
}

// Args returns the aria2c flags for o.
func (o Aria2Options) Args() []string {
	var a []string
	if o.Split > 0 {
		a = append(a, "--split="+strconv.Itoa(o.Split))
	}
	if o.PerServer > 0 {
		a = append(a, "--max-connection-per-server="+strconv.Itoa(o.PerServer))
	}
	if o.MinSplitSize != "" {
		a = append(a, "--min-split-size="+o.MinSplitSize)
	}
	if o.URISelector != "" {
		a = append(a, "--uri-selector="+o.URISelector)
	}
	return a
}

// String returns o as short aria2c flags, "default" for aria2's defaults.
func (o Aria2Options) String() string {
	var a []string
	if o.Split > 0 {
		a = append(a, "-s "+strconv.Itoa(o.Split))
	}
	if o.PerServer > 0 {
		a = append(a, "-x "+strconv.Itoa(o.PerServer))
	}
	if o.MinSplitSize != "" {
		a = append(a, "-k "+o.MinSplitSize)
	}
	if o.URISelector != "" {
		a = append(a, "--uri-selector "+o.URISelector)
	}
	if len(a) == 0 {
		return "default"
	}
	return strings.Join(a, " ")
}

// Aria2Result is the outcome of one aria2c download.
type Aria2Result struct {
	Options       Aria2Options
	Elapsed       time.Duration // aria2c's wall time, start to exit
	Bytes         int64         // size of the verified output (0 unless it matched)
	ThroughputBps float64       // Bytes ÷ Elapsed, bytes/s
	CPUSeconds    float64       // aria2c's user+system time
	PeakRSSBytes  int64         // aria2c's peak resident set
	Skipped       string        // why the run did not happen (nil error), e.g. aria2c missing
	Err           string        // the download failed: aria2c's exit and last output, or a wrong hash

	// Links says how the links were emulated: "loopback" (sc.NoLink),
	// "netns, tcp <congestion control>" (a Fabric) or "tcp-relay, no loss"
	// (TCPLinks).
	Links string
	// SeedBytes is the body bytes each mirror wrote to its connections (see
	// HTTPSeed.Sent), in sc.Seeds' order.
	SeedBytes []int64
	// KilledAt is, with sc.KillSeed, the fraction of the file the mirrors
	// had sent when that mirror was killed; 0 if the download ended first.
	KilledAt float64
}

// aria2KillTick is how often the mirrors' counters are summed for
// Scenario.KillSeed.
const aria2KillTick = 10 * time.Millisecond

// Aria2Missing is Aria2Result.Skipped when aria2c is not installed.
const Aria2Missing = "aria2c not installed (apt-get install aria2)"

// Aria2Variants returns the aria2 settings worth trying for sc: aria2's
// defaults first, then
//
//   - one connection per mirror (-s n -x 1), with aria2's 20 MiB and with
//     1 MiB pieces (-k 1M) so that a fast mirror can take more of them;
//   - several connections per mirror (-x 4, -s 4n, -k 1M): more TCP windows
//     on long or lossy paths;
//   - aria2's maximum (-s 16 -x 16 -k 1M), with the feedback and the
//     adaptive URI selector.
//
// With one seed the per-mirror settings collapse, and only -x 4 and -x 16
// remain beside the default.
func Aria2Variants(sc Scenario) []Aria2Options {
	n := max(len(sc.Seeds), 1)
	v := []Aria2Options{{}}
	if n > 1 {
		v = append(v,
			Aria2Options{Split: n, PerServer: 1},
			Aria2Options{Split: n, PerServer: 1, MinSplitSize: "1M"},
		)
	}
	v = append(v,
		Aria2Options{Split: min(4*n, 16), PerServer: 4, MinSplitSize: "1M"},
		Aria2Options{Split: 16, PerServer: 16, MinSplitSize: "1M"},
	)
	if n > 1 {
		v = append(v, Aria2Options{Split: 16, PerServer: 16, MinSplitSize: "1M", URISelector: "adaptive"})
	}
	return v
}

// BestAria2 returns the fastest successful result of rs, and false if none
// succeeded.
func BestAria2(rs []Aria2Result) (Aria2Result, bool) {
	var best Aria2Result
	ok := false
	for _, r := range rs {
		if r.Skipped != "" || r.Err != "" || r.Bytes == 0 {
			continue
		}
		if !ok || r.Elapsed < best.Elapsed {
			best, ok = r, true
		}
	}
	return best, ok
}

// aria2Timeout bounds one aria2c run when ctx has no deadline: far beyond
// any scenario's ideal time, so it only stops a run that hangs.
func aria2Timeout(sc Scenario) time.Duration {
	return max(10*time.Minute, time.Duration(20*sc.Ideal()*float64(time.Second)))
}

// RunAria2 downloads sc's file with aria2c and options opt, through HTTP
// mirrors behind links like sc.Seeds, in workDir (which must exist; the
// source goes to workDir/served, as with Run, the output to workDir/aria2).
//
// A missing aria2c is not an error: the result's Skipped says so. A failed
// download (aria2c's exit status, a wrong hash) is reported in the result's
// Err, so that a suite can show it; the error is for failures of the bench
// itself (files, listeners, namespaces).
func RunAria2(ctx context.Context, sc Scenario, workDir string, opt Aria2Options) (Aria2Result, error) {
	return runAria2(ctx, sc, workDir, opt, "")
}

// Link emulations for TCP, as in Aria2Result.Links.
const (
	linksLoopback = "loopback"
	linksNetns    = "netns"
	linksRelay    = "tcp-relay, no loss"
)

// runAria2 is RunAria2 with the links forced to links, unless "" (choose).
func runAria2(ctx context.Context, sc Scenario, workDir string, opt Aria2Options, links string) (Aria2Result, error) {
	res := Aria2Result{Options: opt}
	aria2, err := exec.LookPath("aria2c")
	if err != nil {
		res.Skipped = Aria2Missing
		return res, nil
	}
	if len(sc.Seeds) == 0 {
		return res, errors.New("bench: scenario without seeds")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, aria2Timeout(sc))
		defer cancel()
	}

	served := filepath.Join(workDir, "served")
	if err := os.MkdirAll(served, 0o755); err != nil {
		return res, err
	}
	src := filepath.Join(served, fileName)
	want, err := writeFile(src, sc.FileSize)
	if err != nil {
		return res, fmt.Errorf("writing the source file: %w", err)
	}
	outDir := filepath.Join(workDir, "aria2")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return res, err
	}
	out := filepath.Join(outDir, fileName)
	for _, p := range []string{out, out + ".aria2"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, err
		}
	}

	// Mirrors and links.
	var (
		seeds   []*HTTPSeed
		relays  []*TCPLink // with linksRelay, one per seed
		closers []func() error
		urls    []string
		command = func(ctx context.Context, args ...string) *exec.Cmd {
			return exec.CommandContext(ctx, aria2, args...)
		}
	)
	defer func() {
		for _, s := range seeds {
			s.Close()
		}
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
	}()
	listen := func(int) (net.Listener, error) { return net.Listen("tcp4", "127.0.0.1:0") }
	if links == "" {
		switch {
		case sc.NoLink:
			links = linksLoopback
		case NetnsAvailable():
			links = linksNetns
		default:
			links = linksRelay
		}
	}
	res.Links = links
	if links == linksNetns && !NetnsAvailable() {
		return res, errors.New("bench: " + NetnsUnavailable())
	}
	switch links {
	case linksLoopback:
	case linksNetns:
		fab, err := NewFabric(ctx, sc.Seeds)
		if err != nil {
			return res, err
		}
		closers = append(closers, fab.Close)
		if cc := fab.TCPCongestionControl(); cc != "" {
			res.Links += ", tcp " + cc
		}
		listen = fab.ListenTCP
		command = func(ctx context.Context, args ...string) *exec.Cmd { return fab.Command(ctx, aria2, args...) }
	case linksRelay:
	default:
		return res, fmt.Errorf("bench: unknown links %q", links)
	}
	for i, cfg := range sc.Seeds {
		ln, err := listen(i)
		if err != nil {
			return res, fmt.Errorf("mirror %d: %w", i+1, err)
		}
		s, err := StartHTTPSeed(ln, src)
		if err != nil {
			ln.Close()
			return res, err
		}
		seeds = append(seeds, s)
		u := s.URL()
		if links == linksRelay {
			l, err := NewTCPLink(ctx, ln.Addr().String(), cfg)
			if err != nil {
				return res, err
			}
			closers = append(closers, l.Close)
			relays = append(relays, l)
			u = "http://" + l.Addr().String() + "/" + fileName
		}
		urls = append(urls, u)
	}

	args := []string{
		"--no-conf=true",
		"--dir=" + outDir,
		"--out=" + fileName,
		"--allow-overwrite=true",
		"--auto-file-renaming=false",
		"--file-allocation=none",
		"--console-log-level=warn",
		"--summary-interval=0",
		"--download-result=hide",
		"--check-certificate=false",
	}
	args = append(args, opt.Args()...)
	args = append(args, urls...)
	cmd := command(ctx, args...)
	var output tailBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	cmd.WaitDelay = 5 * time.Second
	stopKill := startAria2Kill(sc, seeds, relays, &res.KilledAt)
	start := time.Now()
	runErr := cmd.Run()
	res.Elapsed = time.Since(start)
	stopKill()
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
			res.CPUSeconds = tv(ru.Utime) + tv(ru.Stime)
			res.PeakRSSBytes = ru.Maxrss << 10 // KiB on Linux
		}
	}
	for _, s := range seeds {
		res.SeedBytes = append(res.SeedBytes, s.Sent())
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("aria2c: %w", ctx.Err())
	}
	if runErr != nil {
		res.Err = fmt.Sprintf("aria2c: %v: %s", runErr, output.String())
		return res, nil
	}
	got, err := digest.File(out)
	if err != nil {
		res.Err = fmt.Sprintf("aria2c exited 0 without the output: %v", err)
		return res, nil
	}
	if got != want {
		res.Err = fmt.Sprintf("aria2c output differs from the source: sha256 %s, want %s", hex.EncodeToString(got[:]), hex.EncodeToString(want[:]))
		return res, nil
	}
	res.Bytes = sc.FileSize
	if res.Elapsed > 0 {
		res.ThroughputBps = float64(res.Bytes) / res.Elapsed.Seconds()
	}
	return res, nil
}

// startAria2Kill starts, if sc has a KillSeed, the watch that kills that
// mirror (and closes its relay, if relays has one) once the mirrors together
// have sent sc.KillAt of the file, storing the fraction sent then in
// *killedAt. The function it returns stops the watch and waits for it, so
// *killedAt may be read after it.
func startAria2Kill(sc Scenario, seeds []*HTTPSeed, relays []*TCPLink, killedAt *float64) func() {
	k := sc.KillSeed - 1
	if k < 0 || k >= len(seeds) || sc.FileSize <= 0 {
		return func() {}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(aria2KillTick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			var sum int64
			for _, s := range seeds {
				sum += s.Sent()
			}
			if float64(sum) < sc.KillAt*float64(sc.FileSize) {
				continue
			}
			*killedAt = float64(sum) / float64(sc.FileSize)
			_ = seeds[k].Kill()
			if k < len(relays) {
				_ = relays[k].Close()
			}
			return
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}

// aria2Exit is how one aria2c child went.
type aria2Exit struct {
	elapsed float64 // seconds, launch to exit
	cpu     float64 // its user+system seconds
	rss     int64   // its peak resident set (usage)
	err     error   // it failed or was stopped: the reason and its last output
}

// runAria2Child runs aria2c with args, stopping it after timeout.
func runAria2Child(ctx context.Context, aria2 string, args []string, timeout time.Duration) aria2Exit {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var x aria2Exit
	cmd := exec.CommandContext(ctx, aria2, args...)
	var output tailBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		rss := watchRSS(cmd.Process.Pid)
		err = cmd.Wait()
		x.elapsed = time.Since(start).Seconds()
		x.cpu, x.rss = usage(cmd.ProcessState, rss())
	}
	switch {
	case ctx.Err() != nil:
		x.err = fmt.Errorf("aria2c stopped after %.0f s: %w: %s", x.elapsed, ctx.Err(), output.String())
	case err != nil:
		x.err = fmt.Errorf("aria2c: %w: %s", err, output.String())
	}
	return x
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = append(t.b[:0], t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(bytes.TrimSpace(t.b)) }
