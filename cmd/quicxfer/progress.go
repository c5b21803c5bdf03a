package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// How get shows a download while it runs.
type viewMode int

const (
	viewQuiet viewMode = iota // --quiet: messages only
	viewBars                  // standard error is a terminal: bars redrawn in place (mpb)
	viewPlain                 // standard error is not a terminal: a plain line every plainEvery
	viewJSON                  // --json-progress: one JSON event per line on standard output
)

const (
	plainEvery = 5 * time.Second
	// maxRows is how many source lines the bars and the plain lines show;
	// past it the fastest maxRows-1 are shown and the rest summed in one.
	maxRows = 10
)

// display is what the two progress views share, that of one file
// (progressView) and that of a directory (dirView, getdir.go): the mode
// and where it writes, when the next plain line and progress event are
// due, the container and total bar of the terminal display, messages
// above it, and the end of the bars and of the JSON events.
type display struct {
	mode      viewMode
	stdout    io.Writer // JSON events
	stderr    io.Writer // bars, plain lines, messages
	jsonEvery time.Duration

	mu        sync.Mutex // the view's state; the bars' decorators take it
	lastPlain time.Time
	lastJSON  time.Time
	jsonStale bool // a snapshot came that no progress event carried yet

	outMu sync.Mutex // one JSON line at a time

	// viewBars: the container, the total bar and the lines below it,
	// never touched under mu (mpb's goroutines call the decorators, which
	// take mu).
	bars  *mpb.Progress
	total *mpb.Bar
	lines []*mpb.Bar
}

// newDisplay picks the mode (pickMode).
func newDisplay(stdout, stderr io.Writer, quiet, jsonEvents bool, jsonEvery time.Duration) display {
	return display{mode: pickMode(stderr, quiet, jsonEvents), stdout: stdout, stderr: stderr, jsonEvery: jsonEvery}
}

// logf prints a message for the user on standard error, above the bars,
// with the password of any URL in it redacted.
func (d *display) logf(format string, args ...any) {
	line := redactURLsIn(fmt.Sprintf("quicxfer: "+format+"\n", args...))
	if d.bars != nil {
		if _, err := io.WriteString(d.bars, line); err == nil {
			return
		}
	}
	io.WriteString(d.stderr, line)
}

// shown is what a snapshot shows: a plain line, a progress event's body,
// or neither (the bars draw themselves).
type shown struct {
	line string
	body any
}

// dueLocked takes the time of a new snapshot, with mu held: the plain line
// (plainLocked, in plain mode) or the progress event (progressLocked, in
// JSON mode) if one is due now, for show once mu is released. A snapshot
// that no event carries leaves the view stale, for finishJSON.
func (d *display) dueLocked(now time.Time, plainLocked func() string, progressLocked func(now time.Time) any) shown {
	d.jsonStale = true
	switch d.mode {
	case viewPlain:
		if now.Sub(d.lastPlain) >= plainEvery {
			d.lastPlain = now
			return shown{line: plainLocked()}
		}
	case viewJSON:
		if now.Sub(d.lastJSON) >= d.jsonEvery {
			d.lastJSON, d.jsonStale = now, false
			return shown{body: progressLocked(now)}
		}
	}
	return shown{}
}

// show writes what dueLocked made; false if nothing was due.
func (d *display) show(s shown) bool {
	switch {
	case s.line != "":
		io.WriteString(d.stderr, s.line)
	case s.body != nil:
		d.writeJSONNow("progress", s.body)
	default:
		return false
	}
	return true
}

// writeJSON writes ev as one line on standard output.
func (d *display) writeJSON(ev jsonEvent) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	writeJSONEvent(d.stdout, ev)
}

// writeJSONNow writes an event stamped as it is written, so that events of
// downloads running at once come in time order.
func (d *display) writeJSONNow(kind string, body any) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	writeJSONEvent(d.stdout, jsonEvent{kind, time.Now(), body})
}

