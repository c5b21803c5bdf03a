package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// getDir downloads the directory prefix of the seeds (every file if prefix
// is empty) into outdir with quicxfer.DownloadDir, drawing its progress with
// a dirView. base carries the seeds and the options every file shares.
// fallback says get tried prefix as a file first: then quicxfer.ErrNoDir is
// get's to report.
func getDir(c *cli.Context, prefix, outdir string, base quicxfer.Options, fallback bool) (err error) {
	parallel := c.Int("parallel")
	if parallel < 1 || parallel > quicxfer.MaxParallel {
		return usagef("--parallel: want 1 to %d, got %d", quicxfer.MaxParallel, parallel)
	}
	var view *dirView
	if c.Bool("json-progress") {
		// An error before the display starts (no seed lists its files, no
		// such directory) is the one event, as for a single file; no such
		// directory after get looked for a file of that name is get's to
		// report, as that file's "not found".
		defer func() {
			var ue usageError
			if err != nil && view == nil && !errors.As(err, &ue) && !(fallback && errors.Is(err, quicxfer.ErrNoDir)) {
				writeJSONEvent(c.App.Writer, jsonEvent{"error", time.Now(), dirJSON{Dir: outdir, Files: []dirFileJSON{}, jsonRun: jsonRunOf(err)}})
			}
		}()
	}
	logf := func(format string, args ...any) { fmt.Fprintf(c.App.ErrWriter, "quicxfer: "+format+"\n", args...) }
	label := prefix + "/"
	if prefix == "" {
		label = "all files"
	}
	var files []quicxfer.DirFile
	var started []bool // by file: its record written
	res, err := quicxfer.DownloadDir(c.Context, quicxfer.DirOptions{
		Base: base, Prefix: prefix, OutDir: outdir, Parallel: parallel, Logf: logf,
		OnFiles: func(fs []quicxfer.DirFile, refused quicxfer.Refusals) error {
			for _, r := range refused.Shown {
				logf("%s", refusalLine(r, outdir))
			}
			if more := refused.N - len(refused.Shown); more > 0 {
				logf("refusing %d more names the same way", more)
			}
			files, started = fs, make([]bool, len(fs))
			view = newDirView(c.App.Writer, c.App.ErrWriter, c.Bool("quiet"), c.Bool("json-progress"), c.Duration("json-progress-interval"), showName(label), outdir, files, parallel)
			return nil
		},
		OnFileStart: func(i int) {
			started[i] = true
			writeRecord(c, files[i].Out(outdir), files[i].Name, c.Args().Slice()...)
		},
		FileLogf: func(i int, format string, args ...any) {
			view.logf("%s: "+format, append([]any{showName(files[i].Rel)}, args...)...)
		},
		OnProgress: func(i int, p quicxfer.Progress) { view.progress(i, p) },
		OnEvent:    func(i int, e quicxfer.Event) { view.event(i, e) },
		OnFileDone: func(i int, r *quicxfer.Result, err error) {
			if started[i] {
				endRecord(files[i].Out(outdir))
			}
			view.fileEnd(i, r, err)
		},
	})
	var de *quicxfer.DirError
	switch {
	case errors.As(err, &de):
	case err != nil:
		var be *quicxfer.BadOptionsError
		switch {
		case errors.As(err, &be):
			return usagef("%v", be)
		case errors.Is(err, quicxfer.ErrIDForDir):
			return usagef("--id names one file's content; it does not go with a directory or --all")
		}
		return err
	}

	var err2 error
	switch {
	case de == nil:
	case de.Interrupted != nil:
		err2 = fmt.Errorf("interrupted; %d of %d files complete, verified blocks of the others are saved: run the same command to resume: %w", de.Files-de.Failed, de.Files, de.Interrupted)
	default:
		first := fmt.Errorf("%s: %w", showName(de.File), de.Err)
		var re *quicxfer.RefusedError
		if de.File == "" && errors.As(de.Err, &re) {
			first = errors.New(refusalLine(re, outdir))
		}
		err2 = fmt.Errorf("%d of %d files failed (%v)", de.Failed+de.Refused, de.Files+de.Refused, first)
	}
	j := dirJSONOf(outdir, res.Files, res.Results, res.Errs, res.Elapsed, err2)
	view.finish(j, err2)
	if c.Bool("json") {
		if jerr := json.NewEncoder(c.App.Writer).Encode(j); jerr != nil {
			return jerr
		}
	}
	if err2 == nil && !c.Bool("quiet") {
		dirSummary(c.App.ErrWriter, outdir, res.Files, res.Results, res.Elapsed)
	}
	return err2
}

