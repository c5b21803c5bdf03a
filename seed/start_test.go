package seed

import (
	"cmp"
	"context"
	"testing"

	"github.com/quicxfer/quicxfer/internal/testkit"
)

// startForTest is seedtest.Start for seed's own tests, which cannot import
// seedtest (it imports seed).
func startForTest(t testing.TB, opts Options) *Server {
	t.Helper()
	opts.Listen = cmp.Or(opts.Listen, testkit.Loopback)
	opts.StateDir = cmp.Or(opts.StateDir, t.TempDir())
	opts.Logger = cmp.Or(opts.Logger, testkit.Logger(t))
	return testkit.Serve(t, "seed", func() (*Server, error) { return Start(context.Background(), opts) }, (*Server).Stop)
}
