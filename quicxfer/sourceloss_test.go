package quicxfer_test

import (
	"context"
	"path/filepath"
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

// recorder collects a download's events (OnEvent is called from the
// download loop only; the lock is for the test's own reads).
type recorder struct {
	mu  sync.Mutex
	evs []quicxfer.Event
}

func (r *recorder) on(e quicxfer.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, e)
}

func (r *recorder) of(kind quicxfer.EventKind, u string) []quicxfer.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return eventsOf(r.evs, kind, u)
}

// TestLostPeerFailsTheDownload: a peer learnt from the origin that does not
// answer, or that answered with no block the download misses and then went
// away, is never asked for blocks; it must still be seen to be down and
// dropped like any seed, so that when the origin goes away too the download
// fails with ErrNoSeeds rather than waiting forever. A peer that never
// answered never joined; one whose HAVE arrived joined once.
func TestLostPeerFailsTheDownload(t *testing.T) {
	for _, tc := range []struct {
		name   string
		joined int
	}{{"never answers", 0}, {"goes away", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			writeFile(t, src, "f.bin", 16*manifest.MinBlockSize, 41)
			m, err := manifest.BuildFile(t.Context(), filepath.Join(src, "f.bin"), 1)
			require.NoError(t, err)
			p := startPeer(t, 0)
			if tc.joined > 0 {
				// A peer that has none of the blocks.
				require.NoError(t, p.sharer.Start("f.bin", m, filepath.Join(src, "f.bin"), func(int) bool { return false }))
			} else {
				require.NoError(t, p.srv.Close())
			}
			peerURL := p.srv.URL()
			origin := seedtest.Start(t, seed.Options{Paths: []string{src}, RateLimit: 5e5, Peers: []string{peerURL}})
			stop := time.AfterFunc(1500*time.Millisecond, func() {
				_ = p.srv.Close()
				_ = origin.Close()
			})
			t.Cleanup(func() { stop.Stop() })

			lg, rec := &testkit.Logs{}, &recorder{}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			res, err := quicxfer.Download(ctx, quicxfer.Options{
				Seeds: []string{origin.URL()}, Name: "f.bin", Out: filepath.Join(t.TempDir(), "f.bin"),
				MaxRetries: 1, DialTimeout: 300 * time.Millisecond, Logf: lg.Logf, OnEvent: rec.on,
			})
			require.ErrorIs(t, err, quicxfer.ErrNoSeeds, "%s", lg)
			require.Len(t, res.Seeds, 2, "%s", lg)
			require.Equal(t, peerURL, res.Seeds[1].URL)
			require.True(t, strings.HasPrefix(res.Seeds[1].Note, "dropped: "), "%q", res.Seeds[1].Note)
			require.Len(t, rec.of(quicxfer.EventSourceDropped, peerURL), 1)
			require.Len(t, rec.of(quicxfer.EventSourceJoined, peerURL), tc.joined, "joins when its HAVE arrives, not before")
		})
	}
}

// TestSourceRemovedForItsHave: a seed whose HAVE is malformed while its
// block requests are in flight is dropped at once: it is reported dropped,
// and those requests are cancelled (the seed sees each stream end) rather
// than left running outside the bound on bytes in flight.
func TestSourceRemovedForItsHave(t *testing.T) {
	src := t.TempDir()
	data := writeFile(t, src, "f.bin", 24*manifest.MinBlockSize, 43)
	bad := startFakeSeedWith(t, src, "f.bin", stallBlocks, fakeOptions{have: haveMalformed})
	honest := seedtest.Start(t, seed.Options{Paths: []string{src}, RateLimit: 2e6})
	lg, rec := &testkit.Logs{}, &recorder{}
	out := filepath.Join(t.TempDir(), "f.bin")
	openAtEnd := int64(-1)
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{
		Seeds: []string{bad.URL(), honest.URL()}, Name: "f.bin", Out: out, MaxPeers: -1,
		Logf: lg.Logf, OnEvent: rec.on,
		OnProgress: func(p quicxfer.Progress) {
			if p.Verified < p.Size || openAtEnd >= 0 {
				return
			}
			// The last progress, before the download's end cancels
			// everything: the dropped seed's requests must be over.
			deadline := time.Now().Add(3 * time.Second)
			for bad.openBlocks.Load() > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			openAtEnd = bad.openBlocks.Load()
		},
	})
	require.NoError(t, err, "%s", lg)
	requireFile(t, out, data)
	require.Positive(t, bad.blockRequests(), "it was asked for blocks before its HAVE came")
	require.Zero(t, openAtEnd, "its requests were cancelled when it was dropped")
	drops := rec.of(quicxfer.EventSourceDropped, bad.URL())
	require.Len(t, drops, 1, "%s", lg)
	require.Contains(t, drops[0].Reason, "HAVE")
	require.True(t, strings.HasPrefix(res.Seeds[0].Note, "dropped: "), "%q", res.Seeds[0].Note)
}

