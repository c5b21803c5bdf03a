package seed

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// StartForTest starts a seed for a test and stops it when the test ends. It
// listens on 127.0.0.1 with a free port and keeps its state in t.TempDir()
// unless opts say otherwise, and logs warnings and errors to t.Log. Serve
// runs in a goroutine that the test's cleanup cancels and waits for.
func StartForTest(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("starting seed: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("seed: %v", err)
		}
	})
	return s
}

// URL returns the seed's first URL (loopback, with the pin).
func (s *Server) URL() string { return s.urls[0] }

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
