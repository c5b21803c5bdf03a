package ui

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// ProgressView shows a download as it runs, in the mode chosen at its
// creation. Messages for the user (Logf) go to standard error in every mode,
// above the bars on a terminal. OnProgress and OnEvent call it from the
// download loop (Progress, Event); mpb's goroutines read it to draw; Finish
// is called once, after the download returned. On a terminal the bars are
// made at the start event and only touched from the download loop and
// Finish.
type ProgressView struct {
	display

	name    string
	snap    quicxfer.Progress
	meter   rateMeter
	sources []*sourceView // in the order they appeared
	byURL   map[string]*sourceView
	rows    []row // what the source lines show, recomputed at each update
	// final is the rate of the last picture (Finish): the average over
	// the run, as the summary says it; nil while the download runs.
	final *float64
}

// sourceView is what the view knows of one source.
type sourceView struct {
	url    string
	lib    sourceState // the library's, or dropped from an event
	state  sourceState // as shown (shownState)
	rate   float64
	bytes  int64
	reason string // why it is down or dropped
	down   bool   // it went down or stalled, and did not join since
	inSnap bool   // the last snapshot had it
	left   bool   // it was in a snapshot, and the last one did not have it
}

// update sets the state shown from what the library and the events said.
func (s *sourceView) update() {
	s.state = shownState(s.lib, s.down || s.left)
	if s.state == stateGone {
		s.rate = 0
	}
}

// row is one source line: a source, or the sum of those that do not fit.
type row struct {
	label string
	state string
	rate  float64
	bytes int64
	note  string // why it is down or dropped
}

// NewProgressView makes the view of one file's download, in o.Mode; on a
// terminal its bars are drawn from the start event on.
func NewProgressView(o ViewOptions) *ProgressView {
	return &ProgressView{display: newDisplay(o), byURL: map[string]*sourceView{}}
}

// Event takes an event from the download.
func (v *ProgressView) Event(e quicxfer.Event) {
	v.mu.Lock()
	switch e.Kind {
	case quicxfer.EventStart:
		v.name = e.Name
		v.snap = quicxfer.Progress{Name: e.Name, Size: e.Size, Verified: e.Resumed, Resumed: e.Resumed}
	default:
		s := v.source(e.Source)
		switch e.Kind {
		case quicxfer.EventSourceJoined:
			s.reason, s.down = "", false
		case quicxfer.EventSourceDropped:
			s.lib, s.reason = stateDropped, e.Reason
		case quicxfer.EventSourceDown, quicxfer.EventStalled:
			s.down, s.reason = true, e.Reason
		}
		s.update()
		v.rows = pickRows(v.sources, maxRows)
	}
	v.mu.Unlock()

	switch v.mode {
	case ModeJSON:
		v.writeJSON(eventJSON(e))
	case ModeBars:
		if e.Kind == quicxfer.EventStart {
			v.startBars()
		}
		v.addLines()
	}
}

// source returns the view of the source with url, adding it if new.
func (v *ProgressView) source(url string) *sourceView {
	s := v.byURL[url]
	if s == nil {
		s = &sourceView{url: url, lib: stateProbing, state: stateProbing}
		v.byURL[url] = s
		v.sources = append(v.sources, s)
	}
	return s
}

// Progress takes a snapshot from the download.
func (v *ProgressView) Progress(p quicxfer.Progress) {
	now := time.Now()
	v.mu.Lock()
	v.meter.add(p.Verified, p.Elapsed)
	v.snap = p
	in := make(map[string]bool, len(p.Seeds))
	for _, sp := range p.Seeds {
		s := v.source(sp.URL)
		s.lib, s.rate, s.bytes = sp.State, sp.Rate, sp.Accepted
		in[sp.URL] = true
	}
	for _, s := range v.sources {
		if in[s.url] {
			s.left = false
		} else if s.inSnap {
			s.left = true // the library no longer reports it
		}
		s.inSnap = in[s.url]
		s.update()
	}
	v.rows = pickRows(v.sources, maxRows)
	due := v.dueLocked(now, v.plainLineLocked, v.progressJSONLocked)
	v.mu.Unlock()

	if !v.show(due) && v.mode == ModeBars && v.total != nil {
		v.clearStale()
		v.addLines()
		if p.Verified < p.Size { // the final SetCurrent completes the bar
			v.total.SetCurrent(p.Verified)
		}
	}
}

// Finish ends the display once the download returned (err is what get
// will report): the bars are drawn one last time; in JSON mode a last
// progress event if one is due, then done or error.
func (v *ProgressView) Finish(res *quicxfer.Result, err error) {
	switch v.mode {
	case ModeBars:
		var size int64
		v.mu.Lock()
		avg := averageRate(v.snap.Verified-v.snap.Resumed, v.snap.Elapsed)
		if err == nil && res != nil {
			v.snap.Verified, size = res.Size, res.Size
			avg = averageRate(res.Size-res.ResumedBytes, res.Elapsed) // as Summary says it
		}
		v.final = &avg
		if err != nil {
			// The lines as they were, but no source is in use any more.
			for k, r := range v.rows {
				if inUse(sourceState(r.state)) {
					v.rows[k].state = stateText(stateStopped)
				}
				v.rows[k].rate = 0
			}
		}
		v.mu.Unlock()
		v.closeBars(err == nil, size, len(v.lines)) // the source lines as they are
	case ModeJSON:
		// The --json object's fields, after type and time.
		v.finishJSON(v.progressJSONLocked, jsonResultOf(res, err), err)
	}
}

