package quicxfer_test

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/seed"
)

// TestHostileSeeds downloads from one honest seed and one that lies or
// misbehaves in a given way. Every time the download completes from the
// honest seed, nothing the liar sent reaches OUT, and the liar is named:
// in its SeedResult and in a log line.
func TestHostileSeeds(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    behaviour
		// bad: its blocks fail (verification or the protocol), so it is
		// dropped after three strikes. Otherwise it is slow or silent.
		bad  bool
		why  string  // in its Note and in the log
		rate float64 // the honest seed's, bytes/s (default 4e6: about 1.6 s for the file)
	}{
		{"wrong bytes", wrongBlocks, true, "dropped", 0},
		// A block cut short is a failure (a retry later), not a bad block.
		{"truncated block", truncatedBlocks, false, "cut short", 0},
		{"header longer than the block", longHeader, true, "dropped", 0},
		{"bytes after the block", extraBytes, true, "dropped", 0},
		{"another frame type", wrongFrame, true, "dropped", 0},
		{"stops answering mid-block", stopMidBlock, false, "stalled", 0},
		// Here the download outlasts the stall timeout, so the seed is
		// caught stalling, not only found idle at the end.
		{"stops answering mid-block, long download", stopMidBlock, false, "stalled: no data", 1.5e6},
		{"trickle", trickleBlocks, false, "slow", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			data := writeFile(t, dir, "f.bin", 48*manifest.MinBlockSize+1000, 20)
			// About 1.6 s from the honest seed: long enough for a seed that
			// stopped to be told from one that is slow.
			rate := cmp.Or(tc.rate, 4e6)
			honest := seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: rate})
			liar := startFakeSeed(t, dir, "f.bin", tc.b)
			out := filepath.Join(t.TempDir(), "f.bin")
			var l testkit.Logs
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{
				Seeds: []string{liar.URL(), honest.URL()}, Name: "f.bin", Out: out, Logf: l.Logf,
			})
			require.NoError(t, err, l.String())
			t.Logf("liar: %+v\nlog:\n%s", res.Seeds[0], l.String())
			requireFile(t, out, data)
			require.Positive(t, liar.blockRequests(), "the liar was asked for blocks")

			lr := res.Seeds[0]
			require.Zero(t, lr.Bytes, "nothing from the liar was kept")
			require.Zero(t, lr.Blocks)
			require.Equal(t, int64(len(data)), res.Seeds[1].Bytes, "everything came from the honest seed")
			require.Contains(t, lr.Note, tc.why, "the liar is named in the result")
			require.Contains(t, l.String(), liar.URL(), "the liar is named in the log")
			if tc.bad {
				require.GreaterOrEqual(t, lr.BadBlocks, int64(3), "dropped at the third bad block")
				require.Contains(t, l.String(), "bad copy")
			} else {
				require.Zero(t, lr.BadBlocks, "slow is not bad")
				// A trickle would need about 6.5 s for one block, a seed that
				// stopped forever: the download does not wait for them.
				require.Less(t, res.Elapsed, time.Duration(float64(len(data))/rate*float64(time.Second))+4*time.Second)
			}
		})
	}
}

// TestForgedBlock: a seed that sends another block with the same xxh64
// (forged in microseconds, see forgeXXH64) is caught by the block's SHA-256:
// alone it cannot complete the download, and nothing of its block is kept;
// beside an honest seed the download is exact.
func TestForgedBlock(t *testing.T) {
	dir := t.TempDir()
	// One block of 1000 bytes: its xxh64 tail has a word to forge.
	data := writeFile(t, dir, "f.bin", 1000, 24)
	liar := startFakeSeed(t, dir, "f.bin", forgedBlocks)
	out := filepath.Join(t.TempDir(), "f.bin")
	var l testkit.Logs
	_, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{liar.URL()}, Name: "f.bin", Out: out, Logf: l.Logf})
	t.Logf("error: %v\nlog:\n%s", err, l.String())
	require.ErrorIs(t, err, quicxfer.ErrNoSeeds)
	require.NotContains(t, err.Error(), "\n")
	require.Contains(t, err.Error(), liar.URL(), "the error names the seed")
	require.Contains(t, err.Error(), "failed verification", "and says what it did")
	require.Contains(t, l.String(), "sha256", "it passed the xxh64 and failed the SHA-256")
	require.Contains(t, l.String(), liar.URL())
	_, err = os.Stat(out)
	require.ErrorIs(t, err, os.ErrNotExist)
	// Nothing of the forged block was written: the download holds no block,
	// so it leaves no part file behind either.
	require.NoFileExists(t, partial.PartPath(out))
	require.NoFileExists(t, partial.StatePath(out))

	_, urls := startSeeds(t, dir, 0)
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{liar.URL(), urls[0]}, Name: "f.bin", Out: out})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Zero(t, res.Seeds[0].Bytes)
	require.Equal(t, int64(len(data)), res.Seeds[1].Bytes)
}

