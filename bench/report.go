package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Report is what WriteReport stores as JSON.
type Report struct {
	Date      time.Time `json:"date"`
	GoVersion string    `json:"go_version"`
	GOOS      string    `json:"goos"`
	GOARCH    string    `json:"goarch"`
	CPUs      int       `json:"cpus"`
	Results   []Result  `json:"results"`
}

// WriteReport writes results into dir as report.md (a Markdown table) and
// report.json (every figure), creating dir if needed.
func WriteReport(dir string, results []Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rep := Report{
		Date:      time.Now().UTC().Truncate(time.Second),
		GoVersion: runtime.Version(),
		GOOS:      runtime.GOOS,
		GOARCH:    runtime.GOARCH,
		CPUs:      runtime.NumCPU(),
		Results:   results,
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# quicxfer benchmark, %s\n\n%s %s/%s, %d CPUs\n\n", rep.Date.Format("2006-01-02 15:04 UTC"), rep.GoVersion, rep.GOOS, rep.GOARCH, rep.CPUs)
	WriteTable(&md, results)
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644)
}

// WriteTable writes results as a Markdown table.
func WriteTable(w io.Writer, results []Result) {
	fmt.Fprintln(w, "| scenario | size | time | quicxfer | ideal | time ÷ ideal | raw QUIC | ÷ raw | fetched ÷ size | CPU s | seed shares |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range results {
		ideal, over, raw, overRaw := "n/a", "n/a", "n/a", "n/a"
		if r.Ideal > 0 {
			ideal = fmt.Sprintf("%.2f s", r.Ideal)
			over = fmt.Sprintf("%.3f", r.TimeOverIdeal)
		}
		if r.Raw != nil {
			raw = formatRate(r.Raw.Throughput)
			overRaw = fmt.Sprintf("%.2f", r.OverRaw)
		}
		shares := make([]string, len(r.Seeds))
		for i, s := range r.Seeds {
			shares[i] = fmt.Sprintf("%.0f%%", 100*s.Share)
		}
		fmt.Fprintf(w, "| %s | %s | %.2f s | %s | %s | %s | %s | %s | %.3f | %.2f | %s |\n",
			r.Name, formatSize(r.Size), r.Elapsed, formatRate(r.Throughput), ideal, over, raw, overRaw,
			r.FetchedOver, r.CPUSeconds, strings.Join(shares, " / "))
	}
}

func formatRate(bps float64) string {
	return fmt.Sprintf("%.1f Mbit/s", bps*8/1e6)
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
