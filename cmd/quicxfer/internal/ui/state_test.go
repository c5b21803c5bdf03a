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
