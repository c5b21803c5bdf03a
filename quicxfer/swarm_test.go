package quicxfer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/seed"
)

// peer is a downloader that shares what it has (get --serve), in process.
type peer struct {
	srv    *seed.Server
	sharer *seed.DownloadSharer
}

func startPeer(t testing.TB, rate float64) *peer {
	t.Helper()
	srv := seedtest.Start(t, seed.Options{NoPaths: true, RateLimit: rate})
	p := &peer{srv: srv, sharer: srv.NewDownloadSharer()}
	t.Cleanup(func() { _ = p.sharer.Close() })
	return p
}

func (p *peer) options(o quicxfer.Options) quicxfer.Options {
	o.Share, o.SelfURLs = p.sharer, p.srv.URLs()
	return o
}

// swarmRun starts n downloaders of name from origin at once and waits for
// them; with share, each serves what it has (get --serve).
func swarmRun(t *testing.T, origin *seed.Server, name string, data []byte, n int, share bool) (time.Duration, []*quicxfer.Result) {
	t.Helper()
	before := origin.Stats().BytesSent
	dir := t.TempDir()
	results := make([]*quicxfer.Result, n)
	errs := make([]error, n)
	peers := make([]*peer, n)
	if share {
		for i := range peers {
			peers[i] = startPeer(t, 0)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			o := quicxfer.Options{Seeds: []string{origin.URL()}, Name: name, Out: filepath.Join(dir, fmt.Sprintf("out%d", i))}
			if share {
				o = peers[i].options(o)
			} else {
				o.MaxPeers = -1
			}
			results[i], errs[i] = quicxfer.Download(t.Context(), o)
		})
	}
	wg.Wait()
	took := time.Since(start)
	for i := range n {
		require.NoError(t, errs[i], "downloader %d", i)
		requireFile(t, filepath.Join(dir, fmt.Sprintf("out%d", i)), data)
	}
	sent := origin.Stats().BytesSent - before
	t.Logf("%d downloaders, share=%v: %s, origin sent %.2f × the file", n, share, took.Round(10*time.Millisecond), float64(sent)/float64(len(data)))
	return took, results
}

// TestSwarmSixteen: an origin limited to 4 MB/s and 16 downloaders started
// together, first each on its own, then sharing what they have. Every file
// is right either way; sharing, blocks flow between the downloaders, so the
// origin sends less than the 16 copies it sends to them alone. How much less
// depends on the machine (all 33 parties share this process, and under -race
// on two busy cores the CPU, not the origin, bounds the sharing round): the
// bench's scenario 11 measures that (1.9 copies); this test asserts only
// that sharing happens and saves the origin work.
func TestSwarmSixteen(t *testing.T) {
	if testing.Short() {
		t.Skip("16 downloaders")
	}
	const size = 2 << 20
	src := t.TempDir()
	data := writeFile(t, src, "big.bin", size, 16)
	origin := seedtest.Start(t, seed.Options{Paths: []string{src}, RateLimit: 4e6})

	alone, _ := swarmRun(t, origin, "big.bin", data, 16, false)
	before := origin.Stats().BytesSent
	shared, results := swarmRun(t, origin, "big.bin", data, 16, true)
	ratio := float64(origin.Stats().BytesSent-before) / size
	t.Logf("origin upload ÷ file size: %.2f sharing, 16 alone; time %s sharing vs %s alone", ratio, shared.Round(10*time.Millisecond), alone.Round(10*time.Millisecond))
	var fromPeers, accepted int64
	for _, r := range results {
		for _, s := range r.Seeds {
			accepted += s.Bytes
			if s.URL != origin.URL() {
				fromPeers += s.Bytes
			}
		}
	}
	require.Positive(t, fromPeers, "no block came from a peer")
	require.Equal(t, int64(16*size), accepted, "each downloader accepts each byte once")
	require.Less(t, ratio, 16.0, "sharing saved the origin nothing")
	t.Logf("bytes from peers: %.2f × the file", float64(fromPeers)/size)
}

