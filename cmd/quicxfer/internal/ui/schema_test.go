package ui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// jsonDoc is the schema of the JSON output, which TestJSONSchema holds
// the output to.
const jsonDoc = "../../../../docs/json.md"

// docFields reads the tables of docs/json.md: for each table that follows
// a line "<!-- schema: NAME -->", the field names of its first column (the
// first `name` of each row), in order.
func docFields(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(jsonDoc)
	require.NoError(t, err)
	marker := regexp.MustCompile(`^<!-- schema: ([a-z-]+) -->$`)
	field := regexp.MustCompile("^\\| `([a-z_]+)`")
	tables := map[string][]string{}
	name, rows := "", 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if m := marker.FindStringSubmatch(line); m != nil {
			require.NotContains(t, tables, m[1], "one table per name")
			name, rows = m[1], 0
			tables[name] = nil
			continue
		}
		if name == "" {
			continue
		}
		switch {
		case strings.HasPrefix(line, "|"):
			rows++
			if rows <= 2 { // the header and the rule below it
				continue
			}
			m := field.FindStringSubmatch(line)
			require.NotNil(t, m, "%s: a row names its field first: %q", name, line)
			tables[name] = append(tables[name], m[1])
		case rows > 0 || strings.TrimSpace(line) != "":
			require.Positive(t, rows, "%s: the table follows its marker", name)
			name = ""
		}
	}
	return tables
}

// keysOf returns the keys of the JSON object b, in order; with path, those
// of the first element of the array at that key (path "sources").
func keysOf(t *testing.T, b []byte, path ...string) []string {
	t.Helper()
	var obj map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &obj), "%s", b)
	if len(path) > 0 {
		var elems []json.RawMessage
		require.NoError(t, json.Unmarshal(obj[path[0]], &elems), "%s in %s", path[0], b)
		require.NotEmpty(t, elems, "%s in %s", path[0], b)
		return keysOf(t, elems[0], path[1:]...)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	_, err := dec.Token() // {
	require.NoError(t, err)
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}

// eventsByType splits JSON lines by their "type": the first line of each.
func eventsByType(t *testing.T, out string) map[string][]byte {
	t.Helper()
	evs := map[string][]byte{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var head struct{ Type string }
		require.NoError(t, json.Unmarshal([]byte(line), &head), line)
		if _, ok := evs[head.Type]; !ok {
			evs[head.Type] = []byte(line)
		}
	}
	return evs
}

