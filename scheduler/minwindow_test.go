package scheduler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// SetMinWindow gives one source more blocks in flight than Config.MinWindow,
// and only that source; n ≤ 0 goes back to the Config's.
func TestSetMinWindow(t *testing.T) {
	s := New(Config{NumBlocks: 40, BlockSize: kib, Size: 40 * kib, MinWindow: 2 * kib}, nil)
	a, b := s.AddSource(t0), s.AddSource(t0)
	s.SetMinWindow(a, 6*kib)
	acts := s.Next(t0)
	require.Len(t, acts, 8, "6 blocks to a, the probe window of 2 to b")
	require.Equal(t, 6, s.Stats(a).InFlightReqs)
	require.Equal(t, 2, s.Stats(b).InFlightReqs)
	require.EqualValues(t, 6*kib, s.Stats(a).Window)
	require.EqualValues(t, 2*kib, s.Stats(b).Window)

	// A known but low rate keeps the minimum window.
	measure(t, s, a, 1, t0, time.Second)
	require.Positive(t, s.Stats(a).Rate)
	require.EqualValues(t, 6*kib, s.Stats(a).Window)

	// Back to the Config's; a value below one block is one block.
	s.SetMinWindow(a, 0)
	require.EqualValues(t, 2*kib, s.Stats(a).Window)
	s.SetMinWindow(b, 1)
	require.EqualValues(t, 2*kib, s.Stats(b).Window, "never below Config.MinWindow")
	s.SetMinWindow(99, 5*kib) // unknown: ignored
}

// A minimum window above MaxWindow raises that source's cap; MaxInFlight
// still bounds all sources together.
func TestSetMinWindowAboveMaxWindow(t *testing.T) {
	s := New(Config{NumBlocks: 40, BlockSize: kib, Size: 40 * kib, MinWindow: kib, MaxWindow: 2 * kib, MaxInFlight: 10 * kib}, nil)
	a := s.AddSource(t0)
	s.SetMinWindow(a, 16*kib)
	acts := s.Next(t0)
	require.Len(t, acts, 10, "MaxInFlight bounds it")
	require.EqualValues(t, 16*kib, s.Stats(a).Window)
}
