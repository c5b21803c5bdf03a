package bench

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Scenario 12's part of the report: its table cell, its details and its
// extra plots (mirrors.go has the figures).

// formatMB is a rate in MB/s (10^6 bytes).
func formatMB(bps float64) string { return fmt.Sprintf("%.1f MB/s", bps/MB) }

// yesNo is "yes" or "no".
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// logMirrors writes scenario 12's headline figures as log lines.
func logMirrors(logf func(string, ...any), m *MirrorsResult) {
	if m.Skipped != "" {
		logf("  (a), (b) skipped: %s", m.Skipped)
	}
	for _, part := range []struct {
		name string
		p    *MirrorsPart
	}{{"(a) 3 mirrors", m.Mirrors}, {"(b) Metalink + liar", m.Metalink}} {
		if part.p == nil {
			continue
		}
		for i, q := range part.p.QuicxferRuns {
			logf("  %s: quicxfer round %d: %.2f s, time ÷ ideal %.3f, identical %s%s", part.name, i+1, q.Wall, q.TimeOverIdeal, yesNo(q.Identical), errSuffix(q.Err))
		}
		for _, a := range part.p.Aria2 {
			logf("  %s: aria2 %s: %.2f s, time ÷ ideal %.3f, identical %s%s", part.name, a.Options, a.Elapsed, a.TimeOverIdeal, yesNo(a.Identical), errSuffix(a.Err))
		}
		for _, a := range part.p.Aria2BestRuns[min(1, len(part.p.Aria2BestRuns)):] {
			logf("  %s: aria2 %s again: %.2f s, time ÷ ideal %.3f, identical %s%s", part.name, a.Options, a.Elapsed, a.TimeOverIdeal, yesNo(a.Identical), errSuffix(a.Err))
		}
	}
	if c := m.HTTP3; c != nil {
		logf("  (c) loopback: HTTP/3 %s, %.2f CPU s; HTTP/1.1 %s, %.2f CPU s (medians of %d and %d)",
			formatMB(c.HTTP3.Throughput), c.HTTP3.CPUSeconds, formatMB(c.HTTP1.Throughput), c.HTTP1.CPUSeconds, c.HTTP3.Runs, c.HTTP1.Runs)
	}
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return ": failed: " + oneLine(e)
}

// mirrorsCell is scenario 12's "shares" cell: (b) and (c) in a line.
func mirrorsCell(m *MirrorsResult) string {
	var s []string
	if m.Skipped != "" {
		s = append(s, "(a), (b) skipped: "+m.Skipped)
	}
	if p := m.Metalink; p != nil {
		q := p.Quicxfer
		cell := fmt.Sprintf("(b) Metalink + liar: time ÷ ideal %.3f", q.TimeOverIdeal)
		if med := p.Aria2BestMedian; med != nil {
			cell += fmt.Sprintf(" (aria2 %.3f)", med.TimeOverIdeal)
		}
		if l, ok := liarSource(q); ok {
			cell += fmt.Sprintf(", liar: %d bad blocks, %d bytes accepted", l.BadBlocks, l.Bytes)
		}
		cell += ", identical " + yesNo(q.Identical)
		s = append(s, cell)
	}
	if c := m.HTTP3; c != nil {
		s = append(s, fmt.Sprintf("(c) loopback: HTTP/3 %s (%.2f CPU s), HTTP/1.1 %s (%.2f CPU s)",
			formatMB(c.HTTP3.Throughput), c.HTTP3.CPUSeconds, formatMB(c.HTTP1.Throughput), c.HTTP1.CPUSeconds))
	}
	return strings.Join(s, "; ")
}

// liarSource returns the liar's entry of q's sources.
func liarSource(q MirrorGet) (MirrorSource, bool) {
	for _, s := range q.Sources {
		if s.Liar {
			return s, true
		}
	}
	return MirrorSource{}, false
}

