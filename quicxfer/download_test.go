package quicxfer_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/seed"
)

// writeFile writes size pseudo-random bytes (a function of seed) to dir/name.
func writeFile(t testing.TB, dir, name string, size int, seed uint64) []byte {
	t.Helper()
	return testkit.WriteRandom(t, filepath.Join(dir, name), size, seed)
}

func requireFile(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "%s differs from the original (%d vs %d bytes)", path, len(got), len(want))
	_, err = os.Stat(partial.PartPath(path))
	require.ErrorIs(t, err, os.ErrNotExist, "part file left behind")
	_, err = os.Stat(partial.StatePath(path))
	require.ErrorIs(t, err, os.ErrNotExist, "state file left behind")
}

func startSeeds(t testing.TB, dir string, rates ...float64) ([]*seed.Server, []string) {
	t.Helper()
	var servers []*seed.Server
	var urls []string
	for _, r := range rates {
		s := seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: r})
		servers = append(servers, s)
		urls = append(urls, s.URL())
	}
	return servers, urls
}

func TestDownloadSizes(t *testing.T) {
	const bs = manifest.MinBlockSize
	for _, tc := range []struct {
		name  string
		size  int
		seeds int
	}{
		{"empty", 0, 1},
		{"one byte", 1, 1},
		{"one block", bs, 2},
		{"one block and a byte", bs + 1, 3},
		{"several hundred blocks", 300*bs + 12345, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data := writeFile(t, dir, "sub/f.bin", tc.size, uint64(tc.size))
			rates := make([]float64, tc.seeds)
			_, urls := startSeeds(t, dir, rates...)
			out := filepath.Join(t.TempDir(), "out.bin")
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: urls, Name: "sub/f.bin", Out: out})
			require.NoError(t, err)
			requireFile(t, out, data)
			require.Equal(t, int64(tc.size), res.Size)
			require.Zero(t, res.ResumedBytes)
			var accepted int64
			for _, s := range res.Seeds {
				accepted += s.Bytes
				require.Zero(t, s.BadBlocks)
			}
			require.Equal(t, int64(tc.size), accepted, "every byte accepted exactly once")
			require.GreaterOrEqual(t, res.FetchedBytes, int64(tc.size))
		})
	}
}

func TestDownloadThreeSeedsShares(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 12<<20, 1)
	_, urls := startSeeds(t, dir, 16e6, 8e6, 4e6)
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out})
	require.NoError(t, err)
	requireFile(t, out, data)
	for _, s := range res.Seeds {
		require.Positive(t, s.Bytes, "every seed contributed: %+v", res.Seeds)
	}
	require.Greater(t, res.Seeds[0].Bytes, res.Seeds[2].Bytes, "the fastest seed carried more than the slowest: %+v", res.Seeds)
}

func TestSeedKilledHalfWay(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 12<<20, 2)
	servers, urls := startSeeds(t, dir, 12e6, 6e6, 6e6)
	out := filepath.Join(t.TempDir(), "f.bin")
	var killed atomic.Bool
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{
		Seeds: urls, Name: "f.bin", Out: out, ProgressInterval: 10 * time.Millisecond,
		OnProgress: func(p quicxfer.Progress) {
			if p.Verified >= p.Size/2 && !killed.Swap(true) {
				require.NoError(t, servers[0].Close())
			}
		},
	})
	require.NoError(t, err)
	require.True(t, killed.Load())
	requireFile(t, out, data)
	require.Positive(t, res.Seeds[1].Bytes+res.Seeds[2].Bytes)
}

func TestStallingSeed(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 6<<20, 3)
	_, urls := startSeeds(t, dir, 8e6)
	staller := startFakeSeed(t, dir, "f.bin", stallBlocks)
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{staller.URL(), urls[0]}, Name: "f.bin", Out: out})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Zero(t, res.Seeds[0].Bytes, "the stalling seed sent nothing")
	require.Contains(t, res.Seeds[0].Note, "no data", "and it is named")
	require.Equal(t, int64(len(data)), res.Seeds[1].Bytes)
}

