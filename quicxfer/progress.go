package quicxfer

import (
	"sort"
	"strings"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/scheduler"
)

// Progress is a snapshot of a running download.
type Progress struct {
	Name     string
	Size     int64
	Verified int64 // bytes verified on disk, including resumed ones (those still being proven with SHA-256 too)
	Resumed  int64
	Elapsed  time.Duration
	Seeds    []SeedProgress
}

// SeedProgress is one seed's part of a Progress.
type SeedProgress struct {
	URL string
	// State is the scheduler's state of the source (probing, active,
	// backoff, connecting, dropped), or StateShutdown, or StateGone.
	State    SourceState
	Rate     float64 // bytes/s, as the scheduler measures it
	Accepted int64
}

// Result sums up a download.
type Result struct {
	Name         string
	ID           manifest.ID
	Size         int64
	FetchedBytes int64 // payload bytes received over the network in this run (duplicates and rejected blocks included)
	ResumedBytes int64 // bytes already verified on disk when the run started
	Elapsed      time.Duration
	Seeds        []SeedResult
	// Checked says the file was checked against what its publisher says
	// it is: its manifest (a seed's, or one given), a checksum of the
	// whole file, or a Metalink's hashes. False for a file from mirrors
	// with no hash at all, whose mirrors were only compared with each
	// other.
	Checked bool
	// RepairedBytes are the bytes of blocks fetched again after the whole
	// file failed its checksum, from other mirrors than the one that sent
	// them bad.
	RepairedBytes int64
}

// SeedResult is one source's contribution: a seed's, or a mirror's (the
// same shape, in Result.Seeds after the seeds).
type SeedResult struct {
	URL       string
	Bytes     int64  // payload bytes accepted from it
	Blocks    int64  // blocks accepted from it
	BadBlocks int64  // blocks from it that failed verification
	Received  int64  // payload bytes received from it, accepted or not
	Conns     int    // the most connections to it at once (a seed; 0 for a mirror)
	Note      string // why it was left out, dropped or stalled, or why it contributed nothing; empty if none of these
	Protocol  string // a mirror's protocol, as its last answer came ("HTTP/1.1", "HTTP/2.0", "HTTP/3.0"); "" for a seed, or before any answer
}

func results(srcs []*source) []SeedResult {
	out := make([]SeedResult, len(srcs))
	for i, s := range srcs {
		note := s.note
		if r, ok := s.f.(redirector); ok {
			if to := r.redirectedTo(); to != "" {
				note = strings.TrimPrefix(note+"; redirected to "+to, "; ")
			}
		}
		var proto string
		if p, ok := s.f.(protocoler); ok {
			proto = p.protocol()
		}
		out[i] = SeedResult{
			Protocol:  proto,
			URL:       s.raw,
			Bytes:     s.accepted.Load(),
			Blocks:    s.blocks.Load(),
			BadBlocks: s.badBlocks.Load(),
			Received:  s.received.Load(),
			Conns:     s.maxConns,
			Note:      note,
		}
	}
	return out
}

func (l *loop) progress(now time.Time) {
	if l.opts.OnProgress == nil {
		return
	}
	p := Progress{Size: l.m.Size, Verified: l.part.PresentBytes(), Resumed: l.resumed, Elapsed: now.Sub(l.start)}
	ids := make([]scheduler.SourceID, 0, len(l.byID))
	for id := range l.byID {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		st := l.sched.Stats(id)
		s := l.byID[id]
		p.Seeds = append(p.Seeds, SeedProgress{URL: s.raw, State: stateOf(st, s.shutdown), Rate: st.Rate, Accepted: s.accepted.Load()})
	}
	l.opts.OnProgress(p)
}
