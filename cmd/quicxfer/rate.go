package main

import (
	"fmt"

	"github.com/quicxfer/quicxfer/internal/units"
)

// parseRate parses a rate such as "0", "500KB/s", "12.5MB/s", "100Mbit/s"
// into bytes per second (units.ParseRate).
func parseRate(s string) (float64, error) { return units.ParseRate(s) }

// formatBytes prints a byte count with a decimal unit.
func formatBytes(n float64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", n/1e3)
	}
	return fmt.Sprintf("%.0f B", n)
}
