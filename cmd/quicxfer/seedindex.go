package main

import (
	"io"
	"os"
	"sync"

	"golang.org/x/term"

	"github.com/quicxfer/quicxfer/seed"
)

// indexView shows a seed's indexing (seed.IndexProgress) on standard error
// when it is a terminal: one line, "quicxfer: indexing: 3/12 files, ...",
// redrawn in place. The seed's log lines are written through it, so that
// each goes above that line and the line is drawn again below it. On
// anything but a terminal (or with TERM=dumb) it draws nothing and passes
// the log lines on as they are: the log's own "indexing" lines say the
// progress there.
type indexView struct {
	mu   sync.Mutex
	w    io.Writer
	fd   int  // the terminal's, when term
	term bool // draw the line
	line string
	last seed.IndexProgress // the last report
}

func newIndexView(w io.Writer) *indexView {
	v := &indexView{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		v.fd, v.term = int(f.Fd()), true
	}
	return v
}

// eraseLine is what takes the cursor to the start of the line and clears it.
const eraseLine = "\r\x1b[K"

// Write writes p (whole log lines) above the progress line.
func (v *indexView) Write(p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.line == "" {
		return v.w.Write(p)
	}
	_, _ = io.WriteString(v.w, eraseLine)
	n, err := v.w.Write(p)
	_, _ = io.WriteString(v.w, v.line)
	return n, err
}

// report is the seed's OnIndexProgress: it draws the line, and clears it
// when indexing ends.
func (v *indexView) report(p seed.IndexProgress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.last = p
	if !v.term {
		return
	}
	if p.Done {
		if v.line != "" {
			_, _ = io.WriteString(v.w, eraseLine)
		}
		v.line = ""
		return
	}
	line := "quicxfer: indexing: " + p.String()
	// Never wider than the terminal, now: a wrapped line could not be
	// redrawn in place.
	if width, _, err := term.GetSize(v.fd); err == nil && width > 1 && len(line) > width-1 {
		line = line[:width-1]
	}
	v.line = line
	_, _ = io.WriteString(v.w, eraseLine+line)
}

// lastReport returns the last progress reported.
func (v *indexView) lastReport() seed.IndexProgress {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.last
}
