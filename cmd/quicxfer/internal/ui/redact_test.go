package ui

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// TestProgressRedactsPasswords drives the views directly: a source URL
// with a password is shown redacted in plain progress lines, JSON events,
// the summary of a file and of a directory.
func TestProgressRedactsPasswords(t *testing.T) {
	const u = "https://user:s3cret@mirror.example/f.bin"
	const shown = "https://user:xxxxx@mirror.example/f.bin"
	snap := quicxfer.Progress{Name: "f.bin", Size: 10 << 20, Verified: 1 << 20, Elapsed: time.Second,
		Seeds: []quicxfer.SeedProgress{{URL: u, State: "active", Rate: 1e6, Accepted: 1 << 20}}}
	res := &quicxfer.Result{Name: "f.bin", Size: 10 << 20, FetchedBytes: 10 << 20, Elapsed: time.Second,
		Seeds: []quicxfer.SeedResult{{URL: u, Bytes: 10 << 20, Blocks: 10}}}

	var plainOut, plainErr bytes.Buffer
	v := NewProgressView(viewOptions(&plainOut, &plainErr, false, false, time.Second))
	require.Equal(t, ModePlain, v.mode)
	v.Event(quicxfer.Event{Kind: quicxfer.EventStart, Time: time.Now(), Name: "f.bin", Size: 10 << 20, BlockSize: 1 << 20})
	v.Event(quicxfer.Event{Kind: quicxfer.EventSourceJoined, Time: time.Now(), Source: u})
	v.Progress(snap)
	v.Logf("mirror %s sent no data for 3s; trying it again later", u)
	v.Finish(res, nil)
	res.Seeds[0].Note = "dropped: " + u + " failed"
	Summary(&plainErr, "f.bin", res)

	var jsonOut, jsonErr bytes.Buffer
	jv := NewProgressView(viewOptions(&jsonOut, &jsonErr, false, true, time.Millisecond))
	jv.Event(quicxfer.Event{Kind: quicxfer.EventStart, Time: time.Now(), Name: "f.bin", Size: 10 << 20, BlockSize: 1 << 20})
	jv.Event(quicxfer.Event{Kind: quicxfer.EventSourceDown, Time: time.Now(), Source: u, Reason: "503"})
	jv.Progress(snap)
	jv.Finish(res, nil)

	var dirOut, dirErr bytes.Buffer
	files := []File{{Name: "set/f.bin", Rel: "f.bin", Size: 10 << 20}}
	dv := NewDirView(DirViewOptions{ViewOptions: viewOptions(&dirOut, &dirErr, false, true, time.Millisecond), Label: "set/", OutDir: "out", Files: files, Parallel: 1})
	dv.Event(0, quicxfer.Event{Kind: quicxfer.EventStart, Time: time.Now(), Name: "set/f.bin", Size: 10 << 20, BlockSize: 1 << 20})
	dv.Event(0, quicxfer.Event{Kind: quicxfer.EventSourceJoined, Time: time.Now(), Source: u})
	dv.Progress(0, snap)
	dv.FileEnd(0, res, nil)
	dv.Logf("%s: mirror %s dropped: it failed 6 times in a row", "f.bin", u)
	dv.Finish(DirResultOf("out", files, []*quicxfer.Result{res}, []error{nil}, time.Second, nil), nil)
	DirSummary(&dirErr, "out", files, []*quicxfer.Result{res}, time.Second)

	for name, b := range map[string]*bytes.Buffer{"plain lines": &plainErr, "JSON events": &jsonOut, "directory events": &dirOut, "directory summary": &dirErr} {
		require.NotContains(t, b.String(), "s3cret", name)
		require.Contains(t, b.String(), shown, name)
	}
	require.Contains(t, plainErr.String(), "progress: ", "a plain line was written")
	j := jsonResultOf(res, errors.New("no remaining source: "+u+": 503"))
	require.Equal(t, shown, j.Seeds[0].URL, "--json")
	require.NotContains(t, j.Seeds[0].Note+j.Error, "s3cret", "--json")
	require.Contains(t, j.Error, shown, "--json")
}
