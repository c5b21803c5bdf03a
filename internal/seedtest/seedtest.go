// Package seedtest starts real seeds for the tests of other packages, in
// one line, and stops them when the test ends. No production code links it.
package seedtest

import (
	"cmp"
	"context"
	"testing"

	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/seed"
)

// Start starts a seed for a test and stops it when the test ends. It
// listens on 127.0.0.1 with a free port and keeps its state in t.TempDir()
// unless opts say otherwise, and logs warnings and errors to t.Log.
func Start(t testing.TB, opts seed.Options) *seed.Server {
	t.Helper()
	opts.Listen = cmp.Or(opts.Listen, testkit.Loopback)
	opts.StateDir = cmp.Or(opts.StateDir, t.TempDir())
	opts.Logger = cmp.Or(opts.Logger, testkit.Logger(t))
	return testkit.Serve(t, "seed", func() (*seed.Server, error) { return seed.Start(context.Background(), opts) }, (*seed.Server).Stop)
}
