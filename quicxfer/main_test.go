package quicxfer_test

import (
	"testing"

	"go.uber.org/goleak"
)

// No test may leave a goroutine behind: every worker, dial and seed has an
// owner that waits for it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
