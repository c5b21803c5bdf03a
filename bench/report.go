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

	"github.com/quicxfer/quicxfer/internal/units"
)

// DuplicateLimit is the bound on bytes fetched ÷ file size; the
// report flags results above it.
const DuplicateLimit = 1.02

// Report is what WriteReport stores as JSON.
type Report struct {
	Date      time.Time `json:"date"`
	GoVersion string    `json:"go_version"`
	GOOS      string    `json:"goos"`
	GOARCH    string    `json:"goarch"`
	CPUs      int       `json:"cpus"`
	Results   []Result  `json:"results"`
}

// WriteReport writes results into dir as report.md (a Markdown table and
// each scenario's details), report.json (every figure) and one plot per
// scenario with samples (scenario-NAME.svg, linked from report.md),
// creating dir if needed. A plot that cannot be drawn is noted, not fatal.
func WriteReport(dir string, results []Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	results = append([]Result(nil), results...)
	var plotErrs []string
	for i := range results {
		r := &results[i]
		if len(r.Samples) < 2 {
			continue
		}
		name := plotName(r.Name)
		if err := WritePlot(filepath.Join(dir, name), *r); err != nil {
			plotErrs = append(plotErrs, fmt.Sprintf("%s: %v", r.Name, err))
			continue
		}
		r.Plot = name
	}
	for _, r := range results {
		if r.Mirrors != nil {
			plotErrs = append(plotErrs, writeMirrorsPlots(dir, r)...)
		}
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
	writeDetails(&md, results)
	for _, e := range plotErrs {
		fmt.Fprintf(&md, "\nplot not drawn: %s\n", e)
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644)
}

// WriteTable writes results as a Markdown table: one row per scenario with
// quicxfer's time and rate, the baselines, the ideal, and the downloader's
// costs. Fetched ÷ size above DuplicateLimit is flagged.
func WriteTable(w io.Writer, results []Result) {
	fmt.Fprintln(w, "| scenario | quicxfer | aria2 best | aria2 default | raw QUIC | ideal | time ÷ ideal | fetched ÷ size | CPU s | peak RSS | shares |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range results {
		name := r.Name
		if r.Plot != "" {
			name = fmt.Sprintf("[%s](%s)", r.Name, r.Plot)
		}
		if r.Err != "" {
			fmt.Fprintf(w, "| %s | **failed**: %s | %s | %s | | | | | | | |\n", name, oneLine(r.Err), aria2Cell(r.Aria2, true), aria2Cell(r.Aria2, false))
			continue
		}
		if m := r.Mirrors; m != nil && m.Mirrors == nil {
			fmt.Fprintf(w, "| %s | (a) not run | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | %s |\n", name, mirrorsCell(m))
			continue
		}
		qx := fmt.Sprintf("%.2f s, %s", r.Elapsed, formatRate(r.Throughput))
		raw, ideal, over := "n/a", "n/a", "n/a"
		if r.Raw != nil {
			raw = rawCell(r)
			if c := seedConns(r); c > 0 {
				qx += ", " + nOf(c, "conn")
			}
		}
		if r.Ideal > 0 {
			ideal = fmt.Sprintf("%.2f s", r.Ideal)
			over = fmt.Sprintf("%.3f", r.TimeOverIdeal)
		}
		fetched := fmt.Sprintf("%.4f", r.FetchedOver)
		if r.FetchedOver > DuplicateLimit {
			fetched = fmt.Sprintf("**%.4f** ⚠", r.FetchedOver)
		}
		rss := "n/a"
		if r.PeakRSS > 0 {
			rss = formatMiB(r.PeakRSS)
		}
		cpu := fmt.Sprintf("%.2f", r.CPUSeconds)
		if !r.DownloaderInChild {
			cpu += " ‡"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			name, qx, aria2Cell(r.Aria2, true), aria2Cell(r.Aria2, false), raw, ideal, over, fetched, cpu, rss, sharesCell(r))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU s and peak RSS are the downloader process's own (`quicxfer get --json` in a child process); ‡ marks a downloader that ran inside the bench process, whose CPU figure includes the seeds and the links. Shares are each seed's part of the bytes accepted; fetched ÷ size above", DuplicateLimit, "is flagged ⚠. The scenario name links to its plot.")
}

// rawCell is the raw ceiling's cell: the throughput of each run and
// quicxfer's ÷ it, the target's ratio (the run with quicxfer's number of
// connections, or the nearest) in bold.
func rawCell(r Result) string {
	if len(r.RawMulti) == 0 {
		return fmt.Sprintf("%s (÷ %.2f)", formatRate(r.Raw.Throughput), r.OverRaw)
	}
	var cells []string
	for _, raw := range append([]RawResult{*r.Raw}, r.RawMulti...) {
		ratio := fmt.Sprintf("÷ %.2f", r.Throughput/raw.Throughput)
		if raw.Conns == r.RawSameConns {
			ratio = "**" + ratio + "**"
		}
		cells = append(cells, fmt.Sprintf("%s: %s (%s)", nOf(raw.Conns, "conn"), formatRate(raw.Throughput), ratio))
	}
	return strings.Join(cells, "; ")
}

// nOf is "n noun", the noun plural unless n is 1.
func nOf(n int, noun string) string { return fmt.Sprintf("%d %s", n, units.Plural(n, noun)) }

// seedConns is the most connections quicxfer had to one of r's seeds, 0 if
// unknown.
func seedConns(r Result) int {
	var c int
	for _, s := range r.Seeds {
		c = max(c, s.Conns)
	}
	return c
}

// loopbackCell is scenario 1's last cell: the downloads from nginx, and
// the CPU seconds per GiB of each process: the downloader's, the seed's,
// aria2c's and quicxfer's from nginx and nginx's for each, the raw
// ceiling's client and server.
func loopbackCell(r Result) string {
	var cells []string
	c := []string{fmt.Sprintf("get %.2f", r.CPUPerGiB)}
	if r.SeedCPU != nil {
		c = append(c, fmt.Sprintf("seed %.2f", r.SeedCPU.PerGiB))
	}
	if nb := r.Nginx; nb != nil {
		if nb.Skipped != "" {
			cells = append(cells, "from nginx: skipped ("+nb.Skipped+")")
		}
		switch {
		case nb.Aria2Best >= 0:
			a := nb.Aria2[nb.Aria2Best]
			cells = append(cells, fmt.Sprintf("aria2 from nginx: %.2f s, %s (`%s`)", a.Elapsed, formatRate(a.Throughput), a.Options))
			c = append(c, fmt.Sprintf("aria2 %.2f (nginx %.2f)", a.CPUPerGiB, a.NginxCPUPerGiB))
		case len(nb.Aria2) > 0:
			cells = append(cells, "aria2 from nginx: failed")
		case nb.Aria2Skipped != "" && nb.Skipped == "":
			cells = append(cells, "aria2 from nginx: skipped")
		}
		if q := nb.Quicxfer; q != nil {
			if q.Err != "" {
				cells = append(cells, "quicxfer from nginx: failed")
			} else {
				cells = append(cells, fmt.Sprintf("quicxfer from nginx (--manifest): %.2f s, %s", q.Elapsed, formatRate(q.Throughput)))
				c = append(c, fmt.Sprintf("get from nginx %.2f (nginx %.2f)", q.CPUPerGiB, q.NginxCPUPerGiB))
			}
		}
	}
	if r.Raw != nil {
		for _, raw := range append([]RawResult{*r.Raw}, r.RawMulti...) {
			c = append(c, fmt.Sprintf("raw %s client %.2f, server %.2f", nOf(raw.Conns, "conn"), raw.ClientCPUPerGiB, raw.ServerCPUPerGiB))
		}
	}
	return strings.Join(append(cells, "CPU s/GiB: "+strings.Join(c, ", ")), "; ")
}

func aria2Cell(a *Aria2, best bool) string {
	switch {
	case a == nil:
		return "n/a"
	case a.Skipped != "":
		return "skipped"
	}
	run := a.Default
	if best {
		run = a.Best
	}
	if run == nil {
		return "failed"
	}
	if run.Err != "" {
		return "failed: " + oneLine(run.Err)
	}
	s := fmt.Sprintf("%.2f s, %s", run.Elapsed, formatRate(run.Throughput))
	if best {
		s += " (`" + run.Options + "`)"
	}
	if a.Caveat != "" {
		s += " †"
	}
	return s
}

func sharesCell(r Result) string {
	switch {
	case r.Fairness != nil:
		s := fmt.Sprintf("%d downloaders: Jain %.3f, aggregate ÷ one alone %.2f", r.Fairness.Downloaders, r.Fairness.Jain, r.Fairness.AggregateOverAlone)
		if r.SeedCPU != nil {
			s += fmt.Sprintf("; seed %.2f CPU s/GiB served", r.SeedCPU.PerGiB)
		}
		return s
	case r.Resume != nil:
		return fmt.Sprintf("fetched again ÷ size %.4f", r.Resume.FetchedAgainOverSize)
	case r.Attack != nil:
		return attackCell(r.Attack)
	case r.Swarm != nil:
		return swarmCell(r.Swarm)
	case r.SeedProcess != nil:
		return "seed process: " + formatMiB(r.SeedProcess.PeakRSS) + fmt.Sprintf(", %.2f CPU s", r.SeedProcess.CPUSeconds)
	case r.Mirrors != nil:
		return mirrorsCell(r.Mirrors)
	case r.Raw != nil:
		return loopbackCell(r)
	}
	shares := make([]string, len(r.Seeds))
	for i, s := range r.Seeds {
		shares[i] = fmt.Sprintf("%.0f%%", 100*s.Share)
		switch {
		case s.Killed:
			shares[i] += " (killed)"
		case s.Stalls:
			shares[i] += " (stalls)"
		}
	}
	return strings.Join(shares, " / ")
}

// writeDetails writes what the table leaves out: each scenario's note,
// target, plot and its own figures.
func writeDetails(w io.Writer, results []Result) {
	fmt.Fprintln(w, "\n## Scenarios")
	for _, r := range results {
		fmt.Fprintf(w, "\n### %s (%s)\n\n%s.", r.Name, formatSize(r.Size), r.Note)
		if r.Target != "" {
			fmt.Fprintf(w, " Target: %s.", r.Target)
		}
		fmt.Fprintln(w)
		if r.Err != "" {
			fmt.Fprintf(w, "\n- **failed**: %s\n", r.Err)
		}
		if r.Mirrors != nil {
			writeMirrorsDetails(w, r)
			continue
		}
		if r.Raw != nil {
			writeRawDetails(w, r)
		}
		if r.KilledAt > 0 {
			fmt.Fprintf(w, "\n- seed closed when the seeds had sent %.1f %% of the file; the ideal counts three seeds until then, two after\n", 100*r.KilledAt)
		}
		if f := r.Fairness; f != nil {
			fmt.Fprintf(w, "\n- %d downloaders of %s each at once: aggregate %s, one alone %s, aggregate ÷ one alone %.3f, Jain's index %.4f\n",
				f.Downloaders, formatSize(r.Size), formatRate(f.Aggregate), formatRate(f.Alone), f.AggregateOverAlone, f.Jain)
			if len(f.PerDownloader) > 0 {
				lo, hi := f.PerDownloader[0], f.PerDownloader[0]
				for _, x := range f.PerDownloader {
					lo, hi = min(lo, x), max(hi, x)
				}
				fmt.Fprintf(w, "- per downloader: %s to %s\n", formatRate(lo), formatRate(hi))
			}
			if sc := r.SeedCPU; sc != nil {
				fmt.Fprintf(w, "- the seed, `quicxfer seed` in a child process behind the link: %.2f CPU s over the downloads at once, for %s served (the downloaders' fetched bytes): %.2f CPU s per GiB served; measured as %s\n",
					sc.CPUSeconds, formatMiB(sc.Served), sc.PerGiB, sc.Measured)
				fmt.Fprintln(w, "- the seed's bytes sent (and the plot) are its link's: QUIC packets delivered downstream, headers and retransmissions included")
			}
		}
		if rs := r.Resume; rs != nil {
			fmt.Fprintf(w, "\n- first run SIGKILLed when the seeds had sent %s; the second run resumed %s and fetched %s\n",
				formatMiB(rs.SentBeforeKill), formatMiB(rs.Resumed), formatMiB(rs.Fetched))
			fmt.Fprintf(w, "- fetched again (sent before the kill + fetched by the second run − size; an upper bound): %d bytes = %.4f of the file; the second run's duplicates: %d bytes\n",
				rs.FetchedAgain, rs.FetchedAgainOverSize, rs.Duplicates)
			fmt.Fprintln(w, "- the table's time, rate and ideal are the second run's, for the part it fetched")
		}
		if s := r.Swarm; s != nil {
			writeSwarmDetails(w, s)
		} else if a := r.Attack; a != nil {
			writeAttackDetails(w, a)
		} else if p := r.SeedProcess; p != nil {
			fmt.Fprintf(w, "\n- peak RSS: downloader %s, seed %s (CPU s: downloader %.2f, seed %.2f)\n", formatMiB(r.PeakRSS), formatMiB(p.PeakRSS), r.CPUSeconds, p.CPUSeconds)
		}
		if a := r.Aria2; a != nil && (len(a.Runs) > 0 || a.Skipped != "") {
			fmt.Fprintf(w, "\n- aria2c (links: %s):", orNA(a.Links))
			if a.Skipped != "" {
				fmt.Fprintf(w, " skipped: %s", a.Skipped)
			}
			fmt.Fprintln(w)
			if a.Failure != "" && a.Skipped == "" {
				fmt.Fprintf(w, "  - as for quicxfer: %s\n", a.Failure)
			}
			for _, run := range a.Runs {
				killed := ""
				if run.KilledAt > 0 {
					killed = fmt.Sprintf(" (mirror killed at %.1f %% sent)", 100*run.KilledAt)
				}
				if run.Err != "" {
					fmt.Fprintf(w, "  - `%s`%s: failed: %s\n", run.Options, killed, oneLine(run.Err))
					continue
				}
				fmt.Fprintf(w, "  - `%s`: %.2f s, %s, %.2f CPU s, peak RSS %s%s\n", run.Options, run.Elapsed, formatRate(run.Throughput), run.CPUSeconds, formatMiB(run.PeakRSS), killed)
			}
			if a.Caveat != "" {
				fmt.Fprintf(w, "  - † %s\n", a.Caveat)
			}
		}
		if len(r.Seeds) > 1 && r.Fairness == nil {
			fmt.Fprintln(w, "\n| seed | link | accepted | share | received | sent | note |")
			fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---|")
			for i, s := range r.Seeds {
				link := "loopback"
				if s.Rate > 0 {
					link = fmt.Sprintf("%s, %.0f ms", formatRate(s.Rate), 1000*s.RTT)
					if s.Loss > 0 {
						link += fmt.Sprintf(", %.1f %% loss", 100*s.Loss)
					}
				}
				note := s.Note
				if s.Killed {
					note = strings.TrimSpace("killed " + note)
				}
				if s.Stalls {
					note = strings.TrimSpace("stalls " + note)
				}
				fmt.Fprintf(w, "| %d | %s | %s | %.1f %% | %s | %s | %s |\n", i+1, link, formatMiB(s.Bytes), 100*s.Share, formatMiB(s.Received), formatMiB(s.Sent), note)
			}
		}
		if r.Plot != "" {
			fmt.Fprintf(w, "\n![%s: throughput over time per seed](%s)\n", r.Name, r.Plot)
		}
	}
}

// writeRawDetails writes scenario 1's comparison with the raw ceiling and
// the CPU each process spent per GiB.
func writeRawDetails(w io.Writer, r Result) {
	conns := "its connections unknown"
	if c := seedConns(r); c > 0 {
		conns = nOf(c, "connection") + " to the seed at most (`--json` `conns`)"
	}
	fmt.Fprintf(w, "\n- quicxfer: %.2f s, %s, %s; ÷ raw with %s %.3f", r.Elapsed, formatRate(r.Throughput), conns, nOf(r.Raw.Conns, "connection"), r.OverRaw)
	if r.RawSameConns != r.Raw.Conns {
		fmt.Fprintf(w, ", ÷ raw with %s %.3f", nOf(r.RawSameConns, "connection"), r.OverRawSameConns)
	}
	fmt.Fprintf(w, " (the target's ratio is against the raw run with the number of connections nearest quicxfer's: %s)\n", nOf(r.RawSameConns, "connection"))
	for _, raw := range append([]RawResult{*r.Raw}, r.RawMulti...) {
		where := "the server in this process"
		if raw.Child {
			where = "the server in a child process"
		}
		fmt.Fprintf(w, "- raw quic-go over %s (one stream each, all at once; %s): %.2f s, %s; CPU s: client %.2f (%.2f per GiB), server %.2f (%.2f per GiB)\n",
			nOf(raw.Conns, "connection"), where, raw.Elapsed.Seconds(), formatRate(raw.Throughput), raw.ClientCPU, raw.ClientCPUPerGiB, raw.ServerCPU, raw.ServerCPUPerGiB)
	}
	who := "the downloader's (`quicxfer get` in a child process, its rusage)"
	if !r.DownloaderInChild {
		who = "this whole process's (the downloader ran in it, with the seed)"
	}
	fmt.Fprintf(w, "- CPU s per GiB downloaded: quicxfer get %.2f (%.2f s in all, %s)", r.CPUPerGiB, r.CPUSeconds, who)
	if sc := r.SeedCPU; sc != nil {
		fmt.Fprintf(w, "; seed %.2f (%.2f s for %s served; %s)", sc.PerGiB, sc.CPUSeconds, formatMiB(sc.Served), sc.Measured)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "- the raw client's CPU is this process's over the transfer (getrusage; the seed had stopped by then), the raw server's the child's ("+procCPUHow+")")
	if nb := r.Nginx; nb != nil {
		writeNginxDetails(w, nb)
	}
}

// writeNginxDetails writes scenario 1's downloads from nginx.
func writeNginxDetails(w io.Writer, nb *NginxBaseline) {
	if nb.Skipped != "" {
		fmt.Fprintf(w, "- from nginx: skipped: %s\n", nb.Skipped)
		return
	}
	fmt.Fprintf(w, "- from nginx %s on 127.0.0.1 (this namespace, no link; one process, sendfile), %s; times launch to exit, CPU s the downloader's (rusage) and nginx's (%s):\n", orNA(nb.Version), nb.URL, procCPUHow)
	run := func(name string, run NginxRun) {
		if run.Err != "" {
			fmt.Fprintf(w, "  - %s: failed: %s\n", name, oneLine(run.Err))
			return
		}
		fmt.Fprintf(w, "  - %s: %.2f s, %s; CPU s: downloader %.2f (%.2f per GiB), nginx %.3f (%.2f per GiB); peak RSS %s; nginx sent %s\n",
			name, run.Elapsed, formatRate(run.Throughput), run.CPUSeconds, run.CPUPerGiB, run.NginxCPU, run.NginxCPUPerGiB, formatMiB(run.PeakRSS), formatMiB(run.Sent))
	}
	if nb.Aria2Skipped != "" {
		fmt.Fprintf(w, "  - aria2c: skipped: %s\n", nb.Aria2Skipped)
	}
	for i, a := range nb.Aria2 {
		name := "aria2c `" + a.Options + "`"
		if i == nb.Aria2Best {
			name += " (aria2 from nginx: the fastest)"
		}
		run(name, a)
	}
	switch q := nb.Quicxfer; {
	case q != nil:
		run("`quicxfer "+q.Options+"` (every block verified against the manifest, written by `quicxfer manifest --out`)", *q)
	case nb.QuicxferSkipped != "":
		fmt.Fprintf(w, "  - quicxfer get: skipped: %s\n", nb.QuicxferSkipped)
	}
	fmt.Fprintln(w, "- the table's aria2 columns are aria2c against the bench's Go net/http mirror on loopback (the suite's baseline, kept); \"aria2 from nginx\" in the last column is the fastest run above")
}

// plotName is the plot's file name for scenario name: letters, digits and
// dashes only, so that it needs no escaping in a Markdown link.
func plotName(name string) string {
	b := []byte("plot-")
	for _, c := range []byte(strings.ToLower(name)) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case len(b) > 0 && b[len(b)-1] != '-':
			b = append(b, '-')
		}
	}
	return strings.TrimSuffix(string(b), "-") + ".svg"
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func formatRate(bps float64) string {
	return fmt.Sprintf("%.1f Mbit/s", bps*8/1e6)
}

func formatMiB(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// swarmCell is scenario 11's table cell: both rounds.
func swarmCell(s *SwarmFigures) string {
	return fmt.Sprintf("%d downloaders, origin sent ÷ size: alone %.2f (%.2f s), --serve %.2f (%.2f s); from each other %.2f × size",
		s.Downloaders, s.Alone.OriginOverSize, s.Alone.LastDone, s.Shared.OriginOverSize, s.Shared.LastDone, s.Shared.FromPeersOverSize)
}

// writeSwarmDetails writes scenario 11's rounds.
func writeSwarmDetails(w io.Writer, s *SwarmFigures) {
	fmt.Fprintf(w, "\n| round | first done | last done | origin sent | ÷ size | accepted from origin | from each other | ÷ size | verified | downloaders' CPU s | peak RSS | origin CPU s | origin peak RSS |\n")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, rd := range []SwarmProcRound{s.Alone, s.Shared} {
		name := "alone (--max-peers 0)"
		if rd.Serve {
			name = "--serve"
			if s.PeerUpload > 0 {
				name += ", --upload-limit " + formatRate(s.PeerUpload)
			}
		}
		fmt.Fprintf(w, "| %s | %.2f s | %.2f s | %s | %.2f | %s | %s | %.2f | %d of %d | %.2f | %s | %.2f | %s |\n",
			name, rd.FirstDone, rd.LastDone, formatMiB(rd.OriginSent), rd.OriginOverSize, formatMiB(rd.FromOrigin),
			formatMiB(rd.FromPeers), rd.FromPeersOverSize, rd.Verified, s.Downloaders, rd.DownloaderCPU, formatMiB(rd.DownloaderRSS),
			rd.OriginCPU, formatMiB(rd.OriginPeakRSS))
	}
	if s.AloneIdeal > 0 {
		fmt.Fprintf(w, "\n- alone, the ideal is %d copies through the origin's link: %.2f s (last done ÷ ideal %.3f)\n", s.Downloaders, s.AloneIdeal, s.Alone.LastDone/s.AloneIdeal)
	}
	if s.Alone.LastDone > 0 && s.Shared.LastDone > 0 {
		fmt.Fprintf(w, "- with --serve: last done %.2f × the alone round's time, the origin sent %.2f × what it sent alone\n",
			s.Shared.LastDone/s.Alone.LastDone, s.Shared.OriginOverSize/max(s.Alone.OriginOverSize, 1e-9))
	}
	fmt.Fprintln(w, "- times are from launching the downloaders together to each one printing its `--json` result; the origin's bytes are its quicxfer_seed_bytes_sent_total (block payload, duplicates included), scraped once all were done; \"from each other\" sums the downloaders' `--json` per-source bytes from URLs other than the origin's; every output is checked against the source's SHA-256 and size")
	fmt.Fprintln(w, "- the table's row is the --serve round: time = last done, rate = all the copies ÷ that time, CPU and peak RSS the downloaders' (summed, highest)")
}
