package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// errNoDir is returned by getDir when no seed lists a file under the prefix.
var errNoDir = errors.New("no such directory on any seed")

// dirFile is one file of a directory download.
type dirFile struct {
	name string // on the seeds
	rel  string // relative to the output directory, with '/'
	out  string // where it appears
	size int64  // as listed
}

// getDir downloads every file the seeds list under prefix (every file if
// prefix is empty) into outdir, keeping the paths below prefix, a few files
// at a time over one shared client. Each file is an ordinary download with
// its own OUT.qxpart and OUT.qxstate, so each resumes on its own and a file
// already complete is verified and kept. base carries the seeds and the
// options every file shares.
func getDir(c *cli.Context, prefix, outdir string, base quicxfer.Options) error {
	if prefix != "" {
		if err := wire.CheckName(prefix); err != nil {
			return usagef("directory name %q: %v", prefix, err)
		}
	}
	parallel := c.Int("parallel")
	if parallel < 1 || parallel > 64 {
		return usagef("--parallel: want 1 to 64, got %d", parallel)
	}
	client, err := quicxfer.NewClientWith(base.Auth)
	if err != nil {
		return err
	}
	defer client.Close()
	logf := func(format string, args ...any) { fmt.Fprintf(c.App.ErrWriter, "quicxfer: "+format+"\n", args...) }

	entries, err := listAll(c.Context, client, base.Seeds, logf)
	if err != nil {
		return err
	}
	files, refused := selectFiles(entries, prefix, outdir)
	if len(files) == 0 && len(refused) == 0 {
		if prefix == "" {
			return errors.New("the seeds serve no file")
		}
		return fmt.Errorf("%q: %w: %w", prefix, quicxfer.ErrNotFound, errNoDir)
	}
	if !base.ID.IsZero() {
		return usagef("--id names one file's content; it does not go with a directory or --all")
	}
	for _, r := range refused {
		logf("%s", r)
	}
	if err := os.MkdirAll(outdir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}

	var view *dirView
	if !c.Bool("quiet") {
		view = newDirView(c.App.ErrWriter, files)
	}
	say := func(format string, args ...any) {
		if view != nil {
			view.clear()
		}
		logf(format, args...)
	}

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
				return nil
			}
			if err := checkNoLink(f.out); err != nil {
				errs[i] = err
				return nil
			}
			opts := base
			opts.Name, opts.Out, opts.Client = f.name, f.out, client
			opts.Logf = func(format string, args ...any) { say("%s: "+format, append([]any{f.rel}, args...)...) }
			opts.OnProgress = nil
			if view != nil {
				opts.OnProgress = func(p quicxfer.Progress) { view.update(i, p.Verified) }
			}
			writeRecord(c, f.out, f.name, c.Args().Slice()...)
			results[i], errs[i] = quicxfer.Download(c.Context, opts)
			endRecord(f.out)
			if errs[i] == nil && view != nil {
				view.fileDone(i)
			}
			if errs[i] != nil && (errors.Is(errs[i], quicxfer.ErrNoSeeds) || errors.Is(errs[i], context.Canceled)) {
				stop.Store(true)
			}
			return nil
		})
	}
	_ = g.Wait()
	if view != nil {
		view.clear()
	}
	elapsed := time.Since(start)

	failed, firstErr := 0, error(nil)
	for i, err := range errs {
		if err != nil {
			failed++
			if firstErr == nil || errors.Is(firstErr, errNotStarted) {
				firstErr = fmt.Errorf("%s: %w", files[i].rel, err)
			}
		}
	}
	var err2 error
	switch {
	case c.Context.Err() != nil:
		err2 = fmt.Errorf("interrupted; %d of %d files complete, verified blocks of the others are saved: run the same command to resume: %w", len(files)-failed, len(files), c.Context.Err())
	case failed > 0 || len(refused) > 0:
		if firstErr == nil {
			firstErr = errors.New(refused[0])
		}
		err2 = fmt.Errorf("%d of %d files failed (%v)", failed+len(refused), len(files)+len(refused), firstErr)
	}
	if c.Bool("json") {
		if jerr := writeDirJSON(c.App.Writer, outdir, files, results, errs, elapsed, err2); jerr != nil {
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

// listAll asks every seed for its list and returns the union: one entry
// per name, the first seed's where they differ (each file's download then
// settles which manifest to use, as for a single file). Seeds that cannot
// be listed are reported and skipped; it fails only if none can.
func listAll(parent context.Context, client *quicxfer.Client, seeds []string, logf func(string, ...any)) ([]wire.FileEntry, error) {
	ctx, cancel := context.WithTimeout(parent, 30*time.Second)
	defer cancel()
	lists := make([][]wire.FileEntry, len(seeds))
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
			lists[i], errs[i] = conn.List(ctx)
		}()
	}
	wg.Wait()
	if err := parent.Err(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var all []wire.FileEntry
	var firstErr error
	for i, l := range lists {
		if errs[i] != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("seed %s: listing files: %s", seeds[i], quicxfer.Describe(errs[i]))
			}
			logf("seed %s: listing files: %s; going on without its list", seeds[i], quicxfer.Describe(errs[i]))
			continue
		}
		for _, e := range l {
			if !seen[e.Name] {
				seen[e.Name] = true
				all = append(all, e)
			}
		}
	}
	if firstErr != nil && len(all) == 0 {
		return nil, fmt.Errorf("%w: %v", quicxfer.ErrNoSeeds, firstErr)
	}
	return all, nil
}

