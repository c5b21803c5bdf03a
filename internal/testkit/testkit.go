// Package testkit holds what the tests of several packages share and no
// production code links: here, the guard for a call that must not block.
package testkit

import (
	"testing"
	"time"
)

// HangGuard is how long NoHang waits: far longer than any call it guards
// takes on a slow, busy machine, so that only a call that blocks for ever
// (a FIFO opened without O_NONBLOCK) trips it.
const HangGuard = 60 * time.Second

// NoHang runs fn and fails the test if it has not returned after
// HangGuard. fn runs in a goroutine that NoHang waits for when it returns.
func NoHang(t testing.TB, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(HangGuard):
		t.Fatalf("%s: still blocked after %s", what, HangGuard)
	}
}
