package quicxfer_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/seed"
)

// A flaky source must cost time, not the download: busy, cut short, a
// flipped byte, a trickle, away at the start, shut down and back.

// TestBusySeedIsNotDropped: a seed with a tiny request rate refuses most
// of what a fast client asks (BUSY), all requests in flight at once. That
// is one failure per backoff period, not one per request: the download
// completes from it with the default retries, and with retries off
// (MaxRetries < 0) it is not hammered either; the refusals stay a small
// multiple of the blocks, and the user is told once.
func TestBusySeedIsNotDropped(t *testing.T) {
	for _, tc := range []struct {
		name    string
		retries int
	}{{"default retries", 0}, {"never dropped", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const blocks = 24
			data := writeFile(t, dir, "f.bin", blocks*manifest.MinBlockSize, 51)
			s := seedtest.Start(t, seed.Options{Paths: []string{dir}, MaxRequestRate: 8, RequestBurst: 4})
			lg := &testkit.Logs{}
			out := filepath.Join(t.TempDir(), "f.bin")
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{
				Seeds: []string{s.URL()}, Name: "f.bin", Out: out, MaxRetries: tc.retries, MaxPeers: -1, Logf: lg.Logf,
			})
			require.NoError(t, err, "%s", lg)
			requireFile(t, out, data)
			busy := s.Stats().RejectedByReason[wire.ErrCodeBusy]
			t.Logf("refused as busy: %d; log:\n%s", busy, lg)
			require.Positive(t, busy, "the premise: the seed refused requests")
			require.Less(t, busy, int64(20*blocks), "not hammered")
			require.Equal(t, 1, strings.Count(lg.String(), "is busy"), "told once: %s", lg)
			require.Empty(t, res.Seeds[0].Note)
		})
	}
}

// busyMirror answers 503 with Retry-After: 1 to every request for its
// first busy, then serves ranges honestly; it records when each request
// came.
type busyMirror struct {
	start time.Time
	busy  time.Duration
	mu    sync.Mutex
	at    []time.Duration // each request, since start
	code  []int
	n503  atomic.Int64
}

func (b *busyMirror) serve(w http.ResponseWriter, r *http.Request, data []byte) {
	since := time.Since(b.start)
	code := http.StatusPartialContent
	if since < b.busy {
		code = http.StatusServiceUnavailable
	}
	b.mu.Lock()
	b.at, b.code = append(b.at, since), append(b.code, code)
	b.mu.Unlock()
	if code == http.StatusServiceUnavailable {
		b.n503.Add(1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "over quota", code)
		return
	}
	honestRanges(w, r, data)
}

// TestMirror503RetryAfter: a mirror that is the only source answers 503
// with "Retry-After: 1" for a while. It is not dropped: it is asked again
// once a second (its wish, longer than the first backoff of 0.5 s), and the
// download completes when it serves again.
func TestMirror503RetryAfter(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 16*manifest.MinBlockSize, 52)
	m := buildManifest(t, data)
	bm := &busyMirror{start: time.Now(), busy: 3 * time.Second}
	mir := startMirror(t, "f.bin", data, 0, bm.serve, false)
	out := filepath.Join(t.TempDir(), "f.bin")
	lg := &testkit.Logs{}
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{mir.URL()}, Manifest: m, Out: out, Logf: lg.Logf})
	require.NoError(t, err, "%s", lg)
	requireFile(t, out, data)
	bm.mu.Lock()
	defer bm.mu.Unlock()
	t.Logf("503s: %d; requests at %v; log:\n%s", bm.n503.Load(), bm.at, lg)
	require.Positive(t, bm.n503.Load(), "the premise")
	// Requests come in rounds (a probe window at a time, issued
	// together); between two rounds of 503s at least the second asked for
	// passes.
	var rounds []time.Duration
	for i, at := range bm.at {
		if bm.code[i] != http.StatusServiceUnavailable {
			break
		}
		if i == 0 || at-bm.at[i-1] > 500*time.Millisecond {
			rounds = append(rounds, at)
		}
	}
	for i := 1; i < len(rounds); i++ {
		require.GreaterOrEqual(t, rounds[i]-rounds[i-1], 950*time.Millisecond, "Retry-After honoured: %v", rounds)
	}
	require.LessOrEqual(t, bm.n503.Load(), int64(4*len(rounds)), "a probe window per round, not a hammering")
	require.Contains(t, lg.String(), "is busy (HTTP 503 Service Unavailable)")
	require.Equal(t, int64(len(data)), res.Seeds[0].Bytes)
}