// finishJSON writes the last JSON events: a progress event
// (progressLocked, called with mu held) if a snapshot came that none
// carried, then done with body, or error if err is not nil.
func (d *display) finishJSON(progressLocked func(now time.Time) any, body any, err error) {
	d.mu.Lock()
	var p any
	if d.jsonStale {
		p = progressLocked(time.Now())
	}
	d.mu.Unlock()
	if p != nil {
		d.writeJSONNow("progress", p)
	}
	kind := "done"
	if err != nil {
		kind = "error"
	}
	d.writeJSONNow(kind, body)
}

// openBars makes the container and the total line: label, the bar of
// size bytes, and text (called with mu held; done once the bar is
// complete), " (stopped)" once aborted.
func (d *display) openBars(size int64, label func() string, text func(done bool) string) {
	d.bars = mpb.New(mpb.WithOutput(d.stderr), mpb.WithRefreshRate(150*time.Millisecond))
	d.total = d.bars.New(size,
		mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding("-").Rbound("]"),
		mpb.BarWidth(30),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
			d.mu.Lock()
			defer d.mu.Unlock()
			return label()
		})),
		mpb.AppendDecorators(decor.Any(func(st decor.Statistics) string {
			d.mu.Lock()
			defer d.mu.Unlock()
			s := text(st.Completed)
			if st.Aborted {
				s += " (stopped)"
			}
			return s
		})),
	)
}

// addLine adds a line of text below the bars, redrawn with them.
func (d *display) addLine(text func() string) {
	d.lines = append(d.lines, d.bars.New(0, mpb.NopStyle(), mpb.BarFillerTrim(),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return text() }))))
}

// closeBars draws the bars one last time and ends the display: the total
// bar complete at size if ok, else stopped; the first keep lines drawn as
// they are, the others removed.
func (d *display) closeBars(ok bool, size int64, keep int) {
	if d.bars == nil {
		return
	}
	switch {
	case ok && size > 0:
		d.total.SetTotal(size, false) // as it is, unless the size changed
		d.total.SetCurrent(size)      // complete
	case ok:
		d.total.SetTotal(-1, true) // nothing to fetch: complete
	default:
		d.total.Abort(false)
	}
	for k, b := range d.lines {
		b.Abort(k >= keep)
	}
	d.bars.Wait()
	d.bars = nil
}

// progressView shows a download as it runs, in the mode chosen at its
// creation. Messages for the user (logf) go to standard error in every mode,
// above the bars on a terminal. OnProgress and OnEvent call it from the
// download loop; mpb's goroutines read it to draw; finish is called once,
// after the download returned. On a terminal the bars are made at the
// start event and only touched from the download loop and finish.
type progressView struct {
	display

	name    string
	snap    quicxfer.Progress
	meter   rateMeter
	sources []*sourceView // in the order they appeared
	byURL   map[string]*sourceView
	rows    []row // what the source lines show, recomputed at each update
}

// sourceView is what the view knows of one source.
type sourceView struct {
	url    string
	state  string
	rate   float64
	bytes  int64
	reason string // why it is down or dropped
}

// row is one source line: a source, or the sum of those that do not fit.
type row struct {
	label string
	state string
	rate  float64
	bytes int64
	note  string // why it is down or dropped
}

// newProgressView picks the mode: quiet, JSON events, bars on a terminal
// or plain lines.
func newProgressView(stdout, stderr io.Writer, quiet, jsonEvents bool, jsonEvery time.Duration) *progressView {
	return &progressView{display: newDisplay(stdout, stderr, quiet, jsonEvents, jsonEvery), byURL: map[string]*sourceView{}}
}