// TestSeedOpensStreams: a seed that tries to open streams to the client gets
// no credit for any (the client sets MaxIncomingStreams and
// MaxIncomingUniStreams to -1), so nothing it would push is ever read; its
// honest answers are still used.
func TestSeedOpensStreams(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 24*manifest.MinBlockSize, 21)
	honest := seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: 8e6})
	pusher := startFakeSeed(t, dir, "f.bin", pushStreams)
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{pusher.URL(), honest.URL()}, Name: "f.bin", Out: out})
	require.NoError(t, err)
	requireFile(t, out, data)
	errs := pusher.pushErrors()
	require.NotEmpty(t, errs, "the seed tried")
	require.Len(t, errs, 3, "no attempt succeeded: %v", errs)
	for _, err := range errs {
		var limit *quic.StreamLimitReachedError
		require.True(t, errors.As(err, &limit) || errors.Is(err, context.DeadlineExceeded),
			"refused for want of stream credit, not for another reason: %v", err)
	}
	require.Positive(t, res.Seeds[0].Bytes, "its honest answers are still used")
}

// TestIDRefusesOtherManifests: with Options.ID, a seed whose manifest does
// not hash to the ID is left out and named, even when such seeds are the
// majority; with only such seeds the download fails with ErrIDMismatch.
func TestIDRefusesOtherManifests(t *testing.T) {
	goodDir, badDir := t.TempDir(), t.TempDir()
	data := writeFile(t, goodDir, "f.bin", 24*manifest.MinBlockSize+5, 22)
	writeFile(t, badDir, "f.bin", len(data), 23)
	m, err := manifest.BuildFile(context.Background(), filepath.Join(goodDir, "f.bin"), 1)
	require.NoError(t, err)
	_, bad := startSeeds(t, badDir, 0, 0)
	_, good := startSeeds(t, goodDir, 8e6)

	out := filepath.Join(t.TempDir(), "f.bin")
	var l testkit.Logs
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{
		Seeds: []string{bad[0], bad[1], good[0]}, Name: "f.bin", Out: out, ID: m.ID(), Logf: l.Logf,
	})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Equal(t, m.ID(), res.ID)
	for i, s := range res.Seeds[:2] {
		require.Zero(t, s.Bytes)
		require.Zero(t, s.Received, "a seed left out is never asked for a block")
		require.Contains(t, s.Note, "different")
		require.Contains(t, l.String(), bad[i])
	}
	require.Equal(t, int64(len(data)), res.Seeds[2].Bytes)

	// Only seeds of another manifest: refused, in one line that gives the ID.
	out2 := filepath.Join(t.TempDir(), "f.bin")
	_, err = quicxfer.Download(t.Context(), quicxfer.Options{Seeds: bad, Name: "f.bin", Out: out2, ID: m.ID()})
	require.ErrorIs(t, err, quicxfer.ErrIDMismatch)
	require.Contains(t, err.Error(), m.ID().String())
	require.NotContains(t, err.Error(), "\n")
	for _, p := range []string{out2, partial.PartPath(out2), partial.StatePath(out2)} {
		_, err := os.Stat(p)
		require.ErrorIs(t, err, os.ErrNotExist, "nothing written for a refused manifest: %s", p)
	}
	require.False(t, strings.Contains(l.String(), "panic"))
}