// onceThen answers the first request with first and every later one with
// honest ranges.
func onceThen(first mirrorBehaviour) mirrorBehaviour {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request, data []byte) {
		if n.Add(1) == 1 {
			first(w, r, data)
			return
		}
		honestRanges(w, r, data)
	}
}

// flipsRanges serves ranges with one byte of each flipped.
func flipsRanges(w http.ResponseWriter, r *http.Request, data []byte) {
	bad := bytes.Clone(data)
	for i := range bad {
		bad[i] ^= 0x01
	}
	honestRanges(w, r, bad)
}

// TestTransientErrorFromOnlySource: one transient error from the only
// source (a connection closed mid-body, a whole file where a range was
// asked, a flipped byte) costs a retry, not the download. A body cut short
// is a failure, not a bad block; a bad block is asked of the same source
// again when nobody else has it.
func TestTransientErrorFromOnlySource(t *testing.T) {
	const blocks = 8
	for _, tc := range []struct {
		name   string
		mirror mirrorBehaviour // a mirror alone, with the manifest; else a fake seed with opts
		opts   fakeOptions
		bad    int64 // bad blocks counted
		whole  bool  // not asked again per block: read as a whole
	}{
		{name: "mirror closes mid-body", mirror: onceThen(truncatesRanges)},
		// Alone, it is then read as a whole file (from the block asked for
		// on: a mirror that honours that range streams the rest).
		{name: "mirror answers the whole file", mirror: onceThen(ignoresRange), whole: true},
		{name: "mirror flips a byte", mirror: onceThen(flipsRanges), bad: 1},
		{name: "seed flips a byte", opts: fakeOptions{flipFirst: 1}, bad: 1},
		{name: "seed cuts a block short", opts: fakeOptions{cutFirst: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			data := writeFile(t, dir, "f.bin", blocks*manifest.MinBlockSize, 53)
			opts := quicxfer.Options{Out: filepath.Join(t.TempDir(), "f.bin"), MaxPeers: -1}
			var asked func() int64
			if tc.mirror != nil {
				mir := startMirror(t, "f.bin", data, 0, tc.mirror, false)
				opts.Mirrors, opts.Manifest = []string{mir.URL()}, buildManifest(t, data)
				asked = mir.requests.Load
			} else {
				fake := startFakeSeedWith(t, dir, "f.bin", honestBlocks, tc.opts)
				opts.Seeds, opts.Name = []string{fake.URL()}, "f.bin"
				asked = fake.blockRequests
			}
			lg := &testkit.Logs{}
			opts.Logf = lg.Logf
			res, err := quicxfer.Download(t.Context(), opts)
			require.NoError(t, err, "%s", lg)
			requireFile(t, opts.Out, data)
			t.Logf("%+v\n%s", res.Seeds[0], lg)
			if !tc.whole {
				require.Greater(t, asked(), int64(blocks), "the premise: one request failed and was made again")
			}
			require.Equal(t, tc.bad, res.Seeds[0].BadBlocks)
			require.Equal(t, int64(len(data)), res.Seeds[0].Bytes)
		})
	}
}

