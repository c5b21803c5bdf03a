package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sync/errgroup"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// errNoDir is returned by getDir when no seed lists a file under the prefix.
var errNoDir = errors.New("no such directory on any seed")

// dirFile is one file of a directory download: what a directory download
// keeps of each entry of the seeds' lists, no more (a list may hold a
// million names).
type dirFile struct {
	name string // on the seeds
	rel  string // relative to the output directory, with '/': the end of name
	size int64  // as listed
}

// out is where f appears: rel under outdir.
func (f dirFile) out(outdir string) string { return filepath.Join(outdir, filepath.FromSlash(f.rel)) }

// getDir downloads every file the seeds list under prefix (every file if
// prefix is empty) into outdir, keeping the paths below prefix, a few files
// at a time over one shared client. Each file is an ordinary download with
// its own OUT.qxpart and OUT.qxstate, so each resumes on its own and a file
// already complete is verified and kept. base carries the seeds and the
// options every file shares. fallback says get tried prefix as a file
// first: then errNoDir is get's to report.
func getDir(c *cli.Context, prefix, outdir string, base quicxfer.Options, fallback bool) (err error) {
	if prefix != "" {
		if err := wire.CheckName(prefix); err != nil {
			return usagef("directory name %q: %v", prefix, err)
		}
	}
	parallel := c.Int("parallel")
	if parallel < 1 || parallel > 64 {
		return usagef("--parallel: want 1 to 64, got %d", parallel)
	}
	var view *dirView
	if c.Bool("json-progress") {
		// An error before the display starts (no seed lists its files, no
		// such directory) is the one event, as for a single file; no such
		// directory after get looked for a file of that name is get's to
		// report, as that file's "not found".
		defer func() {
			var ue usageError
			if err != nil && view == nil && !errors.As(err, &ue) && !(fallback && errors.Is(err, errNoDir)) {
				writeJSONEvent(c.App.Writer, jsonEvent{"error", time.Now(), dirJSON{Dir: outdir, Files: []dirFileJSON{}, jsonRun: jsonRunOf(err)}})
			}
		}()
	}
	client, err := quicxfer.NewClientWith(base.Auth)
	if err != nil {
		return err
	}
	defer client.Close()
	logf := func(format string, args ...any) { fmt.Fprintf(c.App.ErrWriter, "quicxfer: "+format+"\n", args...) }

	entries, err := listAll(c.Context, client, base.Seeds, prefix, logf)
	if err != nil {
		return err
	}
	files, refused := selectFiles(entries, prefix, outdir)
	entries = nil
	if len(files) == 0 && refused.n == 0 {
		if prefix == "" {
			return errors.New("the seeds serve no file")
		}
		return fmt.Errorf("%q: %w: %w", prefix, quicxfer.ErrNotFound, errNoDir)
	}
	if c.IsSet("id") {
		return usagef("--id names one file's content; it does not go with a directory or --all")
	}
	for _, r := range refused.shown {
		logf("%s", r)
	}
	if more := refused.n - len(refused.shown); more > 0 {
		logf("refusing %d more names the same way", more)
	}
	if err := os.MkdirAll(outdir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}

	label := prefix + "/"
	if prefix == "" {
		label = "all files"
	}
	view = newDirView(c.App.Writer, c.App.ErrWriter, c.Bool("quiet"), c.Bool("json-progress"), c.Duration("json-progress-interval"), showName(label), outdir, files, parallel)

	start := time.Now()
	results := make([]*quicxfer.Result, len(files))
	errs := make([]error, len(files))
	var stop atomic.Bool // a failure that every later file would share
	var g errgroup.Group
	g.SetLimit(parallel)
	for i, f := range files {
		g.Go(func() error {
			if stop.Load() || c.Context.Err() != nil {
				errs[i] = errNotStarted
				return nil
			}
			if err := mkdirInside(outdir, filepath.Dir(f.rel)); err != nil {
				errs[i] = err
				view.fileEnd(i, nil, err)
				return nil
			}
			out := f.out(outdir)
			if err := partial.CheckPaths(out); err != nil {
				errs[i] = err
				view.fileEnd(i, nil, err)
				return nil
			}
			opts := base
			opts.Name, opts.Out, opts.Client = f.name, out, client
			opts.Logf = func(format string, args ...any) { view.logf("%s: "+format, append([]any{showName(f.rel)}, args...)...) }
			opts.OnProgress = func(p quicxfer.Progress) { view.progress(i, p) }
			opts.OnEvent = func(e quicxfer.Event) { view.event(i, e) }
			writeRecord(c, out, f.name, c.Args().Slice()...)
			results[i], errs[i] = quicxfer.Download(c.Context, opts)
			errs[i] = cliError(errs[i], clientFlags)
			endRecord(out)
			if r := results[i]; r != nil && r.Name == f.name {
				r.Name = f.name // the listed name's copy: one per file is kept
			}
			view.fileEnd(i, results[i], errs[i])
			if errs[i] != nil && (errors.Is(errs[i], quicxfer.ErrNoSeeds) || errors.Is(errs[i], context.Canceled)) {
				stop.Store(true)
			}
			return nil
		})
	}
	_ = g.Wait()
	elapsed := time.Since(start)

	failed, firstErr := 0, error(nil)
	for i, err := range errs {
		if err != nil {
			failed++
			if firstErr == nil || errors.Is(firstErr, errNotStarted) {
				firstErr = fmt.Errorf("%s: %w", showName(files[i].rel), err)
			}
		}
	}
	var err2 error
	switch {
	case c.Context.Err() != nil:
		err2 = fmt.Errorf("interrupted; %d of %d files complete, verified blocks of the others are saved: run the same command to resume: %w", len(files)-failed, len(files), c.Context.Err())
	case failed > 0 || refused.n > 0:
		if firstErr == nil {
			firstErr = errors.New(refused.shown[0])
		}
		err2 = fmt.Errorf("%d of %d files failed (%v)", failed+refused.n, len(files)+refused.n, firstErr)
	}
	j := dirJSONOf(outdir, files, results, errs, elapsed, err2)
	view.finish(j, err2)
	if c.Bool("json") {
		if jerr := json.NewEncoder(c.App.Writer).Encode(j); jerr != nil {
			return jerr
		}
	}
	if err2 == nil && !c.Bool("quiet") {
		dirSummary(c.App.ErrWriter, outdir, files, results, elapsed)
	}
	return err2
}

