package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"0", 0},
		{"500KB/s", 500e3},
		{"12.5MB/s", 12.5e6},
		{"1GB/s", 1e9},
		{"100Mbit/s", 12.5e6},
		{"1KiB/s", 1024},
		{"4MiB/s", 4 << 20},
		{"2GiB/s", 2 << 30},
		{"800B/s", 800},
		{"8bit/s", 1},
	} {
		got, err := parseRate(tc.in)
		require.NoError(t, err, tc.in)
		require.InDelta(t, tc.want, got, 1e-6, tc.in)
	}
	for _, bad := range []string{"fast", "10", "10XB/s", "-5MB/s", "MB/s", "1.2.3MB/s", "10Qbit/s"} {
		_, err := parseRate(bad)
		require.Error(t, err, bad)
	}
}
