package ui

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui/ptytest"
	"github.com/quicxfer/quicxfer/quicxfer"
)

// TestBarsSourcesAppear drives the terminal view directly on a pty:
// sources that appear during the download get a line of their own, and
// with more sources than fit, the fastest are shown and the rest summed.
func TestBarsSourcesAppear(t *testing.T) {
	tty, wait := ptytest.Open(t)

	var stdout bytes.Buffer
	v := NewProgressView(viewOptions(&stdout, tty, false, false, time.Second))
	require.Equal(t, ModeBars, v.mode)
	const size = 100 << 20
	v.Event(quicxfer.Event{Kind: quicxfer.EventStart, Time: time.Now(), Name: "big.iso", Size: size, BlockSize: 1 << 20})
	snap := func(verified int64, n int) quicxfer.Progress {
		p := quicxfer.Progress{Name: "big.iso", Size: size, Verified: verified, Elapsed: time.Duration(verified/(10<<20)) * time.Second}
		for i := range n {
			p.Seeds = append(p.Seeds, quicxfer.SeedProgress{URL: fmt.Sprintf("quic://10.0.0.%d:4433?pin=x", i+1), State: "active", Rate: float64(i+1) * 1e6, Accepted: verified / int64(n)})
		}
		return p
	}
	v.Progress(snap(10<<20, 1))
	time.Sleep(400 * time.Millisecond) // drawn with one source
	v.Progress(snap(20<<20, 3))
	v.Logf("seed %s went away", "quic://10.0.0.2:4433")
	v.Event(quicxfer.Event{Kind: quicxfer.EventSourceDropped, Time: time.Now(), Source: "quic://10.0.0.99:4433?pin=y", Reason: "serves another file"})
	time.Sleep(400 * time.Millisecond)
	v.Progress(snap(60<<20, 14))
	time.Sleep(400 * time.Millisecond)
	v.Finish(nil, errors.New("interrupted"))
	require.NoError(t, tty.Close())
	text := ptytest.Text(wait())
	t.Logf("terminal:\n%s", text)

	require.Contains(t, text, "quicxfer: seed quic://10.0.0.2:4433 went away", "messages are printed above the bars")
	require.Regexp(t, `quic://10\.0\.0\.3:4433 +active +3\.0 MB/s`, text, "a source that appeared later has its line")
	require.Regexp(t, `quic://10\.0\.0\.14:4433 +active +14\.0 MB/s`, text)
	require.Regexp(t, `quic://10\.0\.0\.99:4433 +dropped +0 B/s +0 B +0\.0%  \(serves another file\)`, text, "a source left out has a line that says why")
	require.Regexp(t, `\+ 6 more sources +- +15\.0 MB/s`, text, "the slowest six summed in one line (0+1+2+3+4+5 MB/s)")
	final := text[strings.LastIndex(text, "big.iso"):]
	require.NotContains(t, final, "quic://10.0.0.1:4433", "the slowest is not listed on its own once summed")
	require.Contains(t, final, "quic://10.0.0.6:4433")
	require.Contains(t, text, "(stopped)", "an interrupted download says so")
	require.Regexp(t, `big\.iso \[=+>?-*\] +60\.0% 62\.9 MB of 104\.9 MB, average 10\.5 MB/s \(stopped\)\n`, final, "the last picture: the average over the run, no ETA")
	require.NotContains(t, final, "active", "no source is in use once the download stopped")
	require.Regexp(t, `quic://10\.0\.0\.14:4433 +stopped +0 B/s`, final)
	require.Empty(t, stdout.String(), "the bars never write to standard output")
}

// viewOptions are the options of a view on stdout and stderr in the mode
// get's flags would pick (PickMode).
func viewOptions(stdout, stderr io.Writer, quiet, jsonEvents bool, jsonEvery time.Duration) ViewOptions {
	return ViewOptions{Stdout: stdout, Stderr: stderr, Mode: PickMode(stderr, "xterm-256color", quiet, jsonEvents), JSONEvery: jsonEvery}
}