// refusalLine is the line that says which name of the seeds' lists a
// directory download into outdir refused, and why.
func refusalLine(r *quicxfer.RefusedError, outdir string) string {
	if errors.Is(r.Err, quicxfer.ErrOutsideDir) {
		return fmt.Sprintf("refusing %s: it would be written outside %s", quoteShort(r.Name), showName(outdir))
	}
	return fmt.Sprintf("refusing %s: %v", quoteShort(r.Name), r.Err)
}

type dirFileJSON struct {
	Out string `json:"out"`
	jsonResult
}

type dirJSON struct {
	Dir        string        `json:"dir"`
	Files      []dirFileJSON `json:"files"`
	FilesDone  int           `json:"files_done"`
	FilesTotal int           `json:"files_total"`
	jsonRun
}

// dirJSONOf is the --json object of a directory download (also the body
// of --json-progress's last event): totals in the shape of a single
// file's (seeds summed by URL) and each file's own.
func dirJSONOf(dir string, files []quicxfer.DirFile, results []*quicxfer.Result, errs []error, elapsed time.Duration, err error) dirJSON {
	j := dirJSON{Dir: dir, Files: []dirFileJSON{}, FilesTotal: len(files), jsonRun: jsonRunOf(err)}
	j.ElapsedS = elapsed.Seconds()
	bySeed := map[string]int{}
	for i, f := range files {
		fj := dirFileJSONOf(dir, f, results[i], errs[i])
		j.Files = append(j.Files, fj)
		j.Size += fj.Size
		if errs[i] == nil {
			j.FilesDone++
		}
		j.FetchedBytes += fj.FetchedBytes
		j.ResumedBytes += fj.ResumedBytes
		for _, s := range fj.Seeds {
			k, ok := bySeed[s.URL]
			if !ok {
				k = len(j.Seeds)
				bySeed[s.URL] = k
				j.Seeds = append(j.Seeds, jsonSeed{URL: s.URL})
			}
			t := &j.Seeds[k]
			t.Bytes += s.Bytes
			t.Blocks += s.Blocks
			t.BadBlocks += s.BadBlocks
			t.Received += s.Received
		}
	}
	return j
}

// dirFileJSONOf is one file's entry of the --json object (and the body of
// a file_done or file_error event).
func dirFileJSONOf(dir string, f quicxfer.DirFile, res *quicxfer.Result, err error) dirFileJSON {
	fj := dirFileJSON{Out: f.Out(dir), jsonResult: jsonResultOf(res, err)}
	if fj.Name == "" {
		fj.Name, fj.Size = f.Name, f.Size
	}
	return fj
}

