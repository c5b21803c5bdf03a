package ui

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui/ptytest"
	"github.com/quicxfer/quicxfer/quicxfer"
)

// TestDirViewConcurrent drives the directory display on a pty from many
// download loops at once (run with -race): past the lines there are, the
// files in progress beyond the ninth are summed in one line; messages are
// printed above the display; the totals add up at the end.
func TestDirViewConcurrent(t *testing.T) {
	tty, wait := ptytest.Open(t)

	const n, size = 12, 10 << 20
	files := make([]File, n)
	for i := range files {
		rel := fmt.Sprintf("f%02d.bin", i)
		files[i] = File{Name: "set/" + rel, Rel: rel, Size: size}
	}
	var stdout bytes.Buffer
	v := NewDirView(DirViewOptions{ViewOptions: viewOptions(&stdout, tty, false, false, time.Second), Label: "set/", OutDir: "out", Files: files, Parallel: n})
	require.Equal(t, ModeBars, v.mode)
	var wg sync.WaitGroup
	running := make(chan struct{})
	var started sync.WaitGroup
	started.Add(n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.Event(i, quicxfer.Event{Kind: quicxfer.EventStart, Time: time.Now(), Name: files[i].Name, Size: size, BlockSize: 1 << 20})
			snap := func(verified int64, d time.Duration) quicxfer.Progress {
				return quicxfer.Progress{Name: files[i].Name, Size: size, Verified: verified, Elapsed: d,
					Seeds: []quicxfer.SeedProgress{{URL: "quic://10.0.0.1:4433?pin=x", State: "active", Rate: 1e6, Accepted: verified}}}
			}
			for k := range 5 {
				v.Progress(i, snap(int64(k)<<20, time.Duration(k)*time.Second))
			}
			started.Done()
			<-running
			v.Progress(i, snap(size, 10*time.Second))
			if i == 3 {
				v.Logf("%s: seed went away", files[i].Rel)
			}
			v.FileEnd(i, &quicxfer.Result{Name: files[i].Name, Size: size}, nil)
		}()
	}
	started.Wait()
	time.Sleep(400 * time.Millisecond) // drawn with every file in progress
	close(running)
	wg.Wait()
	j := DirResult{FilesDone: n}
	v.Finish(j, nil)
	require.NoError(t, tty.Close())
	text := ptytest.Text(wait())
	t.Logf("terminal:\n%s", text)

	require.Regexp(t, `set/ \[=+>?-*\] +\d+\.\d% [\d.]+ MB of 125\.8 MB`, text)
	require.Regexp(t, `(?m)^  f\d\d\.bin +40\.0% +4\.2 MB of 10\.5 MB +[\d.]+ [kM]?B/s$`, text, "a line per file in progress")
	require.Regexp(t, `(?m)^  \+ 3 more files in progress, [\d.]+ [kM]?B/s$`, text, "the files past nine lines summed")
	require.Contains(t, text, "quicxfer: f03.bin: seed went away", "messages above the display")
	require.Contains(t, text, "100.0% 125.8 MB of 125.8 MB", "complete at the end")
	require.Contains(t, text, "files done 12 of 12")
	require.Empty(t, stdout.String(), "the bars never write to standard output")
	v.mu.Lock()
	defer v.mu.Unlock()
	require.Equal(t, int64(n*size), v.verified)
	require.Equal(t, n, v.done)
	require.Empty(t, v.running)
}