// TestDiscovery: a client given only the origin's URL learns the other
// seeds from it (the operator's --peer, a registered peer) and uses them all.
func TestDiscovery(t *testing.T) {
	const size = 3 << 20
	src := t.TempDir()
	data := writeFile(t, src, "f.bin", size, 3)
	_, others := startSeeds(t, src, 0, 0)
	origin := seedtest.Start(t, seed.Options{Paths: []string{src}, RateLimit: 1e6, Peers: others[:1]})
	id := origin.Files()[0].ID
	require.NoError(t, origin.TouchPeer(id, others[1]))

	lg := &testkit.Logs{}
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{origin.URL()}, Name: "f.bin", Out: out, Logf: lg.Logf})
	require.NoError(t, err, "%s", lg)
	requireFile(t, out, data)
	require.Len(t, res.Seeds, 3, "%s", lg)
	// The origin is slow on purpose, so that the download outlives the
	// discovery; on a fast machine the two peers it names can serve every
	// block before the origin finishes one, so only they must have served.
	used := map[string]int64{}
	for _, s := range res.Seeds {
		used[s.URL] = s.Blocks
	}
	require.Contains(t, used, origin.URL(), "%s", lg)
	for _, u := range others {
		require.Positive(t, used[u], "discovered seed %s delivered nothing: %s", u, lg)
	}

	// MaxPeers bounds what is added; negative turns discovery off.
	out2 := filepath.Join(t.TempDir(), "f.bin")
	res, err = quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{origin.URL()}, Name: "f.bin", Out: out2, MaxPeers: 1})
	require.NoError(t, err)
	require.Len(t, res.Seeds, 2)
}

// TestPartialPeerServesWhatItHas: a peer whose download stopped half way
// serves exactly its verified blocks; a client that has the peer and a slow
// origin gets those blocks from the peer and nothing the peer lacks.
func TestPartialPeerServesWhatItHas(t *testing.T) {
	const size = 40 * manifest.MinBlockSize
	src := t.TempDir()
	data := writeFile(t, src, "f.bin", size, 5)
	origin := seedtest.Start(t, seed.Options{Paths: []string{src}, RateLimit: 2e6})
	m, err := manifest.BuildFile(t.Context(), filepath.Join(src, "f.bin"), 1)
	require.NoError(t, err)

	// A partial download: the even blocks only.
	pout := filepath.Join(t.TempDir(), "f.bin")
	part, _, err := partial.Open(pout, m, partial.Options{})
	require.NoError(t, err)
	for i := 0; i < m.NumBlocks(); i += 2 {
		off := m.BlockOffset(i)
		require.NoError(t, part.WriteBlock(i, data[off:off+m.BlockLen(i)]))
	}
	require.NoError(t, part.Sync())
	p := startPeer(t, 0)
	require.NoError(t, p.sharer.Start("f.bin", m, partial.PartPath(pout), part.Has))
	require.NoError(t, part.Close())

	lg := &testkit.Logs{}
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{origin.URL(), p.srv.URL()}, Name: "f.bin", Out: out, Logf: lg.Logf})
	require.NoError(t, err, "%s", lg)
	requireFile(t, out, data)
	require.Equal(t, p.srv.URL(), res.Seeds[1].URL)
	require.Positive(t, res.Seeds[1].Blocks, "%s", lg)
	require.LessOrEqual(t, res.Seeds[1].Blocks, int64(m.NumBlocks()/2), "the peer has only half")
	// Given as a --seed, the peer is taken for a full seed until its HAVE
	// arrives (one round trip); a block it answers NOT_AVAILABLE for is not
	// asked of it again, so there are at most as many such answers as
	// blocks it lacks, and no failure is counted for them.
	require.LessOrEqual(t, p.srv.Stats().RejectedByReason[wire.ErrCodeNotAvailable], int64(m.NumBlocks()/2))
	require.Empty(t, res.Seeds[1].Note)
}