// writeMirrorsDetails writes scenario 12's details: a table for each of
// (a) and (b), the liar's figures, and (c)'s runs.
func writeMirrorsDetails(w io.Writer, r Result) {
	m := r.Mirrors
	if m.Skipped != "" {
		fmt.Fprintf(w, "\n- (a) and (b) skipped: %s\n", m.Skipped)
	}
	if m.Links != "" {
		fmt.Fprintf(w, "\n- links: %s\n", m.Links)
		fmt.Fprintf(w, "- the links' rates are tbf's for QUIC datagrams (kernel.go): a full TCP segment's %d payload bytes travel in a %d-byte frame, so TCP through them carries at most %.4f × the nominal rate, and no HTTP client can do better than time ÷ ideal %.3f\n",
			tcpSegmentPayload, tcpSegmentFrame, m.TCPCeiling, 1/m.TCPCeiling)
		fmt.Fprintln(w, "- times are wall clock, launch to exit, for both downloaders (quicxfer's own elapsed_s beside); CPU s and peak RSS are the downloader process's; \"sent\" is what each mirror sent (nginx's $body_bytes_sent, the liar's counter); every output is compared with the source's SHA-256")
	}
	if m.Aria2Skipped != "" {
		fmt.Fprintf(w, "- aria2c: %s\n", m.Aria2Skipped)
	}
	if p := m.Mirrors; p != nil {
		fmt.Fprintf(w, "\n#### (a) three mirrors (%s): ideal %.2f s\n\n", ratesList(mirrorRates(p.Quicxfer)), p.Ideal)
		writeMirrorsTable(w, p, r.Size)
		writeMirrorsVs(w, p)
		if r.Plot != "" {
			fmt.Fprintf(w, "\n![%s (a): quicxfer (median run), throughput over time per link](%s)\n", r.Name, r.Plot)
		}
		if name := m.Plots["a-aria2"]; name != "" {
			fmt.Fprintf(w, "\n![%s (a): aria2c best setting (median run), throughput over time per link](%s)\n", r.Name, name)
		}
	}
	if p := m.Metalink; p != nil {
		fmt.Fprintf(w, "\n#### (b) the same plus a lying mirror, through a Metalink: ideal %.2f s (the honest links)\n\n", p.Ideal)
		fmt.Fprintf(w, "The Metalink has the file's sha-256 and sha-256 pieces of %s; the liar (every byte XORed with 0x%02X, %s) is at priority 1, the honest mirrors at 2 to %d.\n\n",
			formatSize(p.PieceLength), liarXOR, liarRate(p.Quicxfer), len(p.Quicxfer.Sources))
		writeMirrorsTable(w, p, r.Size)
		for i, g := range p.QuicxferRuns {
			l, ok := liarSource(g)
			if !ok {
				continue
			}
			others := 0
			for u, bs := range g.Rejected {
				if u != l.URL {
					others += len(bs)
				}
			}
			fmt.Fprintf(w, "- round %d, the liar: %d bad blocks, %d bytes accepted, %s received, %s sent by it (%s); blocks rejected (block_rejected events): %d from the liar (%s), %d from the honest mirrors; output byte-identical: %s\n",
				i+1, l.BadBlocks, l.Bytes, formatMiB(l.Received), formatMiB(l.Sent), orNA(l.Note), len(g.Rejected[l.URL]), blockRanges(g.Rejected[l.URL]), others, yesNo(g.Identical))
		}
		writeMirrorsVs(w, p)
		if name := m.Plots["b-quicxfer"]; name != "" {
			fmt.Fprintf(w, "\n![%s (b): quicxfer, throughput over time per link (the last is the liar)](%s)\n", r.Name, name)
		}
		if name := m.Plots["b-aria2"]; name != "" {
			fmt.Fprintf(w, "\n![%s (b): aria2c, throughput over time per link (the last is the liar)](%s)\n", r.Name, name)
		}
	}
	if c := m.HTTP3; c != nil {
		fmt.Fprintf(w, "\n#### (c) one https mirror on loopback: HTTP/3 against HTTP/1.1\n\n")
		fmt.Fprintln(w, "An in-process net/http server over TLS (HTTP/1.1 only, `Alt-Svc: h3`) and a quic-go http3.Server on the same port, one self-signed certificate, no shaping; `quicxfer get --insecure --http3 always|never URL`, interleaved. MB/s is size ÷ quicxfer's elapsed_s; server CPU s is the bench process's during the download (the servers, mostly).")
		fmt.Fprintln(w, "\n| run | --http3 | protocol (--json) | seconds | MB/s | CPU s | peak RSS | server CPU s | output |")
		fmt.Fprintln(w, "|---:|---|---|---:|---:|---:|---:|---:|---|")
		for i, run := range c.Runs {
			outcome := "byte-identical"
			if run.Err != "" {
				outcome = "**failed**: " + oneLine(run.Err)
			}
			fmt.Fprintf(w, "| %d | %s | %s | %.2f | %.1f | %.2f | %s | %.2f | %s |\n", i+1, run.Mode, orNA(run.Protocol), run.Elapsed, run.Throughput/MB, run.CPUSeconds, formatMiB(run.PeakRSS), run.ServerCPU, outcome)
		}
		fmt.Fprintf(w, "\n- medians: HTTP/3 %s, %.2f CPU s (server %.2f); HTTP/1.1 %s, %.2f CPU s (server %.2f)\n",
			formatMB(c.HTTP3.Throughput), c.HTTP3.CPUSeconds, c.HTTP3.ServerCPU, formatMB(c.HTTP1.Throughput), c.HTTP1.CPUSeconds, c.HTTP1.ServerCPU)
		if c.HTTP1.Throughput > 0 && c.HTTP3.CPUSeconds > 0 && c.HTTP1.CPUSeconds > 0 {
			fmt.Fprintf(w, "- HTTP/3 ÷ HTTP/1.1: throughput %.2f, downloader CPU s %.2f\n",
				c.HTTP3.Throughput/c.HTTP1.Throughput, c.HTTP3.CPUSeconds/c.HTTP1.CPUSeconds)
		}
	}
}

