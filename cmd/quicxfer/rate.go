package main

import (
	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui"
	"github.com/quicxfer/quicxfer/internal/units"
)

// parseRate parses a rate such as "0", "500KB/s", "12.5MB/s", "100Mbit/s"
// into bytes per second (units.ParseRate).
func parseRate(s string) (float64, error) { return units.ParseRate(s) }

// formatBytes prints a byte count with a decimal unit.
func formatBytes(n float64) string { return ui.FormatBytes(n) }
