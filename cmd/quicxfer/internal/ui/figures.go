package ui

import (
	"fmt"
	"math"
	"time"

	"github.com/quicxfer/quicxfer/internal/units"
)

// The figures both views show: the total line's text, the time left, the
// rate now and on average, and the counts of things.

// Past maxETA an estimate says nothing (a source that slowed to a trickle,
// a rate that decays once every source stopped): the time left is not
// shown ("ETA —", eta_s null). Below minRate bytes a second there is no
// estimate either.
const (
	maxETA  = 7 * 24 * time.Hour
	minRate = 1.0
)

// noETA is what the lines show for a time left that is not known.
const noETA = "—"

// totalTextOf is the figures of the total line, for one file or a
// directory: share and bytes verified of size, then while the download
// runs the rate now and the time left at that rate ("now 12.3 MB/s, ETA
// 4m10s"; no estimate while no source is delivering: every one gone,
// waited for or dropped); in the last picture (final, the average over
// the run) "average 10.1 MB/s" and "done" once the bar is complete (a bar
// that stopped adds its own word).
func totalTextOf(size, verified int64, rate float64, delivering bool, final *float64, done bool) string {
	pct := 100.0
	if size > 0 {
		pct = 100 * float64(verified) / float64(size)
	}
	s := fmt.Sprintf("%5.1f%% %s of %s, ", pct, FormatBytes(float64(verified)), FormatBytes(float64(size)))
	switch {
	case final != nil && done:
		return s + rateAverage(*final) + ", done"
	case final != nil:
		return s + rateAverage(*final)
	case done:
		return s + rateNow(rate) + ", done"
	case !delivering && verified < size:
		return s + rateNow(rate) + ", ETA " + noETA
	}
	return s + rateNow(rate) + ", " + etaText(size-verified, rate)
}

// rateNow is the smoothed rate while a download runs: "now 12.3 MB/s".
func rateNow(rate float64) string { return "now " + FormatBytes(rate) + "/s" }

// rateAverage is the rate over a whole run, as the summary says it:
// "average 10.1 MB/s".
func rateAverage(rate float64) string { return "average " + FormatBytes(rate) + "/s" }

// averageRate is bytes over elapsed, per second (0 for no time): the
// summary's average and the last picture's are this one figure.
func averageRate(bytes int64, elapsed time.Duration) float64 {
	if s := elapsed.Seconds(); s > 0 {
		return float64(bytes) / s
	}
	return 0
}

// etaText is "ETA 4m10s" for remaining bytes at rate, "ETA —" when there
// is no meaningful estimate (etaOf).
func etaText(remaining int64, rate float64) string {
	if d, ok := etaOf(remaining, rate); ok {
		return "ETA " + formatETA(d)
	}
	return "ETA " + noETA
}

// etaOf is how long remaining bytes take at rate; false when there is no
// meaningful estimate: no rate, one below minRate, or a time past maxETA.
func etaOf(remaining int64, rate float64) (time.Duration, bool) {
	if remaining <= 0 {
		return 0, true
	}
	if !(rate >= minRate) || math.IsInf(rate, 0) { // NaN too
		return 0, false
	}
	secs := float64(remaining) / rate
	if secs > maxETA.Seconds() {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// formatETA rounds a time left as a person reads it: "45s", "4m10s",
// "2h05m" (to the second below an hour, to the minute above).
func formatETA(d time.Duration) string {
	s := int64((d + time.Second/2) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	m := (s + 30) / 60
	return fmt.Sprintf("%dh%02dm", m/60, m%60)
}

// Plural is the noun one for a count of n: "seed" for 1, "seeds" else.
func Plural[T ~int | ~int64](n T, one string) string { return units.Plural(n, one) }

// Count is n and its noun: "1 seed", "3 seeds", "0 blocks".
func Count[T ~int | ~int64](n T, one string) string {
	return fmt.Sprintf("%d %s", n, Plural(n, one))
}

// rateMeter smooths the verified bytes per second.
type rateMeter struct {
	rate     float64
	measured bool // rate is a measure (it moved once), even if it decayed to 0
	prev     int64
	prevT    time.Duration
	seen     bool
}

// rateOr is the measured rate; until there is one, estimate (what the
// sources say they send).
func (m *rateMeter) rateOr(estimate float64) float64 {
	if m.measured {
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
	inst := max(float64(verified-m.prev)/dt, 0)
	if !m.measured {
		m.rate, m.measured = inst, inst > 0
	} else {
		m.rate = 0.6*m.rate + 0.4*inst
	}
	m.prev, m.prevT = verified, elapsed
}
