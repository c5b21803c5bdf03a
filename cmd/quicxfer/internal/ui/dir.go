package ui

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// DirView is the one progress display of a directory download, in the
// modes and formats of ProgressView (one file): on a terminal (mpb) the
// total line of every file with rate and ETA, "files done N of M" and one
// line per file in progress; plain lines every plainEvery when standard
// error is not a terminal; nothing with --quiet; JSON events with
// --json-progress. Each file is its own quicxfer.Download, Parallel at a
// time: Event, Progress and FileEnd are called from their download loops
// concurrently, and take mu.
type DirView struct {
	display
	label  string // the directory as the seeds name it
	outdir string
	start  time.Time

	files    []File
	st       []dirFileState
	size     int64 // of every file: as listed, the manifest's once started
	verified int64 // on disk, resumed bytes included
	resumed  int64
	done     int
	failed   int
	running  []int     // files in progress, in the order they started
	meter    rateMeter // over the bytes fetched in this run
	srcOrder []string  // source URLs in the order they came
	srcDone  map[string]int64
	// final is the rate of the last picture (Finish): the average over
	// the run, as the summary says it; nil while the download runs.
	final *float64

	// ModeBars: every bar is made at the start (lines: files done, then
	// the file lines), and updated under barMu, never under mu.
	barMu    sync.Mutex
	barTotal int64
}

// File is one file of a directory download as its view and its JSON
// objects show it: the library's own description of it.
type File = quicxfer.DirFile

// dirFileState is what the view knows of one file.
type dirFileState struct {
	size, verified, resumed int64
	meter                   rateMeter
	seeds                   []quicxfer.SeedProgress // the last snapshot's
	down                    map[string]bool         // sources that went down or stalled and did not join since (events)
}

// shownLocked is the state source sp of file i's snapshot is shown in.
func (v *DirView) shownLocked(i int, sp quicxfer.SeedProgress) sourceState {
	return shownState(sp.State, v.st[i].down[sp.URL])
}

// DirViewOptions are what a directory's view shows: Files, Parallel at a
// time, of the directory the seeds name Label, into OutDir.
type DirViewOptions struct {
	ViewOptions
	Label    string // shown as it is (give it through ShowName)
	OutDir   string
	Files    []File // Event, Progress and FileEnd take an index into it
	Parallel int
}

// NewDirView makes the display of a directory download; on a terminal it
// is drawn from now on.
func NewDirView(o DirViewOptions) *DirView {
	v := &DirView{display: newDisplay(o.ViewOptions),
		label: o.Label, outdir: o.OutDir, start: time.Now(), files: o.Files, st: make([]dirFileState, len(o.Files)), srcDone: map[string]int64{}}
	for i, f := range o.Files {
		v.st[i].size = f.Size
		v.size += f.Size
	}
	v.meter.add(0, 0)
	if v.mode == ModeBars {
		v.openBars(v.size, func() string { return v.label }, v.totalTextLocked)
		v.barTotal = v.size
		v.addLine(v.filesDoneText)
		for i := range min(o.Parallel, len(o.Files), maxRows) {
			v.addLine(func() string { return v.fileText(i) })
		}
	}
	return v
}

// setLocked records file i's size and bytes, keeping the sums.
func (v *DirView) setLocked(i int, size, verified, resumed int64) {
	s := &v.st[i]
	v.size += size - s.size
	v.verified += verified - s.verified
	v.resumed += resumed - s.resumed
	s.size, s.verified, s.resumed = size, verified, resumed
}

func (v *DirView) sourceLocked(url string) {
	if _, ok := v.srcDone[url]; !ok {
		v.srcDone[url] = 0
		v.srcOrder = append(v.srcOrder, url)
	}
}

// Event takes an event of file i's download.
func (v *DirView) Event(i int, e quicxfer.Event) {
	f := v.files[i]
	v.mu.Lock()
	if e.Kind == quicxfer.EventStart {
		v.setLocked(i, e.Size, e.Resumed, e.Resumed)
		v.st[i].meter = rateMeter{}
		v.st[i].meter.add(e.Resumed, 0)
		v.st[i].down = map[string]bool{}
		v.running = append(v.running, i)
	} else if e.Source != "" {
		v.sourceLocked(e.Source)
		switch e.Kind {
		case quicxfer.EventSourceJoined:
			delete(v.st[i].down, e.Source)
		case quicxfer.EventSourceDown, quicxfer.EventStalled:
			if v.st[i].down != nil {
				v.st[i].down[e.Source] = true
			}
		}
	}
	v.mu.Unlock()

	switch v.mode {
	case ModeJSON:
		if e.Kind == quicxfer.EventStart {
			v.writeJSONNow(string(e.Kind), struct {
				startJSON
				Out string `json:"out"`
			}{startJSONOf(e), f.Out(v.outdir)})
			return
		}
		v.writeJSONNow(string(e.Kind), struct {
			Name string `json:"name"`
			Out  string `json:"out"`
			sourceEventJSON
		}{f.Name, f.Out(v.outdir), sourceEventJSONOf(e)})
	case ModeBars:
		v.updateBars()
	}
}

