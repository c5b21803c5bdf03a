package paced

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// TestWritesAllInBursts: the body arrives whole, and no single write to the
// underlying writer is larger than the limiter's burst.
func TestWritesAllInBursts(t *testing.T) {
	rec := httptest.NewRecorder()
	lim := rate.NewLimiter(rate.Inf, 1000)
	var sizes []int
	w := &ResponseWriter{ResponseWriter: sizeRecorder{rec, &sizes}, Lim: lim, Ctx: context.Background()}
	body := bytes.Repeat([]byte("x"), 4500)
	n, err := w.Write(body)
	require.NoError(t, err)
	require.Equal(t, len(body), n)
	require.Equal(t, body, rec.Body.Bytes())
	require.Equal(t, []int{1000, 1000, 1000, 1000, 500}, sizes)
}

// TestStopsWhenTheClientGoes: a wait ends with the request's context.
func TestStopsWhenTheClientGoes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := &ResponseWriter{ResponseWriter: httptest.NewRecorder(), Lim: rate.NewLimiter(1, 10), Ctx: ctx}
	_, err := w.Write(make([]byte, 100))
	require.Error(t, err)
}

type sizeRecorder struct {
	*httptest.ResponseRecorder
	sizes *[]int
}

func (s sizeRecorder) Write(p []byte) (int, error) {
	*s.sizes = append(*s.sizes, len(p))
	return s.ResponseRecorder.Write(p)
}
