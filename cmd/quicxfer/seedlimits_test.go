package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// TestSeedMaxConnsPerIP: --max-conns-per-ip reaches the seed: with 1, a
// second connection from the same address is refused as busy while the
// first is open; 0 is no limit; a negative value is a usage error.
func TestSeedMaxConnsPerIP(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir+"/f.bin", 1000, 31)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	open := func(u string) (*quicxfer.Conn, error) {
		client, err := quicxfer.NewClient()
		require.NoError(t, err)
		t.Cleanup(func() { client.Close() })
		pu, err := wire.ParseURL(u)
		require.NoError(t, err)
		conn, err := client.Dial(ctx, pu)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { conn.Close() })
		_, err = conn.List(ctx)
		return conn, err
	}

	limited := startSeed(t, "--max-conns-per-ip", "1", dir)
	_, err := open(limited)
	require.NoError(t, err)
	_, err = open(limited)
	require.ErrorIs(t, err, wire.ErrBusy)
	r := run(t, "ls", "--seed", limited)
	require.NotZero(t, r.code)
	require.Contains(t, r.stderr, "busy")

	unlimited := startSeed(t, "--max-conns-per-ip", "0", dir)
	for range 3 {
		_, err := open(unlimited)
		require.NoError(t, err)
	}

	r = run(t, "seed", "--max-conns-per-ip", "-1", dir)
	require.Equal(t, 2, r.code, r.stderr)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line: %q", r.stderr)
	require.Contains(t, r.stderr, "--max-conns-per-ip")
}
