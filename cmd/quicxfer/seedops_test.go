package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// opsSeed is a `quicxfer seed` process with its stderr (log lines).
type opsSeed struct {
	*proc
	url string
}

// startOpsSeed runs `quicxfer seed ARGS...` with JSON logs and waits for its
// ready line. At cleanup it sends SIGTERM and checks that the seed exits 0.
func startOpsSeed(t *testing.T, args ...string) *opsSeed {
	t.Helper()
	s := &opsSeed{proc: startProc(t, append([]string{"seed", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--log-format", "json"}, args...)...)}
	t.Cleanup(func() { s.stop(t) })
	s.url = s.proc.url(t)
	return s
}

// stop sends SIGTERM once and checks the exit code is 0.
func (s *opsSeed) stop(t *testing.T) { s.terminate(t) }

// logs parses every complete stderr line as a JSON object; a line that is
// not one fails the test. Nothing written yet is no line (a slow seed), and
// a last line without its newline is still being written.
func (s *opsSeed) logs(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	text := s.stderr.String()
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	} else {
		text = ""
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "a log line that is not JSON: %q", line)
		out = append(out, m)
	}
	return out
}

// waitLog waits for a log line with that message and returns it.
func (s *opsSeed) waitLog(t *testing.T, msg string) map[string]any {
	t.Helper()
	var found map[string]any
	require.Eventually(t, func() bool {
		for _, l := range s.logs(t) {
			if l["msg"] == msg {
				found = l
				return true
			}
		}
		return false
	}, 20*time.Second, 20*time.Millisecond, "no %q log line in: %s", msg, s.stderr.String())
	return found
}

// scrapeMetric fetches url and returns the value of the sample with that
// exact name and labels (as written in the exposition, e.g.
// `quicxfer_seed_file_requests_total{file="a"}`), or -1 if it is not there.
func scrapeMetric(t *testing.T, url, sample string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			require.NoError(t, err, line)
			return v
		}
	}
	return -1
}

