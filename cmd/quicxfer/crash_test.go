package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

var crashCycles = flag.Int("crash-cycles", 0, "SIGKILL cycles for TestSIGKILLCycles (default $QUICXFER_CRASH_CYCLES, else 8)")

// TestSIGKILLCycles runs `get` again and again, killing it with SIGKILL at a
// random moment each time, and checks after every kill what a crash may and
// may not leave:
//
//   - OUT does not exist, unless it is the complete file (a kill after the
//     final rename);
//   - the state file, if any, decodes, is for this file, and every bit it
//     sets names a block whose data in the part file is exact;
//   - no block whose data was exact on disk before the run is lost;
//   - every such block is resumed, not fetched again: once the run got as far
//     as fetching, the state records all of them;
//   - the bytes the run received (counted by a UDP proxy in front of the
//     seed) beyond the blocks it added to disk stay within one in-flight
//     window.
//
// A run that completes before its kill starts a new round (OUT is removed);
// its --json must show that it resumed exactly what was on disk. After the
// last cycle the download is run to completion and OUT must be exact.
//
// The randomness is seeded from $QUICXFER_CRASH_SEED, else the clock; the
// seed is logged and is in every failure message. The number of cycles is
// -crash-cycles N or $QUICXFER_CRASH_CYCLES (default 8):
//
//	go test ./cmd/quicxfer -run TestSIGKILLCycles -crash-cycles 100 -v
func TestSIGKILLCycles(t *testing.T) {
	cycles := 8
	if s := os.Getenv("QUICXFER_CRASH_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "QUICXFER_CRASH_CYCLES")
		cycles = n
	}
	if *crashCycles > 0 {
		cycles = *crashCycles
	}
	rngSeed := uint64(time.Now().UnixNano())
	if s := os.Getenv("QUICXFER_CRASH_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "QUICXFER_CRASH_SEED")
		rngSeed = n
	}
	rng := rand.New(rand.NewPCG(rngSeed, 0x9e3779b97f4a7c15))
	t.Logf("QUICXFER_CRASH_SEED=%d, %d cycles", rngSeed, cycles)

	const (
		size = 24<<20 + 12345 // at the seed's 12 MB/s, a whole run takes about 2 s
		// maxDelay bounds the random moment of a kill after the start: most
		// kills fall in the middle of a download, some in its start-up (the
		// re-check of what the last run left) or at its end.
		maxDelay = 1200 * time.Millisecond
		// endDelay bounds the moment of a kill aimed at the end, after the
		// part file holds all but two blocks.
		endDelay = 40 * time.Millisecond
		// window bounds what a run may receive beyond the blocks it adds to
		// disk: the blocks in flight when it is killed (the scheduler keeps
		// about 2·rate·(RTT+margin) unreceived per seed, and issues at most
		// twice that) and QUIC's overhead. A resume that fetched again even a
		// tenth of the file would exceed it.
		window = 2 << 20
	)
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), size, 11)
	m, err := manifest.BuildFile(context.Background(), filepath.Join(dir, "f.bin"), 1)
	require.NoError(t, err)
	seedURL := startSeed(t, "--rate-limit", "12MB/s", dir)
	proxy := startProxy(t, seedURL)
	out := filepath.Join(t.TempDir(), "f.bin")
	args := []string{"get", "--seed", proxy.url, "-o", out, "--json", "--quiet", "f.bin"}

	var (
		prev          = crashView{} // what the last run left
		killed, done  int
		afterRename   int
		maxWaste      int64
		resumedBlocks int
	)
	for cycle := 1; killed < cycles; cycle++ {
		where := fmt.Sprintf("QUICXFER_CRASH_SEED=%d, run %d (kill %d of %d)", rngSeed, cycle, killed+1, cycles)
		sessions := proxy.sessionCount()
		var when string
		var r killedRun
		switch rng.IntN(8) {
		case 0:
			// Aim at the window between the final rename and the removal
			// of the state.
			when = "as soon as its part file was renamed"
			r = runKilled(t, func(exited <-chan struct{}) { waitGone(exited, partial.PartPath(out)) }, args...)
		case 1, 2:
			// Aim at the end: the last blocks, the final flush, the rename
			// and the removal of the state.
			extra := time.Duration(rng.Int64N(int64(endDelay)))
			when = fmt.Sprintf("%v after the last blocks were on disk", extra.Round(time.Millisecond))
			r = runKilled(t, func(exited <-chan struct{}) {
				if waitNearlyAllocated(exited, partial.PartPath(out), size-2*m.BlockSize) {
					sleepOr(exited, extra)
				}
			}, args...)
		default:
			delay := time.Duration(rng.Int64N(int64(maxDelay)))
			when = fmt.Sprintf("%v after the start", delay.Round(time.Millisecond))
			r = runKilled(t, func(exited <-chan struct{}) { sleepOr(exited, delay) }, args...)
		}
		where += ", killed " + when
		recv := proxy.receivedSince(sessions)
		proxy.closeSessions() // the run is over; its socket is gone
		require.NotContains(t, r.stderr, "panic", where)

		if r.exited {
			// It finished before its kill.
			require.Zero(t, r.code, "%s: exit %d: %s", where, r.code, r.stderr)
			checkCompleted(t, where, r, out, data, prev, window)
			done++
			require.NoError(t, os.Remove(out))
			prev = crashView{}
			continue
		}
		killed++
		cur := viewAfterCrash(t, where, out, data, m)
		if cur.complete {
			t.Logf("run %d: killed %s: OUT complete (killed after the rename; state file left: %v)", cycle, when, cur.stateLeft)
			afterRename++
			prev = cur // the next run finds OUT complete
			continue
		}
		for i := range prev.good {
			require.True(t, cur.good[i], "%s: block %d was exact on disk before the run and is not any more", where, i)
		}
		newBytes := cur.goodBytes - prev.goodBytes
		if recv > m.BlockSize {
			// The run asked for blocks, so its start-up had resumed and
			// recorded everything that was on disk.
			for i := range prev.good {
				require.True(t, cur.bits[i], "%s: block %d was on disk but is not resumed (it would be fetched again)", where, i)
			}
			resumedBlocks += len(prev.good)
		}
		waste := recv - newBytes
		maxWaste = max(maxWaste, waste)
		t.Logf("run %d: killed %s: %d blocks good on disk (+%d), %d recorded; received %d bytes, %d beyond the new blocks",
			cycle, when, len(cur.good), len(cur.good)-len(prev.good), len(cur.bits), recv, waste)
		require.LessOrEqual(t, waste, int64(window), "%s: received %d bytes for %d bytes of new blocks: more than one window fetched in vain", where, recv, newBytes)
		prev = cur
	}

	// The last run goes to the end.
	where := fmt.Sprintf("QUICXFER_CRASH_SEED=%d, final run", rngSeed)
	r := runKilled(t, func(exited <-chan struct{}) { sleepOr(exited, time.Minute) }, args...)
	require.True(t, r.exited, "%s: not done in a minute", where)
	require.Zero(t, r.code, "%s: %s", where, r.stderr)
	checkCompleted(t, where, r, out, data, prev, window)
	t.Logf("QUICXFER_CRASH_SEED=%d: %d SIGKILLs (%d of them after the final rename), %d runs finished before their kill, 0 failures; %d blocks found on disk after a kill were all resumed; largest bytes received in vain by a killed run: %d (bound %d)",
		rngSeed, killed, afterRename, done, resumedBlocks, maxWaste, window)
}

