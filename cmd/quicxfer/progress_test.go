package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui"
	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui/ptytest"
	"github.com/quicxfer/quicxfer/internal/syncbuf"
)

// statusJSON is what `status --json OUT` prints, for the tests that decode
// it.
type statusJSON = ui.Status

// runOnPTY runs quicxfer with args on a pseudo-terminal of 40 rows and
// 160 columns, requires that it succeeds and redraws its display in
// place, and returns what it drew without escape sequences.
func runOnPTY(t *testing.T, args ...string) string {
	t.Helper()
	raw := runOnTerm(t, "xterm-256color", args...) // whatever the tests' terminal is
	require.Regexp(t, `\x1b\[\d+A`, raw, "the display is redrawn in place (cursor up)")
	text := ptytest.Text(raw)
	t.Logf("terminal output without escapes:\n%s", text)
	return text
}

// runOnTerm runs quicxfer with args on a pseudo-terminal of 40 rows and
// 160 columns whose TERM is term, requires that it succeeds, and returns
// what it drew.
func runOnTerm(t *testing.T, term string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TERM="+term)
	master, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: ptytest.Rows, Cols: ptytest.Cols})
	require.NoError(t, err)
	t.Cleanup(func() { master.Close() })
	wait := ptytest.ReadAll(t, master)
	require.NoError(t, cmd.Wait())
	return wait()
}

// TestProgressTerminal runs get on a pseudo-terminal: the bar is drawn
// and redrawn in place with bytes, rate and ETA, one line per seed with
// its state, rate and share, then the summary.
func TestProgressTerminal(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), 8<<20, 40)
	u1 := startSeed(t, "--rate-limit", "3MB/s", dir)
	u2 := startSeed(t, "--rate-limit", "1MB/s", dir)
	out := filepath.Join(t.TempDir(), "f.bin")

	text := runOnPTY(t, "get", "--seed", u1, "--seed", u2, "-o", out, "f.bin")
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.Regexp(t, `f\.bin \[=+>?-*\] +\d+\.\d% [\d.]+ [kM]?B of 8\.4 MB, now [\d.]+ [kM]?B/s, ETA (\d+s|\d+m\d\ds)`, text, "the total line: bar, bytes, rate now, ETA")
	require.Contains(t, text, "100.0% 8.4 MB of 8.4 MB", "drawn complete at the end")
	avg := regexp.MustCompile(`100\.0% 8\.4 MB of 8\.4 MB, average ([\d.]+ [kM]?B/s), done`).FindAllStringSubmatch(text, -1)
	require.NotEmpty(t, avg, "the last picture says the average")
	require.Contains(t, text, "s, "+avg[len(avg)-1][1]+" average", "the summary's average is the last picture's")
	for _, u := range []string{u1, u2} {
		addr, _, _ := strings.Cut(u, "?")
		require.Regexp(t, regexp.QuoteMeta(addr)+` +(probing|active) +[\d.]+ [kM]?B/s +[\d.]+ [kM]?B +\d+\.\d%`, text, "a line per seed: state, rate, bytes, share")
		require.Regexp(t, regexp.QuoteMeta(u)+` +[\d.]+ [kM]?B +\d+\.\d% +\d+ blocks`, text, "the summary names each seed with its share")
	}
	require.Regexp(t, regexp.QuoteMeta(out)+`: 8\.4 MB verified \(content ID [0-9a-f]{64}\) in [\d.]+m?s, [\d.]+ [kM]?B/s average`, text)
	require.Regexp(t, `0 B resumed from disk, 8\.\d MB fetched over the network`, text)
}

// TestProgressPlain: when standard error is not a terminal, get writes
// plain progress lines (no escape sequences) and the summary.
func TestProgressPlain(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "f.bin"), 2<<20, 41)
	u1 := startSeed(t, "--rate-limit", "2MB/s", dir)
	u2 := startSeed(t, dir)
	out := filepath.Join(t.TempDir(), "f.bin")
	r := run(t, "get", "--seed", u1, "--seed", u2, "-o", out, "f.bin")
	require.Zero(t, r.code, r.stderr)
	require.Empty(t, r.stdout, "progress never goes to standard output")
	require.NotContains(t, r.stderr, "\x1b", "no escape sequences")
	require.Regexp(t, `(?m)^progress: +[\d.]+% [\d.]+ [kM]?B of 2\.1 MB, now [\d.]+ [kM]?B/s, (ETA \S+|done); `, r.stderr)
	for _, u := range []string{u1, u2} {
		addr, _, _ := strings.Cut(u, "?")
		require.Regexp(t, `progress: .*`+regexp.QuoteMeta(addr)+` \w+ [\d.]+ [kM]?B/s [\d.]+%`, r.stderr)
		require.Contains(t, r.stderr, u+" ", "the summary names each seed")
	}
	require.Contains(t, r.stderr, "2.1 MB verified (content ID")

	// --quiet: nothing but what goes wrong.
	r = run(t, "get", "--seed", u1, "-o", filepath.Join(t.TempDir(), "g"), "--quiet", "f.bin")
	require.Zero(t, r.code, r.stderr)
	require.Empty(t, r.stderr)
	require.Empty(t, r.stdout)
}