// Progress takes a snapshot of file i's download.
func (v *DirView) Progress(i int, p quicxfer.Progress) {
	now := time.Now()
	v.mu.Lock()
	v.setLocked(i, p.Size, p.Verified, p.Resumed)
	v.st[i].meter.add(p.Verified, p.Elapsed)
	v.st[i].seeds = p.Seeds
	for _, s := range p.Seeds {
		v.sourceLocked(s.URL)
	}
	v.meter.add(v.verified-v.resumed, now.Sub(v.start))
	due := v.dueLocked(now, v.plainLineLocked, v.progressJSONLocked)
	v.mu.Unlock()

	if !v.show(due) && v.mode == ModeBars {
		v.updateBars()
	}
}

// FileEnd takes the end of file i: its download returned, or it could
// not start (a link in the way).
func (v *DirView) FileEnd(i int, res *quicxfer.Result, err error) {
	v.mu.Lock()
	if k := slices.Index(v.running, i); k >= 0 {
		v.running = slices.Delete(v.running, k, k+1)
	}
	if err == nil {
		v.done++
		if res != nil {
			v.setLocked(i, res.Size, res.Size, res.ResumedBytes)
		}
	} else {
		v.failed++
	}
	if res != nil {
		for _, s := range res.Seeds {
			v.sourceLocked(s.URL)
			v.srcDone[s.URL] += s.Bytes
		}
	}
	v.st[i].seeds = nil
	v.jsonStale = true
	v.mu.Unlock()

	switch v.mode {
	case ModeJSON:
		kind := "file_done"
		if err != nil {
			kind = "file_error"
		}
		v.writeJSONNow(kind, dirFileJSONOf(v.outdir, v.files[i], res, err))
	case ModeBars:
		v.updateBars()
	}
}

// Finish ends the display once every file ended (err is what get will
// report): the bars drawn one last time without the file lines; in JSON
// mode a last progress event if one is due, then done or error with the
// --json object's fields.
func (v *DirView) Finish(body DirResult, err error) {
	switch v.mode {
	case ModeBars:
		v.barMu.Lock()
		defer v.barMu.Unlock()
		v.mu.Lock()
		size := v.size
		avg := averageRate(v.verified-v.resumed, time.Since(v.start))
		if body.ElapsedS > 0 {
			avg = averageRate(body.Size-body.ResumedBytes, time.Duration(body.ElapsedS*float64(time.Second))) // as DirSummary says it
		}
		v.final = &avg
		v.mu.Unlock()
		v.closeBars(err == nil, size, 1) // no file is in progress any more
	case ModeJSON:
		v.finishJSON(v.progressJSONLocked, body, err)
	}
}

// rateLocked is the bytes fetched per second over every file; until that
// is measured, the sum of the sources' rates.
func (v *DirView) rateLocked() float64 {
	sum := 0.0
	for _, i := range v.running {
		sum += seedsRate(v.st[i].seeds)
	}
	return v.meter.rateOr(sum)
}

// fileRateLocked is file i's verified bytes per second, as rateLocked.
func (v *DirView) fileRateLocked(i int) float64 {
	return v.st[i].meter.rateOr(seedsRate(v.st[i].seeds))
}

// seedsRate is the sum of the sources' rates in a snapshot.
func seedsRate(seeds []quicxfer.SeedProgress) float64 {
	sum := 0.0
	for _, s := range seeds {
		sum += s.Rate
	}
	return sum
}

func (v *DirView) totalTextLocked(done bool) string {
	return totalTextOf(v.size, v.verified, v.rateLocked(), v.deliveringLocked(), v.final, done)
}

// deliveringLocked reports whether a source of a file in progress may
// send blocks now.
func (v *DirView) deliveringLocked() bool {
	for _, i := range v.running {
		for _, sp := range v.st[i].seeds {
			if delivering(v.shownLocked(i, sp)) {
				return true
			}
		}
	}
	return false
}

func (v *DirView) filesDoneLocked() string {
	s := fmt.Sprintf("files done %d of %d", v.done, len(v.files))
	if v.failed > 0 {
		s += fmt.Sprintf(", %d failed", v.failed)
	}
	return s
}

