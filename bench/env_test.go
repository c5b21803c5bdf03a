package bench

import (
	"os"
	"slices"
	"testing"
	"time"

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

func TestProcCPU(t *testing.T) {
	cpu, err := parseProcStatCPU("1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 100 1000 10")
	require.NoError(t, err)
	require.InDelta(t, 3.25, cpu, 1e-9, "utime 250 + stime 75 ticks")
	_, err = parseProcStatCPU("1234 (x) S 1")
	require.Error(t, err)
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) { // spin: this process's figure is then at least a tick
	}
	cpu, err = procCPU(os.Getpid())
	require.NoError(t, err)
	require.Positive(t, cpu)
	require.InDelta(t, 2.0, perGiB(1, 512<<20), 1e-12)
	require.Zero(t, perGiB(1, 0))
}
