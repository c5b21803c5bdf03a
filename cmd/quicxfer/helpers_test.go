package main

// The helpers that the tests of the command share: the binary they drive,
// running it, long-running processes (seeds) whose lines they read, and the
// checks of what a run printed.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/internal/testkit"
)

// bin is the quicxfer binary the tests drive, as a user's script would.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "quicxfer-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "quicxfer")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building quicxfer:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var urlRE = regexp.MustCompile(`quic://\S+`)

type cliResult struct {
	code           int
	stdout, stderr string
}

// runCmd runs the binary with args in dir (the test's working directory if
// empty) with env added to the environment, and returns its exit code and
// output. With a positive guard, a command still running after guard (a
// hang guard only) is killed and the test fails.
func runCmd(t *testing.T, dir string, env []string, guard time.Duration, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if guard > 0 {
		ctx, cancel = context.WithTimeout(ctx, guard)
	}
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if guard > 0 {
		cmd.WaitDelay = 5 * time.Second
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v: still running after %s; stderr: %s", args, guard, stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return cliResult{code, stdout.String(), stderr.String()}
}

func run(t *testing.T, args ...string) cliResult {
	t.Helper()
	return runEnv(t, "", nil, args...)
}

// runEnv runs the binary in dir (the test's working directory if empty)
// with env added to the environment.
func runEnv(t *testing.T, dir string, env []string, args ...string) cliResult {
	t.Helper()
	return runCmd(t, dir, env, 0, args...)
}

// runGuarded is run with a hang guard: a command that has not exited after
// a generous time is killed and the test fails (a FIFO opened without
// O_NONBLOCK blocks forever, and SIGTERM did not end it).
func runGuarded(t *testing.T, dir string, env []string, args ...string) cliResult {
	t.Helper()
	return runCmd(t, dir, env, 2*time.Minute, args...)
}

// runBounded is runEnv for a command that must end by itself: one that is
// still running after a minute (it took a bad flag for a good one and went
// on to download or serve) is killed, and the test fails.
func runBounded(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	return runCmd(t, "", env, time.Minute, args...)
}

// runRefused runs a command that must stop by itself (a refusal); one still
// running after a minute, a hang guard only, is killed and fails the test.
func runRefused(t *testing.T, args ...string) cliResult {
	t.Helper()
	return runCmd(t, "", nil, time.Minute, args...)
}

func writeRandom(t *testing.T, path string, size int, seed uint64) []byte {
	t.Helper()
	return testkit.WriteRandom(t, path, size, seed)
}

// requireFile checks that path holds want.
func requireFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// requireTokenNeeded checks that the private seed at url refuses a get
// without a token ("not authorised") and serves f.bin, want, with token.
func requireTokenNeeded(t *testing.T, url, token string, want []byte) {
	t.Helper()
	r := run(t, "get", "--seed", url, "--max-peers", "0", "-o", filepath.Join(t.TempDir(), "f.bin"), "--quiet", "f.bin")
	require.NotZero(t, r.code, "no token, no file")
	require.Contains(t, r.stderr, "not authorised")
	out := filepath.Join(t.TempDir(), "f.bin")
	r = run(t, "get", "--seed", url, "--max-peers", "0", "--token", token, "-o", out, "--quiet", "f.bin")
	require.Zero(t, r.code, r.stderr)
	requireFile(t, out, want)
}

// procGuard is how long a process's line or exit is waited for: a hang
// guard only.
const procGuard = 2 * time.Minute

// proc is a long-running process (a seed, a sharing downloader) whose
// stdout lines the test reads.
type proc struct {
	cmd        *exec.Cmd
	lines      chan string
	stderr     *syncbuf.Buffer
	exited     chan struct{}
	err        error
	terminated bool // terminate was called
}

// startProc starts quicxfer with args; it is killed when the test ends.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	return startCmd(t, exec.Command(bin, args...))
}

// startCmd starts cmd, which must not have its stdout or stderr set; it is
// killed when the test ends.
func startCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, lines: make(chan string, 16), stderr: &syncbuf.Buffer{}, exited: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	p.cmd.Stderr = p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// url waits for the first stdout line with a URL and returns the URL.
func (p *proc) url(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-p.lines:
		require.True(t, ok, "exited before printing its URL: %s", p.stderr.String())
		u := urlRE.FindString(line)
		require.NotEmpty(t, u, "line without a URL: %q", line)
		return u
	case <-time.After(procGuard):
		t.Fatalf("no URL: %s", p.stderr.String())
	}
	return ""
}

// line waits for the next stdout line.
func (p *proc) line(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-p.lines:
		require.True(t, ok, "exited: %s", p.stderr.String())
		return line
	case <-time.After(procGuard):
		t.Fatalf("no line: %s", p.stderr.String())
	}
	return ""
}

// stop sends sig and returns the exit code.
func (p *proc) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	return p.wait(t)
}

// terminate sends SIGTERM, the first time it is called, and checks that the
// process exits 0, as a seed does.
func (p *proc) terminate(t *testing.T) {
	t.Helper()
	if p.terminated {
		return
	}
	p.terminated = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	require.Zero(t, p.wait(t), "must exit 0 on SIGTERM; stderr: %s", p.stderr.String())
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(procGuard):
		t.Fatalf("did not exit: %s", p.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startSeed runs `quicxfer seed` on 127.0.0.1 and returns the URL from its
// ready line. At cleanup it sends SIGTERM and checks that the seed exits 0.
func startSeed(t *testing.T, args ...string) string {
	t.Helper()
	p := startProc(t, append([]string{"seed", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir()}, args...)...)
	t.Cleanup(func() { p.terminate(t) })
	u := p.url(t)
	require.Contains(t, u, "127.0.0.1:")
	return u
}

// requireOneLine checks that r failed with one line on stderr holding want.
func requireOneLine(t *testing.T, r cliResult, want string) {
	t.Helper()
	t.Logf("stderr: %s", r.stderr)
	require.NotZero(t, r.code, "stdout %q", r.stdout)
	require.Contains(t, r.stderr, want)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line: %q", r.stderr)
	require.NotContains(t, r.stderr, "panic")
}

// requireUsage checks that r is a usage error (exit 2) of one line that
// holds each of want, and that nothing was printed on standard output.
func requireUsage(t *testing.T, r cliResult, want ...string) {
	t.Helper()
	require.Equal(t, exitUsage, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	require.Empty(t, r.stdout)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	for _, w := range want {
		require.Contains(t, r.stderr, w)
	}
}

// requireNothingIn checks that dir exists and is empty: nothing was written.
func requireNothingIn(t *testing.T, dir string) {
	t.Helper()
	require.DirExists(t, dir)
	requireEmptyDir(t, dir)
}

// requireEmptyDir checks that dir holds nothing (or does not exist).
func requireEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(t, err)
	require.Empty(t, entries, "%s", dir)
}
