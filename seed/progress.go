package seed

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/quicxfer/quicxfer/internal/units"
)

// IndexProgress is how far the seed has got indexing its files (finding
// each one's manifest in the cache or hashing it), at start-up or at a
// reload.
type IndexProgress struct {
	Files     int           // files to index
	FilesDone int           // files indexed, or skipped (they cannot be read)
	Bytes     int64         // the bytes of the files to index (those skipped not counted)
	BytesDone int64         // bytes of the files indexed, and read so far of those being hashed
	Hashed    int64         // bytes read and hashed so far; those found in the cache not counted
	Elapsed   time.Duration // since indexing began
	Done      bool          // the last report: indexing ended (every file indexed, or it was stopped)
}

// Rate returns the bytes hashed per second so far, 0 before any.
func (p IndexProgress) Rate() float64 {
	if p.Hashed <= 0 || p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Hashed) / p.Elapsed.Seconds()
}

// maxETA is the longest estimate given: past it (a rate near zero) there is
// no meaningful one.
const maxETA = 100 * time.Hour

// ETA returns how long the bytes still to index take at Rate, rounded to
// the second, and false when there is no meaningful estimate (no rate yet).
func (p IndexProgress) ETA() (time.Duration, bool) {
	r := p.Rate()
	left := p.Bytes - p.BytesDone
	if r <= 0 || left < 0 {
		return 0, false
	}
	secs := float64(left) / r
	if secs > maxETA.Seconds() {
		return 0, false
	}
	return max(time.Duration(secs*float64(time.Second)).Round(time.Second), time.Second), true
}

// String says the progress in a few words: "3/12 files, 1.20 GB of 4.00
// GB, 410 MB/s, ETA 7s" while indexing, "12 files, 4.00 GB in 9.8s, hashed
// at 410 MB/s" at the end.
func (p IndexProgress) String() string {
	files := units.Plural(p.Files, "file")
	rate := units.FormatBytes(p.Rate()) + "/s"
	if p.Done && p.FilesDone == p.Files {
		s := fmt.Sprintf("%d %s, %s in %s", p.Files, files, units.FormatBytes(float64(p.Bytes)), p.Elapsed.Round(100*time.Millisecond))
		if p.Rate() >= 1 {
			s += ", hashed at " + rate
		}
		return s
	}
	s := fmt.Sprintf("%d/%d %s, %s of %s", p.FilesDone, p.Files, files, units.FormatBytes(float64(p.BytesDone)), units.FormatBytes(float64(p.Bytes)))
	if p.Rate() >= 1 {
		s += ", " + rate
	}
	if eta, ok := p.ETA(); ok && !p.Done {
		s += ", ETA " + eta.String()
	}
	return s
}

// indexReportEvery is how often OnIndexProgress is called while indexing.
const indexReportEvery = 500 * time.Millisecond

// indexOptions are what indexing takes of the Options.
type indexOptions struct {
	workers    int
	logEvery   time.Duration // 0: no progress lines
	onProgress func(IndexProgress)
	// wrap, if set (tests), wraps each file's reader as it is hashed.
	wrap func(name string, r io.ReaderAt) io.ReaderAt
}

func (o Options) indexing() indexOptions {
	return indexOptions{workers: o.HashWorkers, logEvery: o.IndexLogEvery, onProgress: o.OnIndexProgress, wrap: o.indexReader}
}

// indexCounts are the counters of one indexing, updated by the workers.
type indexCounts struct {
	start                    time.Time
	files, filesDone         atomic.Int64
	bytes, bytesDone, hashed atomic.Int64
	logged                   atomic.Bool // a progress line was logged
}

func (c *indexCounts) snapshot(done bool) IndexProgress {
	return IndexProgress{
		Files: int(c.files.Load()), FilesDone: int(c.filesDone.Load()),
		Bytes: c.bytes.Load(), BytesDone: c.bytesDone.Load(), Hashed: c.hashed.Load(),
		Elapsed: time.Since(c.start), Done: done,
	}
}

// fileCount is one file's share of the counts: the size it was listed with
// and what has been read of it.
type fileCount struct {
	c      *indexCounts
	listed int64
	read   atomic.Int64
}

func (c *indexCounts) file(listed int64) *fileCount {
	return &fileCount{c: c, listed: listed}
}

// ReadAt counts what it reads as hashed.
type countingReaderAt struct {
	r  io.ReaderAt
	fc *fileCount
}

func (r countingReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n, err := r.r.ReadAt(b, off)
	r.fc.read.Add(int64(n))
	r.fc.c.bytesDone.Add(int64(n))
	r.fc.c.hashed.Add(int64(n))
	return n, err
}

// again: the file is hashed again from its start (it changed).
func (fc *fileCount) again() { fc.c.bytesDone.Add(-fc.read.Swap(0)) }

// done: the file is indexed; its listed bytes count as done.
func (fc *fileCount) done() {
	fc.c.bytesDone.Add(fc.listed - fc.read.Swap(0))
	fc.c.filesDone.Add(1)
}

// skipped: the file is not served; its bytes no longer count.
func (fc *fileCount) skipped() {
	fc.c.bytesDone.Add(-fc.read.Swap(0))
	fc.c.bytes.Add(-fc.listed)
	fc.c.filesDone.Add(1)
}

// reportIndexing reports c's progress until stop is closed: a line at info
// every o.logEvery, a call of o.onProgress every indexReportEvery. It
// returns when it has stopped.
func reportIndexing(ctx context.Context, c *indexCounts, o indexOptions, log *slog.Logger, stop <-chan struct{}) {
	var logTick, cbTick <-chan time.Time
	if o.logEvery > 0 {
		t := time.NewTicker(o.logEvery)
		defer t.Stop()
		logTick = t.C
	}
	if o.onProgress != nil {
		t := time.NewTicker(indexReportEvery)
		defer t.Stop()
		cbTick = t.C
	}
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-logTick:
			p := c.snapshot(false)
			c.logged.Store(true)
			log.Info("indexing", "progress", p.String(), "files_done", p.FilesDone, "files", p.Files, "bytes_done", p.BytesDone, "bytes", p.Bytes)
		case <-cbTick:
			o.onProgress(c.snapshot(false))
		}
	}
}
