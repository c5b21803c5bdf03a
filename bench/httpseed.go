package bench

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
	s := &HTTPSeed{path: path, ln: ln, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/"+filepath.Base(path), s.serve)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
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

// Sent returns the body bytes written to connections so far. A client that
// closes a connection before the end of its range (aria2 does when it
// reaches a piece another connection has) leaves what was still in the
// socket buffers counted here, so the sum over mirrors can exceed what the
// client received by a few socket buffers.
func (s *HTTPSeed) Sent() int64 { return s.sent.Load() }

// Requests returns the requests served so far.
func (s *HTTPSeed) Requests() int64 { return s.requests.Load() }

// Close stops the server, closing its connections, and waits for it.
func (s *HTTPSeed) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

func (s *HTTPSeed) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	f, err := os.Open(s.path)
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
	http.ServeContent(&countingWriter{ResponseWriter: w, n: &s.sent}, r, fi.Name(), fi.ModTime(), f)
}

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

func (w *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(r)
		w.n.Add(n)
		return n, err
	}
	return io.Copy(struct{ io.Writer }{w}, r)
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