// crashView is what a killed run left on disk.
type crashView struct {
	complete  bool         // OUT exists (and is exact)
	stateLeft bool         // and so does the state file (killed between the rename and its removal)
	good      map[int]bool // blocks whose data in the part file is exact
	goodBytes int64
	bits      map[int]bool // blocks the state file records
}

// viewAfterCrash reads what a killed run left and checks what a crash may leave.
func viewAfterCrash(t *testing.T, where, out string, data []byte, m *manifest.Manifest) crashView {
	t.Helper()
	v := crashView{good: map[int]bool{}, bits: map[int]bool{}}
	if got, err := os.ReadFile(out); err == nil {
		require.True(t, bytes.Equal(data, got), "%s: OUT exists but is not the file", where)
		_, err := os.Stat(partial.PartPath(out))
		require.ErrorIs(t, err, os.ErrNotExist, "%s: OUT and its part file both exist", where)
		v.complete = true
		_, err = os.Stat(partial.StatePath(out))
		v.stateLeft = err == nil
		return v
	} else {
		require.ErrorIs(t, err, os.ErrNotExist, where)
	}
	part, err := os.ReadFile(partial.PartPath(out))
	if err != nil {
		require.ErrorIs(t, err, os.ErrNotExist, where)
	}
	for i := range m.NumBlocks() {
		off, end := m.BlockOffset(i), m.BlockOffset(i)+m.BlockLen(i)
		if end <= int64(len(part)) && bytes.Equal(part[off:end], data[off:end]) {
			v.good[i] = true
			v.goodBytes += end - off
		}
	}
	b, err := os.ReadFile(partial.StatePath(out))
	if errors.Is(err, os.ErrNotExist) {
		return v // killed before its first state was written, or after its last was removed
	}
	require.NoError(t, err, where)
	st, err := partial.DecodeState(b)
	require.NoError(t, err, "%s: the state file a SIGKILL left does not decode", where)
	require.Equal(t, m.ID(), st.ID, "%s: state of another file", where)
	for i := range m.NumBlocks() {
		if st.Has(i) {
			require.True(t, v.good[i], "%s: the state records block %d, whose data is not on disk", where, i)
			v.bits[i] = true
		}
	}
	return v
}

