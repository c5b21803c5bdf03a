package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	benchSize = flag.Int64("bench.size", 64<<20, "file size in bytes for the scenario benchmarks")
	benchOut  = flag.String("bench.report", "", "directory for the report of TestSuite")
	runSuite  = flag.Bool("bench.suite", false, "run TestSuite: every scenario at -bench.size, with a report")
)

// fast is how the smoke tests run scenarios: in this process, sampling
// often enough to catch a 40 % point in a download of a few MiB.
var fast = RunOptions{SampleInterval: 10 * time.Millisecond}

func requireWhole(t *testing.T, r Result, size int64) {
	t.Helper()
	require.True(t, r.Verified)
	var sum int64
	for _, s := range r.Seeds {
		sum += s.Bytes
	}
	require.EqualValues(t, size, sum, "the seeds' accepted bytes make the file")
	require.GreaterOrEqual(t, r.FetchedOver, 1.0)
	require.Positive(t, r.Elapsed)
	require.Positive(t, r.CPUSeconds)
}

// TestSmoke runs scenarios 2 to 7 on small files with fast links, in this
// process. It checks what each scenario is about (the kill happens, the
// stalled seed gives nothing, the fairness figures exist), not speed: that
// is the suite's.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const size = 3 << 20
	var results []Result
	run := func(t *testing.T, sc Scenario) Result {
		r, err := Run(ctx, sc, t.TempDir(), fast)
		require.NoError(t, err)
		require.Equal(t, sc.Name, r.Name)
		require.False(t, r.DownloaderInChild)
		require.NotEmpty(t, r.Samples)
		results = append(results, r)
		return r
	}
	t.Run("2", func(t *testing.T) {
		r := run(t, Scenario2(size, 10e6))
		requireWhole(t, r, size)
		require.Len(t, r.Seeds, 3)
		require.InDelta(t, float64(size)/70e6, r.Ideal, 1e-9)
	})
	t.Run("3", func(t *testing.T) {
		sc := Scenario3(8<<20, 10e6)
		r := run(t, sc)
		requireWhole(t, r, sc.FileSize)
		require.GreaterOrEqual(t, r.KilledAt, sc.KillAt, "the seed is closed once 40 %% was sent")
		require.True(t, r.Seeds[0].Killed)
		require.Less(t, r.Seeds[0].Share, 1.0)
		require.Greater(t, r.Ideal, sc.Ideal(), "two seeds after the kill take longer than three")
	})
	t.Run("4", func(t *testing.T) {
		sc := Scenario4(size, 10e6)
		r := run(t, sc)
		requireWhole(t, r, size)
		require.Len(t, r.Seeds, 4)
		stalled := r.Seeds[3]
		require.True(t, stalled.Stalls)
		require.Zero(t, stalled.Bytes, "a seed that never sends gives nothing")
		require.Positive(t, stalled.Link.Down.Blackholed, "its link went silent")
		require.InDelta(t, Scenario2(size, 10e6).Ideal(), r.Ideal, 1e-9, "the ideal counts the working seeds")
	})
	t.Run("5", func(t *testing.T) {
		r := run(t, Scenario5(1<<20, 100*Mbit))
		requireWhole(t, r, 1<<20)
	})
	t.Run("6", func(t *testing.T) {
		r := run(t, Scenario6(size, 50*Mbit))
		requireWhole(t, r, size)
		require.Len(t, r.Seeds, 12)
	})
	t.Run("7", func(t *testing.T) {
		sc := Scenario7(512<<10, 40e6, 4)
		r := run(t, sc)
		require.True(t, r.Verified)
		f := r.Fairness
		require.NotNil(t, f)
		require.Len(t, f.PerDownloader, 4)
		require.Positive(t, f.Alone)
		require.InDelta(t, f.Aggregate/f.Alone, f.AggregateOverAlone, 1e-9)
		require.Greater(t, f.Jain, 0.25)
		require.LessOrEqual(t, f.Jain, 1.0+1e-9)
		var sum int64
		for _, s := range r.Seeds {
			sum += s.Bytes
		}
		require.EqualValues(t, 4*sc.FileSize, sum, "the shares count every downloader")
	})

	dir := t.TempDir()
	require.NoError(t, WriteReport(dir, results))
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	for _, r := range results {
		plot := plotName(r.Name)
		require.Contains(t, string(md), "| ["+r.Name+"]("+plot+") |")
		require.FileExists(t, filepath.Join(dir, plot))
	}
	require.FileExists(t, filepath.Join(dir, "report.json"))
	t.Logf("\n%s", md)
}

