package quicxfer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/seed"
)

// testReplica is the seed of a replica: a seed.Server with no paths of its
// own and its DownloadSharer.
type testReplica struct {
	*seed.Server
	sharer *seed.DownloadSharer
}

func (r testReplica) Sharer() quicxfer.Sharer { return r.sharer }

// replicaServe returns a ReplicateOptions.Serve that starts a replica seed
// with state directory stateDir, and the seeds it started.
func replicaServe(t *testing.T, stateDir string) (func(*quicxfer.Replica) (quicxfer.ReplicaSeed, error), *[]testReplica) {
	var started []testReplica
	return func(*quicxfer.Replica) (quicxfer.ReplicaSeed, error) {
		srv := seedtest.Start(t, seed.Options{NoPaths: true, StateDir: stateDir})
		r := testReplica{srv, srv.NewDownloadSharer()}
		t.Cleanup(func() {
			_ = srv.Close() // before the shared file is closed
			_ = r.sharer.Close()
		})
		started = append(started, r)
		return r, nil
	}, &started
}

// TestReplicate: Replicate fills the directory with the file asked for by
// name from the origin, through the replica's seed, which serves it (a
// client gets it from the replica alone) and names the origin as a peer; a
// second run finds the file complete from the cached manifest, with the
// origin gone.
func TestReplicate(t *testing.T) {
	src := t.TempDir()
	data := writeFile(t, src, "sub/f.bin", 1<<20, 31)
	origins, urls := startSeeds(t, src, 0)
	dir, state := t.TempDir(), t.TempDir()
	client, err := quicxfer.NewClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	serve, started := replicaServe(t, state)
	var serving []quicxfer.Replica
	var msgs testkit.Logs
	opts := quicxfer.ReplicateOptions{
		From: urls, Name: "sub/f.bin", Dir: dir, StateDir: state, Client: client, Logf: msgs.Logf,
		CachedManifest: func(p string) (*manifest.Manifest, error) { return seed.CachedManifest(state, p) },
		Serve:          serve,
		OnServing:      func(r *quicxfer.Replica) { serving = append(serving, *r) },
	}
	res, err := quicxfer.Replicate(t.Context(), opts)
	require.NoError(t, err, msgs.String())
	out := filepath.Join(dir, "sub", "f.bin")
	requireFile(t, out, data)
	require.False(t, res.Complete)
	require.Equal(t, out, res.Out)
	require.Equal(t, "sub/f.bin", res.Name)
	require.NotNil(t, res.Download)
	require.Equal(t, int64(len(data)), res.Download.Size)
	require.Len(t, serving, 1)
	require.Equal(t, res.Replica, serving[0])
	require.Len(t, *started, 1)
	require.Contains(t, msgs.String(), "now a full seed of it")

	got := filepath.Join(t.TempDir(), "got.bin")
	_, err = quicxfer.Download(t.Context(), quicxfer.Options{Seeds: (*started)[0].URLs(), Name: "sub/f.bin", Out: got, MaxPeers: -1})
	require.NoError(t, err)
	requireFile(t, got, data)
	u, err := wire.ParseURL((*started)[0].URLs()[0])
	require.NoError(t, err)
	conn, err := client.Dial(t.Context(), u)
	require.NoError(t, err)
	peers, err := conn.Peers(t.Context(), res.Manifest.ID(), "")
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	require.Contains(t, peers, urls[0], "the origin is a peer of the replica")

	require.NoError(t, origins[0].Close())
	(*started)[0].Close()
	opts.ID, opts.Name = res.Manifest.ID(), ""
	res2, err := quicxfer.Replicate(t.Context(), opts)
	require.NoError(t, err)
	require.True(t, res2.Complete, "cached: complete without the origin")
	require.Nil(t, res2.Download)
	require.Equal(t, res.Replica.Out, res2.Out)
	require.Equal(t, "sub/f.bin", res2.Name, "found by content ID")
	require.Len(t, serving, 2)
	require.True(t, serving[1].Complete)
}

// TestReplicateRefusals: a name no From seed serves is a
// *ManifestSearchError that names the seed, and a name that leads into the
// state directory a *StateDirError; neither starts the replica's seed nor
// writes anything.
func TestReplicateRefusals(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "state/f.bin", 100<<10, 32)
	_, urls := startSeeds(t, src, 0)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	client, err := quicxfer.NewClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	serve, started := replicaServe(t, state)
	opts := quicxfer.ReplicateOptions{From: urls, Dir: dir, StateDir: state, Client: client, Serve: serve}

	opts.Name = "missing.bin"
	_, err = quicxfer.Replicate(t.Context(), opts)
	var me *quicxfer.ManifestSearchError
	require.ErrorAs(t, err, &me)
	require.Equal(t, urls[0], me.URL)
	require.ErrorIs(t, err, wire.ErrNotFound)

	opts.Name = "state/f.bin"
	_, err = quicxfer.Replicate(t.Context(), opts)
	var se *quicxfer.StateDirError
	require.ErrorAs(t, err, &se)
	require.Equal(t, filepath.Join(state, "f.bin"), se.Path)

	opts.Name = "x.qxpart"
	_, err = quicxfer.Replicate(t.Context(), opts)
	var be *quicxfer.BadOptionsError
	require.ErrorAs(t, err, &be)

	// Interrupted while asking for the manifest: said so, not "context
	// canceled", and it still matches the context's error.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	opts.Name = "f.bin"
	_, err = quicxfer.Replicate(ctx, opts)
	var ie *quicxfer.InterruptedError
	require.ErrorAs(t, err, &ie)
	require.ErrorIs(t, err, context.Canceled)
	require.NotContains(t, err.Error(), "context canceled")

	require.Empty(t, *started, "no seed started")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing written")
}
