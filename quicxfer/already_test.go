package quicxfer_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// TestAlreadyThereStopsOnCancel: an OUT that is already there is hashed
// to check it, and a cancelled context (Ctrl-C) stops that, with the
// context's error, instead of hashing to the end and reporting success.
func TestAlreadyThereStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "f.bin", 8<<20, 7)
	out := filepath.Join(dir, "f.bin")
	m, err := manifest.BuildFile(t.Context(), out, 1)
	require.NoError(t, err)

	// Not cancelled: the file is there, nothing to fetch (the mirror is
	// never asked).
	o := quicxfer.Options{Manifest: m, Mirrors: []string{"http://127.0.0.1:9/f.bin"}, Out: out}
	res, err := quicxfer.Download(t.Context(), o)
	require.NoError(t, err)
	require.Equal(t, m.Size, res.ResumedBytes)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = quicxfer.Download(ctx, o)
	require.ErrorIs(t, err, context.Canceled)
}
