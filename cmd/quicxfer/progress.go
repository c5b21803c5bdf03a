package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// progressView shows a download's progress on standard error: redrawn in
// place on a terminal (a total line and a line per seed), a plain line every
// few seconds otherwise.
type progressView struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	lines int // lines drawn last time (tty)
	last  time.Time
	prev  int64
	prevT time.Duration
	rate  float64
}

func newProgressView(w io.Writer) *progressView {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progressView{w: w, tty: tty}
}

func (v *progressView) update(p quicxfer.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if dt := (p.Elapsed - v.prevT).Seconds(); dt > 0.5 {
		inst := float64(p.Verified-v.prev) / dt
		if v.rate == 0 {
			v.rate = inst
		} else {
			v.rate = 0.6*v.rate + 0.4*inst
		}
		v.prev, v.prevT = p.Verified, p.Elapsed
	}
	pct := 100.0
	if p.Size > 0 {
		pct = 100 * float64(p.Verified) / float64(p.Size)
	}
	eta := "--"
	if v.rate > 0 && p.Verified < p.Size {
		eta = time.Duration(float64(p.Size-p.Verified) / v.rate * float64(time.Second)).Round(time.Second).String()
	}
	total := fmt.Sprintf("%5.1f%% %s of %s  %s/s  ETA %s", pct, formatBytes(float64(p.Verified)), formatBytes(float64(p.Size)), formatBytes(v.rate), eta)
	if !v.tty {
		if time.Since(v.last) >= 5*time.Second {
			v.last = time.Now()
			fmt.Fprintln(v.w, "progress: "+total)
		}
		return
	}
	var b strings.Builder
	v.clearLocked(&b)
	width := 30
	filled := int(pct / 100 * float64(width))
	fmt.Fprintf(&b, "[%s%s] %s\n", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), total)
	for _, s := range p.Seeds {
		addr, _, _ := strings.Cut(s.URL, "?") // the pin adds nothing here
		fmt.Fprintf(&b, "  %-40.40s %-8s %10s/s %10s\n", addr, s.State, formatBytes(s.Rate), formatBytes(float64(s.Accepted)))
	}
	v.lines = 1 + len(p.Seeds)
	io.WriteString(v.w, b.String())
}

// clear erases what the view drew, so that a message can be printed.
func (v *progressView) clear() {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b strings.Builder
	v.clearLocked(&b)
	io.WriteString(v.w, b.String())
}

func (v *progressView) clearLocked(b *strings.Builder) {
	for ; v.lines > 0; v.lines-- {
		b.WriteString("\x1b[1A\x1b[2K")
	}
}
