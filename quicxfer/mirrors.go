package quicxfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/quicxfer/quicxfer/internal/linkheader"
	"github.com/quicxfer/quicxfer/internal/units"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
	"github.com/quicxfer/quicxfer/scheduler"
)

// This file is what a download from HTTP mirrors alone (no seed, no
// manifest) does before its first block: ask each mirror what it serves
// (probe: a one-byte range request), agree on the file (its size, as the
// description says or as most mirrors say; a mirror that disagrees is left
// out, and the user told), and compare samples of the mirrors' bytes
// (sample), so that one serving another file of the same size is left out
// before it writes anything.

// mirrorInfo is what a mirror's answer to a one-byte range request says of
// the file it serves.
type mirrorInfo struct {
	size   int64 // the file's size
	ranges bool  // it answered 206: it serves ranges
	// The validators (RFC 9110 8.8) and the headers of RFC 3230 and RFC
	// 9530 (a whole-file digest) and RFC 6249 (other mirrors: Link
	// rel=duplicate), as sent.
	etag, lastModified string
	digest, reprDigest string
	links              []string
	contentType        string
}

// ErrNoSize is the error of a mirror that does not say how large its file
// is (a 200 without Content-Length, a Content-Range without the total).
var ErrNoSize = errors.New("it does not say the file's size")

// probe asks the mirror for the first byte of its file. The answer says
// its size (Content-Range's total, or a 200's Content-Length from a mirror
// that ignores Range), its validators and what else it tells of the file.
func (f *httpFetcher) probe(ctx context.Context) (mirrorInfo, scheduler.Outcome, error) {
	resp, out, err := f.get(ctx, "bytes=0-0", http.Header{"Want-Digest": {"sha-512;q=1, sha-256;q=0.9, sha;q=0.2, md5;q=0.1"}})
	if err != nil {
		return mirrorInfo{}, out, err
	}
	defer resp.Body.Close()
	h := resp.Header
	info := mirrorInfo{
		size: -1, etag: h.Get("ETag"), lastModified: h.Get("Last-Modified"),
		digest: h.Get("Digest"), reprDigest: h.Get("Repr-Digest"),
		links: h.Values("Link"), contentType: h.Get("Content-Type"),
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		cr := h.Get("Content-Range")
		first, _, total, ok := parseContentRange(cr)
		switch {
		case !ok || first != 0:
			return info, scheduler.Rejected, fmt.Errorf("%w: Content-Range %q to a request for the first byte", ErrBadRange, cr)
		case total < 0:
			return info, scheduler.Rejected, fmt.Errorf("%w (Content-Range %q)", ErrNoSize, cr)
		}
		info.size, info.ranges = total, true
		_, _ = io.CopyN(io.Discard, resp.Body, 2) // its one byte: the connection is reused
	case http.StatusOK:
		if resp.ContentLength < 0 {
			return info, scheduler.Failed, fmt.Errorf("%w, and %w", ErrIgnoresRange, ErrNoSize)
		}
		info.size = resp.ContentLength // the body is not read: closing it ends the answer
	case http.StatusRequestedRangeNotSatisfiable:
		// An empty file has no first byte: "bytes */0".
		if strings.TrimSpace(h.Get("Content-Range")) == "bytes */0" {
			info.size, info.ranges = 0, true
			return info, scheduler.Delivered, nil
		}
		return info, scheduler.Down, &HTTPStatusError{Code: resp.StatusCode, Status: resp.Status}
	default:
		out, err := statusOutcome(resp)
		return info, out, err
	}
	f.hopsMu.Lock()
	info.links = append(f.hops.Values("Link"), info.links...)
	if info.digest == "" {
		info.digest = strings.Join(f.hops.Values("Digest"), ", ")
	}
	if info.reprDigest == "" {
		info.reprDigest = strings.Join(f.hops.Values("Repr-Digest"), ", ")
	}
	f.hopsMu.Unlock()
	return info, scheduler.Delivered, nil
}