// TestNotesFollowTheSource: a seed that refused the manifest at the start
// (noted "unreachable") and then serves good blocks ends with no note; one
// that then sends bad blocks is noted, logged and reported as dropped for
// them.
func TestNotesFollowTheSource(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    behaviour
		note string // "" or the note's start
	}{{"then works", honestBlocks, ""}, {"then lies", wrongBlocks, "dropped: 3 blocks failed verification"}} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			data := writeFile(t, src, "f.bin", 24*manifest.MinBlockSize, 45)
			fake := startFakeSeedWith(t, src, "f.bin", tc.b, fakeOptions{refuseManifests: 1})
			honest := seedtest.Start(t, seed.Options{Paths: []string{src}, RateLimit: 2e6})
			lg, rec := &testkit.Logs{}, &recorder{}
			out := filepath.Join(t.TempDir(), "f.bin")
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{
				Seeds: []string{fake.URL(), honest.URL()}, Name: "f.bin", Out: out, MaxPeers: -1,
				Logf: lg.Logf, OnEvent: rec.on,
			})
			require.NoError(t, err, "%s", lg)
			requireFile(t, out, data)
			require.Contains(t, lg.String(), fake.URL()+" unreachable", "the premise: it was noted unreachable")
			note := res.Seeds[0].Note
			if tc.note == "" {
				require.Positive(t, res.Seeds[0].Blocks)
				require.Empty(t, note)
				return
			}
			require.True(t, strings.HasPrefix(note, tc.note), "%q", note)
			require.Contains(t, lg.String(), fake.URL()+" dropped: 3 blocks failed verification")
			require.Len(t, rec.of(quicxfer.EventSourceDropped, fake.URL()), 1)
		})
	}
}

// TestDroppedSourceIsLeftAlone: once a seed is dropped (here for bad blocks
// or for its failing HAVE requests, whichever comes first) it is not asked
// anything again, though the download goes on for seconds.
func TestDroppedSourceIsLeftAlone(t *testing.T) {
	src := t.TempDir()
	data := writeFile(t, src, "f.bin", 24*manifest.MinBlockSize, 47)
	bad := startFakeSeedWith(t, src, "f.bin", wrongBlocks, fakeOptions{have: haveInternal})
	honest := seedtest.Start(t, seed.Options{Paths: []string{src}, RateLimit: 6e5})
	lg := &testkit.Logs{}
	out := filepath.Join(t.TempDir(), "f.bin")
	haveAtDrop := int64(-1)
	var droppedAt time.Time
	_, err := quicxfer.Download(t.Context(), quicxfer.Options{
		Seeds: []string{bad.URL(), honest.URL()}, Name: "f.bin", Out: out, MaxRetries: 2,
		Logf: lg.Logf,
		OnEvent: func(e quicxfer.Event) {
			if e.Kind == quicxfer.EventSourceDropped && e.Source == bad.URL() {
				haveAtDrop, droppedAt = bad.haveReqs.Load(), time.Now()
			}
		},
	})
	require.NoError(t, err, "%s", lg)
	requireFile(t, out, data)
	require.NotEqual(t, int64(-1), haveAtDrop, "dropped: %s", lg)
	t.Logf("dropped after %d HAVE requests; the download went on for %s", haveAtDrop, time.Since(droppedAt).Round(time.Millisecond))
	// One may have been on its way when it was dropped.
	require.LessOrEqual(t, bad.haveReqs.Load(), haveAtDrop+1, "%s", lg)
	require.GreaterOrEqual(t, time.Since(droppedAt), 3*time.Second, "the premise: the download went on long enough")
}
