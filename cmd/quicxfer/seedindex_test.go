package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui/ptytest"
	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/seed"
)

// hugeSparse makes a file of 256 GiB that takes no disk (a hole): the
// seed takes long to hash it, far longer than a test waits.
func hugeSparse(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "huge.img"))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(256<<30))
	fi, err := f.Stat()
	require.NoError(t, f.Close())
	require.NoError(t, err)
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Blocks*512 > 1<<20 {
		t.Skip("the file system of the test's directory has no sparse files")
	}
	return dir
}

var healthRE = regexp.MustCompile(`health=(http://\S+)`)

// requireIndexing waits for the seed whose stderr is text to serve its
// health endpoint and checks that it says the seed is still starting.
func requireIndexing(t *testing.T, stderr func() string) {
	t.Helper()
	waitFor(t, "the metrics endpoint", func() bool { return healthRE.MatchString(stderr()) })
	resp, err := http.Get(healthRE.FindStringSubmatch(stderr())[1])
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), "starting")
}

// TestSeedStoppedWhileIndexing: SIGINT or SIGTERM while the seed hashes
// ends it with exit 0, as serving, and one line that says so, not
// "context canceled"; meanwhile a progress line is logged every 5s.
func TestSeedStoppedWhileIndexing(t *testing.T) {
	dir := hugeSparse(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			p := startProc(t, "seed", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--metrics", "127.0.0.1:0", dir)
			requireIndexing(t, p.stderr.String)
			if sig == syscall.SIGINT {
				waitFor(t, "a progress line", func() bool {
					return strings.Contains(p.stderr.String(), `msg=indexing progress="0/1 file, `)
				})
				require.Regexp(t, `msg=indexing progress="0/1 file, [0-9.]+ [kMG]?B of 274.88 GB(, [0-9.]+ [kMG]?B/s, ETA [0-9hms]+)?" files_done=0 files=1 bytes_done=[0-9]+ bytes=274877906944`, p.stderr.String())
			}
			require.Zero(t, p.stop(t, sig), p.stderr.String())
			errText := p.stderr.String()
			require.Contains(t, errText, "quicxfer: seed stopped while indexing (0 of 1 file indexed)\n")
			require.NotContains(t, errText, "context canceled")
			require.NotContains(t, errText, "seed ready")
			_, open := <-p.lines
			require.False(t, open, "no ready line")
		})
	}
}

// TestSeedIndexingOnTerminal: on a terminal the seed shows its indexing on
// one line redrawn in place, writes its log lines above it, and clears it
// when it stops.
func TestSeedIndexingOnTerminal(t *testing.T) {
	dir := hugeSparse(t)
	master, tty, err := pty.Open()
	require.NoError(t, err)
	t.Cleanup(func() { master.Close() })
	require.NoError(t, pty.Setsize(master, &pty.Winsize{Rows: ptytest.Rows, Cols: ptytest.Cols}))
	var drawn syncbuf.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(&drawn, master)
	}()
	cmd := exec.Command(bin, "seed", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--metrics", "127.0.0.1:0", dir)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	var stdout syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, tty
	require.NoError(t, cmd.Start())
	tty.Close() // the child has it
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	requireIndexing(t, drawn.String)
	waitFor(t, "the progress line", func() bool { return strings.Contains(drawn.String(), "\r\x1b[Kquicxfer: indexing: 0/1 file, ") })
	// The 5s log line goes above the progress line: the line is erased,
	// the log written, the line drawn again.
	waitFor(t, "a log line while indexing", func() bool { return strings.Contains(drawn.String(), "\r\x1b[Ktime=") })
	require.Regexp(t, "\r\x1b\\[Ktime=[^\n]*msg=indexing [^\n]*\n(quicxfer: indexing: 0/1 file, [^\r\n]*)", drawn.String())
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-exited:
		require.NoError(t, err, "exit 0")
		exited <- err // for the cleanup
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("did not exit")
	}
	require.Empty(t, stdout.String(), "no ready line")
	select {
	case <-copied:
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("the pty was not closed")
	}
	// The progress line is erased before the last words.
	require.Contains(t, drawn.String(), "\r\x1b[Kquicxfer: seed stopped while indexing (0 of 1 file indexed")
}

