package quicxfer_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
			s := seed.StartForTest(t, seed.Options{Paths: []string{dir}, MaxRequestRate: 8, RequestBurst: 4})
			lg := &logs{}
			out := filepath.Join(t.TempDir(), "f.bin")
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{
				Seeds: []string{s.URL()}, Name: "f.bin", Out: out, MaxRetries: tc.retries, MaxPeers: -1, Logf: lg.logf,
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
	lg := &logs{}
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{mir.URL()}, Manifest: m, Out: out, Logf: lg.logf})
	require.NoError(t, err, "%s", lg)
	requireFile(t, out, data)
	bm.mu.Lock()
	defer bm.mu.Unlock()
	t.Logf("503s: %d; requests at %v; log:\n%s", bm.n503.Load(), bm.at, lg)
	require.Positive(t, bm.n503.Load(), "the premise")
	// Requests come in rounds (a probe window at a time); between two
	// rounds of 503s at least the second asked for passes.
	var rounds []time.Duration
	for i, at := range bm.at {
		if bm.code[i] != http.StatusServiceUnavailable {
			break
		}
		if len(rounds) == 0 || at-rounds[len(rounds)-1] > 300*time.Millisecond {
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
	}{
		{name: "mirror closes mid-body", mirror: onceThen(truncatesRanges)},
		{name: "mirror answers the whole file", mirror: onceThen(ignoresRange)},
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
			lg := &logs{}
			opts.Logf = lg.logf
			res, err := quicxfer.Download(t.Context(), opts)
			require.NoError(t, err, "%s", lg)
			requireFile(t, opts.Out, data)
			t.Logf("%+v\n%s", res.Seeds[0], lg)
			require.Greater(t, asked(), int64(blocks), "the premise: one request failed and was made again")
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
	lg, rec := &logs{}, &recorder{}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := quicxfer.Download(ctx, quicxfer.Options{
		Mirrors: []string{mir.URL()}, Manifest: m, Out: filepath.Join(t.TempDir(), "f.bin"),
		MaxRetries: 2, LowestSpeedLimit: 1000, LowestSpeedTime: 1500 * time.Millisecond,
		Logf: lg.logf, OnEvent: rec.on,
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
