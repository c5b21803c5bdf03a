package quicxfer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
)

// This file is what a download does with the files at Out: open the partial
// download (and refuse what must not be touched), prove the resumed blocks
// while the others are fetched, and finish without replacing anything.

// Errors about the files at Out that a caller of Download branches on.
var (
	// ErrOtherPartial: Out's part file holds a partial download of a
	// different file. It is kept, untouched, unless Options.DiscardPartial.
	ErrOtherPartial = partial.ErrOtherFile
	// ErrOutAppeared: Out appeared while the download ran. It was not
	// replaced; the complete, verified file stays in the part file, with
	// its state, so that the same download finishes once Out is gone.
	ErrOutAppeared = errors.New("appeared while the download ran and was not replaced")
	// ErrSymlink: one of the download's files (Out, its part, state or
	// command file) is a symbolic link. Nothing was written through it.
	ErrSymlink = atomicfile.ErrSymlink
)

// openPartial opens the partial download of m at o.Out. Blocks a previous
// run recorded are claimed, not trusted: proof proves them with SHA-256.
// Close removes a download that got no block (a start that failed).
//
// A learnt file (bind not nil: no manifest, see learn.go) is opened in
// partial's Learn mode, its state bound to *bind.
func openPartial(o *Options, m *manifest.Manifest, bind *manifest.ID) (*partial.File, error) {
	po := partial.Options{
		Workers: o.Workers, Logf: o.Logf,
		DeferProof: true, DiscardOther: o.DiscardPartial, RemoveEmpty: true,
		Buffered: o.readBack,
	}
	if bind != nil {
		po.Learn, po.ID = true, *bind
	}
	part, _, err := partial.Open(o.Out, m, po)
	var oe *partial.OtherFileError
	switch {
	case errors.As(err, &oe):
		return nil, fmt.Errorf("%w; it is kept", err)
	case err != nil:
		return nil, fmt.Errorf("opening partial download: %w", err)
	}
	return part, nil
}

// finishPartial checks the whole file if plan has a hash of it, and renames
// the complete part file to o.Out.
func finishPartial(o *Options, part *partial.File, plan verify.Plan) error {
	if h := plan.Whole(); h != nil {
		if err := checkWholeFile(partial.PartPath(o.Out), h); err != nil {
			return err
		}
	}
	err := part.Finish()
	switch {
	case errors.Is(err, partial.ErrOutExists):
		return fmt.Errorf("%s %w: the complete, verified file is kept in %s; move %s away and run the same download again to finish it",
			o.Out, ErrOutAppeared, partial.PartPath(o.Out), o.Out)
	case err != nil:
		return fmt.Errorf("finishing %s: %w", o.Out, err)
	}
	return nil
}

// proof proves the blocks a previous run recorded (claimed at Open) with
// SHA-256, in the background, while the download fetches the others: a
// resume costs no wall time beyond what hashing takes on the cores the
// download leaves idle. A proven block is handed to Options.Share; one that
// fails is cleared and fetched after the first run of the loop (settle).
type proof struct {
	done   chan struct{}
	cancel context.CancelFunc
	rep    partial.ProofReport
	err    error
}

// startProof starts proving part's claimed blocks by plan. stop ends it and
// waits.
func startProof(ctx context.Context, part *partial.File, plan verify.Plan, o *Options) *proof {
	ctx, cancel := context.WithCancel(ctx)
	p := &proof{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(p.done)
		p.rep, p.err = part.Prove(ctx, o.Workers, plan, func(i int) {
			if o.Share != nil {
				o.Share.Add([]int{i}) // durable since the run that wrote it
			}
		})
	}()
	return p
}

// stop cancels the proof and waits for it to end.
func (p *proof) stop() {
	p.cancel()
	<-p.done
}

// settle waits for the proof, after the loop's first run fetched every
// block the scheduler counted missing (it counted the claimed ones had).
// The blocks that failed their proof are missing now: the loop runs again,
// with the same sources but those it dropped, to fetch them.
func (l *loop) settle(ctx context.Context, p *proof, res *Result) error {
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if p.err != nil {
		return fmt.Errorf("proving the resumed blocks: %w", p.err)
	}
	res.ResumedBytes -= p.rep.FailedBytes
	l.resumed = res.ResumedBytes
	if l.part.Complete() {
		return nil // nothing failed, or what did failed before the scheduler counted it had
	}
	return l.rerun(ctx)
}

// rerun runs the loop again for the blocks missing now, with the sources
// of the last run but those it dropped (and the suspects a repair left
// out, repair.go), going on with what was said of each.
func (l *loop) rerun(ctx context.Context) error {
	for _, s := range l.srcs {
		if l.joins[s] == joinDropped && !s.suspect {
			s.leftOut = true
		}
	}
	l.idleSince, l.toldIdle = time.Time{}, false
	return l.run(ctx)
}

// present reports whether block i is on disk: had (proven) or claimed (being
// proven). The scheduler fetches neither.
func (l *loop) present(i int) bool { return l.part.Present(i) }

// checkWholeFile checks the complete file at path against h, the plan's hash of
// the whole file.
func checkWholeFile(path string, h *verify.Hash) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := h.Check(f); err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	return nil
}