// TestJSONSchema holds every JSON object the command prints to the fields
// docs/json.md lists, in its order: the --json-progress events of a file
// and of a directory, the --json objects, and status --json. The samples
// come from the views themselves, with every optional field present.
func TestJSONSchema(t *testing.T) {
	doc := docFields(t)
	cat := func(names ...string) []string {
		var all []string
		for _, n := range names {
			require.Contains(t, doc, n, "docs/json.md has a table for %s", n)
			all = append(all, doc[n]...)
		}
		return all
	}
	without := func(all []string, field string) []string {
		require.Contains(t, all, field)
		var some []string
		for _, f := range all {
			if f != field {
				some = append(some, f)
			}
		}
		return some
	}
	const u = "quic://127.0.0.1:4433?pin=x"
	id := manifest.ID{1, 2, 3}
	start := func(name string) quicxfer.Event {
		return quicxfer.Event{Kind: quicxfer.EventStart, Time: time.Now(), Name: name, ID: id, Size: 1 << 20, BlockSize: 1 << 17}
	}
	rejected := quicxfer.Event{Kind: quicxfer.EventBlockRejected, Time: time.Now(), Source: u, Block: 3, Reason: "block 3: xxh64: block hash mismatch"}
	snap := quicxfer.Progress{Name: "f.bin", Size: 1 << 20, Verified: 1 << 19, Elapsed: time.Second,
		Seeds: []quicxfer.SeedProgress{{URL: u, State: "active", Rate: 1e6, Accepted: 1 << 19}}}
	res := &quicxfer.Result{Name: "f.bin", ID: id, Size: 1 << 20, FetchedBytes: 1 << 20, Elapsed: time.Second,
		Seeds: []quicxfer.SeedResult{{URL: u, Bytes: 1 << 20, Blocks: 8, BadBlocks: 1, Received: 1 << 20, Conns: 2, Note: "stalled: no data for 3s", Protocol: "HTTP/1.1"}}}
	failed := errors.New("no usable seed")

	// One file.
	var out bytes.Buffer
	v := NewProgressView(ViewOptions{Stdout: &out, Stderr: io.Discard, Mode: ModeJSON, JSONEvery: time.Hour})
	v.Event(start("f.bin"))
	v.Event(rejected)
	v.Progress(snap)
	v.Finish(res, failed)
	evs := eventsByType(t, out.String())
	require.Equal(t, cat("event", "start"), keysOf(t, evs["start"]), "start")
	require.Equal(t, cat("event", "source-event"), keysOf(t, evs["block_rejected"]), "an event of a source")
	require.Equal(t, cat("event", "progress"), keysOf(t, evs["progress"]), "progress")
	require.Equal(t, cat("source-status"), keysOf(t, evs["progress"], "sources"), "progress: sources")
	require.Equal(t, cat("event", "result", "run"), keysOf(t, evs["error"]), "error (done is the same)")
	require.Equal(t, cat("seed"), keysOf(t, evs["error"], "seeds"), "error: seeds")
	// With no meaningful estimate, eta_s is there, null (docs/json.md).
	out.Reset()
	v = NewProgressView(ViewOptions{Stdout: &out, Stderr: io.Discard, Mode: ModeJSON, JSONEvery: time.Hour})
	v.Event(start("f.bin"))
	v.Progress(quicxfer.Progress{Name: "f.bin", Size: 1 << 20, Seeds: []quicxfer.SeedProgress{{URL: u, State: "backoff"}}})
	evs = eventsByType(t, out.String())
	require.Equal(t, cat("event", "progress"), keysOf(t, evs["progress"]), "progress without an estimate")
	require.Contains(t, string(evs["progress"]), `"eta_s":null,`)
	out.Reset()
	require.NoError(t, WriteResult(&out, res, failed))
	require.Equal(t, cat("result", "run"), keysOf(t, out.Bytes()), "--json of a file")

	// A directory.
	files := []File{{Name: "set/a.bin", Rel: "a.bin", Size: 1 << 20}, {Name: "set/b.bin", Rel: "b.bin", Size: 1 << 20}}
	out.Reset()
	dv := NewDirView(DirViewOptions{ViewOptions: ViewOptions{Stdout: &out, Stderr: io.Discard, Mode: ModeJSON, JSONEvery: time.Hour},
		Label: "set/", OutDir: "out", Files: files, Parallel: 2})
	dv.Event(0, start("set/a.bin"))
	dv.Event(0, rejected)
	dv.Progress(0, snap)
	dv.FileEnd(0, res, nil)
	dv.FileEnd(1, res, failed)
	j := DirResultOf("out", files, []*quicxfer.Result{res, res}, []error{failed, nil}, time.Second, failed) // files[0] with its error
	dv.Finish(j, failed)
	evs = eventsByType(t, out.String())
	require.Equal(t, cat("event", "start", "dir-start"), keysOf(t, evs["start"]), "start of a file of a directory")
	require.Equal(t, cat("event", "dir-source-event", "source-event"), keysOf(t, evs["block_rejected"]), "an event of a source, in a directory")
	require.Equal(t, cat("event", "dir-progress"), keysOf(t, evs["progress"]), "progress of a directory")
	require.Equal(t, cat("file-progress"), keysOf(t, evs["progress"], "files"), "progress: files")
	require.Equal(t, cat("source-status"), keysOf(t, evs["progress"], "sources"), "progress of a directory: sources")
	require.Equal(t, without(cat("event", "dir-file", "result", "run"), "error"), keysOf(t, evs["file_done"]), "file_done: ok, no error")
	require.Equal(t, cat("event", "dir-file", "result", "run"), keysOf(t, evs["file_error"]), "file_error")
	require.Equal(t, cat("event", "dir-result", "run"), keysOf(t, evs["error"]), "error of a directory")
	b, err := json.Marshal(j)
	require.NoError(t, err)
	require.Equal(t, cat("dir-result", "run"), keysOf(t, b), "--json of a directory")
	require.Equal(t, cat("dir-file", "result", "run"), keysOf(t, b, "files"), "--json of a directory: files")
	require.Equal(t, cat("seed"), keysOf(t, b, "files", "seeds"), "--json of a directory: a file's seeds")
	// The directory's seeds are summed: no note, no conns.
	require.Equal(t, []string{"url", "bytes", "blocks", "bad_blocks", "received_bytes"}, keysOf(t, b, "seeds"), "--json of a directory: seeds")
	out.Reset()
	WriteDirError(&out, "out", failed)
	require.Equal(t, cat("event", "dir-result", "run"), keysOf(t, out.Bytes()), "the error of a directory before it started")

	// status --json.
	st := &Status{Out: "f.bin", State: "partial", Name: "f.bin", Size: 1, ContentID: "x", BlockSize: 1, Blocks: 1, BlocksVerified: 1, BytesVerified: 1,
		Percent: 1, Bitmap: "#", Running: true, PID: 1, ResumeCommand: "x", ResumeArgs: []string{"x"}, ResumeDir: "/", TokenNeeded: true, PasswordNeeded: true, Note: "x", NotShown: true}
	b, err = json.Marshal(st)
	require.NoError(t, err)
	require.Equal(t, cat("status"), keysOf(t, b), "status --json")
	b, err = json.Marshal(StatusDir{Dir: ".", Files: []*Status{st}, Skipped: []string{"x"}})
	require.NoError(t, err)
	require.Equal(t, cat("status-dir"), keysOf(t, b), "status --json DIR")
}