// trickles answers a range with its headers and then a byte every 200 ms:
// never silent for the stall timeout, never done.
func trickles(w http.ResponseWriter, r *http.Request, data []byte) {
	var a, b int64
	_, _ = fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b)
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, len(data)))
	w.Header().Set("Content-Length", fmt.Sprint(b-a+1))
	w.WriteHeader(http.StatusPartialContent)
	for i := a; i <= b; i++ {
		if _, err := w.Write(data[i : i+1]); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestTricklingSourceIsTooSlow: a mirror that is the only source and sends
// a byte every 200 ms is never stalled (data keeps coming), but under the
// lowest speed limit it is treated as stalled once measured: tried again
// after a backoff, and dropped after MaxRetries, so the download ends
// rather than running for ever; the note and the event say it was too
// slow. With the rule off it is never given up on.
func TestTricklingSourceIsTooSlow(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 4*manifest.MinBlockSize, 54)
	m := buildManifest(t, data)
	mir := startMirror(t, "f.bin", data, 0, trickles, false)
	lg, rec := &testkit.Logs{}, &recorder{}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := quicxfer.Download(ctx, quicxfer.Options{
		Mirrors: []string{mir.URL()}, Manifest: m, Out: filepath.Join(t.TempDir(), "f.bin"),
		MaxRetries: 2, LowestSpeedLimit: 1000, LowestSpeedTime: 1500 * time.Millisecond,
		Logf: lg.Logf, OnEvent: rec.on,
	})
	t.Logf("error: %v\nlog:\n%s", err, lg)
	require.ErrorIs(t, err, quicxfer.ErrNoSeeds)
	require.Contains(t, res.Seeds[0].Note, "too slow: below 1 kB/s for 1.5s")
	require.Contains(t, res.Seeds[0].Note, "dropped")
	stalls := rec.of(quicxfer.EventStalled, mir.URL())
	require.Len(t, stalls, 1, "reported once per outage")
	require.Contains(t, stalls[0].Reason, "too slow")
	require.Equal(t, 1, strings.Count(lg.String(), "is too slow"), "%s", lg)

	// The rule off: the trickle holds the download until it is stopped.
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err = quicxfer.Download(ctx, quicxfer.Options{
		Mirrors: []string{mir.URL()}, Manifest: m, Out: filepath.Join(t.TempDir(), "f.bin"),
		MaxRetries: 2, LowestSpeedLimit: -1,
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// relay forwards UDP between one client and a backend it can switch, or
// swallow everything both ways (a seed gone without a word: no CONNECTION_
// CLOSE, the path dead).
type relay struct {
	front, back *net.UDPConn // the client talks to front; back talks to the backend
	backend     atomic.Pointer[net.UDPAddr]
	client      atomic.Pointer[net.UDPAddr]
	hole        atomic.Bool
	wg          sync.WaitGroup
}

func startRelay(t *testing.T, backend net.Addr) *relay {
	t.Helper()
	var err error
	r := &relay{}
	r.front, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	r.back, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	r.backend.Store(backend.(*net.UDPAddr))
	t.Cleanup(func() { r.front.Close(); r.back.Close(); r.wg.Wait() })
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := r.front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			r.client.Store(from)
			if !r.hole.Load() {
				_, _ = r.back.WriteToUDP(buf[:n], r.backend.Load())
			}
		}
	}()
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, _, err := r.back.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if c := r.client.Load(); c != nil && !r.hole.Load() {
				_, _ = r.front.WriteToUDP(buf[:n], c)
			}
		}
	}()
	return r
}

