package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/syncbuf"
)

type getJSON struct {
	Size         int64   `json:"size"`
	FetchedBytes int64   `json:"fetched_bytes"`
	ResumedBytes int64   `json:"resumed_bytes"`
	ElapsedS     float64 `json:"elapsed_s"`
	Seeds        []struct {
		URL       string `json:"url"`
		Bytes     int64  `json:"bytes"`
		Blocks    int64  `json:"blocks"`
		BadBlocks int64  `json:"bad_blocks"`
		Conns     int    `json:"conns"`
	} `json:"seeds"`
}

func TestContract(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "isos", "a.iso"), 3<<20+7, 1)
	u1 := startSeed(t, dir)
	u2 := startSeed(t, "--rate-limit", "20MB/s", dir)

	ls := run(t, "ls", "--seed", u1)
	require.Zero(t, ls.code, ls.stderr)
	fields := strings.Fields(strings.TrimSpace(ls.stdout))
	require.Len(t, fields, 3, "one line: name, size, content ID: %q", ls.stdout)
	require.Equal(t, "isos/a.iso", fields[0])
	require.Equal(t, fmt.Sprint(len(data)), fields[1])

	man := run(t, "manifest", filepath.Join(dir, "isos", "a.iso"))
	require.Zero(t, man.code, man.stderr)
	require.Equal(t, fields[2], strings.TrimSpace(man.stdout), "manifest prints the ID the seed reports")

	out := filepath.Join(t.TempDir(), "a.iso")
	get := run(t, "get", "--seed", u1, "--seed", u2, "-o", out, "--json", "isos/a.iso")
	require.Zero(t, get.code, get.stderr)
	var j getJSON
	require.NoError(t, json.Unmarshal([]byte(get.stdout), &j), get.stdout)
	require.Equal(t, int64(len(data)), j.Size)
	require.GreaterOrEqual(t, j.FetchedBytes, j.Size)
	require.Zero(t, j.ResumedBytes)
	require.Len(t, j.Seeds, 2)
	require.Equal(t, u1, j.Seeds[0].URL)
	require.Equal(t, j.Size, j.Seeds[0].Bytes+j.Seeds[1].Bytes)
	for _, s := range j.Seeds {
		require.Equal(t, 1, s.Conns, "one connection per seed by default")
	}
	requireFile(t, out, data)

	// -o defaults to NAME's base name in the current directory.
	wd := t.TempDir()
	cmd := exec.Command(bin, "get", "--seed", u1, "--quiet", "isos/a.iso")
	cmd.Dir = wd
	outb, err := cmd.CombinedOutput()
	require.NoError(t, err, string(outb))
	requireFile(t, filepath.Join(wd, "a.iso"), data)
}

func TestGetErrorsAreOneLine(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "f"), 1000, 2)
	u := startSeed(t, dir)
	out := filepath.Join(t.TempDir(), "o")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing name", []string{"get", "--seed", u, "-o", out, "nope"}, "not found"},
		{"dot dot", []string{"get", "--seed", u, "-o", out, "../f"}, "file name"},
		{"bad url", []string{"get", "--seed", "quic:/x", "-o", out, "f"}, "seed URL"},
		{"no seed", []string{"get", "-o", out, "f"}, "seed"},
		{"bad rate", []string{"seed", "--rate-limit", "fast", dir}, "rate"},
		{"bad reserve", []string{"seed", "--conn-send-reserve", "lots", dir}, "conn-send-reserve"},
		{"bad retries", []string{"get", "--seed", u, "-o", out, "--retries", "-1", "f"}, "--retries"},
		{"zero conns", []string{"get", "--seed", u, "-o", out, "--conns-per-seed", "0", "f"}, "--conns-per-seed"},
		{"bad conns", []string{"get", "--seed", u, "-o", out, "--conns-per-seed", "many", "f"}, "want auto or 1 to 64"},
		{"manifest of nothing", []string{"manifest", filepath.Join(dir, "nothing")}, "nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			require.NotZero(t, r.code)
			require.Contains(t, r.stderr, tc.want)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line: %q", r.stderr)
			require.NotContains(t, r.stderr, "panic")
			_, err := os.Stat(out)
			require.ErrorIs(t, err, os.ErrNotExist)
		})
	}
}

// TestSIGKILLResume kills the downloader process half way and runs the same
// command again: nothing verified is fetched again and the file is exact.
func TestSIGKILLResume(t *testing.T) {
	dir := t.TempDir()
	const size = 16 << 20
	data := writeRandom(t, filepath.Join(dir, "big.bin"), size, 3)
	u := startSeed(t, "--rate-limit", "8MB/s", dir)
	out := filepath.Join(t.TempDir(), "big.bin")
	args := []string{"get", "--seed", u, "-o", out, "--json", "--quiet", "big.bin"}

	cmd := exec.Command(bin, args...)
	require.NoError(t, cmd.Start())
	// At 8 MB/s the file takes about two seconds: kill it once about half is on disk.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(out + ".qxpart"); err == nil && allocated(fi) >= size/2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	_, err := os.Stat(out)
	require.ErrorIs(t, err, os.ErrNotExist, "OUT must not appear before completion")

	r := run(t, args...)
	require.Zero(t, r.code, r.stderr)
	var j getJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j))
	require.Positive(t, j.ResumedBytes, "blocks on disk before the kill are kept")
	const slack = 8 << 20 // at most what was in flight, and far below a second full download
	require.LessOrEqual(t, j.FetchedBytes, size-j.ResumedBytes+slack)
	t.Logf("SIGKILL at about half: resumed %d bytes, fetched %d of %d again", j.ResumedBytes, j.FetchedBytes, size)
	requireFile(t, out, data)
}

// allocated returns the bytes a (sparse) file really holds on disk.
func allocated(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// TestCtrlC interrupts get with SIGINT: it exits 130 with one line saying how
// to resume, leaves no OUT, and the same command then completes.
func TestCtrlC(t *testing.T) {
	dir := t.TempDir()
	const size = 8 << 20
	data := writeRandom(t, filepath.Join(dir, "f.bin"), size, 4)
	u := startSeed(t, "--rate-limit", "4MB/s", dir)
	out := filepath.Join(t.TempDir(), "f.bin")
	args := []string{"get", "--seed", u, "-o", out, "--quiet", "f.bin"}

	cmd := exec.Command(bin, args...)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(out + ".qxpart"); err == nil && allocated(fi) >= size/4 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 130, ee.ExitCode())
	msg := strings.TrimSpace(stderr.String())
	require.NotContains(t, msg, "\n", "one line")
	require.Contains(t, msg, "run the same command to resume")
	_, err = os.Stat(out)
	require.ErrorIs(t, err, os.ErrNotExist)

	r := run(t, args...)
	require.Zero(t, r.code, r.stderr)
	requireFile(t, out, data)
}