// maxLinked is the most mirrors a download adds from a mirror's Link
// headers (RFC 6249 rel=duplicate).
const maxLinked = 8

// discover is what the one mirror the user gave says of the file besides
// its bytes, as a MirrorBrain or MirrorCache redirector answers: other
// mirrors (Link: rel=duplicate, by their priority), and the whole file's
// hash (Digest, Repr-Digest), used when no checksum was given. It returns
// the URLs of the mirrors to add, not yet known.
func discover(o *Options, p probed, known map[string]bool) []*url.URL {
	if p.err != nil {
		return nil
	}
	if o.Checksum == nil && o.Pieces == nil {
		hs := append(verify.ParseReprDigest(p.info.reprDigest), verify.ParseDigest(p.info.digest)...)
		if h := verify.Strongest(hs); h != nil {
			o.Checksum = h
			o.Logf("mirror %s gives the file's %s (its Digest header): the whole file is checked against it", p.s.raw, h.Algo)
		}
	}
	base, err := url.Parse(p.f.url)
	if err != nil {
		return nil
	}
	var add []*url.URL
	for _, d := range linkheader.Duplicates(base, p.info.links) {
		u, err := parseMirrorURL(d.URL)
		if err != nil || known[u.String()] {
			continue
		}
		known[u.String()] = true
		add = append(add, u)
		if len(add) == maxLinked {
			break
		}
	}
	if len(add) > 0 {
		o.Logf("mirror %s names %d other %s of the file (Link headers): using them too", p.s.raw, len(add), units.Plural(len(add), "mirror"))
	}
	return add
}

// probed is one mirror's answer to probe.
type probed struct {
	s    *source
	f    *httpFetcher
	info mirrorInfo
	err  error
}

// probeMirrors probes every mirror at once, each for at most the dial
// timeout.
func probeMirrors(ctx context.Context, o *Options, mirrors []*source) []probed {
	out := make([]probed, len(mirrors))
	var wg sync.WaitGroup
	for i, s := range mirrors {
		f := s.f.(*httpFetcher)
		out[i] = probed{s: s, f: f}
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
			defer cancel()
			info, _, err := f.probe(pctx)
			if err != nil && ctx.Err() == nil && pctx.Err() != nil {
				err = fmt.Errorf("no answer within %s", o.DialTimeout)
			}
			out[i].info, out[i].err = info, err
		})
	}
	wg.Wait()
	return out
}

// agreeSize is the file's size: want if it is known (>= 0, from a
// Metalink), else the size most mirrors that answered say (of a tie, the
// one the first of them in the order given says). Every mirror that says
// another is left out, with a note that says so; one that did not answer
// stays, to be tried again by the loop (its ranges' Content-Range must then
// give the same size). It is an error when no mirror said a size.
func agreeSize(o *Options, ps []probed, want int64, from string) (int64, error) {
	votes := map[int64]int{}
	var order []int64
	var errs sourceErrors
	for _, p := range ps {
		if p.err != nil {
			errs = append(errs, &sourceError{raw: p.s.raw, phrase: o.DescribeError(p.err), err: p.err})
			continue
		}
		if votes[p.info.size] == 0 {
			order = append(order, p.info.size)
		}
		votes[p.info.size]++
	}
	size := want
	if size < 0 {
		if len(order) == 0 {
			return 0, fmt.Errorf("%w: no mirror said the file's size: %w", ErrNoSeeds, errs)
		}
		size = order[0]
		for _, s := range order {
			if votes[s] > votes[size] {
				size = s
			}
		}
	}
	for _, p := range ps {
		if p.err == nil && p.info.size != size {
			whose := fmt.Sprintf("the other mirrors' %d", size)
			if want >= 0 {
				whose = fmt.Sprintf("the %d %s says", size, from)
			}
			p.s.leftOut = true
			p.s.note = fmt.Sprintf("left out: its file has %d bytes, not %s (another file, or another version of it)", p.info.size, whose)
			o.Logf("mirror %s %s", p.s.raw, p.s.note)
		}
	}
	return size, nil
}