// TestSeedShutDownAndBack: the only seed shuts down mid-download (it
// closes its connections with SHUTTING_DOWN) and is started again at the
// same address. That is its own state and message, not a stall: "shutting
// down" once, the progress state "shutdown" (never "probing" while it is
// away: the loop connects to it before it is given blocks), and the
// download completes from it once it is back.
func TestSeedShutDownAndBack(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 8<<20, 55)
	state := t.TempDir()
	s := seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: 4e6, StateDir: state})
	addr := s.Addr().String()
	out := filepath.Join(t.TempDir(), "f.bin")
	lg, rec := &testkit.Logs{}, &recorder{}
	var killed, restarted atomic.Bool
	down := make(chan struct{})
	var mu sync.Mutex
	var statesAway []quicxfer.SourceState // progress states between the shutdown and its return
	done := make(chan error, 1)
	go func() {
		_, err := quicxfer.Download(t.Context(), quicxfer.Options{
			Seeds: []string{s.URL()}, Name: "f.bin", Out: out, MaxRetries: -1, MaxPeers: -1,
			ProgressInterval: 20 * time.Millisecond, Logf: lg.Logf, OnEvent: rec.on,
			OnProgress: func(p quicxfer.Progress) {
				if p.Verified >= p.Size/4 && !killed.Swap(true) {
					// Not in this callback, which the download's loop
					// waits for: Close waits for the seed's handlers,
					// and a loop held that long (a busy machine) sees
					// its requests stall.
					go func() {
						_ = s.Close()
						close(down)
					}()
					return
				}
				if killed.Load() && !restarted.Load() {
					mu.Lock()
					statesAway = append(statesAway, p.Seeds[0].State)
					mu.Unlock()
				}
			},
		})
		done <- err
	}()
	<-down
	time.Sleep(1500 * time.Millisecond)
	restarted.Store(true)
	seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: 4e6, StateDir: state, Listen: addr})
	require.NoError(t, <-done, "%s", lg)
	requireFile(t, out, data)
	t.Logf("log:\n%s", lg)

	downs := rec.of(quicxfer.EventSourceDown, s.URL())
	require.Len(t, downs, 1, "one outage")
	require.Equal(t, "shutting down", downs[0].Reason)
	require.Empty(t, rec.of(quicxfer.EventStalled, s.URL()), "a seed that shut down did not stall")
	require.Len(t, rec.of(quicxfer.EventSourceJoined, s.URL()), 2, "joined, and again when back")
	require.Equal(t, 1, strings.Count(lg.String(), "is shutting down; trying it again later"), "%s", lg)
	require.NotContains(t, lg.String(), "sent no data")
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, statesAway, quicxfer.StateShutdown, "%v", statesAway)
	require.NotContains(t, statesAway, "probing", "not usable while it is away: %v", statesAway)
}

// TestSeedGoneWithoutAWord: the only seed's path goes dead with no close
// (a seed killed, a cable pulled) and the seed is replaced by another
// instance of it at the same address. The client must not keep using its
// dead connection until QUIC's idle timeout (30 s) says so: the stall
// closes it, the seed is connected afresh, and it is back within the
// backoff's reach.
func TestSeedGoneWithoutAWord(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 8<<20, 56)
	state := t.TempDir()
	a := seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: 4e6, StateDir: state})
	r := startRelay(t, a.Addr())
	url := "quic://" + r.front.LocalAddr().String() + "?pin=" + pinOf(a.URL())
	out := filepath.Join(t.TempDir(), "f.bin")
	lg, rec := &testkit.Logs{}, &recorder{}
	gone := make(chan struct{})
	var once sync.Once
	type outcome struct {
		res *quicxfer.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := quicxfer.Download(t.Context(), quicxfer.Options{
			Seeds: []string{url}, Name: "f.bin", Out: out, MaxRetries: -1, MaxPeers: -1,
			ProgressInterval: 20 * time.Millisecond, Logf: lg.Logf, OnEvent: rec.on,
			OnProgress: func(p quicxfer.Progress) {
				if p.Verified >= p.Size/4 {
					once.Do(func() { r.hole.Store(true); close(gone) })
				}
			},
		})
		done <- outcome{res, err}
	}()
	<-gone
	goneAt := time.Now()
	// The old instance goes; a new one comes at the same address a second
	// later.
	require.NoError(t, a.Close())
	time.Sleep(time.Second)
	b := seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: 4e6, StateDir: state})
	r.backend.Store(b.Addr().(*net.UDPAddr))
	r.hole.Store(false)
	o := <-done
	res, err := o.res, o.err
	require.NoError(t, err, "%s", lg)
	requireFile(t, out, data)
	joins := rec.of(quicxfer.EventSourceJoined, url)
	require.Len(t, joins, 2, "%s", lg)
	back := joins[1].Time.Sub(goneAt)
	t.Logf("back %s after its path went dead; log:\n%s", back, lg)
	require.Less(t, back, 20*time.Second, "not held up by the dead connection's idle timeout")
	require.Len(t, rec.of(quicxfer.EventStalled, url), 1, "one outage")
	require.Empty(t, res.Seeds[0].Note)
}

// freeUDPAddr returns a loopback UDP address nothing listens on now.
func freeUDPAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	addr := c.LocalAddr().String()
	require.NoError(t, c.Close())
	return addr
}