func TestScenarioLoopbackWithRaw(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := Run(ctx, Scenario1(2<<20), t.TempDir(), RunOptions{})
	require.NoError(t, err)
	require.NotNil(t, r.Raw)
	require.Positive(t, r.OverRaw)
	require.Equal(t, 1, r.Raw.Conns)
	require.Len(t, r.RawMulti, 1)
	require.Equal(t, 4, r.RawMulti[0].Conns)
	require.EqualValues(t, 2<<20, r.RawMulti[0].Bytes, "four connections carry the same total")
	require.Positive(t, r.Seeds[0].Conns)
	require.Contains(t, []int{1, 4}, r.RawSameConns)
	require.Positive(t, r.OverRawSameConns)
	require.Positive(t, r.CPUPerGiB)
	require.Nil(t, r.SeedCPU, "the seed's CPU cannot be told from the downloader's in one process")
	requireNginxBaseline(t, Scenario1(2<<20), r.Nginx, false)
}

// requireNginxBaseline checks scenario 1's downloads from nginx: aria2c's
// (where installed) and, with the binary (exe), quicxfer's. Where nginx
// is missing it must say so.
func requireNginxBaseline(t *testing.T, sc Scenario, nb *NginxBaseline, exe bool) {
	t.Helper()
	require.NotNil(t, nb)
	if _, ok := NginxPath(); !ok {
		require.Equal(t, NginxMissing, nb.Skipped)
		return
	}
	require.Empty(t, nb.Skipped)
	require.NotEmpty(t, nb.URL)
	check := func(name string, run NginxRun) {
		require.Empty(t, run.Err, name)
		require.True(t, run.Identical, name)
		require.Positive(t, run.Throughput, name)
		require.Positive(t, run.CPUPerGiB, name)
		require.GreaterOrEqual(t, run.Sent, sc.FileSize, name)
		require.Positive(t, run.NginxCPUPerGiB, name)
	}
	if _, err := exec.LookPath("aria2c"); err != nil {
		require.Equal(t, Aria2Missing, nb.Aria2Skipped)
	} else {
		require.Len(t, nb.Aria2, len(Aria2Variants(sc)))
		for _, a := range nb.Aria2 {
			check("aria2c "+a.Options, a)
		}
		require.GreaterOrEqual(t, nb.Aria2Best, 0)
	}
	if !exe {
		require.Nil(t, nb.Quicxfer)
		require.NotEmpty(t, nb.QuicxferSkipped)
		return
	}
	require.NotNil(t, nb.Quicxfer)
	check("quicxfer get", *nb.Quicxfer)
	require.True(t, nb.Quicxfer.Verified)
	require.Contains(t, nb.Quicxfer.Options, "--manifest MFILE --mirror "+nb.URL)
}

func TestNearestConns(t *testing.T) {
	runs := []RawResult{{Conns: 1}, {Conns: 4}}
	for conns, want := range map[int]int{1: 1, 2: 1, 3: 4, 4: 4, 9: 4} {
		require.Equal(t, want, nearestConns(runs, conns).Conns, "%d connections", conns)
	}
}

// buildBinary builds cmd/quicxfer into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "quicxfer")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/quicxfer/quicxfer/cmd/quicxfer").CombinedOutput()
	require.NoError(t, err, "building quicxfer: %s", out)
	return bin
}

