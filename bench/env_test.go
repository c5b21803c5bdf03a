package bench

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCleanEnv: the user's QUICXFER_<FLAG> variables do not reach the
// benchmark's child processes; the bench's own variables and the rest do.
func TestCleanEnv(t *testing.T) {
	t.Setenv("QUICXFER_ALL", "true")
	t.Setenv("QUICXFER_RATE_LIMIT", "1MB/s")
	t.Setenv("QUICXFER_BENCH_SEED_CPUPROFILE", "/tmp/p")
	env := cleanEnv()
	require.NotContains(t, env, "QUICXFER_ALL=true")
	require.NotContains(t, env, "QUICXFER_RATE_LIMIT=1MB/s")
	require.Contains(t, env, "QUICXFER_BENCH_SEED_CPUPROFILE=/tmp/p")
	require.True(t, slices.ContainsFunc(env, func(kv string) bool { return len(kv) > 5 && kv[:5] == "PATH=" }))
}