// checkCompleted checks a run that exited 0: OUT exact, no partial files,
// and its figures: it resumed exactly what was good on disk and fetched
// little more than the rest.
func checkCompleted(t *testing.T, where string, r killedRun, out string, data []byte, prev crashView, window int64) {
	t.Helper()
	got, err := os.ReadFile(out)
	require.NoError(t, err, where)
	require.True(t, bytes.Equal(data, got), "%s: OUT differs from the file", where)
	for _, p := range []string{partial.PartPath(out), partial.StatePath(out)} {
		_, err := os.Stat(p)
		require.ErrorIs(t, err, os.ErrNotExist, "%s: %s left behind", where, p)
	}
	var j getJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j), "%s: %q", where, r.stdout)
	size := int64(len(data))
	if prev.complete {
		require.Equal(t, size, j.ResumedBytes, where)
		require.Zero(t, j.FetchedBytes, where)
		return
	}
	require.Equal(t, prev.goodBytes, j.ResumedBytes, "%s: resumed bytes are not what was good on disk", where)
	require.LessOrEqual(t, j.FetchedBytes, size-j.ResumedBytes+window, "%s: fetched more than what was missing and one window", where)
}

type killedRun struct {
	exited         bool // it exited by itself before the kill
	code           int
	stdout, stderr string
}

// runKilled runs the binary and kills it with SIGKILL when wait returns,
// unless it exits first; wait must return soon once exited is closed.
func runKilled(t *testing.T, wait func(exited <-chan struct{}), args ...string) killedRun {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	var err error
	exited := make(chan struct{})
	go func() {
		err = cmd.Wait()
		close(exited)
	}()
	wait(exited)
	_ = cmd.Process.Signal(syscall.SIGKILL) // fails harmlessly if it has exited
	<-exited
	r := killedRun{stdout: stdout.String(), stderr: stderr.String()}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return r
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err)
	}
	r.exited, r.code = true, cmd.ProcessState.ExitCode()
	return r
}

func sleepOr(exited <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-exited:
	}
}

// waitNearlyAllocated waits until the file at path holds at least n bytes
// on disk, or is gone after it existed (renamed), and reports whether it
// did; false when exited was closed first.
func waitNearlyAllocated(exited <-chan struct{}, path string, n int64) bool {
	seen := false
	for {
		fi, err := os.Stat(path)
		switch {
		case err == nil && allocated(fi) >= n:
			return true
		case err == nil:
			seen = true
		case seen:
			return true
		}
		select {
		case <-exited:
			return false
		case <-time.After(time.Millisecond):
		}
	}
}

// waitGone waits until the file at path, once it existed, is gone, or
// until exited is closed.
func waitGone(exited <-chan struct{}, path string) {
	seen := false
	for {
		_, err := os.Stat(path)
		switch {
		case err == nil:
			seen = true
		case seen:
			return
		}
		select {
		case <-exited:
			return
		case <-time.After(200 * time.Microsecond):
		}
	}
}

// udpProxy forwards datagrams between clients and one seed and counts the
// bytes the seed sends to each client socket (a session): each run of `get`
// has its own socket, so its own session.
type udpProxy struct {
	url string // the seed's URL with the proxy's address

	ln     *net.UDPConn
	target *net.UDPAddr
	wg     sync.WaitGroup

	mu       sync.Mutex
	sessions []*proxySession
	byAddr   map[string]*proxySession
}

type proxySession struct {
	up   *net.UDPConn
	down atomic.Int64 // bytes from the seed to the client
}

func startProxy(t *testing.T, seedURL string) *udpProxy {
	t.Helper()
	u, err := wire.ParseURL(seedURL)
	require.NoError(t, err)
	target, err := net.ResolveUDPAddr("udp", u.Addr())
	require.NoError(t, err)
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	p := &udpProxy{ln: ln, target: target, byAddr: map[string]*proxySession{}}
	u.Port = uint16(ln.LocalAddr().(*net.UDPAddr).Port)
	p.url = u.String()
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, s := range p.sessions {
			_ = s.up.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *udpProxy) serve() {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, client, err := p.ln.ReadFromUDP(buf)
		if err != nil {
			return
		}
		s, err := p.session(client)
		if err != nil {
			continue
		}
		_, _ = s.up.Write(buf[:n])
	}
}

func (p *udpProxy) session(client *net.UDPAddr) (*proxySession, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.byAddr[client.String()]; s != nil {
		return s, nil
	}
	up, err := net.DialUDP("udp", nil, p.target)
	if err != nil {
		return nil, err
	}
	s := &proxySession{up: up}
	p.byAddr[client.String()] = s
	p.sessions = append(p.sessions, s)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 64<<10)
		for {
			n, err := up.Read(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue // e.g. ICMP port unreachable from a dead client
			}
			s.down.Add(int64(n))
			_, _ = p.ln.WriteToUDP(buf[:n], client)
		}
	}()
	return s, nil
}

// closeSessions ends every session so far: their sockets are closed (their
// counts stay), and a later client that gets the same port, as the next run
// of get may, starts a new session.
func (p *udpProxy) closeSessions() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.sessions {
		_ = s.up.Close()
	}
	clear(p.byAddr)
}

func (p *udpProxy) sessionCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sessions)
}

// receivedSince returns the bytes the seed sent to the sessions opened after
// the first n.
func (p *udpProxy) receivedSince(n int) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sum int64
	for _, s := range p.sessions[n:] {
		sum += s.down.Load()
	}
	return sum
}
