package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer"
)

func TestParseUploadLimit(t *testing.T) {
	bps, share, err := parseUploadLimit("50%")
	require.NoError(t, err)
	require.Equal(t, 0.5, share)
	require.Equal(t, float64(uploadShareFloor), bps, "the cap until the link is measured")

	bps, share, err = parseUploadLimit("12.5MB/s")
	require.NoError(t, err)
	require.Zero(t, share)
	require.Equal(t, 12.5e6, bps)

	for _, bad := range []string{"0%", "-5%", "101%", "x%", "%"} {
		_, _, err := parseUploadLimit(bad)
		require.Error(t, err, bad)
	}
}

// TestUploadShare: the cap is the share of the fastest download rate
// measured over a second or more, never below the floor, never lowered
// when the download slows or ends; resumed bytes are not a rate.
func TestUploadShare(t *testing.T) {
	var caps []float64
	u := &uploadShare{share: 0.5, set: func(b float64) { caps = append(caps, b) }}
	at := func(sec float64, verified int64) {
		u.progress(quicxfer.Progress{Elapsed: time.Duration(sec * float64(time.Second)), Verified: verified, Resumed: 100 << 20})
	}
	at(0, 100<<20) // 100 MiB resumed from disk: only the starting point
	require.Empty(t, caps)
	at(0.5, 101<<20) // under a second: not measured yet
	require.Empty(t, caps)
	at(1, 102<<20) // 2 MiB/s
	require.Equal(t, []float64{1 << 20}, caps)
	at(2, 112<<20) // 10 MiB/s
	require.Equal(t, []float64{1 << 20, 5 << 20}, caps)
	at(3, 114<<20) // slower: the cap stays
	at(4, 114<<20) // done
	require.Equal(t, []float64{1 << 20, 5 << 20}, caps)

	caps = nil
	slow := &uploadShare{share: 0.1, set: func(b float64) { caps = append(caps, b) }}
	slow.progress(quicxfer.Progress{Elapsed: 0})
	slow.progress(quicxfer.Progress{Elapsed: time.Second, Verified: 100 << 10}) // 100 KiB/s
	require.Equal(t, []float64{uploadShareFloor}, caps, "never below the floor")
}

func TestParseConnsPerSeed(t *testing.T) {
	n, err := parseConnsPerSeed("auto")
	require.NoError(t, err)
	require.Equal(t, quicxfer.ConnsAuto, n)
	n, err = parseConnsPerSeed("16")
	require.NoError(t, err)
	require.Equal(t, 16, n)
	for _, bad := range []string{"0", "65", "-1", "many", ""} {
		_, err := parseConnsPerSeed(bad)
		require.Error(t, err, bad)
	}
}
