package bench

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/attack"
)

// TestAttackScenario runs scenario 10 small: seed, good client and
// attackers each in a child process, one round alone and one under attack.
// It checks that the attack happened while the good client downloaded, that
// the seed refused it, and that every figure of the report is there; not
// speed, which is the suite's.
func TestAttackScenario(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	o := fast
	o.Exe = buildBinary(t)
	sc := ScenarioAttack(16<<20, 1)
	sc.Attack.Mix = attack.DefaultMix() // 8 slow readers: lighter, for CI
	r, err := Run(ctx, sc, t.TempDir(), o)
	require.NoError(t, err)
	require.True(t, r.Verified)
	a := r.Attack
	require.NotNil(t, a)
	require.Len(t, a.Rounds, 3)
	kinds := []string{RoundAlone, RoundAttacked, RoundControl}
	for i, rd := range a.Rounds {
		require.Equal(t, kinds[i], rd.Kind)
		require.Equal(t, 1, rd.Group)
		require.Positive(t, rd.Throughput)
		require.Greater(t, rd.SeedPeakRSS, int64(4<<20))
		require.Positive(t, rd.SeedCPU)
	}
	require.Positive(t, a.Alone)
	require.Positive(t, a.Attacked)
	require.Positive(t, a.Control)
	require.InDelta(t, a.Attacked/a.Alone, a.AttackedOverAlone, 1e-9)
	require.InDelta(t, a.Control/a.Alone, a.ControlOverAlone, 1e-9)
	require.Equal(t, a.SeedPeakRSSAttacked, r.SeedProcess.PeakRSS)
	require.Greater(t, a.DecoyPeakRSS, int64(4<<20), "the control round's attacked seed ran")

	for _, atk := range a.Rounds[1:] {
		require.Positive(t, atk.AttackerCPU)
		total := atk.AttackTotal
		require.NotNil(t, total)
		require.Positive(t, total.Datagrams)
		require.Positive(t, total.Flood)
		require.GreaterOrEqual(t, total.SlowStreams, int64(sc.Attack.Mix.SlowReaders*90), "the slow readers held their streams")
		require.Positive(t, total.Refused["bad request"]+total.Refused["not found"], "the seed refused the bad requests")
		require.NotNil(t, atk.DuringDownload)
		require.LessOrEqual(t, atk.DuringDownload.Bad, total.Bad)
	}

	dir := t.TempDir()
	require.NoError(t, WriteReport(dir, []Result{r}))
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "under attack ÷ alone")
	require.Contains(t, string(md), "| 1 attacked |")
	require.Contains(t, string(md), "| 1 control |")
	t.Logf("\n%s", md)
}

func TestSuiteHasAttackScenario(t *testing.T) {
	scs := Suite(SuiteOptions{Size: 1 << 20, Only: []int{10}, Run: RunOptions{Exe: "quicxfer"}})
	require.Len(t, scs, 1)
	require.Equal(t, ModeAttack, scs[0].Mode)
	require.Equal(t, 3, scs[0].Attack.Rounds)
	require.True(t, scs[0].Attack.Control)
	require.Equal(t, 48, scs[0].Attack.Mix.SlowReaders)
	require.Equal(t, 19, scs[0].Attack.Nice)
	require.Empty(t, Suite(SuiteOptions{Only: []int{10}}), "it needs the binary")
}

var (
	attackRun    = flag.Bool("bench.attack", false, "run TestAttackFigures: scenario 10 at -bench.size")
	attackRounds = flag.Int("bench.attack-rounds", 3, "TestAttackFigures: rounds alone and under attack")
	attackNice   = flag.Int("bench.attack-nice", 19, "TestAttackFigures: the attackers' nice value")
	attackSlow   = flag.Int("bench.attack-slow", 0, "TestAttackFigures: slow readers, if not the default mix's")
)

// TestAttackFigures runs scenario 10 at -bench.size when asked with
// -bench.attack, and writes its report to -bench.report if set. Example:
//
//	go test -run TestAttackFigures -bench.attack -bench.size 268435456 -bench.attack-nice 0 -timeout 30m ./bench/
func TestAttackFigures(t *testing.T) {
	if !*attackRun {
		t.Skip("runs only with -bench.attack")
	}
	o := RunOptions{Exe: buildBinary(t)}
	sc := ScenarioAttack(*benchSize, *attackRounds)
	sc.Attack.Nice = *attackNice
	if *attackSlow > 0 {
		sc.Attack.Mix.SlowReaders = *attackSlow
	}
	r, err := Run(context.Background(), sc, t.TempDir(), o)
	require.NoError(t, err)
	dir := *benchOut
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, WriteReport(dir, []Result{r}))
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	t.Logf("\n%s", md)
}
