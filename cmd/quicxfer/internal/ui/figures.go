package ui

import (
	"fmt"
	"time"
)

// The figures both views show: the total line's text, the time left, and
// the smoothed rate.

// totalText is the figures of the total line, for one file or a
// directory: share and bytes verified of size, rate, and the time left
// at that rate ("done" once complete).
func totalText(size, verified int64, rate float64, done bool) string {
	pct := 100.0
	if size > 0 {
		pct = 100 * float64(verified) / float64(size)
	}
	eta := "ETA --"
	if done {
		eta = "done"
	} else if d, ok := etaOf(size-verified, rate); ok {
		eta = "ETA " + d.Round(time.Second).String()
	}
	return fmt.Sprintf("%5.1f%% %s of %s, %s/s, %s", pct, FormatBytes(float64(verified)), FormatBytes(float64(size)), FormatBytes(rate), eta)
}

// etaOf is how long remaining bytes take at rate; false while the rate
// is not known.
func etaOf(remaining int64, rate float64) (time.Duration, bool) {
	if remaining <= 0 {
		return 0, true
	}
	if rate <= 0 {
		return 0, false
	}
	return time.Duration(float64(remaining) / rate * float64(time.Second)), true
}

// rateMeter smooths the verified bytes per second.
type rateMeter struct {
	rate  float64
	prev  int64
	prevT time.Duration
	seen  bool
}

// rateOr is the measured rate; until there is one, estimate (what the
// sources say they send).
func (m *rateMeter) rateOr(estimate float64) float64 {
	if m.rate > 0 {
		return m.rate
	}
	return estimate
}

func (m *rateMeter) add(verified int64, elapsed time.Duration) {
	if !m.seen {
		// The first snapshot counts resumed bytes: start measuring there.
		m.seen, m.prev, m.prevT = true, verified, elapsed
		return
	}
	dt := (elapsed - m.prevT).Seconds()
	if dt < 0.5 {
		return
	}
	inst := float64(verified-m.prev) / dt
	if m.rate == 0 {
		m.rate = inst
	} else {
		m.rate = 0.6*m.rate + 0.4*inst
	}
	m.prev, m.prevT = verified, elapsed
}
