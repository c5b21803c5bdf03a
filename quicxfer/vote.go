package quicxfer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// errNoManifest is the answer of a source that cannot say what the file is
// (it serves bytes only).
var errNoManifest = errors.New("it cannot say what the file is")

// agreeGrace is how long, after the first seed's manifest, agree waits for
// the other seeds' answers.
const agreeGrace = time.Second

// agree connects to every seed, asks each for the manifest of the name, and
// settles on one: the one whose content ID the user gave, or else the one
// most seeds report; a tie for the most is no majority (a
// *NoMajorityError), never settled by the seeds' order. Seeds that report
// another manifest are left out, and the user is told.
//
// With a known manifest (a manifest file), seeds are asked for its content
// ID instead, and those that do not have it are left out; if none has it,
// the download goes on when there are mirrors (others > 0), or when a seed
// could not be reached (unreachable, busy, shutting down: it is tried again
// with backoff, as later in the download). Mirrors have no manifest to ask
// for: srcs holds the seeds only.
//
// When it fails, retry says whether every seed that did not answer failed
// for a reason that asking again may cure (not a pin mismatch, a refused
// token, another protocol, a seed that does not have the file).
func agree(ctx context.Context, wg *sync.WaitGroup, srcs []*source, known *manifest.Manifest, others int, opts Options) (_ string, _ *manifest.Manifest, retry bool, _ error) {
	req := wire.ManifestRequest{Name: opts.Name}
	what := fmt.Sprintf("%q", opts.Name)
	switch {
	case known != nil:
		req = wire.ManifestRequest{ByID: true, ID: known.ID()}
		what = "content ID " + known.ID().String()
		opts.ID = known.ID()
	case opts.Name == "":
		req = wire.ManifestRequest{ByID: true, ID: opts.ID}
		what = "content ID " + opts.ID.String()
	}
	type answer struct {
		name string
		m    *manifest.Manifest
		id   manifest.ID
		err  error
	}
	type indexed struct {
		i int
		a answer
	}
	answers := make([]answer, len(srcs))
	answered := make([]bool, len(srcs))
	ch := make(chan indexed, len(srcs)) // never blocks a sender
	for i, s := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ma, ok := s.f.(manifestAsker)
			if !ok {
				ch <- indexed{i, answer{err: errNoManifest}}
				return
			}
			resp, err := ma.manifest(ctx, req, opts.DialTimeout)
			if err != nil {
				ch <- indexed{i, answer{err: err}}
				return
			}
			ch <- indexed{i, answer{name: resp.Name, m: resp.Manifest, id: resp.Manifest.ID()}}
		}()
	}
	// Wait for every seed, but once one has answered, wait for the others
	// only agreeGrace longer: a seed that is slow to answer is used anyway
	// (blocks are asked for by content ID, so it cannot serve another file).
	var grace <-chan time.Time