// --- bars ---

// updateBars moves the total bar to the bytes verified so far.
func (v *DirView) updateBars() {
	v.barMu.Lock()
	defer v.barMu.Unlock()
	if v.bars == nil {
		return
	}
	v.clearStale()
	v.mu.Lock()
	size, verified := v.size, v.verified
	v.mu.Unlock()
	if size != v.barTotal {
		v.total.SetTotal(size, false)
		v.barTotal = size
	}
	if verified < size { // Finish completes the bar
		v.total.SetCurrent(verified)
	}
}

func (v *DirView) filesDoneText() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return "  " + v.filesDoneLocked()
}

// fileText is file line k: the k-th file in progress,
// "  sub/b.bin   45.0%   1.0 MB of 2.1 MB     1.2 MB/s", or, past the
// lines there are, the others summed.
func (v *DirView) fileText(k int) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := len(v.lines) - 1
	if k >= len(v.running) {
		return ""
	}
	w := 0
	for _, i := range v.running[:min(len(v.running), n)] {
		w = max(w, len(ShowName(v.files[i].Rel)))
	}
	w = min(w, 48)
	if k == n-1 && len(v.running) > n {
		rate := 0.0
		for _, i := range v.running[k:] {
			rate += v.fileRateLocked(i)
		}
		return fmt.Sprintf("  + %d more %s in progress, %s/s", len(v.running)-k, Plural(len(v.running)-k, "file"), FormatBytes(rate))
	}
	i := v.running[k]
	s := &v.st[i]
	pct := 100.0
	if s.size > 0 {
		pct = 100 * float64(s.verified) / float64(s.size)
	}
	return fmt.Sprintf("  %-*.*s %6.1f%% %10s of %-10s %12s", w, w, ShowName(v.files[i].Rel), pct,
		FormatBytes(float64(s.verified)), FormatBytes(float64(s.size)), FormatBytes(v.fileRateLocked(i))+"/s")
}

// --- plain lines ---

// plainLineLocked: "progress:  45.0% 5.2 MB of 11.5 MB, 1.2 MB/s, ETA 5s;
// files done 1 of 3; a.bin 1.0 MB of 2.1 MB 1.0 MB/s, ...".
func (v *DirView) plainLineLocked() string {
	var b strings.Builder
	b.WriteString("progress: " + v.totalTextLocked(false) + "; " + v.filesDoneLocked())
	sep := "; "
	for k, i := range v.running {
		if k == maxRows {
			fmt.Fprintf(&b, ", + %d more", len(v.running)-k)
			break
		}
		s := &v.st[i]
		fmt.Fprintf(&b, "%s%s %s of %s %s/s", sep, ShowName(v.files[i].Rel), FormatBytes(float64(s.verified)), FormatBytes(float64(s.size)), FormatBytes(v.fileRateLocked(i)))
		sep = ", "
	}
	b.WriteString("\n")
	return b.String()
}

// progressJSONLocked is the body of a progress event.
func (v *DirView) progressJSONLocked(now time.Time) any {
	b := dirProgressJSON{
		Dir: v.outdir, totalsJSON: totalsJSONOf(v.size, v.verified, v.resumed, now.Sub(v.start), v.rateLocked(), v.deliveringLocked()),
		FilesDone: v.done, FilesFailed: v.failed, FilesTotal: len(v.files),
		Files: make([]fileProgressJSON, 0, len(v.running)), Sources: make([]sourceStatusJSON, 0, len(v.srcOrder)),
	}
	type agg struct {
		state sourceState
		rate  float64
		bytes int64
	}
	srcs := map[string]*agg{}
	for _, u := range v.srcOrder {
		srcs[u] = &agg{state: stateIdle, bytes: v.srcDone[u]}
	}
	for _, i := range v.running {
		s, f := &v.st[i], v.files[i]
		b.Files = append(b.Files, fileProgressJSON{f.Name, f.Out(v.outdir), s.size, s.verified, s.resumed, math.Round(v.fileRateLocked(i))})
		for _, sp := range s.seeds {
			a := srcs[sp.URL]
			a.rate += sp.Rate
			a.bytes += sp.Accepted
			if st := v.shownLocked(i, sp); betterState(st, a.state) {
				a.state = st
			}
		}
	}
	for _, u := range v.srcOrder {
		a := srcs[u]
		b.Sources = append(b.Sources, sourceStatusJSON{RedactURL(u), stateText(a.state), math.Round(a.rate), a.bytes})
	}
	return b
}
