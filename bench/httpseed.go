package bench

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPSeed is one HTTP mirror for the aria2 baseline: Go's net/http serving
// one file with http.ServeContent (single and multiple byte ranges, HEAD,
// If-Range), keep-alive on, no compression.
//
// Go's server rather than nginx: it starts in-process in a millisecond on a
// listener made anywhere (127.0.0.1 or a Fabric's server namespace), needs
// no configuration file or child process, and is not the bottleneck —
// a range body is a LimitedReader over an *os.File, which net/http hands to
// the TCP connection's ReadFrom, i.e. sendfile(2), as nginx would. On this
// machine one aria2c connection from a Go seed on loopback is limited by
// aria2c itself (see the package report), so nginx would change no figure.
type HTTPSeed struct {
	path     string
	ln       net.Listener
	srv      *http.Server
	done     chan struct{}
	sent     atomic.Int64
	requests atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]struct{} // open connections, for Kill
}

// StartHTTPSeed serves the file at path as /<base name> on ln until Close.
func StartHTTPSeed(ln net.Listener, path string) (*HTTPSeed, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("httpseed: not a regular file: " + path)
	}
	s := &HTTPSeed{path: path, ln: ln, done: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/"+filepath.Base(path), s.serve)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnState:         s.track,
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// URL returns the file's URL.
func (s *HTTPSeed) URL() string {
	return "http://" + s.ln.Addr().String() + "/" + filepath.Base(s.path)
}

// Sent returns the body bytes written to connections so far, counted as
// they go (every sentCountStep bytes of a range at most), so that it can be
// watched during a download. A client that closes a connection before the
// end of its range (aria2 does when it reaches a piece another connection
// has) leaves what was still in the socket buffers counted here, so the sum
// over mirrors can exceed what the client received by a few socket buffers.
func (s *HTTPSeed) Sent() int64 { return s.sent.Load() }

// Requests returns the requests served so far.
func (s *HTTPSeed) Requests() int64 { return s.requests.Load() }

// Close stops the server, closing its listener and connections, and waits
// for it. It may be called again, and after Kill.
func (s *HTTPSeed) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// Kill stops the server abruptly: every connection is reset (SO_LINGER 0)
// before Close, so what is still in its socket buffers is discarded rather
// than delivered, and the client learns of it at once from the RST, as a
// quicxfer client does from seed.Server.Close's CONNECTION_CLOSE (which
// drops what quic-go had not sent). Later connections are refused.
func (s *HTTPSeed) Kill() error {
	s.mu.Lock()
	for c := range s.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	}
	s.mu.Unlock()
	return s.Close()
}

// track keeps the open connections for Kill (http.Server.ConnState).
func (s *HTTPSeed) track(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = struct{}{}
	case http.StateHijacked, http.StateClosed:
		delete(s.conns, c)
	}
}

func (s *HTTPSeed) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	serveFile(&countingWriter{ResponseWriter: w, n: &s.sent}, r, s.path)
}

// serveFile answers r with the file at path, as http.ServeContent does
// (ranges, and sendfile where w allows it).
func serveFile(w http.ResponseWriter, r *http.Request, path string) {
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// sentCountStep is the most countingWriter hands to sendfile at once, so
// that HTTPSeed.Sent moves while a long range is being sent (scenario 3
// closes a mirror on it).
const sentCountStep = 128 << 10

// countingWriter counts body bytes and keeps the ReaderFrom path (sendfile)
// of the http.ResponseWriter it wraps.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

// ReadFrom passes r to the wrapped writer's ReadFrom. A range body, an
// *io.LimitedReader over the *os.File (http.ServeContent through
// io.CopyN), goes in steps of sentCountStep, each again a LimitedReader over
// the file, which the TCP connection still sends with sendfile(2).
func (w *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{w}, r)
	}
	lr, ok := r.(*io.LimitedReader)
	if !ok {
		n, err := rf.ReadFrom(r)
		w.n.Add(n)
		return n, err
	}
	var total int64
	for lr.N > 0 {
		want := min(lr.N, sentCountStep)
		n, err := rf.ReadFrom(&io.LimitedReader{R: lr.R, N: want})
		lr.N -= n
		total += n
		w.n.Add(n)
		if err != nil || n < want { // an error, or the end of r
			return total, err
		}
	}
	return total, nil
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