// pickMode is how a download is shown: JSON events, quiet, bars when
// standard error is a terminal, else plain lines. The directory view
// (getdir.go) picks the same way.
func pickMode(stderr io.Writer, quiet, jsonEvents bool) viewMode {
	switch {
	case jsonEvents:
		return viewJSON
	case quiet:
		return viewQuiet
	case isTerminal(stderr):
		return viewBars
	default:
		return viewPlain
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// event takes an event from the download.
func (v *progressView) event(e quicxfer.Event) {
	v.mu.Lock()
	switch e.Kind {
	case quicxfer.EventStart:
		v.name = e.Name
		v.snap = quicxfer.Progress{Name: e.Name, Size: e.Size, Verified: e.Resumed, Resumed: e.Resumed}
	default:
		s := v.source(e.Source)
		switch e.Kind {
		case quicxfer.EventSourceJoined:
			s.reason = ""
		case quicxfer.EventSourceDropped:
			s.state, s.reason = "dropped", e.Reason
		case quicxfer.EventSourceDown, quicxfer.EventStalled:
			s.state, s.reason = "backoff", e.Reason
		}
		v.rows = pickRows(v.sources, maxRows)
	}
	v.mu.Unlock()

	switch v.mode {
	case viewJSON:
		v.writeJSON(eventJSON(e))
	case viewBars:
		if e.Kind == quicxfer.EventStart {
			v.startBars()
		}
		v.addLines()
	}
}

// source returns the view of the source with url, adding it if new.
func (v *progressView) source(url string) *sourceView {
	s := v.byURL[url]
	if s == nil {
		s = &sourceView{url: url, state: "probing"}
		v.byURL[url] = s
		v.sources = append(v.sources, s)
	}
	return s
}

// progress takes a snapshot from the download.
func (v *progressView) progress(p quicxfer.Progress) {
	now := time.Now()
	v.mu.Lock()
	v.meter.add(p.Verified, p.Elapsed)
	v.snap = p
	for _, sp := range p.Seeds {
		s := v.source(sp.URL)
		s.state, s.rate, s.bytes = sp.State.String(), sp.Rate, sp.Accepted
	}
	v.rows = pickRows(v.sources, maxRows)
	due := v.dueLocked(now, v.plainLineLocked, v.progressJSONLocked)
	v.mu.Unlock()

	if !v.show(due) && v.mode == viewBars && v.total != nil {
		v.addLines()
		if p.Verified < p.Size { // the final SetCurrent completes the bar
			v.total.SetCurrent(p.Verified)
		}
	}
}

// finish ends the display once the download returned (err is what get
// will report): the bars are drawn one last time; in JSON mode a last
// progress event if one is due, then done or error.
func (v *progressView) finish(res *quicxfer.Result, err error) {
	switch v.mode {
	case viewBars:
		var size int64
		v.mu.Lock()
		if err == nil && res != nil {
			v.snap.Verified, size = res.Size, res.Size
		}
		v.mu.Unlock()
		v.closeBars(err == nil, size, len(v.lines)) // the source lines as they are
	case viewJSON:
		// The --json object's fields, after type and time.
		v.finishJSON(v.progressJSONLocked, jsonResultOf(res, err), err)
	}
}

// jsonEvent is one --json-progress line: {"type":..., "time":..., the
// body's fields}.
type jsonEvent struct {
	kind string
	time time.Time
	body any // a struct whose fields follow type and time
}

// writeJSONEvent writes ev as one line on w.
func writeJSONEvent(w io.Writer, ev jsonEvent) {
	body, err := json.Marshal(ev.body)
	if err != nil || len(body) < 2 || body[0] != '{' {
		return
	}
	head, _ := json.Marshal(struct {
		Type string    `json:"type"`
		Time time.Time `json:"time"`
	}{ev.kind, ev.time.UTC()})
	line := head[:len(head)-1] // without its closing brace
	if len(body) > 2 {
		line = append(line, ',')
	}
	line = append(line, body[1:]...)
	w.Write(append(line, '\n'))
}

type startJSON struct {
	Name         string `json:"name"`
	ContentID    string `json:"content_id"`
	Size         int64  `json:"size"`
	BlockSize    int64  `json:"block_size"`
	ResumedBytes int64  `json:"resumed_bytes"`
}

type sourceEventJSON struct {
	URL    string `json:"url"`
	Block  *int   `json:"block,omitempty"`
	Reason string `json:"reason,omitempty"`
}

type progressJSON struct {
	totalsJSON
	Sources []sourceStatusJSON `json:"sources"`
}

// totalsJSON are the figures of a progress event, of one file or a
// directory.
type totalsJSON struct {
	Size          int64    `json:"size"`
	VerifiedBytes int64    `json:"verified_bytes"`
	ResumedBytes  int64    `json:"resumed_bytes"`
	ElapsedS      float64  `json:"elapsed_s"`
	Rate          float64  `json:"rate"`
	ETAS          *float64 `json:"eta_s"`
}

// totalsJSONOf rounds the figures: the time to the millisecond, the rate
// to a byte per second, the time left (none while it is not known) to the
// second.
func totalsJSONOf(size, verified, resumed int64, elapsed time.Duration, rate float64) totalsJSON {
	t := totalsJSON{Size: size, VerifiedBytes: verified, ResumedBytes: resumed,
		ElapsedS: math.Round(elapsed.Seconds()*1000) / 1000, Rate: math.Round(rate)}
	if eta, ok := etaOf(size-verified, rate); ok {
		secs := math.Round(eta.Seconds())
		t.ETAS = &secs
	}
	return t
}

type sourceStatusJSON struct {
	URL   string  `json:"url"`
	State string  `json:"state"`
	Rate  float64 `json:"rate"`
	Bytes int64   `json:"bytes"`
}

// eventJSON is e as a --json-progress event.
func eventJSON(e quicxfer.Event) jsonEvent {
	if e.Kind == quicxfer.EventStart {
		return jsonEvent{string(e.Kind), e.Time, startJSONOf(e)}
	}
	return jsonEvent{string(e.Kind), e.Time, sourceEventJSONOf(e)}
}

// startJSONOf is the body of a start event.
func startJSONOf(e quicxfer.Event) startJSON {
	return startJSON{e.Name, e.ID.String(), e.Size, e.BlockSize, e.Resumed}
}

// sourceEventJSONOf is the body of an event of a source.
func sourceEventJSONOf(e quicxfer.Event) sourceEventJSON {
	b := sourceEventJSON{URL: redactURL(e.Source), Reason: redactURLsIn(e.Reason)}
	if e.Kind == quicxfer.EventBlockRejected {
		b.Block = &e.Block
	}
	return b
}

// progressJSONLocked is the body of a progress event: the last
// snapshot's figures, whatever the time.
func (v *progressView) progressJSONLocked(time.Time) any {
	p := v.snap
	b := progressJSON{totalsJSONOf(p.Size, p.Verified, p.Resumed, p.Elapsed, v.rateLocked()), make([]sourceStatusJSON, 0, len(v.sources))}
	for _, s := range v.sources {
		b.Sources = append(b.Sources, sourceStatusJSON{redactURL(s.url), s.state, math.Round(s.rate), s.bytes})
	}
	return b
}

// --- plain lines ---

func (v *progressView) plainLineLocked() string {
	var b strings.Builder
	b.WriteString("progress: " + v.totalTextLocked(false))
	sep := "; "
	for _, r := range v.rows {
		fmt.Fprintf(&b, "%s%s %s %s/s %s", sep, r.label, r.state, formatBytes(r.rate), strings.TrimSpace(v.shareLocked(r.bytes)))
		sep = ", "
	}
	b.WriteString("\n")
	return b.String()
}

// totalTextLocked: "45.0% 57.7 MB of 128 MB, 12.3 MB/s, ETA 6s".
func (v *progressView) totalTextLocked(done bool) string {
	return totalText(v.snap.Size, v.snap.Verified, v.rateLocked(), done)
}

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
	return fmt.Sprintf("%5.1f%% %s of %s, %s/s, %s", pct, formatBytes(float64(verified)), formatBytes(float64(size)), formatBytes(rate), eta)
}

// rateLocked is the verified bytes per second; until that is measured, the
// sum of the sources' rates.
func (v *progressView) rateLocked() float64 {
	sum := 0.0
	for _, s := range v.sources {
		sum += s.rate
	}
	return v.meter.rateOr(sum)
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

// shareLocked is a source's share of the bytes fetched in this run.
func (v *progressView) shareLocked(bytes int64) string {
	fetched := v.snap.Verified - v.snap.Resumed
	if fetched <= 0 {
		return "  0.0%"
	}
	return fmt.Sprintf("%5.1f%%", 100*float64(bytes)/float64(fetched))
}

// --- bars ---

// startBars makes the container and the total bar.
func (v *progressView) startBars() {
	if v.bars != nil {
		return
	}
	v.mu.Lock()
	size, verified := v.snap.Size, v.snap.Verified
	v.mu.Unlock()
	v.openBars(size, func() string { return showName(v.name) }, v.totalTextLocked)
	if verified > 0 && verified < size {
		v.total.SetCurrent(verified)
	}
}

// addLines adds a bar for each source line that has none yet: sources
// may appear at any time.
func (v *progressView) addLines() {
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
func (v *progressView) rowText(i int) string {
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
	line := fmt.Sprintf("  %-*.*s  %-8s %12s %10s %s", w, w, r.label, r.state, formatBytes(r.rate)+"/s", formatBytes(float64(r.bytes)), v.shareLocked(r.bytes))
	if r.note != "" {
		line += "  (" + r.note + ")"
	}
	return line
}

// pickRows chooses the source lines: every source while they fit in
// limit lines, else the fastest limit-1 and one line summing the rest.
func pickRows(srcs []*sourceView, limit int) []row {
	toRow := func(s *sourceView) row {
		label, _, _ := strings.Cut(redactURL(s.url), "?") // a pin or token adds nothing here
		r := row{label: label, state: s.state, rate: s.rate, bytes: s.bytes}
		if s.state == "dropped" || s.state == "backoff" || s.state == quicxfer.StateShutdown.String() {
			r.note = redactURLsIn(s.reason)
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
	rest := row{label: fmt.Sprintf("+ %d more sources", len(sorted)-(limit-1)), state: "-"}
	for _, s := range sorted[limit-1:] {
		rest.rate += s.rate
		rest.bytes += s.bytes
	}
	return append(rows, rest)
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

// summary prints what a finished download did: time, average rate, bytes
// resumed and fetched, and each source's share.
func summary(w io.Writer, out string, res *quicxfer.Result) {
	secs := res.Elapsed.Seconds()
	missing := res.Size - res.ResumedBytes
	rate := 0.0
	if secs > 0 {
		rate = float64(missing) / secs
	}
	fmt.Fprintf(w, "%s: %s verified (content ID %s) in %s, %s/s average\n", showName(out), formatBytes(float64(res.Size)), res.ID, res.Elapsed.Round(time.Millisecond), formatBytes(rate))
	fmt.Fprintf(w, "  %s resumed from disk, %s fetched over the network", formatBytes(float64(res.ResumedBytes)), formatBytes(float64(res.FetchedBytes)))
	if missing > 0 && res.FetchedBytes > missing {
		fmt.Fprintf(w, " (%.1f%% more than was missing: duplicates and rejected blocks)", 100*float64(res.FetchedBytes-missing)/float64(missing))
	}
	fmt.Fprintln(w)
	for _, s := range res.Seeds {
		share := 0.0
		if missing > 0 {
			share = 100 * float64(s.Bytes) / float64(missing)
		}
		line := fmt.Sprintf("  %-60s %10s %5.1f%% %5d blocks", redactURL(s.URL), formatBytes(float64(s.Bytes)), share, s.Blocks)
		if s.BadBlocks > 0 {
			line += fmt.Sprintf(", %d bad", s.BadBlocks)
		}
		if s.Note != "" {
			line += " (" + redactURLsIn(s.Note) + ")"
		}
		fmt.Fprintln(w, line)
	}
}
