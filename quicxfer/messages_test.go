package quicxfer_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/seed"
)

// events collects a download's events.
type events struct {
	mu sync.Mutex
	ev []quicxfer.Event
}

func (e *events) on(ev quicxfer.Event) { e.mu.Lock(); e.ev = append(e.ev, ev); e.mu.Unlock() }

// of returns the kinds of the events about src.
func (e *events) of(src string) []quicxfer.EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var kinds []quicxfer.EventKind
	for _, ev := range e.ev {
		if ev.Source == src {
			kinds = append(kinds, ev.Kind)
		}
	}
	return kinds
}

// TestNotTrustedSeed: a seed URL without a pin, whose certificate the
// client cannot verify (self-signed), fails with ErrNotTrusted and says
// "certificate not trusted", without a raw x509 error as the message's
// start; it is not asked again, even when the download never gives up on a
// source (MaxRetries negative).
func TestNotTrustedSeed(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "f.bin", 1000, 1)
	_, urls := startSeeds(t, dir, 0)
	noPin, _, _ := strings.Cut(urls[0], "?")
	var done error
	testkit.NoHang(t, "a download from an untrusted seed", func() {
		_, done = quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{noPin}, Name: "f.bin", Out: filepath.Join(t.TempDir(), "f.bin"), MaxRetries: -1})
	})
	require.ErrorIs(t, done, quicxfer.ErrNotTrusted)
	require.ErrorIs(t, done, quicxfer.ErrNoSeeds)
	require.Contains(t, done.Error(), noPin+": certificate not trusted")
	require.Contains(t, quicxfer.Describe(done), "certificate not trusted")
}

// TestEverySeedsReason: when every seed fails at the start, each for its
// own reason, the error names each seed with its reason (not only the
// first's), and errors.Is finds both kinds.
func TestEverySeedsReason(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "f.bin", 1000, 1)
	_, urls := startSeeds(t, dir, 0)
	other := seedtest.Start(t, seed.Options{Paths: []string{dir}})
	noPin, _, _ := strings.Cut(urls[0], "?")
	wrong := strings.Replace(other.URL(), "pin="+pinOf(other.URL()), "pin="+pinOf(urls[0]), 1)
	_, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{noPin, wrong}, Name: "f.bin", Out: filepath.Join(t.TempDir(), "f.bin")})
	require.ErrorIs(t, err, quicxfer.ErrNoSeeds)
	require.ErrorIs(t, err, quicxfer.ErrNotTrusted)
	require.ErrorIs(t, err, quicxfer.ErrPinMismatch)
	require.Contains(t, err.Error(), noPin+": certificate not trusted")
	require.Contains(t, err.Error(), "; "+wrong+": pin mismatch")
}

// TestPinMismatchNotRetried: a seed whose certificate is not the one its
// URL pins is left out at once with "pin mismatch" as its reason: not
// "unreachable", never reported down or dialled again with backoff; the
// good seed carries the file. Debugf says the vote and the drop.
func TestPinMismatchNotRetried(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 3<<20, 2)
	_, urls := startSeeds(t, dir, 0)
	other := seedtest.Start(t, seed.Options{Paths: []string{dir}})
	wrong := strings.Replace(other.URL(), "pin="+pinOf(other.URL()), "pin="+pinOf(urls[0]), 1)
	require.NotEqual(t, other.URL(), wrong)
	var ev events
	var logs, debug testkit.Logs
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{
		Seeds: []string{urls[0], wrong}, Name: "f.bin", Out: out,
		OnEvent: ev.on, Logf: logs.Logf, Debugf: debug.Logf,
	})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Equal(t, []quicxfer.EventKind{quicxfer.EventSourceDropped}, ev.of(wrong), "dropped, never down and retried")
	require.True(t, strings.HasPrefix(res.Seeds[1].Note, "pin mismatch"), res.Seeds[1].Note)
	require.NotContains(t, logs.String(), "unreachable")
	require.Contains(t, debug.String(), "vote: seed "+urls[0]+" serves \"f.bin\" as content ID")
	require.Contains(t, debug.String(), "vote: seed "+wrong+" did not answer: pin mismatch")
	require.Contains(t, debug.String(), "vote: seed "+wrong+" left out: pin mismatch")
}

// TestDebugDrop: a seed that goes away for good mid-download is dropped
// after its backoffs, and Debugf tells each backoff with its delay and the
// drop with what led to it; its state is then gone.
func TestDebugDrop(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 4<<20, 3)
	servers, urls := startSeeds(t, dir, 4e6, 0)
	var debug testkit.Logs
	var once sync.Once
	var last quicxfer.Progress
	out := filepath.Join(t.TempDir(), "f.bin")
	_, err := quicxfer.Download(t.Context(), quicxfer.Options{
		Seeds: urls, Name: "f.bin", Out: out, MaxRetries: 2, RateLimit: 1e6, DialTimeout: 300 * time.Millisecond,
		Debugf: debug.Logf, ProgressInterval: 10 * time.Millisecond,
		OnProgress: func(p quicxfer.Progress) {
			if p.Verified > 0 {
				once.Do(func() { require.NoError(t, servers[0].Close()) })
			}
			last = p
		},
	})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Equal(t, quicxfer.StateGone, last.Seeds[0].State, "it went away: %+v", last.Seeds)
	d := debug.String()
	require.Regexp(t, `seed `+regexp.QuoteMeta(urls[0])+`: backoff [0-9.]+m?s \(failure 1 in a row, down`, d)
	require.Regexp(t, `seed `+regexp.QuoteMeta(urls[0])+` dropped: .*\(scheduler: 2 consecutive failures; 2 failures in a row`, d)
}

