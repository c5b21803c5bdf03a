package seed

import (
	"context"
	"errors"
)

// background is a Serve that Start runs in a goroutine of its own.
type background struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Serve returned
	err    error         // what Serve returned; read after done
}

// Start is New followed by Serve in a goroutine that the server owns: it
// returns once the server is ready, and it serves until ctx is done or
// Stop or Close is called.
func Start(ctx context.Context, opts Options) (*Server, error) {
	s, err := New(ctx, opts)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	bg := &background{cancel: cancel, done: make(chan struct{})}
	s.bg = bg
	go func() {
		defer close(bg.done)
		bg.err = s.Serve(sctx)
	}()
	return s, nil
}

// Stop ends a server that Start started with Serve's graceful shutdown and
// returns what Serve returned: nil after a clean shutdown, also when the
// server was closed already. For a server that Start did not start, it is
// Close.
func (s *Server) Stop() error {
	if s.bg == nil {
		return s.Close()
	}
	s.bg.cancel()
	<-s.bg.done
	if errors.Is(s.bg.err, ErrClosed) {
		return nil
	}
	return s.bg.err
}

// URL returns the seed's first URL (loopback, with the pin).
func (s *Server) URL() string { return s.urls[0] }
