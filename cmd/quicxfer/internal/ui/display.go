package ui

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// Mode is how a view shows a download while it runs.
type Mode int

const (
	ModeQuiet Mode = iota // --quiet: messages only
	ModeBars              // standard error is a terminal: bars redrawn in place (mpb)
	ModePlain             // standard error is not a terminal: a plain line every plainEvery
	ModeJSON              // --json-progress: one JSON event per line on standard output
)

const (
	plainEvery = 5 * time.Second
	// maxRows is how many source lines the bars and the plain lines show;
	// past it the fastest maxRows-1 are shown and the rest summed in one.
	maxRows = 10
)

// ViewOptions are what both views take: where they write, the mode
// (PickMode) and how often a JSON progress event is written.
type ViewOptions struct {
	Stdout    io.Writer // JSON events
	Stderr    io.Writer // bars, plain lines, messages
	Mode      Mode
	JSONEvery time.Duration
}

// PickMode is how a download is shown: JSON events, quiet, bars when
// standard error is a terminal that can draw them, else plain lines. term
// is the TERM variable: a "dumb" terminal (Emacs' shell, some editors' and
// CI's consoles) cannot move its cursor, so it gets the plain lines. Both
// views take it.
func PickMode(stderr io.Writer, term string, quiet, jsonEvents bool) Mode {
	switch {
	case jsonEvents:
		return ModeJSON
	case quiet:
		return ModeQuiet
	case isTerminal(stderr) && term != "dumb":
		return ModeBars
	default:
		return ModePlain
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// display is what the two progress views share, that of one file
// (ProgressView) and that of a directory (DirView): the mode and where it
// writes, when the next plain line and progress event are due, the
// container and total bar of the terminal display, messages above it, and
// the end of the bars and of the JSON events.
type display struct {
	mode      Mode
	stdout    io.Writer // JSON events
	stderr    io.Writer // bars, plain lines, messages
	jsonEvery time.Duration
	mu        sync.Mutex // the view's state; the bars' decorators take it
	lastPlain time.Time
	lastJSON  time.Time
	jsonStale bool // a snapshot came that no progress event carried yet

	outMu sync.Mutex // one JSON line at a time

	// ModeBars: the container, the total bar and the lines below it,
	// never touched under mu (mpb's goroutines call the decorators, which
	// take mu).
	bars  *mpb.Progress
	total *mpb.Bar
	lines []*mpb.Bar
	stale staleRows
}

func newDisplay(o ViewOptions) display {
	return display{mode: o.Mode, stdout: o.Stdout, stderr: o.Stderr, jsonEvery: o.JSONEvery}
}

// Logf prints a message for the user on standard error, above the bars,
// with the password of any URL in it redacted.
func (d *display) Logf(format string, args ...any) {
	line := RedactURLsIn(fmt.Sprintf("quicxfer: "+format+"\n", args...))
	if d.bars != nil {
		line = d.stale.clear() + line
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
	case ModePlain:
		if now.Sub(d.lastPlain) >= plainEvery {
			d.lastPlain = now
			return shown{line: plainLocked()}
		}
	case ModeJSON:
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
	labelCols := 0 // of the last label drawn
	d.total = d.bars.New(size,
		mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding("-").Rbound("]"),
		mpb.BarWidth(barWidth),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
			d.mu.Lock()
			defer d.mu.Unlock()
			l := label()
			labelCols = utf8.RuneCountInString(l)
			return l
		})),
		mpb.AppendDecorators(decor.Any(func(st decor.Statistics) string {
			d.mu.Lock()
			s := text(st.Completed)
			d.mu.Unlock()
			if st.Aborted {
				s += " (stopped)"
			}
			// What is left after the label: the bar between two spaces,
			// then s; mpb cuts what does not fit.
			d.stale.drawn(0, labelCols+min(st.AvailableWidth, barWidth+2+utf8.RuneCountInString(s)), labelCols+st.AvailableWidth)
			return s
		})),
	)
}

// barWidth is the width of the total bar.
const barWidth = 30

// addLine adds a line of text below the bars, redrawn with them.
func (d *display) addLine(text func() string) {
	k := len(d.lines) + 1
	d.lines = append(d.lines, d.bars.New(0, mpb.NopStyle(), mpb.BarFillerTrim(),
		mpb.PrependDecorators(decor.Any(func(st decor.Statistics) string {
			s := text()
			d.stale.drawn(k, min(utf8.RuneCountInString(s), st.AvailableWidth), st.AvailableWidth)
			return s
		}))))
}

// clearStale clears, above the bars, the rows that a terminal which
// narrowed left of an earlier picture (staleRows); it is written before
// the next picture.
func (d *display) clearStale() {
	if d.bars == nil {
		return
	}
	if s := d.stale.clear(); s != "" {
		io.WriteString(d.bars, s)
	}
}

// staleRows counts the rows that a picture of the bars leaves on a
// terminal once it is made narrower than the lines drawn: most terminals
// reflow the lines, each wider than the new width then takes more rows,
// and mpb, which moves the cursor up by the lines it drew, redraws below
// the top of the old picture. The decorators say what they draw (drawn);
// the views clear the rows left (clear) through mpb, which writes it just
// after it moved the cursor up, before the next picture.
type staleRows struct {
	mu    sync.Mutex
	lines map[int]drawnLine // by line: 0 the total bar, then the lines below it
	rows  int               // rows left above the bars, to clear
}

// drawnLine is a line as last drawn: its columns, and the terminal's.
type drawnLine struct{ cols, width int }

// drawn records that line k is drawn cols wide on a terminal width wide.
// The first line drawn at a narrower width than the lines before counts
// the rows that each of those now takes past its first.
func (s *staleRows) drawn(k, cols, width int) {
	if width <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lines == nil {
		s.lines = map[int]drawnLine{}
	}
	for i, l := range s.lines {
		if l.width > width {
			s.rows += max((l.cols+width-1)/width, 1) - 1
			s.lines[i] = drawnLine{l.cols, width} // counted
		}
	}
	s.lines[k] = drawnLine{cols, width}
}

// clear is what clears the rows counted so far, once: the cursor up over
// them and an erase below (the picture that follows is drawn anew), or "".
func (s *staleRows) clear() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.rows
	s.rows = 0
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("\x1b[%dA\x1b[J", n)
}

// closeBars draws the bars one last time and ends the display: the total
// bar complete at size if ok, else stopped; the first keep lines drawn as
// they are, the others removed.
func (d *display) closeBars(ok bool, size int64, keep int) {
	if d.bars == nil {
		return
	}
	d.clearStale()
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