func TestSeedWithChangedFile(t *testing.T) {
	goodDir, badDir := t.TempDir(), t.TempDir()
	data := writeFile(t, goodDir, "f.bin", 64*manifest.MinBlockSize, 4)
	writeFile(t, badDir, "f.bin", len(data), 4)
	good := seedtest.Start(t, seed.Options{Paths: []string{goodDir}, RateLimit: 8e6})
	bad := seedtest.Start(t, seed.Options{Paths: []string{badDir}})

	// After the seed hashed it, flip a byte in every block of its copy, in place.
	f, err := os.OpenFile(filepath.Join(badDir, "f.bin"), os.O_RDWR, 0)
	require.NoError(t, err)
	for off := int64(100); off < int64(len(data)); off += manifest.MinBlockSize {
		_, err := f.WriteAt([]byte{data[off] ^ 0x55}, off)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())

	out := filepath.Join(t.TempDir(), "f.bin")
	var l testkit.Logs
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{bad.URL(), good.URL()}, Name: "f.bin", Out: out, Logf: l.Logf})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Zero(t, res.Seeds[0].Bytes, "nothing from the bad seed was kept")
	// Dropped at the third strike; copies already in flight may still arrive bad.
	require.GreaterOrEqual(t, res.Seeds[0].BadBlocks, int64(3), "dropped after three bad blocks")
	require.Contains(t, res.Seeds[0].Note, "dropped")
	require.Contains(t, l.String(), "bad copy")
}

// interruptAt runs a download and cancels it once frac of the file is verified.
func interruptAt(t *testing.T, opts quicxfer.Options, frac float64) *quicxfer.Result {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opts.ProgressInterval = 10 * time.Millisecond
	opts.OnProgress = func(p quicxfer.Progress) {
		if float64(p.Verified) >= frac*float64(p.Size) {
			cancel()
		}
	}
	res, err := quicxfer.Download(ctx, opts)
	require.ErrorIs(t, err, context.Canceled)
	_, err = os.Stat(opts.Out)
	require.ErrorIs(t, err, os.ErrNotExist, "OUT must not exist before the download completes")
	return res
}

func TestInterruptAndResume(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 16<<20, 5)
	_, urls := startSeeds(t, dir, 16e6, 8e6)
	out := filepath.Join(t.TempDir(), "f.bin")
	opts := quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out}
	first := interruptAt(t, opts, 0.5)

	res, err := quicxfer.Download(t.Context(), opts)
	require.NoError(t, err)
	requireFile(t, out, data)
	size := int64(len(data))
	require.GreaterOrEqual(t, res.ResumedBytes, size/2, "what was verified is not fetched again")
	// Fetched again: at most what was in flight when it was cancelled, plus endgame duplicates.
	slack := 8 * manifest.BlockSizeFor(size)
	require.LessOrEqual(t, res.FetchedBytes, size-res.ResumedBytes+slack)
	require.LessOrEqual(t, res.ResumedBytes, first.FetchedBytes)
}

func TestDamagedPartialState(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 8<<20, 6)
	_, urls := startSeeds(t, dir, 8e6)
	out := filepath.Join(t.TempDir(), "f.bin")
	opts := quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out}
	interruptAt(t, opts, 0.5)

	// Cut the state file in half and scribble over the first block's data.
	st, err := os.ReadFile(partial.StatePath(out))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(partial.StatePath(out), st[:len(st)/2], 0o644))
	f, err := os.OpenFile(partial.PartPath(out), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(bytes.Repeat([]byte{0xAA}, 1000), 10)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	var l testkit.Logs
	opts.Logf = l.Logf
	res, err := quicxfer.Download(t.Context(), opts)
	require.NoError(t, err)
	// Had the scribbled block been trusted, the output would differ.
	requireFile(t, out, data)
	t.Log(l.String())
	require.NotEmpty(t, l.String(), "the user is told about the damaged state")
	require.Positive(t, res.ResumedBytes, "good blocks were recovered, not fetched again")
}

