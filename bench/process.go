package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/quicxfer"
)

// download is one downloader's outcome, whether it ran in this process or
// as `quicxfer get --json` in a child.
type download struct {
	Elapsed float64 // seconds, as the downloader measured it (from its start to the end)
	Wall    float64 // seconds, as the bench measured it (launch to exit, process start included)
	Size    int64
	Fetched int64
	Resumed int64
	Seeds   []downloadSeed
	CPU     float64 // user+system seconds: the child's own, or this whole process's
	RSS     int64   // peak resident set of the child in bytes; 0 in process
	Child   bool
}

type downloadSeed struct {
	Bytes, Received int64
	Note            string
	Conns           int // the most connections to it at once
}

// getJSON is what `quicxfer get --json` prints (README, "get").
type getJSON struct {
	Size         int64   `json:"size"`
	FetchedBytes int64   `json:"fetched_bytes"`
	ResumedBytes int64   `json:"resumed_bytes"`
	ElapsedS     float64 `json:"elapsed_s"`
	OK           bool    `json:"ok"`
	Error        string  `json:"error"`
	Seeds        []struct {
		URL      string `json:"url"`
		Bytes    int64  `json:"bytes"`
		Received int64  `json:"received_bytes"`
		Note     string `json:"note"`
		Conns    int    `json:"conns"`
	} `json:"seeds"`
}

// runDownload fetches fileName from urls into out: in a child process
// `exe get --json` when exe is set, else with quicxfer.Download here.
func runDownload(ctx context.Context, exe string, urls []string, out string, conns int) (download, error) {
	if exe == "" {
		return downloadInProcess(ctx, urls, out, conns)
	}
	cmd, stdout, stderr := getCommand(ctx, exe, urls, out, conns)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return download{}, fmt.Errorf("starting %s get: %w", exe, err)
	}
	return finishGet(cmd, watchRSS(cmd.Process.Pid), start, stdout, stderr)
}

func downloadInProcess(ctx context.Context, urls []string, out string, conns int) (download, error) {
	start := time.Now()
	cpu0 := cpuSeconds()
	if conns <= 0 {
		conns = quicxfer.ConnsAuto // get's default
	}
	res, err := quicxfer.Download(ctx, quicxfer.Options{Seeds: urls, Name: fileName, Out: out, ConnsPerSeed: conns})
	d := download{Wall: time.Since(start).Seconds(), CPU: cpuSeconds() - cpu0}
	if err != nil {
		return d, err
	}
	d.Elapsed, d.Size, d.Fetched, d.Resumed = res.Elapsed.Seconds(), res.Size, res.FetchedBytes, res.ResumedBytes
	for _, s := range res.Seeds {
		d.Seeds = append(d.Seeds, downloadSeed{Bytes: s.Bytes, Received: s.Received, Note: s.Note, Conns: s.Conns})
	}
	return d, nil
}

// getCommand prepares `exe get --json --quiet`; its output goes to the
// returned buffers.
func getCommand(ctx context.Context, exe string, urls []string, out string, conns int) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	args := []string{"get", "--json", "--quiet", "-o", out}
	if conns > 0 {
		args = append(args, "--conns-per-seed", fmt.Sprint(conns))
	}
	for _, u := range urls {
		args = append(args, "--seed", u)
	}
	cmd := exec.CommandContext(ctx, exe, append(args, fileName)...)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	return cmd, &stdout, &stderr
}

// finishGet waits for a started `get --json` and reads its figures; rss is
// the child's watchRSS.
func finishGet(cmd *exec.Cmd, rss func() int64, start time.Time, stdout, stderr *bytes.Buffer) (download, error) {
	werr := cmd.Wait()
	d := download{Wall: time.Since(start).Seconds(), Child: true}
	d.CPU, d.RSS = usage(cmd.ProcessState, rss())
	var j getJSON
	if err := json.Unmarshal(stdout.Bytes(), &j); err != nil {
		return d, fmt.Errorf("get: %v; no JSON result (%v): %s", werr, err, lastLine(stderr.String()))
	}
	if werr != nil || !j.OK {
		return d, fmt.Errorf("get: %v: %s", werr, j.Error)
	}
	d.Elapsed, d.Size, d.Fetched, d.Resumed = j.ElapsedS, j.Size, j.FetchedBytes, j.ResumedBytes
	for _, s := range j.Seeds {
		d.Seeds = append(d.Seeds, downloadSeed{Bytes: s.Bytes, Received: s.Received, Note: s.Note, Conns: s.Conns})
	}
	return d, nil
}

// usage returns the user+system CPU seconds and the peak resident set in
// bytes of an exited process; watched is its peak as watchRSS saw it.
//
// The rusage's ru_maxrss alone would be wrong: Go starts a child with
// vfork semantics (CLONE_VM), and at exec Linux folds the high-water mark
// of the memory the child had until then, this process's, into the child's
// ru_maxrss. So a child's ru_maxrss is at least this process's peak RSS at
// the time. It counts only where it exceeds that peak; otherwise the
// child's own VmHWM, sampled while it ran, is the figure.
func usage(ps *os.ProcessState, watched int64) (cpu float64, rss int64) {
	if ps == nil {
		return 0, watched
	}
	cpu = (ps.UserTime() + ps.SystemTime()).Seconds()
	rss = watched
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		if own := selfMaxRSS(); ru.Maxrss<<10 > own {
			rss = max(rss, ru.Maxrss<<10) // Linux reports KiB
		}
	}
	return cpu, rss
}

// selfMaxRSS returns this process's peak resident set in bytes.
func selfMaxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10
}

// rssPoll is how often watchRSS samples a child's VmHWM.
const rssPoll = 20 * time.Millisecond

