package quicxfer

import (
	"time"

	"github.com/quicxfer/quicxfer/scheduler"
)

// Adapting the number of connections to a seed (Options.ConnsPerSeed 0,
// `get --conns-per-seed auto`).
//
// quic-go's congestion control is NewReno and cannot be replaced. Through a
// path with random loss one connection backs off at every lost packet and
// gets a few Mbit/s whatever the link (80 ms, 1 %: about 2.4 Mbit/s); N
// connections get about N times that until they fill the link. On a clean
// path, or from a seed that limits its rate, one connection is as good as
// many. Which case a seed is in shows in one figure: whether the seed's
// rate rises when connections are added. The controller below asks exactly
// that, like TCP's slow start asks it of the window:
//
//   - Start with 1 connection. After a change, wait to settle (new
//     connections dial and leave slow start: 6 round trips, from
//     adaptSettleMin to adaptSettle), then measure the seed's rate (payload
//     bytes received) for 8 round trips (from adaptMeasureMin to
//     adaptMeasure): at 80 ms, a step takes a second. Only busy time counts:
//     while the download has no unassigned block for the seed (the tail,
//     a backoff) the measurement restarts, so the end of a file never
//     reads as "more connections did not help".
//   - The first step is × 4: a path whose rate is loss-limited (where
//     connections pay) shows it at once, and on one that is not the count
//     comes back after one measurement.
//   - No step up while the path is queued (its smoothed RTT well above its
//     lowest, pathRTT.queued): its bottleneck is full, and more connections
//     would take a share from the other traffic on it rather than add
//     rate (other downloaders of the same seed, among others). Through
//     random loss a path has no queue until the connections fill it.
//   - None either on a path whose lowest round trip is under adaptMinRTT
//     (45 ms, pathRTT.short): there one connection's loss-limited rate is
//     high, and a late downloader on a bottleneck shared with others cannot
//     see the queue (its lowest round trip already holds it).
//   - If the rate at n connections is more than adaptMinGain (15 %) above
//     the rate at the last count kept, n is kept and the count grows: × 4
//     when the rate rose at least half in proportion (≥ 50 % of n ÷ kept, a path
//     far from full), × 2 otherwise, never above the cap (64 by default:
//     at 2.4 Mbit/s a connection, 64 fill 150 Mbit/s through 1 % loss at
//     80 ms).
//   - If not, the seed goes back to the last count kept and holds it. After
//     adaptReprobe of busy time it tries one step up again (the path or the
//     other traffic may have changed; from 1, to 4 again, else × 2); each
//     failed try doubles that wait, up to adaptReprobeMax (1 s, then 2, 4,
//     8, 16, 30 s). The first wait is short because the first measurement
//     at one connection is often its slow start's burst, above what it
//     carries once losses begin: a try against it can fail for nothing.
//     A rate-limited seed spends nearly all its time at 1 connection and a
//     second now and then at more.
//
// The controller is pure (a clock and a byte counter come in, a count goes
// out); the download loop feeds it every tick and applies the count
// (connScaler.setActive, Scheduler.SetMinWindow with 2 requests per
// connection).
const (
	adaptMinRTT     = 45 * time.Millisecond
	adaptSettleMin  = 250 * time.Millisecond
	adaptSettle     = 500 * time.Millisecond
	adaptMeasureMin = 500 * time.Millisecond
	adaptMeasure    = time.Second
	adaptMinGain    = 0.15
	adaptReprobe    = time.Second
	adaptReprobeMax = 30 * time.Second
	// DefaultMaxConnsPerSeed is the most connections to one seed that
	// the adaptive mode opens (Options.MaxConnsPerSeed).
	DefaultMaxConnsPerSeed = 64
)

// connDecider decides how many connections one seed gets: connAdapter, or
// a script in tests (Options.decider).
type connDecider interface {
	// update takes the seed's payload bytes received so far, whether it
	// was busy since the last update, and its path (round-trip times, 0
	// when not known yet), and returns the count to use.
	update(now time.Time, bytes int64, busy bool, p pathRTT) int
	// limit caps the count at n for the rest of the download: the seed
	// took no more connections.
	limit(n int)
}

// pathRTT is what the adapter knows of a seed's path: its smoothed and its
// lowest round-trip time (quic-go's SmoothedRTT and MinRTT).
type pathRTT struct{ rtt, minRTT time.Duration }

