// Package paced slows HTTP response bodies to a rate: the tests' HTTP
// mirrors use it to have mirrors of known speeds.
package paced

import (
	"context"
	"net/http"

	"golang.org/x/time/rate"
)

// ResponseWriter writes the body through Lim, at most Lim.Burst() bytes at
// a time. Share one limiter among every response of a server to pace the
// server as a whole. Ctx (the request's) ends a wait when the client goes.
type ResponseWriter struct {
	http.ResponseWriter
	Lim *rate.Limiter
	Ctx context.Context
}

func (w *ResponseWriter) Write(p []byte) (int, error) {
	var n int
	for len(p) > 0 {
		k := min(len(p), w.Lim.Burst())
		if err := w.Lim.WaitN(w.Ctx, k); err != nil {
			return n, err
		}
		k, err := w.ResponseWriter.Write(p[:k])
		n += k
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}