// watchRSS samples the VmHWM (the peak resident set of its own memory
// since exec) of process pid until it exits; the returned function, called
// after the process was waited for, stops the sampling and returns the
// highest value seen, in bytes. Growth in the last rssPoll before the exit
// can be missed; VmHWM is a high-water mark, so nothing earlier is.
func watchRSS(pid int) func() int64 {
	var peak int64
	stop, done := make(chan struct{}), make(chan struct{})
	path := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		defer close(done)
		t := time.NewTicker(rssPoll)
		defer t.Stop()
		for {
			if v, ok := readVmHWM(path); ok {
				peak = max(peak, v)
			}
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return peak
	}
}

// readVmHWM reads the VmHWM line of a /proc/PID/status file, in bytes.
func readVmHWM(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n << 10, true
				}
			}
		}
	}
	return 0, false
}

// userHZ is the unit of the times in /proc/PID/stat: USER_HZ, which is 100
// on every architecture Go runs Linux on but alpha (sysconf(_SC_CLK_TCK)
// would need cgo).
const userHZ = 100

// procCPUHow says how procCPU measures, for the report.
const procCPUHow = "its threads' run time in /proc/PID/task/*/schedstat, before and after"

// procCPU returns the CPU seconds that the running process pid has used so
// far: the sum of its threads' run times in /proc/PID/task/*/schedstat (the
// scheduler's count, in nanoseconds; a thread that ended is no longer
// there, but nginx has one thread and a Go process keeps its threads), or
// where the kernel has no schedstat, utime+stime in /proc/PID/stat (to
// 1/userHZ s, too coarse for a short interval).
func procCPU(pid int) (float64, error) {
	if cpu, err := schedstatCPU(pid); err == nil {
		return cpu, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(string(b))
}

// schedstatCPU sums the first field (run time, ns) of the schedstat of
// each thread of process pid, in seconds.
func schedstatCPU(pid int) (float64, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var ns int64
	read := 0
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue // the thread ended since the listing
		}
		if err != nil {
			return 0, err
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, fmt.Errorf("bench: empty %s/%s/schedstat", dir, t.Name())
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: %s/%s/schedstat: %w", dir, t.Name(), err)
		}
		ns += n
		read++
	}
	if read == 0 {
		return 0, fmt.Errorf("bench: no thread of process %d has a schedstat", pid)
	}
	return float64(ns) / 1e9, nil
}

// parseProcStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line, in seconds. The command name (field 2) is in
// parentheses and may hold spaces and parentheses itself, so the fields are
// counted from the last ')'.
func parseProcStatCPU(line string) (float64, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: /proc/PID/stat without a command name: %q", line)
	}
	f := strings.Fields(line[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: /proc/PID/stat with %d fields after the name", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: /proc/PID/stat: %w", err)
		}
		ticks += n
	}
	return float64(ticks) / userHZ, nil
}

// gib is a gibibyte, the unit of the CPU cost figures (CPU seconds per GiB).
const gib = 1 << 30

// perGiB returns cpu seconds per GiB of n bytes, 0 for no bytes.
func perGiB(cpu float64, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return cpu * gib / float64(n)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// seedProcess is `quicxfer seed` in a child process.
type seedProcess struct {
	cmd    *exec.Cmd
	URL    string
	stderr *syncbuf.Buffer // read while the seed runs (its log)
	rss    func() int64    // from watchRSS
}

var seedURL = regexp.MustCompile(`quic://\S+`)

// startSeedProcess runs `exe seed` on 127.0.0.1 serving dir, with env
// added to this process's environment, and returns once it printed its URL.
func startSeedProcess(ctx context.Context, exe, dir, stateDir string, env ...string) (*seedProcess, error) {
	return startSeedProcessArgs(ctx, exe, []string{"--listen", "127.0.0.1:0", "--state-dir", stateDir, "--log-level", "warn", dir}, env...)
}

// startSeedProcessArgs runs `exe seed ARGS...` and returns once it printed
// its URL.
func startSeedProcessArgs(ctx context.Context, exe string, args []string, env ...string) (*seedProcess, error) {
	cmd := exec.CommandContext(ctx, exe, append([]string{"seed"}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(cleanEnv(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	sp := &seedProcess{cmd: cmd, stderr: new(syncbuf.Buffer)}
	cmd.Stderr = sp.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s seed: %w", exe, err)
	}
	sp.rss = watchRSS(cmd.Process.Pid)
	// The ready line is all the seed prints on standard output, so nothing
	// else needs reading; Wait closes the pipe.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if sp.URL = seedURL.FindString(line); sp.URL == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		sp.rss()
		return nil, fmt.Errorf("seed process did not start: %q %v: %s", line, err, lastLine(sp.stderr.String()))
	}
	return sp, nil
}

// stop ends the seed with SIGTERM (a graceful stop) and returns its CPU
// seconds and peak RSS.
func (sp *seedProcess) stop() (cpu float64, rss int64, err error) {
	if err := sp.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, 0, err
	}
	err = sp.cmd.Wait()
	cpu, rss = usage(sp.cmd.ProcessState, sp.rss())
	if err != nil {
		err = fmt.Errorf("seed process: %w: %s", err, lastLine(sp.stderr.String()))
	}
	return cpu, rss, err
}

// cleanEnv is this process's environment without the QUICXFER_<FLAG>
// variables a user may have set for their own runs (QUICXFER_ALL,
// QUICXFER_JSON, QUICXFER_RATE_LIMIT, ...): every flag of quicxfer reads
// one, and the children of a benchmark run must see only the flags the
// benchmark gives them. The bench's own QUICXFER_BENCH_ variables stay.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "QUICXFER_") && !strings.HasPrefix(kv, "QUICXFER_BENCH_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