// mirrorRates are the link rates of q's sources.
func mirrorRates(q MirrorGet) []float64 {
	var rs []float64
	for _, s := range q.Sources {
		if !s.Liar {
			rs = append(rs, s.Rate)
		}
	}
	return rs
}

func liarRate(q MirrorGet) string {
	if l, ok := liarSource(q); ok {
		return formatMB(l.Rate)
	}
	return "n/a"
}

// writeMirrorsTable writes part p's downloads: quicxfer's median run,
// each of aria2c's settings once, and the best setting's median run, with
// what each mirror gave; then every round.
func writeMirrorsTable(w io.Writer, p *MirrorsPart, size int64) {
	q := p.Quicxfer
	head := "| downloader | settings | seconds | time ÷ ideal | sent ÷ size | CPU s | peak RSS |"
	rule := "|---|---|---:|---:|---:|---:|---:|"
	for _, s := range q.Sources {
		name := formatMB(s.Rate)
		if s.Liar {
			name = "liar, " + name
		}
		head += " " + name + " |"
		rule += "---:|"
	}
	fmt.Fprintln(w, head+" output |")
	fmt.Fprintln(w, rule+"---|")
	var sent int64
	cells := make([]string, len(q.Sources))
	for i, s := range q.Sources {
		sent += s.Sent
		cells[i] = fmt.Sprintf("%s (sent %s", formatMiB(s.Bytes), formatMiB(s.Sent))
		if s.BadBlocks > 0 {
			cells[i] += fmt.Sprintf(", %d bad", s.BadBlocks)
		}
		if s.Protocol != "" {
			cells[i] += ", " + s.Protocol
		}
		cells[i] += ")"
	}
	fmt.Fprintf(w, "| quicxfer, median of %d | `%s` | %.2f (own %.2f) | %.3f | %.4f | %.2f | %s | %s | %s |\n",
		len(p.QuicxferRuns), strings.Join(q.Args, " "), q.Wall, q.Elapsed, q.TimeOverIdeal, float64(sent)/float64(max(size, 1)), q.CPUSeconds, formatMiB(q.PeakRSS), strings.Join(cells, " | "), getCell(q))
	aria2Row := func(name string, a MirrorRun) {
		cells := make([]string, len(q.Sources))
		for j := range cells {
			cells[j] = "n/a"
			if j < len(a.Sent) {
				cells[j] = "sent " + formatMiB(a.Sent[j])
			}
		}
		outcome := "byte-identical"
		if a.Err != "" {
			outcome = "**failed**: " + oneLine(a.Err)
		}
		fmt.Fprintf(w, "| %s | `%s` | %.2f | %.3f | %.4f | %.2f | %s | %s | %s |\n",
			name, a.Options, a.Elapsed, a.TimeOverIdeal, a.FetchedOver, a.CPUSeconds, formatMiB(a.PeakRSS), strings.Join(cells, " | "), outcome)
	}
	for _, a := range p.Aria2 {
		aria2Row("aria2c", a)
	}
	if med := p.Aria2BestMedian; med != nil {
		aria2Row(fmt.Sprintf("aria2c **best setting**, median of %d", len(p.Aria2BestRuns)), *med)
	}
	fmt.Fprintf(w, "\nquicxfer's cells are the bytes it accepted from each mirror (and what that mirror sent); its fetched_bytes ÷ size is %.4f.", q.FetchedOver)
	if len(p.Aria2) > 0 {
		fmt.Fprint(w, " aria2c ran with --file-allocation=none and --check-integrity (and, in (a), --checksum=sha-256=HEX); each setting once, then the fastest again after each quicxfer round but the last.")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	var rounds []string
	for _, g := range p.QuicxferRuns {
		rounds = append(rounds, fmt.Sprintf("%.2f s (%.3f, %.2f CPU s%s)", g.Wall, g.TimeOverIdeal, g.CPUSeconds, failedMark(g.Err != "" || !g.Identical)))
	}
	fmt.Fprintf(w, "- quicxfer's rounds (time ÷ ideal, CPU): %s\n", strings.Join(rounds, ", "))
	if len(p.Aria2BestRuns) > 0 {
		rounds = rounds[:0]
		for _, a := range p.Aria2BestRuns {
			rounds = append(rounds, fmt.Sprintf("%.2f s (%.3f, %.2f CPU s%s)", a.Elapsed, a.TimeOverIdeal, a.CPUSeconds, failedMark(a.Err != "")))
		}
		fmt.Fprintf(w, "- aria2c `%s`'s runs: %s\n", p.Aria2BestRuns[0].Options, strings.Join(rounds, ", "))
	}
}

func failedMark(failed bool) string {
	if failed {
		return ", **failed**"
	}
	return ""
}

// getCell is the output cell of a quicxfer download.
func getCell(q MirrorGet) string {
	switch {
	case q.Err != "":
		return "**failed**: " + oneLine(q.Err)
	case !q.Identical:
		return "**differs**"
	case q.Verified:
		return "byte-identical, verified"
	}
	return "byte-identical"
}

// writeMirrorsVs compares quicxfer's median run with aria2c's best
// setting's.
func writeMirrorsVs(w io.Writer, p *MirrorsPart) {
	med := p.Aria2BestMedian
	if med == nil || p.Quicxfer.Wall <= 0 {
		if len(p.Aria2) > 0 {
			fmt.Fprintln(w, "- no aria2c run gave a byte-identical file")
		}
		return
	}
	fmt.Fprintf(w, "- medians: quicxfer %.3f × ideal, aria2c's best setting (`%s`) %.3f × ideal: aria2c's time ÷ quicxfer's %.3f; CPU s %.2f against %.2f\n",
		p.Quicxfer.TimeOverIdeal, med.Options, med.TimeOverIdeal, med.Elapsed/p.Quicxfer.Wall, p.Quicxfer.CPUSeconds, med.CPUSeconds)
}

// blockRanges writes block indexes as "0-2, 7" (sorted, duplicates
// counted once), "none" for none.
func blockRanges(blocks []int) string {
	if len(blocks) == 0 {
		return "none"
	}
	bs := slices.Clone(blocks)
	slices.Sort(bs)
	bs = slices.Compact(bs)
	var parts []string
	for i := 0; i < len(bs); {
		j := i
		for j+1 < len(bs) && bs[j+1] == bs[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(bs[i]))
		} else {
			parts = append(parts, strconv.Itoa(bs[i])+"-"+strconv.Itoa(bs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// writeMirrorsPlots draws scenario 12's extra plots into dir: (a)'s
// aria2c best-setting median run, (b)'s median quicxfer and aria2c runs; it records their names
// in r.Mirrors.Plots and returns what could not be drawn.
func writeMirrorsPlots(dir string, r Result) []string {
	m := r.Mirrors
	var errs []string
	draw := func(key, what string, samples []Sample, rates []float64) {
		if len(samples) < 2 {
			return
		}
		pr := Result{Name: r.Name + " " + what, Size: r.Size, Samples: samples}
		for _, rate := range rates {
			pr.Seeds = append(pr.Seeds, SeedShare{Rate: rate})
		}
		name := plotName(r.Name + "-" + key)
		if err := WritePlot(filepath.Join(dir, name), pr); err != nil {
			errs = append(errs, fmt.Sprintf("%s %s: %v", r.Name, what, err))
			return
		}
		if m.Plots == nil {
			m.Plots = map[string]string{}
		}
		m.Plots[key] = name
	}
	rates := func(q MirrorGet) []float64 {
		var rs []float64
		for _, s := range q.Sources {
			rs = append(rs, s.Rate)
		}
		return rs
	}
	if p := m.Mirrors; p != nil && p.Aria2BestMedian != nil {
		draw("a-aria2", "(a) aria2c "+p.Aria2BestMedian.Options, p.Aria2BestMedian.Samples, rates(p.Quicxfer))
	}
	if p := m.Metalink; p != nil {
		draw("b-quicxfer", "(b) quicxfer", p.Quicxfer.Samples, rates(p.Quicxfer))
		if med := p.Aria2BestMedian; med != nil {
			draw("b-aria2", "(b) aria2c "+med.Options, med.Samples, rates(p.Quicxfer))
		} else if len(p.Aria2) > 0 {
			draw("b-aria2", "(b) aria2c "+p.Aria2[0].Options, p.Aria2[0].Samples, rates(p.Quicxfer))
		}
	}
	return errs
}
