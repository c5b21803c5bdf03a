package bench

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain lets the test binary serve as RawQUIC's child process, and checks
// that no test leaves a goroutine behind.
func TestMain(m *testing.M) {
	RunChild()
	goleak.VerifyTestMain(m)
}