// TestReplication: seed B fills from seed A, is interrupted, resumes, then
// serves a client on its own once A is gone.
func TestReplication(t *testing.T) {
	const size = 64 * manifest.MinBlockSize
	src := t.TempDir()
	data := writeFile(t, src, "dir/f.bin", size, 9)
	a := seedtest.Start(t, seed.Options{Paths: []string{src}, RateLimit: 4e6})
	id := a.Files()[0].ID
	bdir := t.TempDir()
	out := filepath.Join(bdir, "dir", "f.bin")
	require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))

	// First run, interrupted when about a third is on disk.
	b1 := startPeer(t, 0)
	ctx, cancel := context.WithCancel(t.Context())
	var res *quicxfer.Result
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err = quicxfer.Download(ctx, b1.options(quicxfer.Options{Seeds: []string{a.URL()}, ID: id, Out: out, SyncInterval: 100 * time.Millisecond}))
	}()
	require.Eventually(t, func() bool {
		sh := b1.sharer.Shared()
		return sh != nil && sh.Count() > 20
	}, 20*time.Second, 10*time.Millisecond)
	cancel()
	<-done
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, "dir/f.bin", res.Name, "the file keeps its manifest name")
	_, statErr := os.Stat(out)
	require.ErrorIs(t, statErr, os.ErrNotExist)

	// Second run, as after a restart: resumes, completes, becomes a full seed.
	b2 := startPeer(t, 0)
	res, err = quicxfer.Download(t.Context(), b2.options(quicxfer.Options{Seeds: []string{a.URL()}, ID: id, Out: out}))
	require.NoError(t, err)
	require.Greater(t, res.ResumedBytes, int64(20*manifest.MinBlockSize))
	requireFile(t, out, data)
	require.True(t, b2.sharer.Shared().Complete())

	// A goes away; a client gets the file from B alone.
	require.NoError(t, a.Close())
	cout := filepath.Join(t.TempDir(), "f.bin")
	res, err = quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{b2.srv.URL()}, Name: "dir/f.bin", Out: cout, MaxPeers: -1})
	require.NoError(t, err)
	requireFile(t, cout, data)
	require.Equal(t, int64(size), res.Seeds[0].Bytes)
}

// TestLyingHave: a source that says it has every block and then answers
// NOT_AVAILABLE for each is a failing source: it is dropped, and the
// download completes from the honest one.
func TestLyingHave(t *testing.T) {
	const size = 24 * manifest.MinBlockSize
	src := t.TempDir()
	data := writeFile(t, src, "f.bin", size, 21)
	liar := startFakeSeed(t, src, "f.bin", claimsAll)
	origin := seedtest.Start(t, seed.Options{Paths: []string{src}, RateLimit: 1e6})
	lg := &testkit.Logs{}
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{liar.URL(), origin.URL()}, Name: "f.bin", Out: out, Logf: lg.Logf})
	require.NoError(t, err, "%s", lg)
	requireFile(t, out, data)
	require.Zero(t, res.Seeds[0].Blocks)
	require.Positive(t, liar.blockRequests())
	require.LessOrEqual(t, liar.blockRequests(), int64(20), "dropped after a few failures: %s", lg)
}

// TestWaitsForBlocksNoSourceHas: the only source is a peer with half the
// blocks; the download waits for the rest (telling the user) rather than
// fail, and finishes once the peer has them.
func TestWaitsForBlocksNoSourceHas(t *testing.T) {
	const size = 8 * manifest.MinBlockSize
	src := t.TempDir()
	data := writeFile(t, src, "f.bin", size, 23)
	m, err := manifest.BuildFile(t.Context(), filepath.Join(src, "f.bin"), 1)
	require.NoError(t, err)
	p := startPeer(t, 0)
	require.NoError(t, p.sharer.Start("f.bin", m, filepath.Join(src, "f.bin"), func(i int) bool { return i < 4 }))

	lg := &testkit.Logs{}
	out := filepath.Join(t.TempDir(), "f.bin")
	done := make(chan error, 1)
	go func() {
		_, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{p.srv.URL()}, Name: "f.bin", Out: out, Logf: lg.Logf})
		done <- err
	}()
	require.Eventually(t, func() bool { return strings.Contains(lg.String(), "waiting: 4 blocks") }, 20*time.Second, 20*time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("download ended while blocks were missing: %v", err)
	default:
	}
	p.sharer.Add([]int{4, 5, 6, 7})
	require.NoError(t, <-done, "%s", lg)
	requireFile(t, out, data)
}