// TestTieIsNoMajority: two seeds that serve different files under one
// name, and no content ID given: one against one is no majority, and the
// error names both content IDs rather than taking the first seed's.
func TestTieIsNoMajority(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a := writeFile(t, dirA, "f.bin", 300<<10, 4)
	b := writeFile(t, dirB, "f.bin", 300<<10, 5)
	_, ua := startSeeds(t, dirA, 0)
	_, ub := startSeeds(t, dirB, 0)
	idA, idB := idOf(t, a), idOf(t, b)
	var debug testkit.Logs
	out := filepath.Join(t.TempDir(), "f.bin")
	_, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{ua[0], ub[0]}, Name: "f.bin", Out: out, Debugf: debug.Logf})
	require.ErrorIs(t, err, quicxfer.ErrNoMajority)
	nm, ok := errors.AsType[*quicxfer.NoMajorityError](err)
	require.True(t, ok)
	require.Equal(t, []quicxfer.VoteAnswer{{Seed: ua[0], ID: idA}, {Seed: ub[0], ID: idB}}, nm.Answers)
	require.Contains(t, err.Error(), idA.String())
	require.Contains(t, err.Error(), idB.String())
	require.Contains(t, debug.String(), "vote: no majority")

	// With the content ID, the download goes on from its seed.
	_, err = quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{ua[0], ub[0]}, Name: "f.bin", Out: out, ID: idB})
	require.NoError(t, err)
	requireFile(t, out, b)

	// Two against one is a majority.
	_, uc := startSeeds(t, dirA, 0)
	out2 := filepath.Join(t.TempDir(), "f.bin")
	_, err = quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{ub[0], ua[0], uc[0]}, Name: "f.bin", Out: out2, Debugf: debug.Logf})
	require.NoError(t, err)
	requireFile(t, out2, a)
	require.Contains(t, debug.String(), "vote: seed "+ub[0]+" left out: serves a different")
}

func idOf(t *testing.T, data []byte) manifest.ID {
	t.Helper()
	return buildManifest(t, data).ID()
}

// TestInterruptedWhileConnecting: Ctrl-C while the only seed does not
// answer yet ends the download with "interrupted while connecting to the
// seeds", not "context canceled"; it still matches context.Canceled.
func TestInterruptedWhileConnecting(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // takes packets, answers none
	require.NoError(t, err)
	defer silent.Close()
	dir := t.TempDir()
	writeFile(t, dir, "f.bin", 1000, 6)
	_, urls := startSeeds(t, dir, 0)
	u := "quic://" + silent.LocalAddr().String() + "?pin=" + pinOf(urls[0])
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err = quicxfer.Download(ctx, quicxfer.Options{Seeds: []string{u}, Name: "f.bin", Out: filepath.Join(t.TempDir(), "f.bin")})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, "interrupted while connecting to the seeds", err.Error())
}

// TestCauseBeforeWaiting: when the only seed goes away mid-download and
// is tried again for ever, the user is told why it is down (its error)
// before the line that says the download waits for blocks; Ctrl-C then
// says "interrupted during the download".
func TestCauseBeforeWaiting(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "f.bin", 4<<20, 7)
	servers, urls := startSeeds(t, dir, 2e6)
	var logs testkit.Logs
	var once sync.Once
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	waiting := make(chan struct{})
	var closeWaiting sync.Once
	_, err := quicxfer.Download(ctx, quicxfer.Options{
		Seeds: urls, Name: "f.bin", Out: filepath.Join(t.TempDir(), "f.bin"), MaxRetries: -1,
		Logf: func(format string, args ...any) {
			logs.Logf(format, args...)
			if strings.HasPrefix(format, "waiting:") {
				closeWaiting.Do(func() { close(waiting); cancel() })
			}
		},
		ProgressInterval: 10 * time.Millisecond,
		OnProgress: func(p quicxfer.Progress) {
			if p.Verified > 0 {
				once.Do(func() { require.NoError(t, servers[0].Close()) })
			}
		},
	})
	<-waiting
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, "interrupted during the download", err.Error())
	l := logs.String()
	cause := strings.Index(l, "seed "+urls[0]+" is down: ")
	require.GreaterOrEqual(t, cause, 0, l)
	require.Less(t, cause, strings.Index(l, "waiting:"), l)
}

// TestNoUsableMirror: a download from mirrors only that all fail says
// "no usable mirror", not "seed"; it still matches ErrNoSeeds.
func TestNoUsableMirror(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 300<<10, 8)
	m := buildManifest(t, data)
	bad := startMirror(t, "x", data, 0, notFound, false)
	_, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{bad.URL()}, Manifest: m, Out: filepath.Join(t.TempDir(), "x"), MaxRetries: 1})
	require.ErrorIs(t, err, quicxfer.ErrNoSeeds)
	require.True(t, strings.HasPrefix(err.Error(), "no usable mirror: "), err.Error())
	require.NotContains(t, err.Error(), "seed")
}