// dirSummary prints what a finished directory download did.
func dirSummary(w io.Writer, dir string, files []quicxfer.DirFile, results []*quicxfer.Result, elapsed time.Duration) {
	var size, resumed int64
	type seedSum struct{ bytes, blocks, bad int64 }
	seeds := map[string]*seedSum{}
	var order []string
	for _, r := range results {
		if r == nil {
			continue
		}
		size += r.Size
		resumed += r.ResumedBytes
		for _, s := range r.Seeds {
			if seeds[s.URL] == nil {
				seeds[s.URL] = &seedSum{}
				order = append(order, s.URL)
			}
			seeds[s.URL].bytes += s.Bytes
			seeds[s.URL].blocks += s.Blocks
			seeds[s.URL].bad += s.BadBlocks
		}
	}
	fetched := size - resumed
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(fetched) / s
	}
	noun := "files"
	if len(files) == 1 {
		noun = "file"
	}
	fmt.Fprintf(w, "%s: %d %s, %s verified in %s, %s/s", showName(dir), len(files), noun, formatBytes(float64(size)), elapsed.Round(time.Millisecond), formatBytes(rate))
	if resumed > 0 {
		fmt.Fprintf(w, ", %s resumed from disk", formatBytes(float64(resumed)))
	}
	fmt.Fprintln(w)
	for _, u := range order {
		s := seeds[u]
		share := 0.0
		if fetched > 0 {
			share = 100 * float64(s.bytes) / float64(fetched)
		}
		line := fmt.Sprintf("  %-60s %10s %5.1f%% %5d blocks", redactURL(u), formatBytes(float64(s.bytes)), share, s.blocks)
		if s.bad > 0 {
			line += fmt.Sprintf(", %d bad", s.bad)
		}
		fmt.Fprintln(w, line)
	}
}

// dirView is the one progress display of a directory download, in the
// modes and formats of progressView (one file): on a terminal (mpb) the
// total line of every file with rate and ETA, "files done N of M" and one
// line per file in progress; plain lines every plainEvery when standard
// error is not a terminal; nothing with --quiet; JSON events with
// --json-progress. Each file is its own quicxfer.Download, --parallel at
// a time: event, progress and fileEnd are called from their download
// loops concurrently, and take mu.
type dirView struct {
	display
	label  string // the directory as the seeds name it
	outdir string
	start  time.Time

	files    []quicxfer.DirFile
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

	// viewBars: every bar is made at the start (lines: files done, then
	// the file lines), and updated under barMu, never under mu.
	barMu    sync.Mutex
	barTotal int64
}

// dirFileState is what the view knows of one file.
type dirFileState struct {
	size, verified, resumed int64
	meter                   rateMeter
	seeds                   []quicxfer.SeedProgress // the last snapshot's
}

// newDirView makes the display for files, parallel at a time; on a
// terminal it is drawn from now on.
func newDirView(stdout, stderr io.Writer, quiet, jsonEvents bool, jsonEvery time.Duration, label, outdir string, files []quicxfer.DirFile, parallel int) *dirView {
	v := &dirView{display: newDisplay(stdout, stderr, quiet, jsonEvents, jsonEvery),
		label: label, outdir: outdir, start: time.Now(), files: files, st: make([]dirFileState, len(files)), srcDone: map[string]int64{}}
	for i, f := range files {
		v.st[i].size = f.Size
		v.size += f.Size
	}
	v.meter.add(0, 0)
	if v.mode == viewBars {
		v.openBars(v.size, func() string { return v.label }, v.totalTextLocked)
		v.barTotal = v.size
		v.addLine(v.filesDoneText)
		for i := range min(parallel, len(files), maxRows) {
			v.addLine(func() string { return v.fileText(i) })
		}
	}
	return v
}

// setLocked records file i's size and bytes, keeping the sums.
func (v *dirView) setLocked(i int, size, verified, resumed int64) {
	s := &v.st[i]
	v.size += size - s.size
	v.verified += verified - s.verified
	v.resumed += resumed - s.resumed
	s.size, s.verified, s.resumed = size, verified, resumed
}

func (v *dirView) sourceLocked(url string) {
	if _, ok := v.srcDone[url]; !ok {
		v.srcDone[url] = 0
		v.srcOrder = append(v.srcOrder, url)
	}
}