collect:
	for n := 0; n < len(srcs); n++ {
		select {
		case r := <-ch:
			answers[r.i], answered[r.i] = r.a, true
			if r.a.err == nil && grace == nil {
				grace = time.After(agreeGrace)
			}
		case <-grace:
			break collect
		case <-ctx.Done():
			while := "while connecting to the seeds"
			if grace != nil {
				while = "during the manifest vote"
			}
			return "", nil, false, &InterruptedError{While: while, Err: ctx.Err()}
		}
	}

	count := map[manifest.ID]int{}
	var best manifest.ID
	tie := false
	for i, a := range answers {
		switch {
		case !answered[i]:
			opts.debugf("vote: seed %s has not answered", srcs[i].raw)
			continue
		case a.err != nil:
			opts.debugf("vote: seed %s did not answer: %s", srcs[i].raw, opts.DescribeError(a.err))
			continue
		}
		opts.debugf("vote: seed %s serves %q as content ID %s", srcs[i].raw, a.name, a.id)
		count[a.id]++
		switch {
		case best.IsZero() || count[a.id] > count[best]:
			best, tie = a.id, false
		case a.id != best && count[a.id] == count[best]:
			tie = true
		}
	}
	switch {
	case !opts.ID.IsZero():
		best = opts.ID
	case tie:
		// As many seeds for one file as for another: the order in
		// which the seeds were given must not choose.
		e := &NoMajorityError{Name: opts.Name}
		for i, a := range answers {
			if answered[i] && a.err == nil {
				e.Answers = append(e.Answers, VoteAnswer{Seed: srcs[i].raw, ID: a.id})
			}
		}
		opts.debugf("vote: no majority: %d seeds for each of several content IDs", count[best])
		return "", nil, false, e
	}
	if !best.IsZero() {
		opts.debugf("vote: content ID %s, served by %d of the %d seeds that answered", best, count[best], sum(count))
	}
	var chosen *answer
	var errs sourceErrors // each seed's own, in the order given
	var warnings []string
	notFound, transient := 0, 0
	for i, a := range answers {
		s := srcs[i]
		switch {
		case !answered[i]:
			warnings = append(warnings, fmt.Sprintf("seed %s is slow to answer; using it when it does", s.raw))
		case a.err != nil:
			if errors.Is(a.err, wire.ErrNotFound) {
				notFound++
				s.leftOut = true
				s.note = "does not serve " + what
				warnings = append(warnings, fmt.Sprintf("seed %s %s; going on without it", s.raw, s.note))
				break
			}
			phrase := opts.DescribeError(a.err)
			errs = append(errs, &sourceError{raw: s.raw, phrase: phrase, err: a.err})
			if certRefused(a.err) {
				// Asking again cannot change its certificate.
				s.leftOut = true
				s.note = phrase
				warnings = append(warnings, fmt.Sprintf("seed %s: %s; going on without it", s.raw, phrase))
				break
			}
			s.note, s.tempNote = "unreachable: "+phrase, true
			if !permanent(a.err) {
				transient++
			}
			if known != nil && !permanent(a.err) {
				warnings = append(warnings, fmt.Sprintf("seed %s %s; trying it again later", s.raw, s.note))
			} else {
				warnings = append(warnings, fmt.Sprintf("seed %s %s; going on without it", s.raw, s.note))
			}
		case a.id != best:
			s.leftOut = true
			s.note = fmt.Sprintf("serves a different %q (content ID %s)", opts.Name, a.id)
			warnings = append(warnings, fmt.Sprintf("seed %s %s; leaving it out", s.raw, s.note))
		default:
			if chosen == nil {
				chosen = &answers[i]
			}
		}
		if s.leftOut {
			opts.debugf("vote: seed %s left out: %s", s.raw, s.note)
		}
	}
	if chosen == nil && known != nil && (others > 0 || transient > 0) {
		for _, w := range warnings {
			opts.Logf("%s", w)
		}
		return "", known, false, nil // the mirrors carry the download, or the seeds once reached
	}
	if chosen == nil {
		switch {
		case !opts.ID.IsZero() && len(count) > 0:
			return "", nil, false, fmt.Errorf("%q: %w %s", opts.Name, ErrIDMismatch, opts.ID)
		case notFound > 0 && len(errs) == 0:
			return "", nil, false, fmt.Errorf("%s: %w", what, ErrNotFound)
		default:
			return "", nil, transient > 0 && len(count) == 0, fmt.Errorf("%w: %w", ErrNoSeeds, errs)
		}
	}
	for _, w := range warnings {
		opts.Logf("%s", w)
	}
	return chosen.name, chosen.m, false, nil
}

// sum adds up the counts of the vote.
func sum(count map[manifest.ID]int) int {
	n := 0
	for _, c := range count {
		n += c
	}
	return n
}

// permanent reports whether err, from reaching a seed at the start, says
// something that asking again will not change: its certificate is not the
// one expected, it refuses this client, or it speaks another protocol (a
// TLS alert), or it answered for another file.
func permanent(err error) bool {
	var te *quic.TransportError
	var cve *tls.CertificateVerificationError
	var wrong *wrongManifestError
	switch {
	case errors.Is(err, wire.ErrPinMismatch), errors.Is(err, wire.ErrUnauthorized), errors.Is(err, wire.ErrBadRequest),
		errors.As(err, &cve), errors.As(err, &wrong):
		return true
	case errors.As(err, &te):
		return te.ErrorCode >= 0x100 && te.ErrorCode < 0x200 // TLS alerts: the handshake was refused
	}
	return false
}