func TestOutExists(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 300000, 9)
	_, urls := startSeeds(t, dir, 0)
	out := filepath.Join(t.TempDir(), "f.bin")
	opts := quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out}
	_, err := quicxfer.Download(t.Context(), opts)
	require.NoError(t, err)

	res, err := quicxfer.Download(t.Context(), opts)
	require.NoError(t, err, "the same command after completion is a no-op")
	require.Zero(t, res.FetchedBytes)
	require.Equal(t, int64(len(data)), res.ResumedBytes)

	require.NoError(t, os.WriteFile(out, []byte("something else"), 0o644))
	_, err = quicxfer.Download(t.Context(), opts)
	require.ErrorIs(t, err, quicxfer.ErrOutExists)
	got, _ := os.ReadFile(out)
	require.Equal(t, "something else", string(got), "never overwritten")
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "f.bin", 1000, 10)
	servers, urls := startSeeds(t, dir, 0)
	out := filepath.Join(t.TempDir(), "x")
	otherPin := seedtest.Start(t, seed.Options{Paths: []string{dir}})
	wrongPin := strings.Replace(urls[0], "pin="+pinOf(urls[0]), "pin="+pinOf(otherPin.URL()), 1)
	require.NotEqual(t, urls[0], wrongPin)

	free, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := free.LocalAddr().String()
	require.NoError(t, free.Close())

	for _, tc := range []struct {
		name  string
		seeds []string
		file  string
		want  string
	}{
		{"missing name", urls, "nope.bin", "not found"},
		{"dot dot", urls, "../f.bin", "file name"},
		{"absolute", urls, "/etc/passwd", "file name"},
		{"not a quic URL", []string{"http://127.0.0.1:1/"}, "f.bin", "quic://"},
		{"unreachable", []string{"quic://" + deadAddr + "?pin=" + pinOf(urls[0])}, "f.bin", "no usable seed"},
		{"pin mismatch", []string{wrongPin}, "f.bin", "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: tc.seeds, Name: tc.file, Out: out, DialTimeout: 2 * time.Second})
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.NotContains(t, err.Error(), "\n", "one line")
			_, err = os.Stat(out)
			require.ErrorIs(t, err, os.ErrNotExist)
		})
	}
	_ = servers
}

func pinOf(u string) string {
	i := strings.Index(u, "pin=")
	p := u[i+4:]
	if j := strings.IndexAny(p, "&#"); j >= 0 {
		p = p[:j]
	}
	return p
}

// TestRetriesWaitForASeedThatComesBack: the only seed goes away mid-download
// and comes back 4 s later at the same address. With MaxRetries negative the
// download waits for it and completes; with 2 it gives up on the seed, and
// the download fails with its partial state kept.
func TestRetriesWaitForASeedThatComesBack(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 8<<20, 21)
	for _, tc := range []struct {
		retries int
		ok      bool
	}{{-1, true}, {2, false}} {
		t.Run(fmt.Sprint(tc.retries), func(t *testing.T) {
			state := t.TempDir()
			s := seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: 4e6, StateDir: state})
			addr := s.Addr().String()
			out := filepath.Join(t.TempDir(), "f.bin")
			var killed atomic.Bool
			down := make(chan struct{})
			type outcome struct {
				res *quicxfer.Result
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				res, err := quicxfer.Download(t.Context(), quicxfer.Options{
					Seeds: []string{s.URL()}, Name: "f.bin", Out: out, MaxRetries: tc.retries,
					DialTimeout: 2 * time.Second, ProgressInterval: 10 * time.Millisecond,
					OnProgress: func(p quicxfer.Progress) {
						if p.Verified >= p.Size/4 && !killed.Swap(true) {
							_ = s.Close()
							close(down)
						}
					},
				})
				done <- outcome{res, err}
			}()
			<-down
			if tc.ok {
				time.Sleep(4 * time.Second)
				seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: 4e6, StateDir: state, Listen: addr})
			}
			r := <-done
			if tc.ok {
				require.NoError(t, r.err)
				requireFile(t, out, data)
				return
			}
			require.ErrorIs(t, r.err, quicxfer.ErrNoSeeds)
			_, err := os.Stat(partial.StatePath(out))
			require.NoError(t, err, "the partial state stays for a later run")
		})
	}
}