// event takes an event of file i's download.
func (v *dirView) event(i int, e quicxfer.Event) {
	f := v.files[i]
	v.mu.Lock()
	if e.Kind == quicxfer.EventStart {
		v.setLocked(i, e.Size, e.Resumed, e.Resumed)
		v.st[i].meter = rateMeter{}
		v.st[i].meter.add(e.Resumed, 0)
		v.running = append(v.running, i)
	} else if e.Source != "" {
		v.sourceLocked(e.Source)
	}
	v.mu.Unlock()

	switch v.mode {
	case viewJSON:
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
	case viewBars:
		v.updateBars()
	}
}

// progress takes a snapshot of file i's download.
func (v *dirView) progress(i int, p quicxfer.Progress) {
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

	if !v.show(due) && v.mode == viewBars {
		v.updateBars()
	}
}

// fileEnd takes the end of file i: its download returned, or it could
// not start (a link in the way).
func (v *dirView) fileEnd(i int, res *quicxfer.Result, err error) {
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
	case viewJSON:
		kind := "file_done"
		if err != nil {
			kind = "file_error"
		}
		v.writeJSONNow(kind, dirFileJSONOf(v.outdir, v.files[i], res, err))
	case viewBars:
		v.updateBars()
	}
}

// finish ends the display once every file ended (err is what get will
// report): the bars drawn one last time without the file lines; in JSON
// mode a last progress event if one is due, then done or error with the
// --json object's fields.
func (v *dirView) finish(body dirJSON, err error) {
	switch v.mode {
	case viewBars:
		v.barMu.Lock()
		defer v.barMu.Unlock()
		v.mu.Lock()
		size := v.size
		v.mu.Unlock()
		v.closeBars(err == nil, size, 1) // no file is in progress any more
	case viewJSON:
		v.finishJSON(v.progressJSONLocked, body, err)
	}
}

// rateLocked is the bytes fetched per second over every file; until that
// is measured, the sum of the sources' rates.
func (v *dirView) rateLocked() float64 {
	sum := 0.0
	for _, i := range v.running {
		sum += seedsRate(v.st[i].seeds)
	}
	return v.meter.rateOr(sum)
}

// fileRateLocked is file i's verified bytes per second, as rateLocked.
func (v *dirView) fileRateLocked(i int) float64 {
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

func (v *dirView) totalTextLocked(done bool) string {
	return totalText(v.size, v.verified, v.rateLocked(), done)
}

func (v *dirView) filesDoneLocked() string {
	s := fmt.Sprintf("files done %d of %d", v.done, len(v.files))
	if v.failed > 0 {
		s += fmt.Sprintf(", %d failed", v.failed)
	}
	return s
}

// --- bars ---

// updateBars moves the total bar to the bytes verified so far.
func (v *dirView) updateBars() {
	v.barMu.Lock()
	defer v.barMu.Unlock()
	if v.bars == nil {
		return
	}
	v.mu.Lock()
	size, verified := v.size, v.verified
	v.mu.Unlock()
	if size != v.barTotal {
		v.total.SetTotal(size, false)
		v.barTotal = size
	}
	if verified < size { // finish completes the bar
		v.total.SetCurrent(verified)
	}
}

func (v *dirView) filesDoneText() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return "  " + v.filesDoneLocked()
}

// fileText is file line k: the k-th file in progress,
// "  sub/b.bin   45.0%   1.0 MB of 2.1 MB     1.2 MB/s", or, past the
// lines there are, the others summed.
func (v *dirView) fileText(k int) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := len(v.lines) - 1
	if k >= len(v.running) {
		return ""
	}
	w := 0
	for _, i := range v.running[:min(len(v.running), n)] {
		w = max(w, len(showName(v.files[i].Rel)))
	}
	w = min(w, 48)
	if k == n-1 && len(v.running) > n {
		rate := 0.0
		for _, i := range v.running[k:] {
			rate += v.fileRateLocked(i)
		}
		return fmt.Sprintf("  + %d more files in progress, %s/s", len(v.running)-k, formatBytes(rate))
	}
	i := v.running[k]
	s := &v.st[i]
	pct := 100.0
	if s.size > 0 {
		pct = 100 * float64(s.verified) / float64(s.size)
	}
	return fmt.Sprintf("  %-*.*s %6.1f%% %10s of %-10s %12s", w, w, showName(v.files[i].Rel), pct,
		formatBytes(float64(s.verified)), formatBytes(float64(s.size)), formatBytes(v.fileRateLocked(i))+"/s")
}

