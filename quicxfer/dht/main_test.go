package dht_test

import (
	"testing"

	"go.uber.org/goleak"
)

// No test may leave a goroutine behind: a node's server, maintainer and
// loop, an Announcer's announces and a lookup's traversal all have an owner
// that waits for them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
