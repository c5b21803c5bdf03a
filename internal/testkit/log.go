package testkit

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// LogWriter writes each Write to t's log as one line.
type LogWriter struct{ T testing.TB }

func (w LogWriter) Write(p []byte) (int, error) {
	w.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Logger returns a logger that writes warnings and errors to t's log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(LogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Serve starts a server for a test with start and stops it with stop when
// the test ends; a failing start ends the test, a failing stop fails it.
func Serve[S any](t testing.TB, what string, start func() (S, error), stop func(S) error) S {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatalf("starting %s: %v", what, err)
	}
	t.Cleanup(func() {
		if err := stop(s); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	})
	return s
}

// Loopback is the address a test's server listens on: 127.0.0.1, a free
// port.
const Loopback = "127.0.0.1:0"

// Logs collects the messages of a Logf callback (Logf is one), for a test
// to look at while or after they are written.
type Logs struct {
	mu    sync.Mutex
	lines []string
}

// Logf records one message.
func (l *Logs) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

// String returns the messages so far, one a line.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
