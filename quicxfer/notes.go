package quicxfer

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/quicxfer/quicxfer/scheduler"
)

// noteMirror tells the user, once, where a mirror redirects, and that it
// ignores Range requests: what that means for it, and, when it is read as
// a whole file, its note says so.
func (l *loop) noteMirror(s *source) {
	if r, ok := s.f.(redirector); ok {
		if to := r.redirectedTo(); to != s.toldRedirect {
			s.toldRedirect = to
			if to != "" {
				l.opts.Logf("%s %s redirects to %s", s.kind, s.raw, to)
			}
		}
	}
	wr, ok := s.f.(wholeFileReader)
	if !ok || !wr.ignoresRanges() {
		return
	}
	whole := wr.readsWhole()
	switch {
	case whole && !s.toldWhole:
		s.toldWhole, s.toldRanges = true, true
		if s.note == "" || s.tempNote {
			s.note, s.tempNote = "ignores Range requests: read as a whole file, the only source", false
		}
		l.opts.Logf("%s %s ignores Range requests; it is the only source left, so the whole file is read from it, every block verified", s.kind, s.raw)
	case !whole && !s.toldRanges:
		s.toldRanges = true
		l.opts.Logf("%s %s ignores Range requests (it answers with the whole file): it is used only if it is the only source left", s.kind, s.raw)
	}
}

// noteStalls tells the user about the sources whose requests Next cancelled
// because they stalled (no data for StallTimeout) or were too slow (below
// LowestSpeedLimit for LowestSpeedTime): each then waits before it is tried
// again, or is dropped. Once per outage: a source that stalls again before
// it delivers is not reported again.
func (l *loop) noteStalls(acts []scheduler.Action) {
	var last scheduler.SourceID
	for _, a := range acts {
		if a.Kind != scheduler.Cancel || a.Source == last || (a.Why != scheduler.FailStall && a.Why != scheduler.FailSlow) {
			continue
		}
		last = a.Source // a source's cancels come together
		s := l.byID[a.Source]
		why := fmt.Sprintf("no data for %s", scheduler.DefaultStallTimeout)
		note := "stalled: " + why
		if a.Why == scheduler.FailSlow {
			why = fmt.Sprintf("too slow: below %s for %s", formatRate(l.opts.LowestSpeedLimit), l.opts.LowestSpeedTime)
			note = why
		}
		l.opts.debugf("%s %s: %s; its requests go to other sources", s.kind, s.raw, strings.TrimPrefix(note, "stalled: "))
		s.resetConns() // a connection that stalled may be dead without knowing it
		if st := l.sched.Stats(a.Source); st.State == scheduler.Dropped {
			l.dropped(s, strings.TrimPrefix(note, "stalled: ")+", "+st.DropReason)
			continue
		}
		if s.note == "" || s.tempNote {
			s.note, s.tempNote = note, true
		}
		if l.joins.down(&l.opts, s, EventStalled, why) {
			if a.Why == scheduler.FailSlow {
				l.opts.Logf("%s %s is %s; trying it again later", s.kind, s.raw, why)
			} else {
				l.opts.Logf("%s %s sent %s; trying it again later", s.kind, s.raw, why)
			}
		}
	}
}

// formatRate writes bytes/s in decimal units, as the CLI's rates are given.
func formatRate(bps float64) string {
	switch {
	case bps >= 1e9:
		return strconv.FormatFloat(bps/1e9, 'f', -1, 64) + " GB/s"
	case bps >= 1e6:
		return strconv.FormatFloat(bps/1e6, 'f', -1, 64) + " MB/s"
	case bps >= 1e3:
		return strconv.FormatFloat(bps/1e3, 'f', -1, 64) + " kB/s"
	}
	return strconv.FormatFloat(bps, 'f', -1, 64) + " B/s"
}

// idleAfter is how long a seed must have sent nothing, at the end of a
// download, to be said to have stopped rather than to be slow.
const idleAfter = time.Second

// nameIdle gives a note, and a log line, to every seed that was asked for
// blocks and delivered none, so that the summary says why it contributed
// nothing: the endgame gave its blocks to other sources and cancelled them.
func (l *loop) nameIdle(now time.Time) {
	for _, s := range l.srcs {
		if s.leftOut || s.note != "" || s.asked == 0 || s.blocks.Load() > 0 {
			continue
		}
		if r := s.received.Load(); r != s.lastRecv {
			s.lastRecv, s.lastData = r, now
		}
		switch {
		case s.badBlocks.Load() > 0:
			s.note = fmt.Sprintf("sent only bad blocks (%d); other sources served its blocks", s.badBlocks.Load())
		case s.lastErr != "":
			s.note = "failed: " + s.lastErr + "; other sources served its blocks"
		case s.received.Load() == 0:
			s.note = "sent no data; other sources served its blocks"
		case now.Sub(s.lastData) >= idleAfter:
			s.note = fmt.Sprintf("stalled mid-block (no data for the last %s); other sources served its blocks", now.Sub(s.lastData).Round(100*time.Millisecond))
		default:
			s.note = "too slow: finished no block; other sources served its blocks"
		}
		l.opts.Logf("%s %s %s", s.kind, s.raw, s.note)
	}
}

// why says, for the error that ends a download with no source left, what
// became of the sources: " (URL: note; URL: note; and N more)", the first
// three that have a note, or "" if none has.
func (l *loop) why() string {
	var parts []string
	more := 0
	for _, s := range l.srcs {
		note := s.note
		switch {
		case note != "":
		case s.badBlocks.Load() > 0:
			note = "sent 1 block that failed verification"
			if n := s.badBlocks.Load(); n > 1 {
				note = fmt.Sprintf("sent %d blocks that failed verification", n)
			}
		case s.lastErr != "":
			note = "failed: " + s.lastErr
		}
		if note == "" {
			continue
		}
		if len(parts) == 3 {
			more++
			continue
		}
		parts = append(parts, s.raw+": "+note)
	}
	if len(parts) == 0 {
		return ""
	}
	if more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", more))
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// waitNote is how long a download has nothing in flight, with blocks
// missing, before the user is told it waits for sources to get them.
const waitNote = 5 * time.Second

// noteCauses tells the user, before the line that says the download
// waits, why each source that is down is: its last error, once per source
// and error (what it waits for is then plain).
func (l *loop) noteCauses() {
	for _, s := range l.srcs {
		if s.id == 0 || s.lastErr == "" || s.lastErr == s.toldCause {
			continue
		}
		switch st := l.sched.Stats(s.id).State; st {
		case scheduler.Backoff, scheduler.Connecting:
			s.toldCause = s.lastErr
			l.opts.Logf("%s %s is down: %s; trying it again", s.kind, s.raw, s.lastErr)
		}
	}
}

// noteWaiting tells the user, once per wait, that the download is waiting
// for blocks that no usable source has yet (partial peers may still get
// them): a wait, not an error, but it should not look like a hang.
func (l *loop) noteWaiting(now time.Time) {
	if l.sched.InFlight() > 0 || l.sched.Done() {
		l.idleSince, l.toldIdle = time.Time{}, false
		return
	}
	if l.idleSince.IsZero() {
		l.idleSince = now
	}
	if !l.toldIdle && now.Sub(l.idleSince) >= waitNote {
		l.toldIdle = true
		l.noteCauses()
		l.opts.Logf("waiting: %d blocks are at no source that can be used now; sources that are downloading them or coming back may still bring them (Ctrl-C to stop; the same command resumes)", l.sched.Missing())
	}
}