// queued reports whether the path's round trips are well above its lowest:
// a queue has built at its bottleneck, which is full. More connections
// would only take a share from other traffic on it (another downloader,
// another user), so none are added while it is.
func (p pathRTT) queued() bool {
	return p.minRTT > 0 && p.rtt > p.minRTT+max(p.minRTT/4, 2*time.Millisecond)
}

// short reports whether the path's lowest round trip is under
// adaptMinRTT (or not known yet). One connection's loss-limited rate goes
// as 1 ÷ RTT (about 20 Mbit/s through 1 % loss at 10 ms, 2.4 at 80 ms), so
// short paths are where more connections buy least. And a downloader that
// joins a bottleneck other downloaders already fill sees their queue in
// its lowest round trip too, so it cannot tell that queue from the path:
// with buffers of about one bandwidth-delay product, its lowest round trip
// is at most twice the path's, plus some slack. adaptMinRTT (45 ms) is
// twice 20 ms and 5 ms: a path under 20 ms never grows, even for that late
// downloader, who would otherwise take the others' share (32 downloaders of
// one seed through one 10 ms link: Jain's index 0.68 with 20 ms here).
func (p pathRTT) short() bool { return p.minRTT < adaptMinRTT }

// noGrowth reports whether the path gives no reason to add connections.
func (p pathRTT) noGrowth() bool { return p.short() || p.queued() }

// connAdapter decides how many connections one seed gets. The zero value is
// not usable; make it with newConnAdapter.
type connAdapter struct {
	max                       int
	settle, measure           time.Duration
	minGain                   float64
	reprobe, reprobeMax, wait time.Duration

	n        int     // connections now
	kept     int     // the last count whose rate was worth it
	keptRate float64 // its rate, bytes/s; 0 until measured

	// The measurement in progress: phase 0 idle (restarts at the next busy
	// update), 1 settling since t, 2 measuring since t from bytes b.
	phase    int
	t        time.Time
	b        int64
	held     bool          // growth stopped at kept; a try up waits until heldT ≥ wait
	heldT    time.Duration // busy time held so far
	retry    bool          // a.n is a try up from a held count
	measured float64       // the last rate measured, for the log
	queued   bool          // the path was queued during the last measurement (pathRTT.queued): no growth
	last     time.Time     // the previous busy update, for heldT
}

func newConnAdapter(maxConns int) *connAdapter {
	return &connAdapter{
		max: max(maxConns, 1), settle: adaptSettle, measure: adaptMeasure, minGain: adaptMinGain,
		reprobe: adaptReprobe, reprobeMax: adaptReprobeMax, wait: adaptReprobe,
		n: 1, kept: 1,
	}
}

// conns returns the count decided so far.
func (a *connAdapter) conns() int { return a.n }

// update takes the seed's payload bytes received so far, whether it was
// busy since the last update (it had work it could have been sending) and
// its round-trip time, and returns the number of connections it should
// have from now on.
func (a *connAdapter) update(now time.Time, bytes int64, busy bool, p pathRTT) int {
	settle, measure := a.settle, a.measure
	if rtt := p.rtt; rtt > 0 {
		settle = min(max(6*rtt, adaptSettleMin), a.settle)
		measure = min(max(8*rtt, adaptMeasureMin), a.measure)
	}
	if !busy {
		a.phase, a.last = 0, time.Time{}
		return a.n
	}
	if a.held && !a.last.IsZero() {
		a.heldT += now.Sub(a.last)
	}
	a.last = now
	switch a.phase {
	case 0:
		a.phase, a.t = 1, now
	case 1:
		if now.Sub(a.t) >= settle {
			a.phase, a.t, a.b = 2, now, bytes
			a.queued = p.noGrowth()
		}
	case 2:
		// Queued at any tick of the measurement counts: a queue that
		// drains now and then is a full bottleneck too.
		a.queued = a.queued || p.noGrowth()
		if el := now.Sub(a.t); el >= measure {
			a.decide(float64(bytes-a.b) / el.Seconds())
			a.phase, a.t = 1, now
		}
	}
	return a.n
}

