package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dirSource writes the directory the tests below download: docs/a.bin
// (3 MB), docs/c.txt (5000 bytes) and docs/sub/b.bin (2 MB), and returns
// what the output directory must hold.
func dirSource(t *testing.T) (src string, want map[string][]byte) {
	t.Helper()
	src = t.TempDir()
	return src, map[string][]byte{
		"a.bin":     writeRandom(t, filepath.Join(src, "docs", "a.bin"), 3_000_000, 61),
		"c.txt":     writeRandom(t, filepath.Join(src, "docs", "c.txt"), 5000, 62),
		"sub/b.bin": writeRandom(t, filepath.Join(src, "docs", "sub", "b.bin"), 2_000_000, 63),
	}
}

// TestDirProgressTerminal runs get of a directory on a pseudo-terminal:
// one display for the set (mpb, redrawn in place): the total line with
// bytes, rate and ETA, files done N of M, a line per file in progress;
// drawn complete at the end without the file lines, then the summary.
func TestDirProgressTerminal(t *testing.T) {
	src, want := dirSource(t)
	u := startSeed(t, "--rate-limit", "2MB/s", src)
	out := filepath.Join(t.TempDir(), "out")

	text := runOnPTY(t, "get", "--seed", u, "--parallel", "2", "-o", out, "docs")
	requireTree(t, out, want)
	require.Regexp(t, `docs/ \[=+>?-*\] +\d+\.\d% [\d.]+ [kM]?B of 5\.0 MB, now [\d.]+ [kM]?B/s, ETA (\d+s|—)`, text, "the total line: bar, bytes, rate now, ETA")
	require.Regexp(t, `(?m)^  files done [0-2] of 3$`, text, "files done N of M while it runs")
	fileLine := `(?m)^  %s +\d+\.\d%% +[\d.]+ [kM]?B of %s +[\d.]+ [kM]?B/s$`
	require.Regexp(t, fmt.Sprintf(fileLine, `a\.bin`, `3\.0 MB`), text, "a line per file in progress: name, share, bytes, rate")
	require.Regexp(t, fmt.Sprintf(fileLine, `sub/b\.bin`, `2\.0 MB`), text)
	require.Contains(t, text, "100.0% 5.0 MB of 5.0 MB", "drawn complete at the end")
	final := text[strings.LastIndex(text, "docs/ ["):]
	avg := regexp.MustCompile(`100\.0% 5\.0 MB of 5\.0 MB, average ([\d.]+ [kM]?B/s), done`).FindStringSubmatch(final)
	require.NotNil(t, avg, "the last picture says the average")
	require.Regexp(t, regexp.QuoteMeta(out)+`: 3 files, 5\.0 MB verified in [\d.]+m?s, `+regexp.QuoteMeta(avg[1])+` average`, final, "the summary's average is the last picture's")
	require.Contains(t, final, "  files done 3 of 3")
	require.NotRegexp(t, fmt.Sprintf(fileLine, `\S+`, `.*`), final, "no file line is left in the last picture")
	require.Regexp(t, regexp.QuoteMeta(out)+`: 3 files, 5\.0 MB verified in [\d.]+m?s`, final, "the summary follows")
	require.Regexp(t, regexp.QuoteMeta(u)+` +5\.0 MB +100\.0%`, final, "the seed's share")
}

// TestDirProgressPlain: when standard error is not a terminal, a directory
// download writes plain progress lines (no escape sequences) for the set,
// with the files in progress, then the summary; --quiet writes nothing.
func TestDirProgressPlain(t *testing.T) {
	src, want := dirSource(t)
	u := startSeed(t, "--rate-limit", "4MB/s", src)
	out := filepath.Join(t.TempDir(), "out")
	r := run(t, "get", "--seed", u, "-o", out, "docs")
	require.Zero(t, r.code, r.stderr)
	requireTree(t, out, want)
	require.Empty(t, r.stdout, "progress never goes to standard output")
	require.NotContains(t, r.stderr, "\x1b", "no escape sequences")
	require.Regexp(t, `(?m)^progress: +[\d.]+% [\d.]+ [kM]?B of 5\.0 MB, now [\d.]+ [kM]?B/s, (ETA \S+|done); files done [0-3] of 3; (a\.bin|c\.txt|sub/b\.bin) [\d.]+ [kM]?B of [\d.]+ [kM]?B [\d.]+ [kM]?B/s`, r.stderr)
	require.Contains(t, r.stderr, out+": 3 files, 5.0 MB verified")

	r = run(t, "get", "--seed", u, "-o", filepath.Join(t.TempDir(), "q"), "--quiet", "docs/")
	require.Zero(t, r.code, r.stderr)
	require.Empty(t, r.stderr)
	require.Empty(t, r.stdout)
}

// dirEvent is the part of a directory's --json-progress line the tests
// look at.
type dirEvent struct {
	event
	Out         string `json:"out"`
	Dir         string `json:"dir"`
	FilesDone   int    `json:"files_done"`
	FilesFailed int    `json:"files_failed"`
	FilesTotal  int    `json:"files_total"`
	Files       []struct {
		Name          string `json:"name"`
		Out           string `json:"out"`
		Size          int64  `json:"size"`
		VerifiedBytes int64  `json:"verified_bytes"`
		OK            bool   `json:"ok"`
	} `json:"files"`
}

