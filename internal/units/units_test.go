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
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"0", 0},
		{"500KB/s", 500e3},
		{"12.5MB/s", 12.5e6},
		{"100Mbit/s", 12.5e6},
		{"4MiB/s", 4 << 20},
		{"1GB/s", 1e9},
		{"10M", 10e6},
		{"10m", 10e6},
		{"500K", 500e3},
		{"2G", 2e9},
		{"4Mi", 4 << 20},
		{"5MB/S", 5e6},
		{"5mB/s", 5e6},
		{"5KIB/s", 5 << 10},
		{"10MB", 10e6},
		{"100MBIT/S", 12.5e6},
		{"100Mbps", 12.5e6},
		{"100MBps", 100e6},
		{"800B/s", 800},
		{"8bit/s", 1},
		{"1KiB/s", 1024},
		{"2GiB/s", 2 << 30},
		{" 1.5GB/s ", 1.5e9},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			require.NoError(t, err)
			require.InDelta(t, tc.want, got, 1e-6)
		})
	}
	for _, tc := range []struct{ in, msg string }{
		{"fast", "want a number with a unit"},
		{"-1MB/s", "want a number with a unit"},
		{"5XB/s", `unknown unit "XB/s"`},
		{"5", "want a number with a unit"},
		{"5/s", "no unit"},
		{"5Mb/s", `"Mb/s" is ambiguous: write MB/s for bytes or Mbit/s for bits`},
		{"5b", "ambiguous"},
		{"1.2.3MB/s", "bad number"},
		{"10Q", `unknown unit "Q"`},
		{"10MM", "unknown unit"},
		{"10", "want a number with a unit"},
		{"MB/s", "want a number with a unit"},
		{"10Qbit/s", `unknown unit "Qbit/s"`},
	} {
		t.Run("bad "+tc.in, func(t *testing.T) {
			_, err := ParseRate(tc.in)
			require.ErrorContains(t, err, tc.msg)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestFormatRate(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{2e7, "20MB/s"},
		{12.5e6, "12.5MB/s"},
		{4 << 20, "4MiB/s"},
		{1e9, "1GB/s"},
		{500e3, "500KB/s"},
		{800, "800B/s"},
		{12345678, "12.346MB/s"},
	} {
		got := FormatRate(tc.in)
		require.Equal(t, tc.want, got, "%v", tc.in)
		back, err := ParseRate(got)
		require.NoError(t, err)
		require.InEpsilon(t, max(tc.in, 1), max(back, 1), 1e-3, got)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[float64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 12345: "12.3 kB", 410e6: "410.0 MB", 1.2e9: "1.20 GB", 32 << 30: "34.36 GB", 99_999_999: "100.0 MB"} {
		require.Equal(t, want, FormatBytes(n), "%v", n)
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

func TestPlural(t *testing.T) {
	require.Equal(t, "seed", Plural(1, "seed"))
	require.Equal(t, "seeds", Plural(2, "seed"))
	require.Equal(t, "files", Plural(0, "file"))
}