// TestChildProcessScenarios runs the scenarios that need the binary (8 and
// 9) and one download in a child, on small files.
func TestChildProcessScenarios(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := fast
	o.Exe = buildBinary(t)

	t.Run("1", func(t *testing.T) {
		sc := Scenario1(32 << 20)
		r, err := Run(ctx, sc, t.TempDir(), o)
		require.NoError(t, err)
		requireWhole(t, r, sc.FileSize)
		require.Positive(t, r.Seeds[0].Conns)
		require.Positive(t, r.CPUPerGiB)
		require.Positive(t, r.OverRawSameConns)
		require.NotNil(t, r.SeedCPU)
		require.Positive(t, r.SeedCPU.CPUSeconds)
		require.Positive(t, r.SeedCPU.PerGiB)
		require.GreaterOrEqual(t, r.SeedCPU.Served, sc.FileSize)
		for _, raw := range append([]RawResult{*r.Raw}, r.RawMulti...) {
			require.True(t, raw.Child)
			require.Positive(t, raw.ClientCPUPerGiB, "%d connections", raw.Conns)
			require.Positive(t, raw.ServerCPUPerGiB, "%d connections", raw.Conns)
		}
		requireNginxBaseline(t, sc, r.Nginx, true)
		var md strings.Builder
		WriteTable(&md, []Result{r})
		writeDetails(&md, []Result{r})
		require.Contains(t, md.String(), "4 conns: ")
		require.Contains(t, md.String(), "CPU s/GiB: get ")
		if r.Nginx.Aria2Best >= 0 {
			require.Contains(t, md.String(), "aria2 from nginx: ")
		}
		t.Logf("\n%s", md.String())
	})
	t.Run("7", func(t *testing.T) {
		sc := Scenario7(4<<20, 40e6, 4)
		r, err := Run(ctx, sc, t.TempDir(), o)
		require.NoError(t, err)
		require.True(t, r.Verified)
		require.NotNil(t, r.Fairness)
		require.NotEmpty(t, r.Samples)
		sc7 := r.SeedCPU
		require.NotNil(t, sc7, "the seed runs in a child process")
		require.Equal(t, seedCPUInChild, sc7.Measured)
		require.Positive(t, sc7.CPUSeconds)
		require.GreaterOrEqual(t, sc7.Served, 4*sc.FileSize)
		require.InDelta(t, sc7.CPUSeconds*(1<<30)/float64(sc7.Served), sc7.PerGiB, 1e-9)
		// The link's bytes: both phases, QUIC overhead included.
		require.GreaterOrEqual(t, r.Seeds[0].Sent, 5*sc.FileSize)
		var md strings.Builder
		WriteTable(&md, []Result{r})
		writeDetails(&md, []Result{r})
		require.Contains(t, md.String(), "CPU s/GiB served")
		t.Logf("\n%s", md.String())
	})
	t.Run("2 in a child", func(t *testing.T) {
		r, err := Run(ctx, Scenario2(2<<20, 20e6), t.TempDir(), o)
		require.NoError(t, err)
		requireWhole(t, r, 2<<20)
		require.True(t, r.DownloaderInChild)
		require.Positive(t, r.PeakRSS)
	})
	t.Run("8", func(t *testing.T) {
		// Slow links, so that the kill comes well before the end.
		sc := Scenario8(8<<20, 4e6)
		r, err := Run(ctx, sc, t.TempDir(), o)
		require.NoError(t, err)
		require.True(t, r.Verified)
		rs := r.Resume
		require.NotNil(t, rs)
		require.GreaterOrEqual(t, rs.SentBeforeKill, sc.FileSize/2)
		require.Positive(t, rs.Resumed, "the second run resumes what the first one saved")
		require.Less(t, rs.Resumed, sc.FileSize)
		require.GreaterOrEqual(t, rs.Fetched, sc.FileSize-rs.Resumed)
		require.Equal(t, rs.SentBeforeKill+rs.Fetched-sc.FileSize, rs.FetchedAgain)
	})
	t.Run("9", func(t *testing.T) {
		r, err := Run(ctx, Scenario9(8<<20), t.TempDir(), o)
		require.NoError(t, err)
		require.True(t, r.Verified)
		require.NotNil(t, r.SeedProcess)
		// Any Go process moving a file over QUIC holds a few MiB.
		require.Greater(t, r.PeakRSS, int64(4<<20))
		require.Greater(t, r.SeedProcess.PeakRSS, int64(4<<20))
		require.Positive(t, r.SeedProcess.CPUSeconds)
	})
}

func TestJain(t *testing.T) {
	require.InDelta(t, 1.0, Jain([]float64{3, 3, 3, 3}), 1e-12)
	require.InDelta(t, 0.25, Jain([]float64{5, 0, 0, 0}), 1e-12)
	require.InDelta(t, 0.9, Jain([]float64{1, 2}), 1e-12) // 9 ÷ (2·5)
	require.Zero(t, Jain(nil))
}

func TestIdeal(t *testing.T) {
	sc := Scenario2(700, 1) // rates 4, 2, 1
	require.InDelta(t, 100, sc.Ideal(), 1e-9)
	// Killed at 40 %: 280 bytes at 7 B/s, then 420 at 3 B/s.
	require.InDelta(t, 40+140, sc.idealWithKill(0, 0.4), 1e-9)
	require.InDelta(t, sc.Ideal(), Scenario4(700, 1).Ideal(), 1e-9, "a stalling seed adds nothing")
	require.Zero(t, Scenario1(700).Ideal(), "unlimited")
	require.InDelta(t, 4*700/200.0, Scenario7(700, 200, 4).Ideal(), 1e-9)
}

