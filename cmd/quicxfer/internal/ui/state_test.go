package ui

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// TestSourceStates: which states say why, and the order in which a
// directory's progress shows the best state of a source across its files.
func TestSourceStates(t *testing.T) {
	for _, s := range []sourceState{stateDropped, stateBackoff, quicxfer.StateShutdown} {
		require.True(t, showsReason(s), s)
	}
	for _, s := range []sourceState{"active", stateProbing, "connecting", stateIdle} {
		require.False(t, showsReason(s), s)
	}
	order := []sourceState{"active", stateProbing, "connecting", stateBackoff, quicxfer.StateShutdown, stateDropped, stateIdle}
	for i := 1; i < len(order); i++ {
		require.True(t, betterState(order[i-1], order[i]), "%s over %s", order[i-1], order[i])
		require.False(t, betterState(order[i], order[i-1]), "%s not over %s", order[i], order[i-1])
	}
}

// TestDirProgressBestState: a source used by two files in progress shows
// in a directory's progress event with the best of its two states, and
// idle once no file in progress uses it.
func TestDirProgressBestState(t *testing.T) {
	const u = "quic://10.0.0.1:4433?pin=x"
	var out bytes.Buffer
	files := []File{{Name: "set/a", Rel: "a", Size: 10}, {Name: "set/b", Rel: "b", Size: 10}}
	v := NewDirView(DirViewOptions{ViewOptions: ViewOptions{Stdout: &out, Stderr: io.Discard, Mode: ModeJSON, JSONEvery: time.Nanosecond},
		Label: "set/", OutDir: "out", Files: files, Parallel: 2})
	snap := func(state quicxfer.SourceState) quicxfer.Progress {
		return quicxfer.Progress{Size: 10, Seeds: []quicxfer.SeedProgress{{URL: u, State: state}}}
	}
	lastState := func() string {
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var ev struct {
			Type    string
			Sources []struct{ State string }
		}
		require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &ev))
		require.Equal(t, "progress", ev.Type)
		require.Len(t, ev.Sources, 1)
		return ev.Sources[0].State
	}
	for i := range files {
		v.Event(i, quicxfer.Event{Kind: quicxfer.EventStart, Time: time.Now(), Name: files[i].Name, Size: 10})
	}
	v.Progress(0, snap("backoff"))
	time.Sleep(time.Millisecond) // past JSONEvery
	v.Progress(1, snap("active"))
	require.Equal(t, "active", lastState(), "the better of backoff and active")
	time.Sleep(time.Millisecond)
	v.Progress(1, snap("dropped"))
	require.Equal(t, "backoff", lastState(), "the better of backoff and dropped")
	v.FileEnd(0, nil, io.ErrUnexpectedEOF)
	v.FileEnd(1, nil, io.ErrUnexpectedEOF)
	v.Finish(DirResult{}, io.ErrUnexpectedEOF)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Contains(t, lines[len(lines)-2], `"state":"idle"`, "the last progress event: no file uses it")
}

// TestSourceGone: a source that went down or stalled shows as gone until
// it joins again, even while the library counts it usable (probing); one
// that is no longer in the snapshots shows as gone; a dropped one stays
// dropped. The same in a directory's progress event.
func TestSourceGone(t *testing.T) {
	const a, b = "quic://10.0.0.1:4433?pin=x", "quic://10.0.0.2:4433?pin=y"
	var out bytes.Buffer
	v := NewProgressView(ViewOptions{Stdout: &out, Stderr: io.Discard, Mode: ModeJSON, JSONEvery: time.Hour})
	v.Event(quicxfer.Event{Kind: quicxfer.EventStart, Time: time.Now(), Name: "f", Size: 100})
	snap := func(seeds ...quicxfer.SeedProgress) {
		v.Progress(quicxfer.Progress{Name: "f", Size: 100, Seeds: seeds})
	}
	states := func() map[string]string {
		v.mu.Lock()
		defer v.mu.Unlock()
		got := map[string]string{}
		for _, r := range v.rows {
			got[r.label] = r.state + " " + r.note
		}
		body := v.progressJSONLocked(time.Now()).(progressJSON)
		for _, s := range body.Sources {
			label, _, _ := strings.Cut(s.URL, "?")
			require.Equal(t, strings.Fields(got[label])[0], s.State, "the JSON says what the line says")
		}
		return got
	}
	const la, lb = "quic://10.0.0.1:4433", "quic://10.0.0.2:4433"
	snap(quicxfer.SeedProgress{URL: a, State: "active", Rate: 1e6}, quicxfer.SeedProgress{URL: b, State: "active", Rate: 1e6})
	require.Equal(t, map[string]string{la: "active ", lb: "active "}, states())

	v.Event(quicxfer.Event{Kind: quicxfer.EventSourceDown, Time: time.Now(), Source: a, Reason: "connection lost"})
	require.Regexp(t, `^  quic://10\.0\.0\.1:4433  gone +0 B/s .*  \(connection lost\)$`, v.rowText(0), "gone at once, without its rate")
	for _, lib := range []quicxfer.SourceState{"backoff", "connecting", "probing"} {
		snap(quicxfer.SeedProgress{URL: a, State: lib}, quicxfer.SeedProgress{URL: b, State: "active", Rate: 1e6})
		require.Equal(t, "gone connection lost", states()[la], "the library says %s", lib)
	}
	v.Event(quicxfer.Event{Kind: quicxfer.EventSourceJoined, Time: time.Now(), Source: a})
	snap(quicxfer.SeedProgress{URL: a, State: "probing"}, quicxfer.SeedProgress{URL: b, State: "active", Rate: 1e6})
	require.Equal(t, "probing ", states()[la], "back once it joined again")

	v.Event(quicxfer.Event{Kind: quicxfer.EventStalled, Time: time.Now(), Source: a, Reason: "no data for 3s"})
	snap(quicxfer.SeedProgress{URL: a, State: "probing"}, quicxfer.SeedProgress{URL: b, State: "active", Rate: 1e6})
	require.Equal(t, "gone no data for 3s", states()[la], "a stalled source the library probes again")

	snap(quicxfer.SeedProgress{URL: a, State: "probing"})
	require.Equal(t, "gone ", states()[lb], "no longer in the snapshots")
	v.Event(quicxfer.Event{Kind: quicxfer.EventSourceDropped, Time: time.Now(), Source: a, Reason: "serves another file"})
	snap(quicxfer.SeedProgress{URL: a, State: "dropped"})
	require.Equal(t, "dropped serves another file", states()[la])

	// A directory: the state of its progress event.
	out.Reset()
	files := []File{{Name: "set/a", Rel: "a", Size: 10}}
	dv := NewDirView(DirViewOptions{ViewOptions: ViewOptions{Stdout: &out, Stderr: io.Discard, Mode: ModeJSON, JSONEvery: time.Hour},
		Label: "set/", OutDir: "out", Files: files, Parallel: 1})
	dv.Event(0, quicxfer.Event{Kind: quicxfer.EventStart, Time: time.Now(), Name: "set/a", Size: 10})
	dv.Event(0, quicxfer.Event{Kind: quicxfer.EventStalled, Time: time.Now(), Source: a, Reason: "no data for 3s"})
	dv.Progress(0, quicxfer.Progress{Size: 10, Seeds: []quicxfer.SeedProgress{{URL: a, State: "probing"}}})
	dv.mu.Lock()
	body := dv.progressJSONLocked(time.Now()).(dirProgressJSON)
	dv.mu.Unlock()
	require.Equal(t, "gone", body.Sources[0].State)
	require.Nil(t, body.ETAS, "no estimate: no source delivers")
}