func TestIndexView(t *testing.T) {
	var b bytes.Buffer
	v := &indexView{w: &b, term: true, fd: -1} // a terminal of no known width
	_, _ = v.Write([]byte("first log line\n"))
	require.Equal(t, "first log line\n", b.String(), "no progress line yet: nothing to erase")
	b.Reset()

	p := seed.IndexProgress{Files: 2, Bytes: 4e9, BytesDone: 1e9, Hashed: 1e9, Elapsed: 2 * time.Second}
	v.report(p)
	require.Equal(t, "\r\x1b[Kquicxfer: indexing: 0/2 files, 1.00 GB of 4.00 GB, 500.0 MB/s, ETA 6s", b.String())
	b.Reset()
	_, _ = v.Write([]byte("a log line\n"))
	require.Equal(t, "\r\x1b[Ka log line\nquicxfer: indexing: 0/2 files, 1.00 GB of 4.00 GB, 500.0 MB/s, ETA 6s", b.String())
	b.Reset()
	p.Done = true
	v.report(p)
	require.Equal(t, "\r\x1b[K", b.String())
	require.Equal(t, p, v.lastReport())
	b.Reset()
	_, _ = v.Write([]byte("after\n"))
	require.Equal(t, "after\n", b.String())

	// Not a terminal: the reports are kept, nothing is drawn.
	b.Reset()
	plain := newIndexView(&b)
	plain.report(seed.IndexProgress{Files: 1})
	_, _ = plain.Write([]byte("log\n"))
	require.Equal(t, "log\n", b.String())
	require.Equal(t, 1, plain.lastReport().Files)
}

// TestSeedListensOnIPv6: given no address (only a port here, as 4433 may
// be taken), the seed answers on IPv6 as well as IPv4, and its ready line
// lists loopback once, before the URLs for other hosts.
func TestSeedListensOnIPv6(t *testing.T) {
	if ln, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	} else {
		ln.Close()
	}
	// The default, as the seed sees it (--check binds nothing).
	r := run(t, "seed", "--check", "--state-dir", t.TempDir(), t.TempDir())
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "; listen :4433;")
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), 300_000, 3)
	p := startProc(t, "seed", "--listen", ":0", "--state-dir", t.TempDir(), dir)
	t.Cleanup(func() { p.terminate(t) })
	line := p.line(t)
	urls := urlRE.FindAllString(line, -1)
	require.NotEmpty(t, urls, line)
	u, err := wire.ParseURL(urls[0])
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", u.Host, line)
	for _, raw := range urls[1:] {
		o, err := wire.ParseURL(raw)
		require.NoError(t, err, raw)
		require.False(t, net.ParseIP(o.Host).IsLoopback(), "from other hosts: %s", line)
	}

	for _, host := range []string{"127.0.0.1", "::1"} {
		v6 := u
		v6.Host = host
		out := filepath.Join(t.TempDir(), "f.bin")
		r := runBounded(t, nil, "get", "--seed", v6.String(), "--max-peers", "0", "-o", out, "--quiet", "f.bin")
		require.Zero(t, r.code, "%s: %s", v6.String(), r.stderr)
		requireFile(t, out, data)
	}
}

// TestSeedRateUnits: --rate-limit takes 10M and 5MB/S as 10MB/s and
// 5MB/s, and the log says the rate so; an ambiguous or unknown unit is a
// usage error of one line.
func TestSeedRateUnits(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "f.bin"), 1000, 5)
	for in, logged := range map[string]string{"10M": "rate_limit=10MB/s", "5MB/S": "rate_limit=5MB/s", "100Mbit/s": "rate_limit=12.5MB/s", "4MiB/s": "rate_limit=4MiB/s"} {
		p := startProc(t, "seed", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--rate-limit", in, dir)
		p.url(t)
		waitFor(t, "the ready log", func() bool { return strings.Contains(p.stderr.String(), "seed ready") })
		require.Contains(t, p.stderr.String(), " "+logged+" ", in)
		p.terminate(t)
	}
	for in, want := range map[string]string{"5Mb/s": `"Mb/s" is ambiguous: write MB/s for bytes or Mbit/s for bits`, "10Q": `unknown unit "Q"`, "fast": "want a number with a unit"} {
		r := runRefused(t, "seed", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--rate-limit", in, dir)
		requireUsage(t, r, "--rate-limit: ", want)
	}
}

// TestSeedFromOneSeed: a replica filled from one seed says "from 1 seed".
func TestSeedFromOneSeed(t *testing.T) {
	src := t.TempDir()
	writeRandom(t, filepath.Join(src, "a.bin"), 1<<20, 9)
	origin := startSeed(t, src)
	b := startProc(t, "seed", "--from", origin, "--name", "a.bin", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), t.TempDir())
	line := b.line(t)
	require.Regexp(t, `^quicxfer seed ready, filling .* from 1 seed: quic://`, line)
	require.NotContains(t, line, "1 seeds")
	waitFor(t, "the replica to be full", func() bool { return strings.Contains(b.stderr.String(), "now a full seed") })
	b.terminate(t)
}