// sampleLen is how many bytes each sample is; sampleCount how many are
// compared beside the first and the last.
const (
	sampleLen   = 64 << 10
	sampleCount = 2
)

// ErrMirrorsDisagree: the mirrors serve different bytes for the same file,
// and nothing (no checksum, no third mirror) says which is right.
var ErrMirrorsDisagree = errors.New("the mirrors serve different bytes, and nothing says which is right")

// sample compares the mirrors' bytes at the file's start, its end and
// sampleCount places between: each mirror that answered every sample
// gives a fingerprint, and those whose fingerprint differs from most
// mirrors' are left out with a note (another file of the same size, or a
// damaged copy). When no fingerprint is most mirrors' (two mirrors that
// differ, three that all do), the mirrors are kept if settle is true (a
// checksum will tell which is right) and otherwise it returns
// ErrMirrorsDisagree. A mirror that failed a sample stays: its blocks are
// checked like any.
func sample(ctx context.Context, o *Options, ps []probed, size int64, settle bool) error {
	var live []probed
	for _, p := range ps {
		if !p.s.leftOut && p.err == nil && p.info.ranges {
			live = append(live, p)
		}
	}
	if len(live) < 2 || size == 0 {
		return nil
	}
	n := min(int64(sampleLen), size)
	offs := []int64{0, size - n}
	for range sampleCount {
		if size > n {
			offs = append(offs, rand.Int64N(size-n+1))
		}
	}
	prints := make([][]uint64, len(live))
	errs := make([]error, len(live))
	// A mirror too slow to send its samples in time is not compared (its
	// blocks are checked as any, by the plan): it must not hold the start.
	sctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, p := range live {
		wg.Go(func() {
			buf := make([]byte, n)
			for _, off := range offs {
				if _, err := p.f.fetchRange(sctx, off, buf, progress{got: func(k int) { p.s.received.Add(int64(k)) }}); err != nil {
					errs[i] = err
					return
				}
				prints[i] = append(prints[i], xxhash.Sum64(buf))
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, err := range errs {
		if err != nil {
			o.debugf("mirror %s: not compared with the others: %v", live[i].s.raw, err)
		}
	}
	groups := map[string][]int{}
	var keys []string
	for i := range live {
		if errs[i] != nil {
			continue
		}
		k := fmt.Sprint(prints[i])
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], i)
	}
	if len(keys) < 2 {
		return nil
	}
	slices.SortStableFunc(keys, func(a, b string) int { return len(groups[b]) - len(groups[a]) })
	answered := 0
	for _, k := range keys {
		answered += len(groups[k])
	}
	best := groups[keys[0]]
	if 2*len(best) <= answered {
		if settle {
			o.Logf("the mirrors serve different bytes at the same offsets; the checksum will tell which are right")
			return nil
		}
		a, b := live[groups[keys[0]][0]], live[groups[keys[1]][0]]
		return fmt.Errorf("%w: %s and %s differ at offset %d", ErrMirrorsDisagree, a.s.raw, b.s.raw, firstDiff(prints[groups[keys[0]][0]], prints[groups[keys[1]][0]], offs))
	}
	ref := prints[best[0]]
	for _, k := range keys[1:] {
		for _, i := range groups[k] {
			s := live[i].s
			s.leftOut = true
			s.note = fmt.Sprintf("left out: its bytes at offset %d differ from %d other mirrors' (another file of the same size, or a damaged copy)", firstDiff(prints[i], ref, offs), len(best))
			o.Logf("mirror %s %s", s.raw, s.note)
		}
	}
	return nil
}

// firstDiff is the offset of the first sample where a and b differ.
func firstDiff(a, b []uint64, offs []int64) int64 {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return offs[i]
		}
	}
	return 0
}
