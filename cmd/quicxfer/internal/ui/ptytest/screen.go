package ptytest

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
)

// Term is a pseudo-terminal whose size a test changes while a view draws
// on it, and what was drawn, for Screen.
type Term struct {
	master  *os.File
	mu      sync.Mutex
	buf     bytes.Buffer
	resizes []Resize
	done    chan struct{}
}

// Resize is a change of a terminal's width, At bytes into what it was sent.
type Resize struct{ At, Cols int }

// OpenTerm opens a pseudo-terminal of Rows rows and Cols columns as Open
// does: tty is its terminal side, for a view to draw on (close it when
// done).
func OpenTerm(t *testing.T) (tty *os.File, term *Term) {
	t.Helper()
	master, tty := openPTY(t)
	term = &Term{master: master, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			term.mu.Lock()
			term.buf.Write(b[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return tty, term
}

// Resize makes the terminal cols wide. Whatever was read before is taken
// as drawn at the old width, whatever comes after at the new one (bytes
// in flight reach a real terminal after its resize too).
func (tm *Term) Resize(t *testing.T, cols int) {
	t.Helper()
	tm.mu.Lock()
	tm.resizes = append(tm.resizes, Resize{At: tm.buf.Len(), Cols: cols})
	tm.mu.Unlock()
	require.NoError(t, pty.Setsize(tm.master, &pty.Winsize{Rows: Rows, Cols: uint16(cols)}))
}

// Wait returns what was drawn once the terminal side is closed, and the
// rows the terminal shows then (Screen).
func (tm *Term) Wait(t *testing.T) (raw string, screen []string) {
	t.Helper()
	select {
	case <-tm.done:
	case <-time.After(60 * time.Second):
		t.Fatal("the pty was not closed")
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	raw = tm.buf.String()
	return raw, Screen(raw, Cols, tm.resizes)
}

// Screen is what a terminal cols wide, resized as resizes say, shows once
// it was sent raw: its rows from the first one written, without trailing
// blanks. It reflows its lines when its width changes, as most terminals
// do (VTE, Konsole, kitty, iTerm2, tmux): a line that wrapped is one line
// again, wrapped at the new width. It knows what the bars send: text,
// carriage return, new line, cursor up (CSI n A), erase below (CSI J) and
// erase to the end of the line (CSI K); other sequences are skipped.
func Screen(raw string, cols int, resizes []Resize) []string {
	s := &screen{cols: cols, rows: []screenRow{{}}}
	k := 0
	for i := 0; i < len(raw); {
		for k < len(resizes) && resizes[k].At <= i {
			s.resize(resizes[k].Cols)
			k++
		}
		if raw[i] == 0x1b && i+1 < len(raw) && raw[i+1] == '[' {
			j := i + 2
			for j < len(raw) && !(raw[j] >= '@' && raw[j] <= '~') {
				j++
			}
			if j < len(raw) {
				s.csi(raw[i+2:j], raw[j])
			}
			i = j + 1
			continue
		}
		r, n := utf8.DecodeRuneInString(raw[i:])
		i += n
		switch r {
		case '\r':
			s.c = 0
		case '\n':
			s.down()
		default:
			s.put(r)
		}
	}
	for ; k < len(resizes); k++ {
		s.resize(resizes[k].Cols)
	}
	out := make([]string, 0, len(s.rows))
	for _, r := range s.rows {
		out = append(out, strings.TrimRight(string(r.text), " "))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

type screen struct {
	cols int
	rows []screenRow
	r, c int // the cursor
}

type screenRow struct {
	text    []rune
	wrapped bool // the line goes on in the next row
}

func (s *screen) down() {
	s.r++
	if s.r == len(s.rows) {
		s.rows = append(s.rows, screenRow{})
	}
}

func (s *screen) put(r rune) {
	if s.c >= s.cols {
		s.rows[s.r].wrapped = true
		s.down()
		s.c = 0
	}
	row := &s.rows[s.r]
	for len(row.text) < s.c {
		row.text = append(row.text, ' ')
	}
	if s.c < len(row.text) {
		row.text[s.c] = r
	} else {
		row.text = append(row.text, r)
	}
	s.c++
}

func (s *screen) csi(params string, final byte) {
	n, err := strconv.Atoi(params)
	switch final {
	case 'A':
		if err != nil || n < 1 {
			n = 1
		}
		s.r = max(0, s.r-n)
	case 'J': // below the cursor (the bars send no parameter)
		s.eraseLine()
		s.rows = s.rows[:s.r+1]
	case 'K':
		s.eraseLine()
	}
}

func (s *screen) eraseLine() {
	row := &s.rows[s.r]
	row.text = row.text[:min(s.c, len(row.text))]
	row.wrapped = false
}

// resize reflows every line at the new width, the cursor with its line.
func (s *screen) resize(cols int) {
	var lines [][]rune
	curLine, curOff := 0, 0
	for i, row := range s.rows {
		if i == 0 || !s.rows[i-1].wrapped {
			lines = append(lines, nil)
		}
		last := len(lines) - 1
		if i == s.r {
			curLine, curOff = last, len(lines[last])+s.c
		}
		text := row.text
		if row.wrapped {
			for len(text) < s.cols {
				text = append(text, ' ')
			}
		}
		lines[last] = append(lines[last], text...)
	}
	s.cols = cols
	s.rows = s.rows[:0:0]
	for l, line := range lines {
		start := len(s.rows)
		for len(line) > cols {
			s.rows = append(s.rows, screenRow{text: line[:cols:cols], wrapped: true})
			line = line[cols:]
		}
		s.rows = append(s.rows, screenRow{text: line})
		if l == curLine {
			s.r, s.c = start+curOff/cols, curOff%cols
			if curOff > 0 && curOff%cols == 0 && s.r > start && s.r >= len(s.rows) {
				s.r, s.c = s.r-1, cols // at the end of a full row
			}
		}
	}
	for s.r >= len(s.rows) {
		s.rows = append(s.rows, screenRow{})
	}
}
