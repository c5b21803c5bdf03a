package quicxfer

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
	"github.com/quicxfer/quicxfer/scheduler"
)

// This file is a download whose file has no manifest: HTTP mirrors alone,
// maybe with a published hash of the whole file (a checksum) or of its
// pieces (a Metalink). Its layout (size, block size) is learnt from the
// mirrors and the description, its partial file records the xxh64 of each
// block written (partial's Learn), and its state is bound to what is known
// of the file (bindID), so that a resume continues only the same file.

// PieceHashes are the hashes of a file's pieces, as a Metalink's <pieces>
// gives them: piece i is the Length bytes at i*Length (the last one
// shorter), its hash Sums[i] with Algo.
type PieceHashes struct {
	Length int64
	Algo   verify.Algo
	Sums   [][]byte
}

// learnt is what a download knows of a file without a manifest.
type learnt struct {
	m    *manifest.Manifest // the layout only: Size, BlockSize, no hashes
	plan verify.Plan
	bind manifest.ID // what the partial state is bound to
	name string      // the file's name, when a Metalink the mirror answered with says it
}

// learnFile probes the mirrors, agrees on the file's size, picks its block
// size and plan (o.Pieces, o.Checksum, or nothing), and compares samples of
// the mirrors' bytes when the plan cannot check a block by itself.
//
// With one mirror only, what it says of other mirrors and of the file's
// hash is used (discover): newMirror makes the source of each mirror it
// names, which are probed in turn and returned, with the given ones.
func learnFile(ctx context.Context, o *Options, mirrors []*source, newMirror func(*url.URL) *source) (*learnt, []*source, error) {
	name := ""
	ps, err := probeUntilOne(ctx, o, mirrors)
	if err != nil {
		return nil, mirrors, err
	}
	// add makes sources of urls not known yet and probes them.
	add := func(urls []*url.URL) error {
		known := map[string]bool{}
		for _, s := range mirrors {
			known[s.f.key()] = true
		}
		var added []*source
		for _, u := range urls {
			if !known[u.String()] {
				known[u.String()] = true
				added = append(added, newMirror(u))
			}
		}
		mirrors = append(mirrors, added...)
		ps = append(ps, probeMirrors(ctx, o, added)...)
		return ctx.Err()
	}
	if len(ps) == 1 {
		d, answered, ok, err := described(ctx, o, ps[0])
		if err != nil {
			return nil, mirrors, err
		}
		if ok {
			if answered {
				// The URL is the Metalink, not the file: its mirrors are.
				mirrors, ps = nil, nil
				o.Mirrors, name = nil, d.Name
			}
			o.Describe(d)
			var urls []*url.URL
			for _, raw := range d.Mirrors {
				if u, err := parseMirrorURL(raw); err == nil {
					urls = append(urls, u)
				}
			}
			if err := add(urls); err != nil {
				return nil, mirrors, err
			}
			if len(ps) == 0 {
				return nil, mirrors, fmt.Errorf("%w: the Metalink names no http(s) mirror of %s", ErrNoSeeds, d.Name)
			}
		}
	}
	if len(ps) == 1 {
		if err := add(discover(o, ps[0], map[string]bool{ps[0].f.url: true})); err != nil {
			return nil, mirrors, err
		}
	}
	want := int64(-1)
	if o.Size > 0 {
		want = o.Size
	}
	size, err := agreeSize(o, ps, want, "its description (a Metalink)")
	if err != nil {
		return nil, mirrors, err
	}
	if size > manifest.MaxSize {
		return nil, mirrors, fmt.Errorf("the mirrors say the file has %d bytes, more than a download can hold (%d): %w", size, int64(manifest.MaxSize), manifest.ErrTooLarge)
	}
	ranged := 0
	for _, p := range ps {
		p.f.size = size
		if p.err == nil && !p.s.leftOut && p.info.ranges {
			ranged++
		}
	}
	for _, p := range ps {
		if p.err == nil && !p.s.leftOut && !p.info.ranges {
			p.f.ignoresRange.Store(true)
			if ranged > 0 {
				p.s.leftOut = true
				p.s.note = "left out: " + ErrIgnoresRange.Error() + "; the other mirrors serve ranges"
				o.Logf("mirror %s %s", p.s.raw, p.s.note)
			}
		}
	}
	bs, plan, err := learnPlan(o, size)
	if err != nil {
		return nil, mirrors, err
	}
	if !plan.Checkable() {
		if err := sample(ctx, o, ps, size, plan.Whole() != nil); err != nil {
			return nil, mirrors, err
		}
	}
	m := &manifest.Manifest{Size: size, BlockSize: bs, Blocks: make([]manifest.Block, manifest.NumBlocksFor(size, bs))}
	var validators []string
	for _, p := range ps {
		if p.err != nil || p.s.leftOut {
			continue
		}
		switch {
		case p.info.etag != "" && !strings.HasPrefix(p.info.etag, "W/"):
			validators = append(validators, "etag "+p.info.etag)
		case p.info.lastModified != "":
			validators = append(validators, "last-modified "+p.info.lastModified)
		}
		o.debugf("mirror %s: %d bytes, ETag %q, Last-Modified %q, ranges %v", p.s.raw, p.info.size, p.info.etag, p.info.lastModified, p.info.ranges)
	}
	slices.Sort(validators)
	validators = slices.Compact(validators)
	if len(validators) > 1 {
		o.debugf("the mirrors give %d different validators (servers set their own ETags): the bytes are compared, and hashed, all the same", len(validators))
	}
	return &learnt{m: m, plan: plan, name: name, bind: bindID(size, bs, o.Checksum, o.Pieces, validators)}, mirrors, nil
}

