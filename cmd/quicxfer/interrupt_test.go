package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireInterrupted checks how a get that SIGINT stopped ended: exit 130,
// its last line on standard error and its --json "error" are want, and Go's
// "context canceled" is nowhere.
func requireInterrupted(t *testing.T, code int, stdout, stderr, want string) {
	t.Helper()
	require.Equal(t, exitInterrupted, code, stderr)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.Equal(t, "quicxfer: "+want, lines[len(lines)-1])
	require.NotContains(t, stderr, "context canceled")
	var j struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &j), stdout)
	require.False(t, j.OK)
	require.Equal(t, want, j.Error)
}

// TestInterruptedWords: Ctrl-C while get is still connecting (a seed that
// never answers), and in the middle of a download, of a file and of a
// directory, is said in words (what was kept, what to do), never as
// "context canceled".
func TestInterruptedWords(t *testing.T) {
	t.Run("while connecting", func(t *testing.T) {
		// A UDP socket that reads nothing: the handshake never completes.
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { pc.Close() })
		silent := "quic://" + pc.LocalAddr().String() + "?pin=" + strings.Repeat("A", 43)
		work := t.TempDir()
		p := startProc(t, "get", "--seed", silent, "--json", "-v", "-o", filepath.Join(work, "f.bin"), "f.bin")
		waitFor(t, "the download to start", func() bool { return strings.Contains(p.stderr.String(), "quicxfer: debug: OUT") })
		code := p.stop(t, os.Interrupt)
		requireInterrupted(t, code, collect(p), p.stderr.String(), "interrupted while asking the seeds for the file: nothing was written")
		requireEmptyDir(t, work)
	})
	t.Run("a file, after some blocks", func(t *testing.T) {
		src := t.TempDir()
		writeRandom(t, filepath.Join(src, "big.bin"), 12<<20, 61)
		u := startSeed(t, "--rate-limit", "2MB/s", src)
		work := t.TempDir()
		out := filepath.Join(work, "big.bin")
		p := startProc(t, "get", "--seed", u, "--json", "-o", out, "big.bin")
		waitVerified(t, out)
		code := p.stop(t, os.Interrupt)
		requireInterrupted(t, code, collect(p), p.stderr.String(), "interrupted; verified blocks are saved in "+out+".qxpart: run the same command to resume")
	})
	t.Run("a directory, after some blocks", func(t *testing.T) {
		src := t.TempDir()
		writeRandom(t, filepath.Join(src, "docs", "big.bin"), 12<<20, 62)
		u := startSeed(t, "--rate-limit", "2MB/s", src)
		work := t.TempDir()
		out := filepath.Join(work, "docs", "big.bin")
		p := startProc(t, "get", "--seed", u, "--json", "-o", filepath.Join(work, "docs"), "docs/")
		waitVerified(t, out)
		code := p.stop(t, os.Interrupt)
		stdout := collect(p)
		want := "interrupted; 0 of 1 files complete, verified blocks of the others are saved: run the same command to resume"
		requireInterrupted(t, code, stdout, p.stderr.String(), want)
		var j struct {
			Files []struct {
				Error string `json:"error"`
			} `json:"files"`
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &j))
		require.Len(t, j.Files, 1)
		require.Equal(t, "interrupted; verified blocks are saved in "+out+".qxpart: run the same command to resume", j.Files[0].Error)
	})
}

// collect reads what p printed on standard output until it ended.
func collect(p *proc) string {
	var b strings.Builder
	for l := range p.lines {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// waitVerified waits until the download into out has a verified block in
// its state file.
func waitVerified(t *testing.T, out string) {
	t.Helper()
	waitFor(t, "a verified block in "+out+".qxstate", func() bool {
		r := run(t, "status", "--json", out)
		var st statusJSON
		return r.code == 0 && json.Unmarshal([]byte(r.stdout), &st) == nil && st.State == "partial" && st.BlocksVerified > 0
	})
}
