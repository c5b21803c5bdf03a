package ui

import (
	"fmt"
	"io"
	"strings"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer"
)

// PictureWidth is how many characters the picture of the bitmap has at most.
const PictureWidth = 64

// Status is the status of one download; `status --json` prints it.
type Status struct {
	Out string `json:"out"`
	// State is "partial" (the state file is readable), "complete" (OUT is
	// there and nothing partial is left), "unreadable" (the state file is
	// damaged or missing: the next get re-checks the data) or "stale" (a
	// state without its data file: the next get starts over).
	State          string   `json:"state"`
	Name           string   `json:"name,omitempty"`
	Size           int64    `json:"size"`
	ContentID      string   `json:"content_id,omitempty"`
	BlockSize      int64    `json:"block_size,omitempty"`
	Blocks         int      `json:"blocks"`
	BlocksVerified int      `json:"blocks_verified"`
	BytesVerified  int64    `json:"bytes_verified"`
	Percent        float64  `json:"percent"`
	Bitmap         string   `json:"bitmap,omitempty"`
	Running        bool     `json:"running"`
	PID            int      `json:"pid,omitempty"`
	ResumeCommand  string   `json:"resume_command,omitempty"`
	ResumeArgs     []string `json:"resume_args,omitempty"`
	ResumeDir      string   `json:"resume_dir,omitempty"`
	TokenNeeded    bool     `json:"token_needed,omitempty"`
	// PasswordNeeded: a mirror URL in ResumeArgs had a password, which is
	// never recorded or shown: put it back in place of xxxxx.
	PasswordNeeded bool   `json:"password_needed,omitempty"`
	Note           string `json:"note,omitempty"`

	// NotShown: OUT.qxcmd is there, but it was refused (the note says
	// why); not in the JSON.
	NotShown bool `json:"-"`
}

// StatusDir is what `status --json DIR` prints: every download under DIR
// with partial files, and what it could not read.
type StatusDir struct {
	Dir     string    `json:"dir"`
	Files   []*Status `json:"files"`
	Skipped []string  `json:"skipped,omitempty"`
}

// Picture draws the bitmap in at most width characters: each covers an
// equal stretch of blocks and is '#' if all of them are verified, '+' if
// some are and '.' if none is.
func Picture(s *partial.State, width int) string {
	n := s.NumBlocks
	w := min(width, n)
	var b strings.Builder
	for j := range w {
		lo, hi := j*n/w, (j+1)*n/w
		have := 0
		for i := lo; i < hi; i++ {
			if s.Has(i) {
				have++
			}
		}
		switch {
		case have == hi-lo:
			b.WriteByte('#')
		case have > 0:
			b.WriteByte('+')
		default:
			b.WriteByte('.')
		}
	}
	return b.String()
}

// Print writes st as status shows it.
func (st *Status) Print(w io.Writer) {
	switch st.State {
	case "complete":
		fmt.Fprintf(w, "%s: complete, %s (%s); %s\n", ShowName(st.Out), FormatBytes(float64(st.Size)), Count(st.Size, "byte"), st.Note)
		return
	case "partial":
		fmt.Fprintf(w, "%s: partial download", ShowName(st.Out))
	case "stale":
		fmt.Fprintf(w, "%s: stale partial state", ShowName(st.Out))
	default:
		fmt.Fprintf(w, "%s: partial download, state unreadable", ShowName(st.Out))
	}
	if st.Name != "" {
		fmt.Fprintf(w, " of %q", st.Name)
	}
	fmt.Fprintln(w)
	if st.Running {
		pid := ""
		if st.PID > 0 {
			pid = fmt.Sprintf(" (pid %d)", st.PID)
		}
		fmt.Fprintf(w, "  running     a download is running now%s; this is its last saved state (saved about once a second)\n", pid)
	}
	if st.ContentID != "" {
		fmt.Fprintf(w, "  content ID  %s\n", st.ContentID)
		fmt.Fprintf(w, "  size        %s (%s), %s of %s\n", FormatBytes(float64(st.Size)), Count(st.Size, "byte"), Count(st.Blocks, "block"), Count(st.BlockSize, "byte"))
	} else {
		fmt.Fprintf(w, "  data        %s (%s) in %s\n", FormatBytes(float64(st.Size)), Count(st.Size, "byte"), ShowName(partial.PartPath(st.Out)))
	}
	if st.State == "partial" {
		fmt.Fprintf(w, "  verified    %d of %s, %s of %s (%.1f%%)\n", st.BlocksVerified, Count(st.Blocks, "block"), FormatBytes(float64(st.BytesVerified)), FormatBytes(float64(st.Size)), st.Percent)
		if st.Bitmap != "" {
			fmt.Fprintf(w, "  blocks      [%s]\n", st.Bitmap)
		}
	}
	if st.Note != "" {
		fmt.Fprintf(w, "  note        %s\n", st.Note)
	}
	if st.ResumeCommand != "" {
		fmt.Fprintf(w, "  resume      %s\n", st.ResumeCommand)
		if st.TokenNeeded {
			fmt.Fprintf(w, "              (with the access token: QUICXFER_TOKEN or --token-file)\n")
		}
		if st.PasswordNeeded {
			fmt.Fprintf(w, "              (with the mirror's password in place of %s: it is never recorded)\n", RedactedPassword)
		}
		return
	}
	id := "ID"
	if st.ContentID != "" {
		id = st.ContentID
	}
	out := ShowName(st.Out)
	if quicxfer.Printable(st.Out) {
		out = ShellQuote([]string{st.Out})
	}
	why := "the get that made it was not recorded"
	if st.NotShown {
		why = "no recorded get to show"
	}
	fmt.Fprintf(w, "  resume      quicxfer get --seed URL --id %s -o %s NAME\n              (%s: give its seeds and NAME)\n", id, out, why)
}