// progressJSONLocked is the body of a progress event: the last
// snapshot's figures, whatever the time.
func (v *ProgressView) progressJSONLocked(time.Time) any {
	p := v.snap
	b := progressJSON{totalsJSONOf(p.Size, p.Verified, p.Resumed, p.Elapsed, v.rateLocked(), v.deliveringLocked()), make([]sourceStatusJSON, 0, len(v.sources))}
	for _, s := range v.sources {
		b.Sources = append(b.Sources, sourceStatusJSON{RedactURL(s.url), stateText(s.state), math.Round(s.rate), s.bytes})
	}
	return b
}

// --- plain lines ---

func (v *ProgressView) plainLineLocked() string {
	var b strings.Builder
	b.WriteString("progress: " + v.totalTextLocked(false))
	sep := "; "
	for _, r := range v.rows {
		fmt.Fprintf(&b, "%s%s %s %s/s %s", sep, r.label, r.state, FormatBytes(r.rate), strings.TrimSpace(v.shareLocked(r.bytes)))
		sep = ", "
	}
	b.WriteString("\n")
	return b.String()
}

// totalTextLocked: "45.0% 57.7 MB of 128 MB, now 12.3 MB/s, ETA 6s"; in
// the last picture "..., average 10.1 MB/s, done" (or without an end: the
// bar adds " (stopped)").
func (v *ProgressView) totalTextLocked(done bool) string {
	return totalTextOf(v.snap.Size, v.snap.Verified, v.rateLocked(), v.deliveringLocked(), v.final, done)
}

// deliveringLocked reports whether a source may send blocks now.
func (v *ProgressView) deliveringLocked() bool {
	for _, s := range v.sources {
		if delivering(s.state) {
			return true
		}
	}
	return false
}

// rateLocked is the verified bytes per second; until that is measured, the
// sum of the sources' rates.
func (v *ProgressView) rateLocked() float64 {
	sum := 0.0
	for _, s := range v.sources {
		sum += s.rate
	}
	return v.meter.rateOr(sum)
}

// shareLocked is a source's share of the bytes fetched in this run.
func (v *ProgressView) shareLocked(bytes int64) string {
	fetched := v.snap.Verified - v.snap.Resumed
	if fetched <= 0 {
		return "  0.0%"
	}
	return fmt.Sprintf("%5.1f%%", 100*float64(bytes)/float64(fetched))
}

// --- bars ---

// startBars makes the container and the total bar.
func (v *ProgressView) startBars() {
	if v.bars != nil {
		return
	}
	v.mu.Lock()
	size, verified := v.snap.Size, v.snap.Verified
	v.mu.Unlock()
	v.openBars(size, func() string { return ShowName(v.name) }, v.totalTextLocked)
	if verified > 0 && verified < size {
		v.total.SetCurrent(verified)
	}
}

// addLines adds a bar for each source line that has none yet: sources
// may appear at any time.
func (v *ProgressView) addLines() {
	if v.bars == nil {
		return
	}
	v.mu.Lock()
	n := len(v.rows)
	v.mu.Unlock()
	for i := len(v.lines); i < n; i++ {
		v.addLine(func() string { return v.rowText(i) })
	}
}

// rowText is source line i: "  127.0.0.1:4433  active  8.1 MB/s  38.2 MB  66.2%",
// and why a source is down or dropped.
func (v *ProgressView) rowText(i int) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if i >= len(v.rows) {
		return ""
	}
	w := 0
	for _, r := range v.rows {
		w = max(w, len(r.label))
	}
	w = min(w, 48)
	r := v.rows[i]
	line := fmt.Sprintf("  %-*.*s  %-8s %12s %10s %s", w, w, r.label, r.state, FormatBytes(r.rate)+"/s", FormatBytes(float64(r.bytes)), v.shareLocked(r.bytes))
	if r.note != "" {
		line += "  (" + r.note + ")"
	}
	return line
}

// pickRows chooses the source lines: every source while they fit in
// limit lines, else the fastest limit-1 and one line summing the rest.
func pickRows(srcs []*sourceView, limit int) []row {
	toRow := func(s *sourceView) row {
		label, _, _ := strings.Cut(RedactURL(s.url), "?") // a pin or token adds nothing here
		r := row{label: label, state: stateText(s.state), rate: s.rate, bytes: s.bytes}
		if showsReason(s.state) {
			r.note = RedactURLsIn(s.reason)
		}
		return r
	}
	rows := make([]row, 0, min(len(srcs), limit))
	if len(srcs) <= limit {
		for _, s := range srcs {
			rows = append(rows, toRow(s))
		}
		return rows
	}
	sorted := append([]*sourceView(nil), srcs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].rate != sorted[j].rate {
			return sorted[i].rate > sorted[j].rate
		}
		return sorted[i].bytes > sorted[j].bytes
	})
	for _, s := range sorted[:limit-1] {
		rows = append(rows, toRow(s))
	}
	rest := row{label: "+ " + Count(len(sorted)-(limit-1), "more source"), state: "-"}
	for _, s := range sorted[limit-1:] {
		rest.rate += s.rate
		rest.bytes += s.bytes
	}
	return append(rows, rest)
}