// TestProgressDumbTerminal: on a terminal whose TERM is dumb (it cannot
// move its cursor), get writes the plain progress lines, no escape
// sequence, then the summary.
func TestProgressDumbTerminal(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "f.bin"), 2<<20, 42)
	u := startSeed(t, "--rate-limit", "2MB/s", dir)
	out := filepath.Join(t.TempDir(), "f.bin")
	raw := runOnTerm(t, "dumb", "get", "--seed", u, "-o", out, "f.bin")
	t.Logf("terminal:\n%s", raw)
	require.NotContains(t, raw, "\x1b", "no escape sequences")
	require.Regexp(t, `(?m)^progress: +[\d.]+% [\d.]+ [kM]?B of 2\.1 MB, now [\d.]+ [kM]?B/s, ETA \S+; `, raw)
	require.Contains(t, raw, "2.1 MB verified (content ID")
}

// event is the part of a --json-progress line the tests look at.
type event struct {
	Type          string    `json:"type"`
	Time          time.Time `json:"time"`
	URL           string    `json:"url"`
	Block         *int      `json:"block"`
	Reason        string    `json:"reason"`
	Name          string    `json:"name"`
	ContentID     string    `json:"content_id"`
	Size          int64     `json:"size"`
	BlockSize     int64     `json:"block_size"`
	VerifiedBytes int64     `json:"verified_bytes"`
	FetchedBytes  int64     `json:"fetched_bytes"`
	OK            bool      `json:"ok"`
	Error         string    `json:"error"`
	Sources       []struct {
		URL   string  `json:"url"`
		State string  `json:"state"`
		Rate  float64 `json:"rate"`
		Bytes int64   `json:"bytes"`
	} `json:"sources"`
	Seeds []struct {
		URL       string `json:"url"`
		Bytes     int64  `json:"bytes"`
		BadBlocks int64  `json:"bad_blocks"`
	} `json:"seeds"`
}

// parseEvents parses every line of out as an event and checks what every
// event must have.
func parseEvents(t *testing.T, out string) []event {
	t.Helper()
	var evs []event
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		var e event
		require.NoError(t, json.Unmarshal([]byte(line), &e), "every line is one JSON object: %q", line)
		require.NotEmpty(t, e.Type, line)
		require.False(t, e.Time.IsZero(), "every event has a time: %q", line)
		evs = append(evs, e)
	}
	return evs
}

func ofType(evs []event, typ, url string) []event {
	var out []event
	for _, e := range evs {
		if e.Type == typ && (url == "" || e.URL == url) {
			out = append(out, e)
		}
	}
	return out
}

// TestJSONProgressLiar: with --json-progress every line of standard
// output is a JSON event: start first, done last (with the --json fields),
// the seeds joining, progress, and a seed whose file was corrupted after
// it was hashed: its blocks are rejected, one event each, and it is
// dropped.
func TestJSONProgressLiar(t *testing.T) {
	t.Parallel()
	dir, liarDir := t.TempDir(), t.TempDir()
	const size = 6 << 20
	data := writeRandom(t, filepath.Join(dir, "f.bin"), size, 42)
	require.NoError(t, os.WriteFile(filepath.Join(liarDir, "f.bin"), data, 0o644))
	honest := startSeed(t, "--rate-limit", "3MB/s", dir)
	liar := startSeed(t, liarDir)
	// The liar hashed the good file; now it serves other bytes.
	f, err := os.OpenFile(filepath.Join(liarDir, "f.bin"), os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(bytes.Repeat([]byte{0xAA}, size), 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	out := filepath.Join(t.TempDir(), "f.bin")
	r := run(t, "get", "--seed", liar, "--seed", honest, "-o", out, "--json-progress", "--json-progress-interval", "300ms", "f.bin")
	require.Zero(t, r.code, r.stderr)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, data, got)
	evs := parseEvents(t, r.stdout)
	t.Logf("events:\n%s", r.stdout)

	start := evs[0]
	require.Equal(t, "start", start.Type, "start comes first")
	require.Equal(t, "f.bin", start.Name)
	require.Equal(t, int64(size), start.Size)
	require.Equal(t, int64(128<<10), start.BlockSize)
	require.Len(t, start.ContentID, 64)
	done := evs[len(evs)-1]
	require.Equal(t, "done", done.Type, "done comes last")
	require.True(t, done.OK)
	require.Equal(t, int64(size), done.Size)
	require.GreaterOrEqual(t, done.FetchedBytes, int64(size))
	require.Len(t, done.Seeds, 2)
	require.Len(t, ofType(evs, "start", ""), 1)
	require.Len(t, ofType(evs, "done", ""), 1)
	require.Empty(t, ofType(evs, "error", ""))
	for i := 1; i < len(evs); i++ {
		require.False(t, evs[i].Time.Before(evs[i-1].Time), "in time order")
	}

	require.NotEmpty(t, ofType(evs, "source_joined", honest))
	rejected := ofType(evs, "block_rejected", liar)
	require.GreaterOrEqual(t, len(rejected), 3, "dropped at the third bad block")
	require.Equal(t, done.Seeds[0].BadBlocks, int64(len(rejected)), "one event per bad block")
	for _, e := range rejected {
		require.NotNil(t, e.Block)
		require.NotEmpty(t, e.Reason)
	}
	dropped := ofType(evs, "source_dropped", liar)
	require.Len(t, dropped, 1)
	require.Contains(t, dropped[0].Reason, "failed verification")
	require.Empty(t, ofType(evs, "block_rejected", honest))

	progress := ofType(evs, "progress", "")
	require.NotEmpty(t, progress)
	last := progress[len(progress)-1]
	require.Equal(t, int64(size), last.VerifiedBytes, "a last progress event at 100%")
	require.Len(t, last.Sources, 2)
	require.Equal(t, "dropped", last.Sources[0].State)
	require.Equal(t, int64(size), last.Sources[1].Bytes)
	require.Equal(t, "progress", evs[len(evs)-2].Type)

	// Both flags: a usage error.
	r = run(t, "get", "--seed", honest, "-o", out+"2", "--json", "--json-progress", "f.bin")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "--json-progress")
}

