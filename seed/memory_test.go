package seed

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMemoryBound(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want int64
	}{
		// 64 MiB of send buffers, 256 connections × (256 KiB reserve + 256 KiB), 64 MiB.
		{"defaults", Options{}, 256 << 20},
		{"no reserve", Options{MaxConns: 10, MaxSendBuffers: 1 << 20, ConnSendReserve: -1}, 1<<20 + 10*(256<<10) + 64<<20},
		{"reserve below a chunk", Options{MaxConns: 1, MaxSendBuffers: 1, ConnSendReserve: 1}, chunkSize + (chunkSize + 256<<10) + 64<<20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.o.MemoryBound())
		})
	}
}