// partSuffixes are the names a download keeps beside its OUT.
var partSuffixes = []string{".qxpart", ".qxstate", ".qxstate.tmp", ".qxcmd", ".qxcmd.tmp"}

// selectFiles picks the entries under prefix ("" for all) and maps each to
// a path under outdir. A name that could land outside outdir is refused,
// and so is one that would collide with the partial files of another.
// Files come out sorted by name; refused ones as one-line reasons.
func selectFiles(entries []wire.FileEntry, prefix, outdir string) ([]dirFile, []string) {
	var files []dirFile
	var refused []string
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name] = true
	}
	for _, e := range entries {
		rel := e.Name
		if prefix != "" {
			var ok bool
			if rel, ok = strings.CutPrefix(e.Name, prefix+"/"); !ok {
				continue
			}
		}
		if err := wire.CheckName(e.Name); err != nil {
			refused = append(refused, fmt.Sprintf("refusing %q: %v", e.Name, err))
			continue
		}
		if err := wire.CheckName(rel); err != nil {
			refused = append(refused, fmt.Sprintf("refusing %q: %v", e.Name, err))
			continue
		}
		out := filepath.Join(outdir, filepath.FromSlash(rel))
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			refused = append(refused, fmt.Sprintf("refusing %q: it would be written outside %s", e.Name, outdir))
			continue
		}
		clash := false
		for _, suf := range partSuffixes {
			if stem, ok := strings.CutSuffix(e.Name, suf); ok && names[stem] {
				refused = append(refused, fmt.Sprintf("refusing %q: the partial download of %q uses that name", e.Name, stem))
				clash = true
				break
			}
		}
		if clash {
			continue
		}
		files = append(files, dirFile{name: e.Name, rel: rel, out: out, size: e.Size})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files, refused
}

// mkdirInside creates rel's directories under root (which exists) one by
// one, refusing to go through anything that is not a plain directory: a
// symbolic link there (planted or left over) would send the files
// elsewhere.
func mkdirInside(root, rel string) error {
	if rel == "." {
		return nil
	}
	p := root
	for _, elem := range strings.Split(filepath.ToSlash(rel), "/") {
		p = filepath.Join(p, elem)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			if fi, err = os.Lstat(p); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory (a symbolic link or a file); refusing to write through it", p)
		}
	}
	return nil
}

// checkNoLink refuses a download whose OUT or partial files are symbolic
// links, which would write outside the output directory.
func checkNoLink(out string) error {
	for _, p := range []string{out, partial.PartPath(out), partial.StatePath(out)} {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link; refusing to write through it", p)
		}
	}
	return nil
}

type dirFileJSON struct {
	Out string `json:"out"`
	jsonResult
}

type dirJSON struct {
	Dir          string        `json:"dir"`
	Files        []dirFileJSON `json:"files"`
	FilesDone    int           `json:"files_done"`
	FilesTotal   int           `json:"files_total"`
	Size         int64         `json:"size"`
	FetchedBytes int64         `json:"fetched_bytes"`
	ResumedBytes int64         `json:"resumed_bytes"`
	ElapsedS     float64       `json:"elapsed_s"`
	Seeds        []jsonSeed    `json:"seeds"`
	OK           bool          `json:"ok"`
	Error        string        `json:"error,omitempty"`
}