// TestDumbTerminal: a terminal whose TERM is dumb cannot move its cursor:
// it gets the plain lines, not the bars.
func TestDumbTerminal(t *testing.T) {
	tty, wait := ptytest.Open(t)
	require.Equal(t, ModeBars, PickMode(tty, "xterm-256color", false, false))
	require.Equal(t, ModeBars, PickMode(tty, "", false, false))
	require.Equal(t, ModeJSON, PickMode(tty, "dumb", false, true))
	require.Equal(t, ModeQuiet, PickMode(tty, "dumb", true, false))
	v := NewProgressView(ViewOptions{Stdout: io.Discard, Stderr: tty, Mode: PickMode(tty, "dumb", false, false)})
	v.Event(quicxfer.Event{Kind: quicxfer.EventStart, Time: time.Now(), Name: "f.bin", Size: 100})
	v.Progress(quicxfer.Progress{Name: "f.bin", Size: 100, Verified: 50, Elapsed: time.Second,
		Seeds: []quicxfer.SeedProgress{{URL: "quic://10.0.0.1:4433?pin=x", State: "active", Rate: 50, Accepted: 50}}})
	v.Finish(nil, errors.New("interrupted"))
	require.NoError(t, tty.Close())
	raw := wait()
	require.NotContains(t, raw, "\x1b", "no escape sequence")
	require.Regexp(t, `^progress:  50\.0% 50 B of 100 B, now 50 B/s, ETA 1s; quic://10\.0\.0\.1:4433 active 50 B/s 100\.0%\r?\n$`, raw)
}

// TestBarsTerminalShrinks draws the bars on a pty, makes it narrower than
// the lines drawn, and draws on: a terminal that reflows its lines (most
// do) would leave the top of the old picture above the new one, as the
// bars move the cursor up by the lines they drew, not by the rows those
// take once wrapped. What the terminal shows at the end is the last
// picture alone, each line within the new width.
func TestBarsTerminalShrinks(t *testing.T) {
	tty, term := ptytest.OpenTerm(t)
	v := NewProgressView(viewOptions(io.Discard, tty, false, false, time.Second))
	require.Equal(t, ModeBars, v.mode)
	const size = 100 << 20
	name := "a-rather-long-file-name-of-a-disk-image.iso"
	v.Event(quicxfer.Event{Kind: quicxfer.EventStart, Time: time.Now(), Name: name, Size: size, BlockSize: 1 << 20})
	snap := func(verified int64) {
		p := quicxfer.Progress{Name: name, Size: size, Verified: verified, Elapsed: time.Duration(verified/(10<<20)) * time.Second}
		for i := range 3 {
			p.Seeds = append(p.Seeds, quicxfer.SeedProgress{URL: fmt.Sprintf("quic://seed-number-%d.mirrors.example.org:4433?pin=x", i+1), State: "active", Rate: 1e6, Accepted: verified / 3})
		}
		v.Progress(p)
	}
	snap(10 << 20)
	v.Event(quicxfer.Event{Kind: quicxfer.EventSourceDown, Time: time.Now(), Source: "quic://seed-number-3.mirrors.example.org:4433?pin=x", Reason: "connection lost: the seed went away without a word"})
	time.Sleep(500 * time.Millisecond) // drawn 160 columns wide
	const narrow = 60
	term.Resize(t, narrow)
	for k := range 4 {
		time.Sleep(300 * time.Millisecond)
		snap(int64(20+10*k) << 20)
	}
	time.Sleep(300 * time.Millisecond)
	v.Finish(nil, errors.New("interrupted"))
	require.NoError(t, tty.Close())
	raw, screen := term.Wait(t)
	t.Logf("the terminal shows:\n%s", strings.Join(screen, "\n"))
	require.Regexp(t, `\x1b\[\d+A`, raw)

	require.Len(t, screen, 4, "the total line and three source lines, nothing left of the wide picture")
	require.True(t, strings.HasPrefix(screen[0], name+" "), screen[0])
	require.Contains(t, screen[0], "50.0%", "the last figures")
	for _, row := range screen {
		require.LessOrEqual(t, utf8.RuneCountInString(row), narrow, row)
	}
	require.Contains(t, screen[1], "stopped")
}