// errNotStarted marks a file left alone after a failure every file shares.
var errNotStarted = errors.New("not started")

// listed is what a directory download keeps of a seed's list entry.
type listed struct {
	name string
	size int64
}

// listAll asks every seed for its list and returns the union of the
// entries under prefix ("" for all): one entry per name, the first seed's
// where they differ (each file's download then settles which manifest to
// use, as for a single file). Each list is read as it arrives, keeping only
// the names under prefix and their sizes, and a list is bounded
// (wire.MaxListEntries, wire.MaxListBytes). Seeds that cannot be listed are
// reported and skipped; it fails only if none can.
func listAll(parent context.Context, client *quicxfer.Client, seeds []string, prefix string, logf func(string, ...any)) ([]listed, error) {
	ctx, cancel := context.WithTimeout(parent, 30*time.Second)
	defer cancel()
	lists := make([][]listed, len(seeds))
	errs := make([]error, len(seeds))
	var wg sync.WaitGroup
	for i, s := range seeds {
		u, err := wire.ParseURL(s)
		if err != nil {
			return nil, usagef("%v", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := client.Dial(ctx, u)
			if err != nil {
				errs[i] = err
				return
			}
			defer conn.Close()
			errs[i] = conn.ListEach(ctx, func(e wire.FileEntry) error {
				if prefix == "" || strings.HasPrefix(e.Name, prefix+"/") {
					lists[i] = append(lists[i], listed{e.Name, e.Size})
				}
				return nil
			})
			if errs[i] != nil {
				lists[i] = nil
			}
		}()
	}
	wg.Wait()
	if err := parent.Err(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var all []listed
	var firstErr error
	for i, l := range lists {
		if errs[i] != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("seed %s: listing files: %s", seeds[i], describe(errs[i], clientFlags))
			}
			logf("seed %s: listing files: %s; going on without its list", seeds[i], describe(errs[i], clientFlags))
			continue
		}
		for _, e := range l {
			if !seen[e.name] {
				seen[e.name] = true
				all = append(all, e)
			}
		}
		lists[i] = nil
	}
	if firstErr != nil && len(all) == 0 {
		return nil, fmt.Errorf("%w: %v", quicxfer.ErrNoSeeds, firstErr)
	}
	return all, nil
}

// workingName returns the suffix of quicxfer's own files
// (partial.WorkingSuffix) that a component of the '/'-separated rel ends
// with, or "". A directory download never writes a name that ends so, nor
// makes a directory of one: a seed could plant a forged OUT.qxpart and
// OUT.qxstate beside a file it also lists, or a .qxcmd whose command status
// shows.
func workingName(rel string) string {
	for _, elem := range strings.Split(rel, "/") {
		if suf := partial.WorkingSuffix(elem); suf != "" {
			return suf
		}
	}
	return ""
}

// maxRefusalsShown is how many refused names a directory download names,
// one line each; the others are counted.
const maxRefusalsShown = 10

// refusals are the names selectFiles refused: the first maxRefusalsShown
// as one-line reasons, and how many in all.
type refusals struct {
	shown []string
	n     int
}

func (r *refusals) add(format string, args ...any) {
	r.n++
	if len(r.shown) < maxRefusalsShown {
		r.shown = append(r.shown, fmt.Sprintf(format, args...))
	}
}