// TestJSONProgressSeedKilled: a seed killed in the middle of the download
// is reported (stalled, down or dropped), and the download completes from
// the other.
func TestJSONProgressSeedKilled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const size = 10 << 20
	data := writeRandom(t, filepath.Join(dir, "f.bin"), size, 43)
	stay := startSeed(t, "--rate-limit", "2MB/s", dir)
	victim, victimCmd := startSeedProcess(t, "--rate-limit", "2MB/s", dir)
	out := filepath.Join(t.TempDir(), "f.bin")

	cmd := exec.Command(bin, "get", "--seed", stay, "--seed", victim, "-o", out, "--json-progress", "--json-progress-interval", "200ms", "f.bin")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	var lines []string
	killed := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		var e event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		if !killed && e.Type == "progress" && e.VerifiedBytes >= size/5 {
			require.NoError(t, victimCmd.Process.Kill())
			killed = true
		}
	}
	require.NoError(t, cmd.Wait(), stderr.String())
	require.True(t, killed, "the seed was killed during the download")
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, data, got)

	evs := parseEvents(t, strings.Join(lines, "\n"))
	t.Logf("events:\n%s", strings.Join(lines, "\n"))
	require.Equal(t, "start", evs[0].Type)
	require.Equal(t, "done", evs[len(evs)-1].Type)
	var told []event
	for _, typ := range []string{"stalled", "source_down", "source_dropped"} {
		told = append(told, ofType(evs, typ, victim)...)
	}
	require.NotEmpty(t, told, "the killed seed is reported")
	require.NotEmpty(t, told[0].Reason)
	require.Empty(t, ofType(evs, "source_dropped", stay))
}

// startSeedProcess is startSeed for a seed the test kills: it returns the
// process too, and at cleanup only makes sure it is gone.
func startSeedProcess(t *testing.T, args ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"seed", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir()}, args...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the seed's ready line")
	u := urlRE.FindString(line)
	require.NotEmpty(t, u, line)
	return u, cmd
}

// TestJSONProgressInterrupted: Ctrl-C during a --json-progress download
// ends the stream with an error event that says how to resume, and the
// exit code is 130; an error before any manifest gives error alone.
func TestJSONProgressInterrupted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "f.bin"), 8<<20, 44)
	u := startSeed(t, "--rate-limit", "2MB/s", dir)
	out := filepath.Join(t.TempDir(), "f.bin")

	cmd := exec.Command(bin, "get", "--seed", u, "-o", out, "--json-progress", "--json-progress-interval", "100ms", "f.bin")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var lines []string
	sent := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if !sent && strings.Contains(sc.Text(), `"type":"progress"`) {
			require.NoError(t, cmd.Process.Signal(os.Interrupt))
			sent = true
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 130, ee.ExitCode())
	evs := parseEvents(t, strings.Join(lines, "\n"))
	require.Equal(t, "start", evs[0].Type)
	last := evs[len(evs)-1]
	require.Equal(t, "error", last.Type)
	require.False(t, last.OK)
	require.Contains(t, last.Error, "run the same command to resume")
	require.Equal(t, int64(8<<20), last.Size, "what is known of the download is there")

	r := run(t, "get", "--seed", u, "-o", out, "--json-progress", "nope")
	require.Equal(t, 1, r.code)
	evs = parseEvents(t, r.stdout)
	require.Len(t, evs, 1)
	require.Equal(t, "error", evs[0].Type)
	require.Contains(t, evs[0].Error, "not found")
}
