package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLowestSpeedLimitFlag: --lowest-speed-limit takes a rate as seed
// --rate-limit does, and a bad one is a usage error in one line.
func TestLowestSpeedLimitFlag(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f"), 300<<10, 61)
	u := startSeed(t, dir)
	out := filepath.Join(t.TempDir(), "o")
	r := run(t, "get", "--seed", u, "-o", out, "--lowest-speed-limit", "slow", "f")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "--lowest-speed-limit")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line: %q", r.stderr)
	_, err := os.Stat(out)
	require.ErrorIs(t, err, os.ErrNotExist)

	for _, v := range []string{"0", "10KB/s"} {
		out := filepath.Join(t.TempDir(), "o")
		r := run(t, "get", "--seed", u, "-o", out, "-q", "--lowest-speed-limit", v, "f")
		require.Zero(t, r.code, r.stderr)
		requireFile(t, out, data)
	}
}

// startSloppyMirror serves data over raw HTTP/1.1 with keep-alive: each
// range asked for, exactly, then bytes that belong to no response (a
// broken server, or a hostile one). net/http's client logs those bytes
// when it next looks at the idle connection.
func startSloppyMirror(t *testing.T, data []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					var a, b int
					if _, err := fmt.Sscanf(req.Header.Get("Range"), "bytes=%d-%d", &a, &b); err != nil || b >= len(data) {
						return
					}
					resp := fmt.Sprintf("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %d-%d/%d\r\nContent-Length: %d\r\n\r\n", a, b, len(data), b-a+1)
					if _, err := io.WriteString(c, resp+string(data[a:b+1])+"\x1b[2Jstray bytes"); err != nil {
						return
					}
				}
			})
		}
	})
	return "http://" + ln.Addr().String() + "/f.bin"
}

// TestNetHTTPLogGoesThroughTheLogger: what net/http's client logs about a
// mirror (bytes on an idle connection) is one of quicxfer's own messages,
// escaped, not a raw line of the standard logger on standard error.
func TestNetHTTPLogGoesThroughTheLogger(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), 4*128<<10, 62)
	mfile := filepath.Join(dir, "f.qxm")
	r := run(t, "manifest", "--out", mfile, filepath.Join(dir, "f.bin"))
	require.Zero(t, r.code, r.stderr)
	url := startSloppyMirror(t, data)
	out := filepath.Join(t.TempDir(), "f.bin")
	r = run(t, "get", "-q", "--manifest", mfile, "--mirror", url, "-o", out)
	t.Logf("stderr:\n%s", r.stderr)
	require.Zero(t, r.code, r.stderr)
	requireFile(t, out, data)
	require.Contains(t, r.stderr, "Unsolicited response", "the premise: net/http saw the stray bytes")
	require.NotContains(t, r.stderr, "\x1b", "escaped")
	require.Equal(t, 1, strings.Count(r.stderr, "Unsolicited response"), "said once")
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		require.True(t, strings.HasPrefix(line, "quicxfer: "), "a raw line: %q", line)
	}
}