// --- plain lines ---

// plainLineLocked: "progress:  45.0% 5.2 MB of 11.5 MB, 1.2 MB/s, ETA 5s;
// files done 1 of 3; a.bin 1.0 MB of 2.1 MB 1.0 MB/s, ...".
func (v *dirView) plainLineLocked() string {
	var b strings.Builder
	b.WriteString("progress: " + v.totalTextLocked(false) + "; " + v.filesDoneLocked())
	sep := "; "
	for k, i := range v.running {
		if k == maxRows {
			fmt.Fprintf(&b, ", + %d more", len(v.running)-k)
			break
		}
		s := &v.st[i]
		fmt.Fprintf(&b, "%s%s %s of %s %s/s", sep, showName(v.files[i].Rel), formatBytes(float64(s.verified)), formatBytes(float64(s.size)), formatBytes(v.fileRateLocked(i)))
		sep = ", "
	}
	b.WriteString("\n")
	return b.String()
}

// --- JSON ---

type dirProgressJSON struct {
	Dir string `json:"dir"`
	totalsJSON
	FilesDone   int                `json:"files_done"`
	FilesFailed int                `json:"files_failed"`
	FilesTotal  int                `json:"files_total"`
	Files       []fileProgressJSON `json:"files"`
	Sources     []sourceStatusJSON `json:"sources"`
}

type fileProgressJSON struct {
	Name          string  `json:"name"`
	Out           string  `json:"out"`
	Size          int64   `json:"size"`
	VerifiedBytes int64   `json:"verified_bytes"`
	ResumedBytes  int64   `json:"resumed_bytes"`
	Rate          float64 `json:"rate"`
}

// stateRank orders a source's states across the files in progress: the
// set shows the best.
var stateRank = map[string]int{"active": 6, "probing": 5, "connecting": 4, "backoff": 3, quicxfer.StateShutdown: 2, "dropped": 1}

// progressJSONLocked is the body of a progress event.
func (v *dirView) progressJSONLocked(now time.Time) any {
	b := dirProgressJSON{
		Dir: v.outdir, totalsJSON: totalsJSONOf(v.size, v.verified, v.resumed, now.Sub(v.start), v.rateLocked()),
		FilesDone: v.done, FilesFailed: v.failed, FilesTotal: len(v.files),
		Files: make([]fileProgressJSON, 0, len(v.running)), Sources: make([]sourceStatusJSON, 0, len(v.srcOrder)),
	}
	type agg struct {
		state string
		rate  float64
		bytes int64
	}
	srcs := map[string]*agg{}
	for _, u := range v.srcOrder {
		srcs[u] = &agg{state: "idle", bytes: v.srcDone[u]}
	}
	for _, i := range v.running {
		s, f := &v.st[i], v.files[i]
		b.Files = append(b.Files, fileProgressJSON{f.Name, f.Out(v.outdir), s.size, s.verified, s.resumed, math.Round(v.fileRateLocked(i))})
		for _, sp := range s.seeds {
			a := srcs[sp.URL]
			a.rate += sp.Rate
			a.bytes += sp.Accepted
			if stateRank[sp.State] > stateRank[a.state] {
				a.state = sp.State
			}
		}
	}
	for _, u := range v.srcOrder {
		a := srcs[u]
		b.Sources = append(b.Sources, sourceStatusJSON{redactURL(u), a.state, math.Round(a.rate), a.bytes})
	}
	return b
}
