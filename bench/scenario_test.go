package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	benchSize = flag.Int64("bench.size", 64<<20, "file size in bytes for the scenario benchmarks")
	benchOut  = flag.String("bench.report", "", "directory for report.md and report.json of TestSuite")
	runSuite  = flag.Bool("bench.suite", false, "run TestSuite: every scenario at -bench.size, with a report")
)

// TestSmoke runs scenarios 2 and 5 on a few MiB with fast links. It checks
// only that the download completes and matches; speed is the benchmarks'.
func TestSmoke(t *testing.T) {
	const size = 3 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var results []Result
	for _, sc := range []Scenario{Scenario2(size, 10e6), Scenario5(size, 100*Mbit)} {
		t.Run(sc.Name, func(t *testing.T) {
			r, err := Run(ctx, sc, t.TempDir())
			require.NoError(t, err)
			require.True(t, r.Verified)
			require.Len(t, r.Seeds, 3)
			var sum int64
			for _, s := range r.Seeds {
				sum += s.Bytes
			}
			require.EqualValues(t, size, sum, "the seeds' accepted bytes make the file")
			require.GreaterOrEqual(t, r.FetchedOver, 1.0)
			results = append(results, r)
		})
	}
	dir := t.TempDir()
	require.NoError(t, WriteReport(dir, results))
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	for _, r := range results {
		require.Contains(t, string(md), "| "+r.Name+" |")
	}
	require.FileExists(t, filepath.Join(dir, "report.json"))
	t.Logf("\n%s", md)
}

func TestScenarioLoopbackWithRaw(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := Run(ctx, Scenario1(2<<20), t.TempDir())
	require.NoError(t, err)
	require.NotNil(t, r.Raw)
	require.Positive(t, r.OverRaw)
}

// TestSuite runs the whole suite when asked with -bench.suite; it is the
// runner until the CLI has a bench command. Example:
//
//	go test -run TestSuite -bench.suite -bench.size 1073741824 -bench.report /tmp/r ./bench/
func TestSuite(t *testing.T) {
	if !*runSuite {
		t.Skip("runs only with -bench.suite")
	}
	results, err := RunSuite(context.Background(), SuiteOptions{Size: *benchSize}, t.TempDir(), *benchOut)
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
		r, err = Run(context.Background(), sc, dir)
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
	for i, s := range r.Seeds {
		b.ReportMetric(s.Share, fmt.Sprintf("share%d", i+1))
	}
}

func BenchmarkScenario1(b *testing.B) { benchScenario(b, Scenario1(*benchSize)) }
func BenchmarkScenario2(b *testing.B) { benchScenario(b, Scenario2(*benchSize, 50*Mbit)) }
func BenchmarkScenario5(b *testing.B) { benchScenario(b, Scenario5(*benchSize, 100*Mbit)) }

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