func TestSuiteSelection(t *testing.T) {
	var nums []int
	for _, sc := range Suite(SuiteOptions{Size: 1 << 20}) {
		nums = append(nums, sc.Number)
	}
	require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7}, nums, "8 and 9 need the binary")
	nums = nil
	for _, sc := range Suite(SuiteOptions{Size: 1 << 20, Only: []int{9, 3}, Run: RunOptions{Exe: "quicxfer"}}) {
		nums = append(nums, sc.Number)
	}
	require.Equal(t, []int{3, 9}, nums)
	sc := Suite(SuiteOptions{})
	require.EqualValues(t, 1<<30, sc[0].FileSize)
	require.EqualValues(t, 32<<20, sc[6].FileSize, "scenario 7 splits the size over its 32 downloaders")
}

func TestPeakRSSOfThisProcess(t *testing.T) {
	v, ok := readVmHWM("/proc/self/status")
	require.True(t, ok)
	require.Positive(t, v)
	require.Positive(t, selfMaxRSS())
}

func TestPlotName(t *testing.T) {
	require.Equal(t, "plot-2-ratio-4-2-1.svg", plotName("2-ratio-4:2:1"))
	require.Equal(t, "plot-5-wan-80ms-1.svg", plotName("5-wan-80ms-1%"))
}

func TestReportFlagsDuplicates(t *testing.T) {
	var md strings.Builder
	WriteTable(&md, []Result{
		{Name: "ok", FetchedOver: 1.01, Size: 1},
		{Name: "dup", FetchedOver: 1.05, Size: 1},
		{Name: "bad", Err: "it broke"},
	})
	require.Contains(t, md.String(), "| 1.0100 |")
	require.Contains(t, md.String(), "| **1.0500** ⚠ |")
	require.Contains(t, md.String(), "**failed**: it broke")
}

// TestSuite runs the whole suite when asked with -bench.suite, in this
// process (without the binary: scenarios 1 to 7). `quicxfer-bench` is the
// runner for the real thing. Example:
//
//	go test -run TestSuite -bench.suite -bench.size 67108864 -bench.report /tmp/r ./bench/
func TestSuite(t *testing.T) {
	if !*runSuite {
		t.Skip("runs only with -bench.suite")
	}
	results, err := RunSuite(context.Background(), SuiteOptions{Size: *benchSize, Log: os.Stderr}, t.TempDir(), *benchOut)
	require.NoError(t, err)
	var md strings.Builder
	WriteTable(&md, results)
	t.Logf("\n%s", md.String())
}

func benchScenario(b *testing.B, sc Scenario) {
	var r Result
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		var err error
		r, err = Run(context.Background(), sc, dir, RunOptions{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(sc.FileSize)
	b.ReportMetric(r.Throughput*8/1e6, "Mbit/s")
	b.ReportMetric(r.FetchedOver, "fetched/size")
	b.ReportMetric(r.CPUSeconds, "cpu-s")
	if r.TimeOverIdeal > 0 {
		b.ReportMetric(r.TimeOverIdeal, "time/ideal")
	}
	if r.Raw != nil {
		b.ReportMetric(r.Raw.Throughput*8/1e6, "raw-Mbit/s")
		b.ReportMetric(r.OverRaw, "of-raw")
	}
	if f := r.Fairness; f != nil {
		b.ReportMetric(f.Jain, "jain")
		b.ReportMetric(f.AggregateOverAlone, "aggregate/alone")
	}
	for i, s := range r.Seeds {
		b.ReportMetric(s.Share, fmt.Sprintf("share%d", i+1))
	}
}

func BenchmarkScenario1(b *testing.B) { benchScenario(b, Scenario1(*benchSize)) }
func BenchmarkScenario2(b *testing.B) { benchScenario(b, Scenario2(*benchSize, 50*Mbit)) }
func BenchmarkScenario3(b *testing.B) { benchScenario(b, Scenario3(*benchSize, 50*Mbit)) }
func BenchmarkScenario4(b *testing.B) { benchScenario(b, Scenario4(*benchSize, 50*Mbit)) }
func BenchmarkScenario5(b *testing.B) { benchScenario(b, Scenario5(*benchSize, 100*Mbit)) }
func BenchmarkScenario6(b *testing.B) { benchScenario(b, Scenario6(*benchSize, 50*Mbit)) }
func BenchmarkScenario7(b *testing.B) {
	benchScenario(b, Scenario7(max(*benchSize/32, 64<<10), 200*Mbit, 32))
}

func BenchmarkRawQUIC(b *testing.B) {
	var r RawResult
	for b.Loop() {
		var err error
		if r, err = RawQUIC(context.Background(), RawOptions{Size: *benchSize}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(*benchSize)
	b.ReportMetric(r.Throughput*8/1e6, "Mbit/s")
}
