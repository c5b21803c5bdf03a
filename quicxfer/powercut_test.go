package quicxfer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// TestStaleStateMissingData is what a power cut on a disk that lies about
// its flushes leaves: a state whose bits say blocks are on disk while the
// part file lost them (a hole where the data never landed, a page of zeros,
// a file size that went back). The order of writes and syncs keeps this from
// happening on an honest disk; the downloader must not trust it anyway:
// every lost block is fetched again, every good one is kept, and the output
// is exact.
func TestStaleStateMissingData(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 64*manifest.MinBlockSize+333, 50)
	m, err := manifest.BuildFile(context.Background(), filepath.Join(dir, "f.bin"), 1)
	require.NoError(t, err)
	_, urls := startSeeds(t, dir, 8e6)
	out := filepath.Join(t.TempDir(), "f.bin")
	opts := quicxfer.Options{Seeds: urls, Name: "f.bin", Out: out}
	interruptAt(t, opts, 0.7)

	b, err := os.ReadFile(partial.StatePath(out))
	require.NoError(t, err)
	st, err := partial.DecodeState(b)
	require.NoError(t, err)
	var recorded []int
	for i := range m.NumBlocks() {
		if st.Has(i) {
			recorded = append(recorded, i)
		}
	}
	require.GreaterOrEqual(t, len(recorded), 12, "enough of the file recorded to damage")

	part, err := os.OpenFile(partial.PartPath(out), os.O_RDWR, 0)
	require.NoError(t, err)
	lost := map[int]bool{}
	// The data of two recorded blocks never landed: holes.
	for _, i := range recorded[1:3] {
		err := unix.Fallocate(int(part.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, m.BlockOffset(i), m.BlockLen(i))
		if err != nil { // no hole punching here: zeros are what a hole reads as
			_, err = part.WriteAt(make([]byte, m.BlockLen(i)), m.BlockOffset(i))
			require.NoError(t, err)
		}
		lost[i] = true
	}
	// One page of another one is zeros.
	i := recorded[5]
	_, err = part.WriteAt(make([]byte, 4096), m.BlockOffset(i)+8192)
	require.NoError(t, err)
	lost[i] = true
	// The file's size went back to the middle of a recorded block: that
	// block and every one after it are gone.
	cut := recorded[len(recorded)-4]
	require.NoError(t, part.Truncate(m.BlockOffset(cut)+100))
	for _, i := range recorded {
		if i >= cut {
			lost[i] = true
		}
	}
	require.NoError(t, part.Close())
	var kept int64
	for _, i := range recorded {
		if !lost[i] {
			kept += m.BlockLen(i)
		}
	}

	var l testkit.Logs
	opts.Logf = l.Logf
	res, err := quicxfer.Download(t.Context(), opts)
	require.NoError(t, err)
	requireFile(t, out, data)
	t.Log(l.String())
	require.Contains(t, l.String(), "failed their check", "the user is told")
	require.Equal(t, kept, res.ResumedBytes, "every good recorded block is kept, no lost one is trusted")
	require.GreaterOrEqual(t, res.FetchedBytes, int64(len(data))-kept, "every lost block is fetched again")
}
