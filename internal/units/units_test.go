package units

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"1073741824", 1 << 30},
		{"64MiB", 64 << 20},
		{"1GiB", 1 << 30},
		{"500MB", 500e6},
		{"4KiB", 4 << 10},
	} {
		got, err := ParseSize(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"", "0", "-1", "x", "1Mbit", "1MB/s", "MiB"} {
		_, err := ParseSize(bad)
		require.Error(t, err, "%q", bad)
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"0": 0, "500KB/s": 500e3, "12.5MB/s": 12.5e6, "100Mbit/s": 12.5e6, "4MiB/s": 4 << 20, "1GB/s": 1e9} {
		got, err := ParseRate(in)
		require.NoError(t, err, in)
		require.InDelta(t, want, got, 1e-6, in)
	}
	for _, bad := range []string{"fast", "-1MB/s", "5XB/s", "5"} {
		_, err := ParseRate(bad)
		require.Error(t, err, bad)
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{64 << 20: "64MiB", 256 << 10: "256KiB", 3 << 30: "3GiB", 1536 << 10: "1536KiB", 1000: "1000", 0: "0"} {
		require.Equal(t, want, FormatSize(n))
		if n > 0 {
			back, err := ParseSize(want)
			require.NoError(t, err)
			require.Equal(t, n, back)
		}
	}
}