// TestDirJSONProgress: --json-progress works for a directory: every line
// is a JSON event, in time order; a start per file with its name and out,
// source events naming their file, progress events for the whole set with
// each file in progress, file_done per file, and done last with the
// directory --json object's fields. A directory no seed has: one error
// event.
func TestDirJSONProgress(t *testing.T) {
	t.Parallel()
	src, want := dirSource(t)
	u := startSeed(t, "--rate-limit", "4MB/s", src)
	out := filepath.Join(t.TempDir(), "out")
	r := run(t, "get", "--seed", u, "--parallel", "2", "-o", out, "--json-progress", "--json-progress-interval", "200ms", "docs/")
	require.Zero(t, r.code, r.stderr)
	requireTree(t, out, want)
	t.Logf("events:\n%s", r.stdout)
	var evs []dirEvent
	for _, line := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") {
		parseEvents(t, line) // type and time
		var e dirEvent
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		evs = append(evs, e)
	}
	for i := 1; i < len(evs); i++ {
		require.False(t, evs[i].Time.Before(evs[i-1].Time), "in time order")
	}
	byType := map[string][]dirEvent{}
	for _, e := range evs {
		byType[e.Type] = append(byType[e.Type], e)
	}
	require.Equal(t, "start", evs[0].Type, "a file's start comes first")
	names := map[string]string{"docs/a.bin": "a.bin", "docs/c.txt": "c.txt", "docs/sub/b.bin": filepath.Join("sub", "b.bin")}
	require.Len(t, byType["start"], 3, "one start per file")
	require.Len(t, byType["file_done"], 3, "one file_done per file")
	for _, typ := range []string{"start", "file_done"} {
		for _, e := range byType[typ] {
			rel, ok := names[e.Name]
			require.True(t, ok, "a file of the directory: %q", e.Name)
			require.Equal(t, filepath.Join(out, rel), e.Out)
			require.Equal(t, int64(len(want[filepath.ToSlash(rel)])), e.Size)
		}
	}
	for _, e := range byType["file_done"] {
		require.True(t, e.OK)
		require.Len(t, e.Seeds, 1)
	}
	require.NotEmpty(t, byType["source_joined"])
	for _, e := range byType["source_joined"] {
		require.Equal(t, u, e.URL)
		require.Contains(t, names, e.Name, "a source event names its file")
		require.NotEmpty(t, e.Out)
	}
	require.Empty(t, byType["error"])
	require.Empty(t, byType["file_error"])

	progress := byType["progress"]
	require.NotEmpty(t, progress)
	inFlight := false
	for _, p := range progress {
		require.Equal(t, out, p.Dir)
		require.Equal(t, 3, p.FilesTotal)
		require.Equal(t, int64(5_005_000), p.Size)
		require.LessOrEqual(t, len(p.Files), 2, "--parallel 2")
		for _, f := range p.Files {
			require.Contains(t, names, f.Name)
			require.NotEmpty(t, f.Out)
			inFlight = inFlight || (f.VerifiedBytes > 0 && f.VerifiedBytes < f.Size)
		}
	}
	require.True(t, inFlight, "a progress event shows a file part way")
	last := progress[len(progress)-1]
	require.Equal(t, int64(5_005_000), last.VerifiedBytes, "a last progress event at 100%")
	require.Equal(t, 3, last.FilesDone)
	require.Empty(t, last.Files)
	require.Len(t, last.Sources, 1)
	require.Equal(t, int64(5_005_000), last.Sources[0].Bytes)

	done := evs[len(evs)-1]
	require.Equal(t, "done", done.Type, "done comes last")
	require.Len(t, byType["done"], 1)
	require.True(t, done.OK)
	require.Equal(t, out, done.Dir)
	require.Equal(t, 3, done.FilesDone)
	require.Equal(t, 3, done.FilesTotal)
	require.Equal(t, int64(5_005_000), done.Size)
	require.Equal(t, int64(5_005_000), done.FetchedBytes)
	require.Len(t, done.Files, 3)
	require.Len(t, done.Seeds, 1)
	require.Contains(t, r.stderr, out+": 3 files", "the summary on standard error")

	// Without the trailing slash: get looks for a file first, then the
	// directory, and the events are the directory's.
	out2 := filepath.Join(t.TempDir(), "docs2")
	r = run(t, "get", "--seed", u, "-o", out2, "--json-progress", "docs")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	var end dirEvent
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &end), r.stdout)
	require.Equal(t, "done", end.Type)
	require.Equal(t, 3, end.FilesDone)

	// A directory no seed has: one error event, exit 1.
	r = run(t, "get", "--seed", u, "-o", filepath.Join(t.TempDir(), "x"), "--json-progress", "nodir/")
	require.Equal(t, 1, r.code, r.stderr)
	evs2 := parseEvents(t, r.stdout)
	require.Len(t, evs2, 1, r.stdout)
	require.Equal(t, "error", evs2[0].Type)
	require.False(t, evs2[0].OK)
	require.Contains(t, evs2[0].Error, "not found")
}