// writeDirJSON prints one object for a directory download: totals in the
// shape of a single file's (seeds summed by URL) and each file's own.
func writeDirJSON(w io.Writer, dir string, files []dirFile, results []*quicxfer.Result, errs []error, elapsed time.Duration, err error) error {
	j := dirJSON{Dir: dir, Files: []dirFileJSON{}, FilesTotal: len(files), ElapsedS: elapsed.Seconds(), Seeds: []jsonSeed{}, OK: err == nil}
	if err != nil {
		j.Error = err.Error()
	}
	bySeed := map[string]int{}
	for i, f := range files {
		fj := dirFileJSON{Out: f.out, jsonResult: jsonResultOf(results[i], errs[i])}
		if fj.Name == "" {
			fj.Name, fj.Size = f.name, f.size
		}
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
	return json.NewEncoder(w).Encode(j)
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
	fmt.Fprintf(w, "%s: %d %s, %s verified in %s, %s/s", dir, len(files), noun, formatBytes(float64(size)), elapsed.Round(time.Millisecond), formatBytes(rate))
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
		line := fmt.Sprintf("  %-60s %10s %5.1f%% %5d blocks", u, formatBytes(float64(s.bytes)), share, s.blocks)
		if s.bad > 0 {
			line += fmt.Sprintf(", %d bad", s.bad)
		}
		fmt.Fprintln(w, line)
	}
}

// dirView is the one progress display of a directory download: bytes
// verified of all files, rate, ETA and files done of N, redrawn in place on
// a terminal, a plain line every few seconds otherwise.
type dirView struct {
	w        io.Writer
	tty      bool
	mu       sync.Mutex
	sizes    []int64
	verified []int64
	total    int64
	sum      int64
	finished int
	drawn    bool
	start    time.Time
	last     time.Time // last plain line or redraw
	prev     int64
	prevT    time.Time
	rate     float64
}

func newDirView(w io.Writer, files []dirFile) *dirView {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	v := &dirView{w: w, tty: tty, sizes: make([]int64, len(files)), verified: make([]int64, len(files)), start: time.Now()}
	v.prevT = v.start
	for i, f := range files {
		v.sizes[i] = f.size
		v.total += f.size
	}
	return v
}

// update records that file i has verified bytes on disk.
func (v *dirView) update(i int, verified int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.sum += verified - v.verified[i]
	v.verified[i] = verified
	v.drawLocked(false)
}

// fileDone records that file i is complete.
func (v *dirView) fileDone(i int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.finished++
	v.sum += v.sizes[i] - v.verified[i]
	v.verified[i] = v.sizes[i]
	v.drawLocked(true)
}

func (v *dirView) drawLocked(force bool) {
	now := time.Now()
	if dt := now.Sub(v.prevT).Seconds(); dt > 0.5 {
		inst := float64(v.sum-v.prev) / dt
		if v.rate == 0 {
			v.rate = inst
		} else {
			v.rate = 0.6*v.rate + 0.4*inst
		}
		v.prev, v.prevT = v.sum, now
	}
	pct := 100.0
	if v.total > 0 {
		pct = 100 * float64(v.sum) / float64(v.total)
	}
	eta := "--"
	if v.rate > 0 && v.sum < v.total {
		eta = time.Duration(float64(v.total-v.sum) / v.rate * float64(time.Second)).Round(time.Second).String()
	}
	line := fmt.Sprintf("%5.1f%% %s of %s  %s/s  ETA %s  files %d of %d", pct, formatBytes(float64(v.sum)), formatBytes(float64(v.total)), formatBytes(v.rate), eta, v.finished, len(v.sizes))
	if !v.tty {
		if now.Sub(v.last) >= 5*time.Second {
			v.last = now
			fmt.Fprintln(v.w, "progress: "+line)
		}
		return
	}
	if !force && now.Sub(v.last) < 100*time.Millisecond {
		return
	}
	v.last = now
	width := 30
	filled := int(pct / 100 * float64(width))
	var b strings.Builder
	v.clearLocked(&b)
	fmt.Fprintf(&b, "[%s%s] %s\n", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), line)
	v.drawn = true
	io.WriteString(v.w, b.String())
}

// clear erases the display, so that a message can be printed.
func (v *dirView) clear() {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b strings.Builder
	v.clearLocked(&b)
	io.WriteString(v.w, b.String())
}

func (v *dirView) clearLocked(b *strings.Builder) {
	if v.drawn {
		b.WriteString("\x1b[1A\x1b[2K")
		v.drawn = false
	}
}