// selectFiles picks the entries under prefix ("" for all) and maps each to
// a path under outdir. A name that could land outside outdir is refused, and
// so is one that names one of quicxfer's own working files (workingName).
// Files come out sorted by name.
func selectFiles(entries []listed, prefix, outdir string) ([]dirFile, refusals) {
	var files []dirFile
	var refused refusals
	for _, e := range entries {
		rel := e.name
		if prefix != "" {
			var ok bool
			if rel, ok = strings.CutPrefix(e.name, prefix+"/"); !ok {
				continue
			}
		}
		if err := wire.CheckName(e.name); err != nil {
			refused.add("refusing %s: %v", quoteShort(e.name), err)
			continue
		}
		if err := wire.CheckName(rel); err != nil {
			refused.add("refusing %s: %v", quoteShort(e.name), err)
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			refused.add("refusing %s: it would be written outside %s", quoteShort(e.name), showName(outdir))
			continue
		}
		if suf := workingName(rel); suf != "" {
			refused.add("refusing %s: quicxfer keeps its partial downloads in names ending %s, and a directory download never writes one", quoteShort(e.name), suf)
			continue
		}
		files = append(files, dirFile{name: e.name, rel: rel, size: e.size})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files, refused
}

// mkdirInside creates rel's directories under root (which exists) one by
// one, refusing to go through anything that is not a plain directory: a
// symbolic link there (planted or left over) would send the files
// elsewhere.
func mkdirInside(root, rel string) error { return plainDirs(root, rel, true) }

// plainDirs walks rel's directories (rel is '/'- or OS-separated) under
// root, through an os.Root of it, so that nothing outside root is reached,
// and refuses anything on the way that is not a plain directory. With
// create, a missing directory is made; without, the walk stops there
// (nothing further down exists either).
func plainDirs(root, rel string, create bool) error {
	rel = filepath.ToSlash(rel)
	if rel == "." || rel == "" {
		return nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	p := "."
	for _, elem := range strings.Split(rel, "/") {
		p = filepath.Join(p, elem)
		fi, err := r.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if !create {
				return nil
			}
			if err := r.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			fi, err = r.Lstat(p)
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory (a symbolic link or a file); refusing to write through it", showName(filepath.Join(root, p)))
		}
	}
	return nil
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
func dirJSONOf(dir string, files []dirFile, results []*quicxfer.Result, errs []error, elapsed time.Duration, err error) dirJSON {
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
func dirFileJSONOf(dir string, f dirFile, res *quicxfer.Result, err error) dirFileJSON {
	fj := dirFileJSON{Out: f.out(dir), jsonResult: jsonResultOf(res, err)}
	if fj.Name == "" {
		fj.Name, fj.Size = f.name, f.size
	}
	return fj
}

// dirSummary prints what a finished directory download did.
func dirSummary(w io.Writer, dir string, files []dirFile, results []*quicxfer.Result, elapsed time.Duration) {
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

	files    []dirFile
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
func newDirView(stdout, stderr io.Writer, quiet, jsonEvents bool, jsonEvery time.Duration, label, outdir string, files []dirFile, parallel int) *dirView {
	v := &dirView{display: newDisplay(stdout, stderr, quiet, jsonEvents, jsonEvery),
		label: label, outdir: outdir, start: time.Now(), files: files, st: make([]dirFileState, len(files)), srcDone: map[string]int64{}}
	for i, f := range files {
		v.st[i].size = f.size
		v.size += f.size
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
			}{startJSONOf(e), f.out(v.outdir)})
			return
		}
		v.writeJSONNow(string(e.Kind), struct {
			Name string `json:"name"`
			Out  string `json:"out"`
			sourceEventJSON
		}{f.name, f.out(v.outdir), sourceEventJSONOf(e)})
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
		w = max(w, len(showName(v.files[i].rel)))
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
	return fmt.Sprintf("  %-*.*s %6.1f%% %10s of %-10s %12s", w, w, showName(v.files[i].rel), pct,
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
		fmt.Fprintf(&b, "%s%s %s of %s %s/s", sep, showName(v.files[i].rel), formatBytes(float64(s.verified)), formatBytes(float64(s.size)), formatBytes(v.fileRateLocked(i)))
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
var stateRank = map[string]int{"active": 6, "probing": 5, "connecting": 4, "backoff": 3, quicxfer.StateShutdown.String(): 2, "dropped": 1}

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
		b.Files = append(b.Files, fileProgressJSON{f.name, f.out(v.outdir), s.size, s.verified, s.resumed, math.Round(v.fileRateLocked(i))})
		for _, sp := range s.seeds {
			a := srcs[sp.URL]
			a.rate += sp.Rate
			a.bytes += sp.Accepted
			if stateRank[sp.State.String()] > stateRank[a.state] {
				a.state = sp.State.String()
			}
		}
	}
	for _, u := range v.srcOrder {
		a := srcs[u]
		b.Sources = append(b.Sources, sourceStatusJSON{redactURL(u), a.state, math.Round(a.rate), a.bytes})
	}
	return b
}
