package ui

import (
	"fmt"
	"io"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// Summary prints what a finished download did: time, average rate, bytes
// resumed and fetched, and each source's share.
func Summary(w io.Writer, out string, res *quicxfer.Result) {
	missing := res.Size - res.ResumedBytes
	rate := averageRate(missing, res.Elapsed)
	how := "verified (content ID " + res.ID.String() + ")"
	switch {
	case res.ID.IsZero() && res.Checked:
		how = "verified against its published hash"
	case res.ID.IsZero():
		how = "NOT verified against a published hash (none was given; the mirrors were compared with each other)"
	}
	fmt.Fprintf(w, "%s: %s %s in %s, %s/s average\n", ShowName(out), FormatBytes(float64(res.Size)), how, res.Elapsed.Round(time.Millisecond), FormatBytes(rate))
	fmt.Fprintf(w, "  %s resumed from disk, %s fetched over the network", FormatBytes(float64(res.ResumedBytes)), FormatBytes(float64(res.FetchedBytes)))
	if missing > 0 && res.FetchedBytes > missing {
		fmt.Fprintf(w, " (%.1f%% more than was missing: duplicates and rejected blocks)", 100*float64(res.FetchedBytes-missing)/float64(missing))
	}
	if res.RepairedBytes > 0 {
		fmt.Fprintf(w, " (%s fetched again after the whole file failed its checksum)", FormatBytes(float64(res.RepairedBytes)))
	}
	fmt.Fprintln(w)
	for _, s := range res.Seeds {
		share := 0.0
		if missing > 0 {
			share = 100 * float64(s.Bytes) / float64(missing)
		}
		line := fmt.Sprintf("  %-60s %10s %5.1f%% %5d %s", RedactURL(s.URL), FormatBytes(float64(s.Bytes)), share, s.Blocks, Plural(s.Blocks, "block"))
		if s.BadBlocks > 0 {
			line += fmt.Sprintf(", %d bad", s.BadBlocks)
		}
		if s.Protocol != "" {
			line += " over " + s.Protocol
		}
		if s.Note != "" {
			line += " (" + RedactURLsIn(s.Note) + ")"
		}
		fmt.Fprintln(w, line)
	}
}

// DirSummary prints what a finished directory download did.
func DirSummary(w io.Writer, dir string, files []File, results []*quicxfer.Result, elapsed time.Duration) {
	var size, resumed int64
	type seedSum struct{ bytes, blocks, bad int64 }
	seeds := map[string]*seedSum{}
	var order []string
	for _, r := range results {
		if r == nil {
			continue
		}
		size += r.Size
		resumed += r.ResumedBytes
		for _, s := range r.Seeds {
			if seeds[s.URL] == nil {
				seeds[s.URL] = &seedSum{}
				order = append(order, s.URL)
			}
			seeds[s.URL].bytes += s.Bytes
			seeds[s.URL].blocks += s.Blocks
			seeds[s.URL].bad += s.BadBlocks
		}
	}
	fetched := size - resumed
	rate := averageRate(fetched, elapsed)
	fmt.Fprintf(w, "%s: %s, %s verified in %s, %s/s average", ShowName(dir), Count(len(files), "file"), FormatBytes(float64(size)), elapsed.Round(time.Millisecond), FormatBytes(rate))
	if resumed > 0 {
		fmt.Fprintf(w, ", %s resumed from disk", FormatBytes(float64(resumed)))
	}
	fmt.Fprintln(w)
	for _, u := range order {
		s := seeds[u]
		share := 0.0
		if fetched > 0 {
			share = 100 * float64(s.bytes) / float64(fetched)
		}
		line := fmt.Sprintf("  %-60s %10s %5.1f%% %5d %s", RedactURL(u), FormatBytes(float64(s.bytes)), share, s.blocks, Plural(s.blocks, "block"))
		if s.bad > 0 {
			line += fmt.Sprintf(", %d bad", s.bad)
		}
		fmt.Fprintln(w, line)
	}
}