// TestSeedAwayAtStart: the only seed is unreachable when the download
// starts, or refuses its connection as busy (its --max-conns taken), and
// comes within a few seconds. With the manifest in hand the download does
// not exit: it waits for the seed as it would later on, and completes.
// Without one, it needs a seed to answer first: with MaxRetries negative it
// asks again until one does; by default it fails at once, as before.
func TestSeedAwayAtStart(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 6*manifest.MinBlockSize, 57)
	m, err := manifest.BuildFile(t.Context(), filepath.Join(dir, "f.bin"), 1)
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		busy     bool // the seed runs, its only connection slot taken
		manifest bool
		retries  int
		ok       bool
	}{
		{"unreachable, with the manifest", false, true, 0, true},
		{"busy, with the manifest", true, true, 0, true},
		{"unreachable, no manifest, never give up", false, false, -1, true},
		{"busy, no manifest, never give up", true, false, -1, true},
		{"unreachable, no manifest", false, false, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			state := t.TempDir()
			// Its URL (and pin) from a first run of it.
			first := seedtest.Start(t, seed.Options{Paths: []string{dir}, StateDir: state})
			pin := pinOf(first.URL())
			require.NoError(t, first.Close())
			addr := freeUDPAddr(t)
			url := "quic://" + addr + "?pin=" + pin
			var release func()
			if tc.busy {
				s := seedtest.Start(t, seed.Options{Paths: []string{dir}, StateDir: state, Listen: addr, MaxConns: 1})
				c, err := quicxfer.NewClient()
				require.NoError(t, err)
				t.Cleanup(func() { _ = c.Close() })
				u, err := wire.ParseURL(s.URL())
				require.NoError(t, err)
				holder, err := c.Dial(t.Context(), u)
				require.NoError(t, err)
				// The seed admits a connection after its handshake, in
				// its own time: the slot is taken once it counts it.
				require.Eventually(t, func() bool { return s.Stats().ConnsActive == 1 }, 30*time.Second, 5*time.Millisecond)
				release = func() { _ = holder.Close() }
			} else {
				release = func() {
					seedtest.Start(t, seed.Options{Paths: []string{dir}, StateDir: state, Listen: addr})
				}
			}
			opts := quicxfer.Options{
				Seeds: []string{url}, Name: "f.bin", Out: filepath.Join(t.TempDir(), "f.bin"),
				MaxRetries: tc.retries, MaxPeers: -1, DialTimeout: 2 * time.Second,
			}
			if tc.manifest {
				opts.Manifest = m
			}
			lg := &testkit.Logs{}
			opts.Logf = lg.Logf
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := quicxfer.Download(t.Context(), opts)
				done <- err
			}()
			if !tc.ok {
				err := <-done
				require.ErrorIs(t, err, quicxfer.ErrNoSeeds)
				require.NotContains(t, err.Error(), "\n")
				return
			}
			select {
			case err := <-done:
				t.Fatalf("ended before the seed came, after %s: %v\n%s", time.Since(start), err, lg)
			case <-time.After(2 * time.Second):
			}
			release()
			require.NoError(t, <-done, "%s", lg)
			requireFile(t, opts.Out, data)
			t.Logf("log:\n%s", lg)
		})
	}
}