// decide takes the rate measured at a.n connections.
func (a *connAdapter) decide(rate float64) {
	a.measured = rate
	switch {
	case a.held && a.n == a.kept:
		// Holding: the measurement refreshes the reference; once held
		// long enough, try one step up.
		a.keptRate = rate
		if a.heldT >= a.wait && a.n < a.max && !a.queued {
			a.held, a.heldT, a.retry = false, 0, true
			a.n = min(2*a.n, a.max)
			if a.n == 2 {
				a.n = min(4, a.max) // from 1 as the first step
			}
		}
	case a.keptRate == 0:
		// The first measurement: the reference at 1 connection.
		a.keptRate = rate
		a.growUnlessQueued(4)
	case rate > a.keptRate*(1+a.minGain):
		factor := 2
		if rate >= 0.5*a.keptRate*float64(a.n)/float64(a.kept) {
			factor = 4
		}
		a.kept, a.keptRate = a.n, rate
		a.wait, a.retry = a.reprobe, false // growth worked: a later try comes soon again
		a.growUnlessQueued(factor)
	default:
		// No gain worth the connections: back to the last count kept.
		a.n = a.kept
		if a.retry {
			a.wait = min(2*a.wait, a.reprobeMax)
		}
		a.held, a.heldT, a.retry = true, 0, false
	}
}

// growUnlessQueued grows by factor, or holds the count while the path is
// queued.
func (a *connAdapter) growUnlessQueued(factor int) {
	if a.queued {
		a.held, a.heldT = true, 0
		return
	}
	a.grow(factor)
}

// grow multiplies the count by factor up to the cap; at the cap it holds.
func (a *connAdapter) grow(factor int) {
	if a.n >= a.max {
		a.held, a.heldT = true, 0
		return
	}
	a.n = min(a.n*factor, a.max)
}

// limit caps the count at n (at least 1) for the rest of the download and
// holds it there.
func (a *connAdapter) limit(n int) {
	a.max = max(1, min(n, a.max))
	if a.n > a.max {
		a.n = a.max
	}
	if a.kept > a.max {
		a.kept, a.keptRate = a.max, 0
	}
	a.held, a.heldT, a.retry = true, 0, false
}

// adaptConns feeds every adapting seed's connAdapter (every tick) and
// applies the number it returns: the slots the seed's requests take, and,
// for every seed, its minimum window in the scheduler: two requests per
// connection (of parts of blocks, or of whole blocks: connScaler.window),
// so that each has one in flight and the next asked for while it arrives
// (a connection held back by loss is slow: its rate-based window alone
// would be a fraction of a block).
// A seed counts as busy while it is usable, has requests out and the
// download still has unassigned blocks for each of its connections; at the
// tail, or in backoff, its adapter waits.
func (l *loop) adaptConns(now time.Time) {
	unassigned := int64(l.sched.Missing())*l.m.BlockSize - l.sched.InFlight()
	for id, s := range l.byID {
		sf, ok := s.f.(connScaler)
		if !ok {
			continue
		}
		if r := sf.takeRefused(); r > 0 && r < sf.conns() {
			// It took no more than r connections (e.g. its --max-conns
			// is reached): use r from now on.
			l.opts.Logf("seed %s takes no more connections (it refused or lost number %d while the first worked); using %d", s.raw, r+1, r)
			if s.adapt != nil {
				s.adapt.limit(r)
			}
			sf.setActive(r)
			sf.trim()
		}
		if s.adapt != nil {
			st := l.sched.Stats(id)
			n := sf.conns()
			busy := (st.State == scheduler.Active || st.State == scheduler.Probing) && st.InFlightReqs > 0 &&
				unassigned >= int64(n)*l.m.BlockSize
			p := sf.path()
			if m := s.adapt.update(now, s.received.Load(), busy, p); m != n {
				var measured float64
				if ca, ok := s.adapt.(*connAdapter); ok {
					measured = ca.measured
				}
				l.opts.debugf("seed %s: %d connections, was %d (measured %s, round trip %v, lowest %v)", s.raw, m, n, formatRate(measured), p.rtt.Round(100*time.Microsecond), p.minRTT.Round(100*time.Microsecond))
				sf.setActive(m)
				s.maxConns = max(s.maxConns, m)
			}
			sf.trim()
		}
		if w := sf.window(l.m.BlockSize); w != s.minWindow {
			l.sched.SetMinWindow(id, w)
			s.minWindow = w
		}
	}
}
