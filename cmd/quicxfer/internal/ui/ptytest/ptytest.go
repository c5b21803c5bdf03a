// Package ptytest holds what the tests of the terminal display share (the
// views' own in package ui, and the command's end-to-end ones): a
// pseudo-terminal to draw on, what was drawn, and that text without its
// escape sequences. No production code links it.
package ptytest

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
)

// Rows and Cols are the size of the pseudo-terminals of the tests.
const (
	Rows = 40
	Cols = 160
)

// ReadAll reads a pty's master side until the slave side is closed (EIO
// on Linux), in the background; wait returns what was read.
func ReadAll(t *testing.T, master *os.File) (wait func() string) {
	t.Helper()
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&buf, master)
	}()
	return func() string {
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("the pty was not closed")
		}
		return buf.String()
	}
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// Text is what a terminal was sent, without carriage returns and escape
// sequences.
func Text(raw string) string {
	return ansiRE.ReplaceAllString(strings.ReplaceAll(raw, "\r", ""), "")
}

// Open opens a pseudo-terminal of Rows rows and Cols columns: tty is its
// terminal side, for a view to draw on (close it when done); wait returns
// what was drawn once it is closed.
func Open(t *testing.T) (tty *os.File, wait func() string) {
	t.Helper()
	master, tty := openPTY(t)
	return tty, ReadAll(t, master)
}

// openPTY opens a pseudo-terminal of Rows rows and Cols columns, its
// master side closed at the end of the test.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, tty, err := pty.Open()
	require.NoError(t, err)
	t.Cleanup(func() { master.Close() })
	require.NoError(t, pty.Setsize(master, &pty.Winsize{Rows: Rows, Cols: Cols}))
	return master, tty
}