// redirector answers every request with a redirect to target.
func redirector(t *testing.T, target string, tls bool) *httptest.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusFound)
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// TestMirrorRedirects: an https mirror that redirects to plain http is
// refused (the http mirror is never asked), unless AllowInsecureRedirect;
// a redirect that is followed is reported against the URL as given (its
// result keeps that URL; the note, and a log line, say where it went), and
// a password in either URL is never shown.
func TestMirrorRedirects(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 4*manifest.MinBlockSize, 58)
	m := buildManifest(t, data)
	plain := startMirror(t, "f.bin", data, 0, nil, false)
	secure := startMirror(t, "f.bin", data, 0, nil, true)
	target := strings.Replace(plain.URL(), "http://", "http://bob:hunter2@", 1)
	down := redirector(t, target, true)
	up := redirector(t, secure.URL(), true)
	roots := x509.NewCertPool()
	roots.AddCert(down.Certificate())
	roots.AddCert(up.Certificate())
	roots.AddCert(secure.srv.Certificate())
	given := strings.Replace(down.URL, "https://", "https://alice:s3cret@", 1) + "/f.bin"
	for _, tc := range []struct {
		name  string
		url   string
		allow bool
		ok    bool
		note  string
	}{
		{"https to http refused", given, false, false, "redirected from https to plain http (to http://bob:xxxxx@"},
		{"https to http allowed", given, true, true, "redirected to http://bob:xxxxx@"},
		{"https to https", up.URL + "/f.bin", false, true, "redirected to " + secure.URL()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := plain.requests.Load()
			lg := &testkit.Logs{}
			out := filepath.Join(t.TempDir(), "f.bin")
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{
				Mirrors: []string{tc.url}, Manifest: m, Out: out, AllowInsecureRedirect: tc.allow,
				Auth: quicxfer.ClientOptions{RootCAs: roots}, Logf: lg.Logf,
			})
			t.Logf("error: %v\nnote: %q\nlog:\n%s", err, res.Seeds[0].Note, lg)
			require.Len(t, res.Seeds, 1)
			require.Contains(t, res.Seeds[0].Note, tc.note)
			for _, shown := range []string{res.Seeds[0].URL, res.Seeds[0].Note, lg.String(), fmt.Sprint(err)} {
				require.NotContains(t, shown, "s3cret")
				require.NotContains(t, shown, "hunter2")
			}
			if !tc.ok {
				require.ErrorIs(t, err, quicxfer.ErrNoSeeds)
				require.Contains(t, err.Error(), "redirected from https to plain http")
				require.Equal(t, before, plain.requests.Load(), "the http mirror was never asked")
				require.Equal(t, strings.Replace(tc.url, "s3cret", "xxxxx", 1), res.Seeds[0].URL, "reported as given, redacted")
				return
			}
			require.NoError(t, err)
			requireFile(t, out, data)
			require.Equal(t, strings.Replace(tc.url, "s3cret", "xxxxx", 1), res.Seeds[0].URL, "reported as given")
			require.Equal(t, int64(len(data)), res.Seeds[0].Bytes)
			require.Contains(t, lg.String(), "redirects to")
		})
	}
}

// TestMirrorIgnoringRangeAlone: a mirror that ignores Range (python3 -m
// http.server does) is not a source of bad blocks but one that cannot serve
// ranges. As the only source it is read as a whole file, each block
// verified as it comes, and the download completes; its note and the log
// say so. An answer cut short half way is taken up again.
func TestMirrorIgnoringRangeAlone(t *testing.T) {
	const blocks = 12
	for _, tc := range []struct {
		name string
		b    mirrorBehaviour
	}{
		{"ignores Range", ignoresRange},
		{"ignores Range, cut once", func() mirrorBehaviour {
			var n atomic.Int64
			return func(w http.ResponseWriter, r *http.Request, data []byte) {
				if n.Add(1) == 2 { // the first whole-file answer
					r.Header.Del("Range")
					truncatesRanges(w, r, data)
					return
				}
				ignoresRange(w, r, data)
			}
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := writeFile(t, t.TempDir(), "x", blocks*manifest.MinBlockSize+77, 59)
			m := buildManifest(t, data)
			mir := startMirror(t, "f.bin", data, 0, tc.b, false)
			out := filepath.Join(t.TempDir(), "f.bin")
			lg := &testkit.Logs{}
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{mir.URL()}, Manifest: m, Out: out, Logf: lg.Logf})
			t.Logf("requests %d, %+v\nlog:\n%s", mir.requests.Load(), res.Seeds[0], lg)
			require.NoError(t, err, "%s", lg)
			requireFile(t, out, data)
			r := res.Seeds[0]
			require.Zero(t, r.BadBlocks)
			require.Equal(t, int64(len(data)), r.Bytes)
			require.Contains(t, r.Note, "ignores Range requests")
			require.Contains(t, lg.String(), "ignores Range requests")
			require.NotContains(t, lg.String(), "bad copy")
			require.LessOrEqual(t, mir.requests.Load(), int64(6), "a few whole answers, not one per block")
		})
	}
}