// probeUntilOne probes the mirrors until one says the file's size, asking
// again, with the sources' backoff (or the wait a busy mirror asks for),
// while every failure may pass (busy, unreachable, a server error; not a
// missing file or a refusal), for as many rounds as Options.MaxRetries
// gives a source (for ever when negative).
func probeUntilOne(ctx context.Context, o *Options, mirrors []*source) ([]probed, error) {
	backoff := scheduler.DefaultBackoff()
	for round := 1; ; round++ {
		ps := probeMirrors(ctx, o, mirrors)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var wait time.Duration
		var why []string
		for _, p := range ps {
			if p.err == nil {
				return ps, nil
			}
			if !passing(p.err) {
				continue
			}
			wait = max(wait, min(retryAfter(p.err), scheduler.DefaultMaxRetryAfter))
			why = append(why, p.s.raw+": "+o.DescribeError(p.err))
		}
		if len(why) == 0 || round > maxRetries(o.MaxRetries) {
			return ps, nil // agreeSize says why
		}
		wait = max(wait, backoff.Delay(round))
		if round == 1 {
			o.Logf("no mirror could say the file's size yet (%s); asking again (Ctrl-C to stop)", strings.Join(why, "; "))
		}
		o.debugf("probing the mirrors again in %s (round %d)", wait, round+1)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// passing reports whether a mirror's failure to answer a probe may pass:
// it was busy, unreachable or failing, not missing the file or refusing it.
func passing(err error) bool {
	if he, ok := errors.AsType[*HTTPStatusError](err); ok {
		switch he.Code {
		case http.StatusNotFound, http.StatusGone, http.StatusUnauthorized, http.StatusForbidden:
			return false
		}
		return true
	}
	return !errors.Is(err, ErrBadRange) && !errors.Is(err, ErrNoSize) && !errors.Is(err, ErrInsecureRedirect) && !certRefused(untrusted(err))
}

// learnPlan is the block size and the plan of a file of size bytes: a
// Metalink's pieces are the blocks, when their length is one partial can
// learn (else only the whole file's hash is checked, and the user told);
// without pieces the blocks are a manifest's size.
func learnPlan(o *Options, size int64) (int64, verify.Plan, error) {
	if p := o.Pieces; p != nil {
		n := manifest.NumBlocksFor(size, max(p.Length, 1))
		if p.Length >= partial.MinLearnBlockSize && p.Length <= partial.MaxLearnBlockSize && n <= manifest.MaxBlocks {
			plan, err := verify.Pieces(size, p.Length, p.Algo, p.Sums, o.Checksum)
			if err != nil {
				return 0, nil, fmt.Errorf("piece hashes: %w", err)
			}
			return p.Length, plan, nil
		}
		o.Logf("pieces of %d bytes cannot be blocks (they must be %d bytes to %d MiB, at most %d of them): only the whole file's hash is checked",
			p.Length, partial.MinLearnBlockSize, partial.MaxLearnBlockSize>>20, manifest.MaxBlocks)
	}
	bs := manifest.BlockSizeFor(size)
	if o.Checksum == nil {
		return bs, verify.None(), nil
	}
	plan, err := verify.WholeFile(*o.Checksum)
	if err != nil {
		return 0, nil, fmt.Errorf("checksum: %w", err)
	}
	return bs, plan, nil
}

// bindID is what the partial state of a learnt file is bound to: its
// layout and its published hashes, or, when it has none, the validators
// (ETag, Last-Modified) of the mirrors that serve it, so that a resume
// never continues with the bytes of another version of the file.
func bindID(size, bs int64, whole *verify.Hash, pieces *PieceHashes, validators []string) manifest.ID {
	h := sha256.New()
	h.Write([]byte("quicxfer learnt file v1\n"))
	var b [8]byte
	for _, v := range []int64{size, bs} {
		binary.BigEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	hashed := false
	if whole != nil {
		fmt.Fprintf(h, "whole %s %x\n", whole.Algo, whole.Sum)
		hashed = true
	}
	if pieces != nil {
		fmt.Fprintf(h, "pieces %d %s\n", pieces.Length, pieces.Algo)
		for _, s := range pieces.Sums {
			h.Write(s)
		}
		hashed = true
	}
	if !hashed {
		for _, v := range validators {
			fmt.Fprintf(h, "%q\n", v)
		}
	}
	var id manifest.ID
	h.Sum(id[:0])
	return id
}

// outExistsError is the error of an Out that exists and cannot be shown to
// be the file. It is ErrOutExists for errors.Is.
type outExistsError struct{ out, why string }

func (e *outExistsError) Error() string   { return e.out + " exists and " + e.why }
func (e *outExistsError) Is(t error) bool { return t == ErrOutExists }

// alreadyLearnt reports whether out already holds the learnt file: its size,
// and its hash (each piece's, or the whole file's). An out that exists but
// is not the file, or that nothing can check (no hash), is never
// overwritten.
func alreadyLearnt(ctx context.Context, out string, size int64, plan verify.Plan, bs int64) (bool, error) {
	fi, err := os.Stat(out)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	switch {
	case !fi.Mode().IsRegular():
		return false, fmt.Errorf("%s exists and is not a regular file", out)
	case !plan.Checkable() && plan.Whole() == nil:
		return false, &outExistsError{out, "there is no checksum to tell whether it is this file; it is kept"}
	case fi.Size() != size:
		return false, fmt.Errorf("%s: %w", out, ErrOutExists)
	}
	f, err := os.Open(out)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if plan.Checkable() {
		buf := make([]byte, bs)
		for i := 0; int64(i)*bs < size; i++ {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			n, err := f.ReadAt(buf[:min(bs, size-int64(i)*bs)], int64(i)*bs)
			if err != nil && !(errors.Is(err, io.EOF) && int64(n) == min(bs, size-int64(i)*bs)) {
				return false, err
			}
			if plan.Piece(i, buf[:n]) != nil {
				return false, fmt.Errorf("%s: %w", out, ErrOutExists)
			}
		}
	}
	if h := plan.Whole(); h != nil {
		if err := h.Check(ctxReader{ctx, f}); err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			if errors.Is(err, verify.ErrMismatch) {
				return false, fmt.Errorf("%s: %w", out, ErrOutExists)
			}
			return false, err
		}
	}
	return true, nil
}

// ctxReader is a reader that stops when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// downloadLearnt is Download of a file from mirrors alone, with no
// manifest: mirrors (as parsed, raws as given) through hc.
func downloadLearnt(ctx context.Context, opts Options, while *string, name string, mirrors []*url.URL, raws []string, hc *http.Client, start time.Time) (*Result, error) {
	if opts.Share != nil {
		return nil, ErrShareLearnt
	}
	srcs := make([]*source, len(mirrors))
	for i, u := range mirrors {
		srcs[i] = newMirrorSource(u, raws[i], hc, 0, opts.AllowInsecureRedirect)
	}
	defer func() {
		for _, s := range srcs {
			s.f.close()
		}
	}()
	*while = "while asking the mirrors for the file"
	lf, srcs, err := learnFile(ctx, &opts, srcs, func(u *url.URL) *source {
		return newMirrorSource(u, u.Redacted(), hc, 0, opts.AllowInsecureRedirect)
	})
	if err != nil {
		return &Result{Name: name, Seeds: results(srcs)}, err
	}
	m, plan := lf.m, lf.plan
	if lf.name != "" {
		name = lf.name
	}
	checked := plan.Checkable() || plan.Whole() != nil
	res := &Result{Name: name, Size: m.Size, Checked: checked}

	*while = "while checking the file already at " + opts.Out
	done, err := alreadyLearnt(ctx, opts.Out, m.Size, plan, m.BlockSize)
	if err != nil {
		res.Seeds = results(srcs)
		return res, err
	}
	if done {
		if _, err := os.Stat(partial.PartPath(opts.Out)); errors.Is(err, os.ErrNotExist) {
			_ = os.Remove(partial.StatePath(opts.Out))
		}
		opts.Logf("%s is already complete and verified", opts.Out)
		opts.emit(Event{Kind: EventStart, Name: name, Size: m.Size, BlockSize: m.BlockSize, Resumed: m.Size})
		res.ResumedBytes = m.Size
		res.Elapsed = time.Since(start)
		res.Seeds = results(srcs)
		return res, nil
	}

	*while = "while opening the partial download"
	opts.readBack = plan.Whole() != nil // see startPrefix
	part, err := openPartial(&opts, m, &lf.bind)
	if err != nil {
		res.Seeds = results(srcs)
		return res, err
	}
	defer part.Close()
	res.ResumedBytes = part.PresentBytes()
	opts.emit(Event{Kind: EventStart, Name: name, Size: m.Size, BlockSize: m.BlockSize, Resumed: res.ResumedBytes})
	pf := startProof(ctx, part, plan, &opts)
	defer pf.stop()
	if plan.Whole() != nil {
		// The whole file's hash is taken of the prefix as it grows (even
		// when every piece is checked too: a Metalink gives both), so
		// blocks come in order, and no pass over the file is left at the
		// end.
		opts.LowestFirst = true
	}
	l := &loop{opts: opts, m: m, plan: plan, part: part, srcs: srcs, start: start, resumed: res.ResumedBytes,
		limiter: cmp.Or(opts.limiter, newByteLimiter(opts.RateLimit)), from: make([]*source, m.NumBlocks())}
	var x *prefixHasher
	var pre *verify.Prefix
	if h := plan.Whole(); h != nil {
		pre = verify.NewPrefix(*h, m.Size)
		x = startPrefix(pre, part, m)
		defer func() { _ = x.stop() }()
	}
	*while = "during the download"
	runErr := l.run(ctx)
	if runErr == nil {
		*while = "while proving the resumed blocks"
		runErr = l.settle(ctx, pf, res)
	}
	if runErr == nil && pre != nil {
		*while = "while checking the whole file"
		runErr = l.finishLearnt(ctx, &x, pre, res)
	}
	l.sum(res, start)
	if runErr != nil {
		return res, runErr
	}
	if pre != nil {
		plan = withWhole{plan, nil} // the prefix checked the whole file
	}
	err = finishPartial(&opts, part, plan)
	res.Elapsed = time.Since(start)
	return res, err
}

// ErrShareLearnt: a file from mirrors alone cannot be shared (Options.Share):
// it has no manifest, so no content ID that peers could ask for.
var ErrShareLearnt = errors.New("a file from mirrors alone has no content ID to share it by: it needs its manifest or a seed")
