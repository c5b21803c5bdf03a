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
		q := part.p.Quicxfer
		logf("  %s: quicxfer %.2f s, time ÷ ideal %.3f, identical %s%s", part.name, q.Wall, q.TimeOverIdeal, yesNo(q.Identical), errSuffix(q.Err))
		for _, a := range part.p.Aria2 {
			logf("  %s: aria2 %s: %.2f s, time ÷ ideal %.3f, identical %s%s", part.name, a.Options, a.Elapsed, a.TimeOverIdeal, yesNo(a.Identical), errSuffix(a.Err))
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
		if best := p.Aria2Best; best >= 0 {
			cell += fmt.Sprintf(" (aria2 %.3f)", p.Aria2[best].TimeOverIdeal)
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
			fmt.Fprintf(w, "\n![%s (a): quicxfer, throughput over time per link](%s)\n", r.Name, r.Plot)
		}
		if name := m.Plots["a-aria2"]; name != "" {
			fmt.Fprintf(w, "\n![%s (a): aria2c best, throughput over time per link](%s)\n", r.Name, name)
		}
	}
	if p := m.Metalink; p != nil {
		fmt.Fprintf(w, "\n#### (b) the same plus a lying mirror, through a Metalink: ideal %.2f s (the honest links)\n\n", p.Ideal)
		fmt.Fprintf(w, "The Metalink has the file's sha-256 and sha-256 pieces of %s; the liar (every byte XORed with 0x%02X, %s) is at priority 1, the honest mirrors at 2 to %d.\n\n",
			formatSize(p.PieceLength), liarXOR, liarRate(p.Quicxfer), len(p.Quicxfer.Sources))
		writeMirrorsTable(w, p, r.Size)
		q := p.Quicxfer
		if l, ok := liarSource(q); ok {
			fmt.Fprintf(w, "\n- quicxfer and the liar: %d bad blocks, %d bytes accepted, %s received, %s sent by it; note: %s\n",
				l.BadBlocks, l.Bytes, formatMiB(l.Received), formatMiB(l.Sent), orNA(l.Note))
			blocks := q.Rejected[l.URL]
			fmt.Fprintf(w, "- blocks rejected (--json-progress block_rejected events): %d from the liar (%s)", len(blocks), blockRanges(blocks))
			others := 0
			for u, bs := range q.Rejected {
				if u != l.URL {
					others += len(bs)
				}
			}
			fmt.Fprintf(w, ", %d from the honest mirrors\n", others)
		}
		fmt.Fprintf(w, "- quicxfer's output byte-identical: %s\n", yesNo(q.Identical))
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

// writeMirrorsTable writes part p's downloads: quicxfer's, then each of
// aria2c's, with what each mirror gave.
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
	outcome := "byte-identical"
	if q.Verified {
		outcome += ", verified"
	}
	switch {
	case q.Err != "":
		outcome = "**failed**: " + oneLine(q.Err)
	case !q.Identical:
		outcome = "**differs**"
	}
	fmt.Fprintf(w, "| quicxfer | `%s` | %.2f (own %.2f) | %.3f | %.4f | %.2f | %s | %s | %s |\n",
		strings.Join(q.Args, " "), q.Wall, q.Elapsed, q.TimeOverIdeal, float64(sent)/float64(max(size, 1)), q.CPUSeconds, formatMiB(q.PeakRSS), strings.Join(cells, " | "), outcome)
	for i, a := range p.Aria2 {
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
		name := "aria2c"
		if i == p.Aria2Best {
			name = "aria2c **best**"
		}
		fmt.Fprintf(w, "| %s | `%s` | %.2f | %.3f | %.4f | %.2f | %s | %s | %s |\n",
			name, a.Options, a.Elapsed, a.TimeOverIdeal, a.FetchedOver, a.CPUSeconds, formatMiB(a.PeakRSS), strings.Join(cells, " | "), outcome)
	}
	fmt.Fprintf(w, "\nquicxfer's cells are the bytes it accepted from each mirror (and what that mirror sent); its fetched_bytes ÷ size is %.4f.", q.FetchedOver)
	if len(p.Aria2) > 0 {
		fmt.Fprint(w, " aria2c ran with --file-allocation=none and --check-integrity (and, in (a), --checksum=sha-256=HEX).")
	}
	fmt.Fprintln(w)
}

// writeMirrorsVs compares quicxfer with aria2c's best in part p.
func writeMirrorsVs(w io.Writer, p *MirrorsPart) {
	if p.Aria2Best < 0 || p.Quicxfer.Wall <= 0 {
		if len(p.Aria2) > 0 {
			fmt.Fprintln(w, "- no aria2c run gave a byte-identical file")
		}
		return
	}
	a := p.Aria2[p.Aria2Best]
	fmt.Fprintf(w, "- quicxfer %.3f × ideal, aria2c best (`%s`) %.3f × ideal: aria2c's time ÷ quicxfer's %.3f; CPU s %.2f against %.2f\n",
		p.Quicxfer.TimeOverIdeal, a.Options, a.TimeOverIdeal, a.Elapsed/p.Quicxfer.Wall, p.Quicxfer.CPUSeconds, a.CPUSeconds)
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

// writeMirrorsPlots draws scenario 12's extra plots into dir: (a)'s best
// aria2c run, (b)'s quicxfer and aria2c downloads; it records their names
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
	if p := m.Mirrors; p != nil && p.Aria2Best >= 0 {
		draw("a-aria2", "(a) aria2c "+p.Aria2[p.Aria2Best].Options, p.Aria2[p.Aria2Best].Samples, rates(p.Quicxfer))
	}
	if p := m.Metalink; p != nil {
		draw("b-quicxfer", "(b) quicxfer", p.Quicxfer.Samples, rates(p.Quicxfer))
		if i := p.Aria2Best; i >= 0 {
			draw("b-aria2", "(b) aria2c "+p.Aria2[i].Options, p.Aria2[i].Samples, rates(p.Quicxfer))
		} else if len(p.Aria2) > 0 {
			draw("b-aria2", "(b) aria2c "+p.Aria2[0].Options, p.Aria2[0].Samples, rates(p.Quicxfer))
		}
	}
	return errs
}
