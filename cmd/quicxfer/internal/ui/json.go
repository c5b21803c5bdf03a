package ui

import (
	"encoding/json"
	"io"
	"math"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// The JSON objects of --json, --json-progress and status --json. Their
// schema, with an example of each, is docs/json.md; schema_test.go pins
// every field name to it. Fields are added, never renamed or removed.

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

// startJSON is the body of a start event.
type startJSON struct {
	Name         string `json:"name"`
	ContentID    string `json:"content_id,omitempty"` // none for a file from mirrors alone
	Size         int64  `json:"size"`
	BlockSize    int64  `json:"block_size"`
	ResumedBytes int64  `json:"resumed_bytes"`
}

// sourceEventJSON is the body of an event of a source (source_joined,
// source_down, stalled, source_dropped, block_rejected).
type sourceEventJSON struct {
	URL    string `json:"url"`
	Block  *int   `json:"block,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// progressJSON is the body of a progress event of one file.
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
// to a byte per second, the time left to the second; none (null) when
// there is no meaningful estimate: no source delivering, or none at that
// rate (etaOf).
func totalsJSONOf(size, verified, resumed int64, elapsed time.Duration, rate float64, delivering bool) totalsJSON {
	t := totalsJSON{Size: size, VerifiedBytes: verified, ResumedBytes: resumed,
		ElapsedS: math.Round(elapsed.Seconds()*1000) / 1000}
	if !math.IsNaN(rate) && !math.IsInf(rate, 0) { // else no JSON number: 0
		t.Rate = math.Round(rate)
	}
	if eta, ok := etaOf(size-verified, rate); ok && (delivering || size <= verified) {
		secs := math.Round(eta.Seconds())
		t.ETAS = &secs
	}
	return t
}

// sourceStatusJSON is one source in a progress event's "sources".
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
	id := ""
	if !e.ID.IsZero() {
		id = e.ID.String()
	}
	return startJSON{e.Name, id, e.Size, e.BlockSize, e.Resumed}
}

// sourceEventJSONOf is the body of an event of a source.
func sourceEventJSONOf(e quicxfer.Event) sourceEventJSON {
	b := sourceEventJSON{URL: RedactURL(e.Source), Reason: RedactURLsIn(e.Reason)}
	if e.Kind == quicxfer.EventBlockRejected {
		b.Block = &e.Block
	}
	return b
}

// jsonSeed is one source in --json "seeds": a seed, or a mirror (same shape).
type jsonSeed struct {
	URL       string `json:"url"`
	Bytes     int64  `json:"bytes"`
	Blocks    int64  `json:"blocks"`
	BadBlocks int64  `json:"bad_blocks"`
	Received  int64  `json:"received_bytes"`
	Note      string `json:"note,omitempty"`
	Conns     int    `json:"conns,omitempty"`    // the most connections to it at once (a seed)
	Protocol  string `json:"protocol,omitempty"` // a mirror's: HTTP/1.1, HTTP/2.0 or HTTP/3.0
}

// jsonResult is the --json object of one file.
type jsonResult struct {
	Name      string `json:"name,omitempty"`
	ContentID string `json:"content_id,omitempty"`
	// Verified: the file was checked against what its publisher says it
	// is (its manifest, a checksum, a Metalink's hashes); false for a
	// file from mirrors with no hash, and for a get that failed.
	Verified bool `json:"verified"`
	jsonRun
}

// jsonRun ends the --json object of a file and of a directory: what the
// run did and whether it succeeded.
type jsonRun struct {
	Size         int64      `json:"size"`
	FetchedBytes int64      `json:"fetched_bytes"`
	ResumedBytes int64      `json:"resumed_bytes"`
	ElapsedS     float64    `json:"elapsed_s"`
	Seeds        []jsonSeed `json:"seeds"`
	OK           bool       `json:"ok"`
	Error        string     `json:"error,omitempty"`
}

// jsonRunOf is a run that ended with err, its figures still to be filled.
func jsonRunOf(err error) jsonRun {
	r := jsonRun{Seeds: []jsonSeed{}, OK: err == nil}
	if err != nil {
		r.Error = RedactURLsIn(err.Error())
	}
	return r
}

// WriteResult writes the --json object of one file's download on w.
func WriteResult(w io.Writer, res *quicxfer.Result, err error) error {
	return json.NewEncoder(w).Encode(jsonResultOf(res, err))
}

// jsonResultOf is the --json object, also the body of --json-progress's
// last event.
func jsonResultOf(res *quicxfer.Result, err error) jsonResult {
	j := jsonResult{jsonRun: jsonRunOf(err)}
	if res != nil {
		j.Name, j.Size = res.Name, res.Size
		if !res.ID.IsZero() { // an early error's Result carries only the sources
			j.ContentID = res.ID.String()
		}
		j.Verified = err == nil && res.Checked
		j.FetchedBytes, j.ResumedBytes = res.FetchedBytes, res.ResumedBytes
		j.ElapsedS = res.Elapsed.Seconds()
		for _, s := range res.Seeds {
			j.Seeds = append(j.Seeds, jsonSeed{RedactURL(s.URL), s.Bytes, s.Blocks, s.BadBlocks, s.Received, RedactURLsIn(s.Note), s.Conns, s.Protocol})
		}
	}
	return j
}

// dirFileJSON is one file's entry in a directory's --json "files" (and
// the body of a file_done or file_error event).
type dirFileJSON struct {
	Out string `json:"out"`
	jsonResult
}

// DirResult is the --json object of a directory download, also the body
// of --json-progress's last event.
type DirResult struct {
	Dir        string        `json:"dir"`
	Files      []dirFileJSON `json:"files"`
	FilesDone  int           `json:"files_done"`
	FilesTotal int           `json:"files_total"`
	jsonRun
}

// DirResultOf is the --json object of a directory download (also the body
// of --json-progress's last event): totals in the shape of a single
// file's (seeds summed by URL) and each file's own.
func DirResultOf(dir string, files []File, results []*quicxfer.Result, errs []error, elapsed time.Duration, err error) DirResult {
	j := DirResult{Dir: dir, Files: []dirFileJSON{}, FilesTotal: len(files), jsonRun: jsonRunOf(err)}
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

// WriteDirError writes the one --json-progress event of a directory
// download that failed before its display started: error, with the
// directory --json object's fields.
func WriteDirError(w io.Writer, dir string, err error) {
	writeJSONEvent(w, jsonEvent{"error", time.Now(), DirResult{Dir: dir, Files: []dirFileJSON{}, jsonRun: jsonRunOf(err)}})
}

// dirFileJSONOf is one file's entry of the --json object (and the body of
// a file_done or file_error event).
func dirFileJSONOf(dir string, f File, res *quicxfer.Result, err error) dirFileJSON {
	fj := dirFileJSON{Out: f.Out(dir), jsonResult: jsonResultOf(res, err)}
	if fj.Name == "" {
		fj.Name, fj.Size = f.Name, f.Size
	}
	return fj
}

// dirProgressJSON is the body of a progress event of a directory.
type dirProgressJSON struct {
	Dir string `json:"dir"`
	totalsJSON
	FilesDone   int                `json:"files_done"`
	FilesFailed int                `json:"files_failed"`
	FilesTotal  int                `json:"files_total"`
	Files       []fileProgressJSON `json:"files"`
	Sources     []sourceStatusJSON `json:"sources"`
}

// fileProgressJSON is one file in progress in a directory's progress
// event.
type fileProgressJSON struct {
	Name          string  `json:"name"`
	Out           string  `json:"out"`
	Size          int64   `json:"size"`
	VerifiedBytes int64   `json:"verified_bytes"`
	ResumedBytes  int64   `json:"resumed_bytes"`
	Rate          float64 `json:"rate"`
}