// The contract line `quicxfer seed --metrics HOST:PORT`, JSON logs with a
// line per connection opened and closed, and no token anywhere in them.
func TestSeedMetricsAndJSONLogs(t *testing.T) {
	dir := t.TempDir()
	const token = "s3cret-token-never-logged"
	data := writeRandom(t, filepath.Join(dir, "a.bin"), 3<<20+5, 7)
	s := startOpsSeed(t, "--metrics", "127.0.0.1:0", "--token", token, dir)
	ep := s.waitLog(t, "metrics endpoint")
	metricsURL, _ := ep["url"].(string)
	healthURL, _ := ep["health"].(string)
	require.True(t, strings.HasPrefix(metricsURL, "http://127.0.0.1:") && strings.HasSuffix(metricsURL, "/metrics"), "%v", ep)

	// The endpoint is up while the seed still hashes (503 starting); then
	// it says what it serves.
	var body []byte
	require.Eventually(t, func() bool {
		resp, err := http.Get(healthURL)
		if err != nil {
			return false
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "health never 200: %s", body)
	require.Equal(t, fmt.Sprintf("ok: serving 1 files, %d bytes\n", len(data)), string(body))

	out := filepath.Join(t.TempDir(), "a.bin")
	get := run(t, "get", "--seed", s.url, "--token", token, "-o", out, "--quiet", "a.bin")
	require.Zero(t, get.code, get.stderr)
	requireFile(t, out, data)

	require.EqualValues(t, len(data), scrapeMetric(t, metricsURL, "quicxfer_seed_bytes_sent_total"))
	// A file this size has blocks of the smallest size.
	blocks := scrapeMetric(t, metricsURL, "quicxfer_seed_blocks_sent_total")
	require.EqualValues(t, (len(data)+manifest.MinBlockSize-1)/manifest.MinBlockSize, blocks)
	require.EqualValues(t, blocks+1, scrapeMetric(t, metricsURL, `quicxfer_seed_file_requests_total{file="a.bin"}`), "the manifest and every block")

	closed := s.waitLog(t, "connection closed")
	s.stop(t)
	logs := s.logs(t)
	var opened int
	for _, l := range logs {
		switch l["msg"] {
		case "connection opened":
			opened++
			require.Contains(t, l["remote"], "127.0.0.1:")
		case "block sent":
			t.Fatalf("a line per block at info level: %v", l)
		}
		require.Contains(t, l, "level")
		require.Contains(t, l, "time")
	}
	require.Equal(t, 1, opened)
	require.Contains(t, closed["remote"], "127.0.0.1:")
	require.EqualValues(t, len(data), closed["bytes"])
	require.EqualValues(t, blocks, closed["blocks"])
	require.Greater(t, closed["requests"], blocks) // AUTH, manifest, blocks
	require.IsType(t, float64(0), closed["duration"], "seconds")
	require.Less(t, closed["duration"], 60.0, "seconds, not nanoseconds")
	require.NotEmpty(t, closed["reason"])
	require.NotContains(t, s.stderr.String(), token)
}

func TestSeedCheck(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "srv")
	writeRandom(t, filepath.Join(dir, "a"), 1000, 1)
	writeRandom(t, filepath.Join(dir, "sub", "b"), 2000, 2)
	state := filepath.Join(tmp, "state", "quicxfer")
	put := func(name, content string) string {
		p := filepath.Join(tmp, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	tokens := put("tokens", "# tokens\nfirst-token-value\nsecond-token-value\n")
	empty := put("empty", "# nothing\n")
	garbage := put("garbage.pem", "not a PEM file\n")
	stateFile := put("state-file", "")
	dangling := filepath.Join(tmp, "dangling")
	require.NoError(t, os.Symlink(filepath.Join(tmp, "nonexistent"), dangling))

	t.Run("good", func(t *testing.T) {
		r := runEnv(t, "", []string{"QUICXFER_METRICS=127.0.0.1:9464", "QUICXFER_TOKEN_FILE=" + tokens},
			"seed", "--check", "--state-dir", state, "--listen", "[::]:4433", dir)
		require.Zero(t, r.code, r.stderr)
		require.Empty(t, r.stderr)
		require.Equal(t, "quicxfer seed: configuration OK: 2 files (3.0 kB) under 1 PATH; listen [::]:4433; metrics 127.0.0.1:9464; state dir "+
			state+" (to be made); certificate: self-signed, to be made; private: 2 tokens\n", r.stdout)
		require.NotContains(t, r.stdout, "token-value")
		_, err := os.Stat(state)
		require.ErrorIs(t, err, os.ErrNotExist, "--check writes nothing")
	})

	t.Run("existing certificate", func(t *testing.T) {
		st := t.TempDir()
		s := startOpsSeed(t, "--state-dir", st, dir) // makes the certificate
		s.stop(t)
		r := run(t, "seed", "--check", "--state-dir", st, dir)
		require.Zero(t, r.code, r.stderr)
		require.Contains(t, r.stdout, "; certificate: self-signed; public\n")
	})

	bad := []struct {
		name string
		env  []string
		args []string
		code int
		msg  string
	}{
		{"no PATH", nil, []string{}, exitUsage, "give at least one PATH"},
		{"missing PATH", nil, []string{filepath.Join(tmp, "nope")}, exitFailure, "cannot serve"},
		{"bad listen", nil, []string{"--listen", "4433", dir}, exitUsage, "--listen"},
		{"bad listen port", nil, []string{"--listen", "0.0.0.0:99999", dir}, exitUsage, "bad port"},
		{"bad metrics", nil, []string{"--metrics", "localhost", dir}, exitUsage, "--metrics"},
		{"bad rate", nil, []string{"--rate-limit", "fast", dir}, exitUsage, "--rate-limit"},
		{"bad rate from the environment", []string{"QUICXFER_RATE_LIMIT=fast"}, []string{dir}, exitUsage, "--rate-limit"},
		{"bad log level", nil, []string{"--log-level", "loud", dir}, exitUsage, "--log-level"},
		{"bad log format", nil, []string{"--log-format", "xml", dir}, exitUsage, "--log-format"},
		{"cert without key", nil, []string{"--cert", garbage, dir}, exitUsage, "--cert and --key"},
		{"bad certificate", nil, []string{"--cert", garbage, "--key", garbage, dir}, exitFailure, "loading certificate"},
		{"missing token file", nil, []string{"--token-file", filepath.Join(tmp, "nope"), dir}, exitFailure, "token file"},
		{"empty token file", nil, []string{"--token-file", empty, dir}, exitFailure, "no token in it"},
		{"bad client CA", nil, []string{"--client-ca", garbage, dir}, exitFailure, "no PEM certificate"},
		{"state dir is a file", nil, []string{"--state-dir", stateFile, dir}, exitFailure, "not a directory"},
		{"state dir is a dangling link", nil, []string{"--state-dir", dangling, dir}, exitFailure, "a symbolic link to " + filepath.Join(tmp, "nonexistent") + ", which does not exist"},
		{"state dir where nothing can be made", nil, []string{"--state-dir", "/proc", dir}, exitFailure, "state directory /proc: cannot write in it"},
		{"bad size", nil, []string{"--max-send-buffers", "lots", dir}, exitUsage, "--max-send-buffers"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"seed", "--check"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--state-dir") {
				args = append([]string{"seed", "--check", "--state-dir", state}, tc.args...)
			}
			r := runEnv(t, "", tc.env, args...)
			require.Equal(t, tc.code, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			require.Empty(t, r.stdout)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			require.True(t, strings.HasPrefix(r.stderr, "quicxfer: "), r.stderr)
			require.Contains(t, r.stderr, tc.msg)
		})
	}
}

// SIGHUP to the real binary while a download runs: the download completes,
// the new file is listed, the removed one is gone, and one log line sums up
// the reload.
func TestSeedSIGHUP(t *testing.T) {
	dir := t.TempDir()
	big := writeRandom(t, filepath.Join(dir, "big.bin"), 5<<20, 3) // at 2 MB/s, over two seconds
	writeRandom(t, filepath.Join(dir, "old.bin"), 1000, 4)
	s := startOpsSeed(t, "--rate-limit", "2MB/s", "--metrics", "127.0.0.1:0", dir)
	metricsURL, _ := s.waitLog(t, "metrics endpoint")["url"].(string)

	out := filepath.Join(t.TempDir(), "big.bin")
	get := exec.Command(bin, "get", "--seed", s.url, "-o", out, "--quiet", "big.bin")
	var getErr syncbuf.Buffer
	get.Stderr = &getErr
	require.NoError(t, get.Start())
	getDone := make(chan error, 1)
	go func() { getDone <- get.Wait() }()
	t.Cleanup(func() {
		if get.ProcessState == nil {
			_ = get.Process.Kill()
			<-getDone
		}
	})
	require.Eventually(t, func() bool {
		return scrapeMetric(t, metricsURL, "quicxfer_seed_bytes_sent_total") > 0
	}, 20*time.Second, 20*time.Millisecond, "the download does not start")

	writeRandom(t, filepath.Join(dir, "new.bin"), 3000, 5)
	require.NoError(t, os.Remove(filepath.Join(dir, "old.bin")))
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	reloaded := s.waitLog(t, "reloaded")
	select {
	case err := <-getDone:
		getDone <- err
		t.Fatalf("the download ended before the reload (%v); the test proves nothing", err)
	default:
	}
	require.EqualValues(t, 1, reloaded["added"])
	require.EqualValues(t, 1, reloaded["removed"])
	require.EqualValues(t, 0, reloaded["changed"])
	require.EqualValues(t, 2, reloaded["files"])

	select {
	case err := <-getDone:
		require.NoError(t, err, getErr.String())
	case <-time.After(60 * time.Second):
		t.Fatal("download did not finish")
	}
	requireFile(t, out, big)

	ls := run(t, "ls", "--seed", s.url)
	require.Zero(t, ls.code, ls.stderr)
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(ls.stdout), "\n") {
		listed = append(listed, strings.Fields(line)[0])
	}
	require.Equal(t, []string{"big.bin", "new.bin"}, listed)
	g := run(t, "get", "--seed", s.url, "-o", filepath.Join(t.TempDir(), "old.bin"), "--quiet", "old.bin")
	require.Equal(t, exitFailure, g.code)
	require.Equal(t, 1, strings.Count(g.stderr, "\n"), g.stderr)
	s.stop(t)
}

// Every seed flag but --check has its variable QUICXFER_<FLAG>; the example
// configuration names only those (and QUICXFER_SEED_PATHS, for the unit),
// lists every one, and passes --check once its paths point at real
// directories.
func TestSeedEnvExample(t *testing.T) {
	known := map[string]bool{"QUICXFER_SEED_PATHS": true}
	for _, f := range seedCommand().Flags {
		name := f.Names()[0]
		ev := f.(interface{ GetEnvVars() []string }).GetEnvVars()
		if name == "check" {
			require.Empty(t, ev, "--check is a mode, not configuration")
			continue
		}
		want := "QUICXFER_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		require.Equal(t, []string{want}, ev, "--%s", name)
		known[want] = true
	}

	b, err := os.ReadFile(filepath.Join("..", "..", "contrib", "systemd", "seed.env"))
	require.NoError(t, err)
	seen := map[string]bool{}
	var env []string
	for _, line := range strings.Split(string(b), "\n") {
		active := !strings.HasPrefix(line, "#")
		name, value, ok := strings.Cut(strings.TrimPrefix(line, "#"), "=")
		if !ok || !strings.HasPrefix(name, "QUICXFER_") {
			continue
		}
		require.True(t, known[name], "seed.env names %s, which no seed flag reads", name)
		seen[name] = true
		if active {
			env = append(env, name+"="+value)
		}
	}
	for name := range known {
		require.True(t, seen[name], "seed.env does not mention %s", name)
	}

	unit, err := os.ReadFile(filepath.Join("..", "..", "contrib", "systemd", "quicxfer-seed.service"))
	require.NoError(t, err)
	require.Contains(t, string(unit), "ExecStart=/usr/local/bin/quicxfer seed $QUICXFER_SEED_PATHS\n")
	require.Contains(t, string(unit), "ExecReload=/bin/kill -HUP $MAINPID\n")

	// The example's settings, with its paths made real.
	srv := t.TempDir()
	writeRandom(t, filepath.Join(srv, "f"), 100, 1)
	env = append(env, "QUICXFER_STATE_DIR="+filepath.Join(t.TempDir(), "state"))
	r := runEnv(t, "", env, "seed", "--check", srv)
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "configuration OK: 1 file (100 B) under 1 PATH; listen :4433; metrics 127.0.0.1:9464;")
}
