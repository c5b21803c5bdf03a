package quicxfer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"sync"
	"time"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/scheduler"
)

// Errors a caller of Download branches on.
var (
	// ErrNotFound: no reachable seed serves the requested name.
	ErrNotFound = errors.New("not found on any seed")
	// ErrNoSeeds: no seed could be reached, or every seed failed.
	ErrNoSeeds = errors.New("no usable seed")
	// ErrOutExists: OUT exists and is not the requested file.
	ErrOutExists = errors.New("output file exists and is a different file")
	// ErrIDMismatch: no seed serves the content ID the user asked for.
	ErrIDMismatch = errors.New("no seed serves the requested content ID")
	// ErrNoSources: Options name no seed and no mirror.
	ErrNoSources = errors.New("no seed or mirror given")
)

// Download fetches Name from every seed at once into Out, verifying every
// block, and resumes from what an earlier run left. On any error the partial
// state stays on disk, consistent, so that running it again resumes.
//
// When ctx ends first, the error is an *InterruptedError that says where
// the download was (it wraps ctx's error).
func Download(ctx context.Context, opts Options) (*Result, error) {
	while := "while connecting to the seeds"
	res, err := download(ctx, opts, &while)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		if _, ok := errors.AsType[*InterruptedError](err); !ok {
			err = &InterruptedError{While: while, Err: ctx.Err()}
		}
	}
	return res, err
}

// download is Download; it keeps *while up to date with what it is doing,
// for the error of an interruption.
func download(ctx context.Context, opts Options, while *string) (*Result, error) {
	opts.fill()
	start := time.Now()
	known := opts.Manifest
	if known == nil {
		if opts.Name == "" && opts.ID.IsZero() && len(opts.Seeds) > 0 {
			return nil, errors.New("no file name given")
		}
		if opts.Name != "" {
			if err := wire.CheckName(opts.Name); err != nil {
				return nil, fmt.Errorf("file name %q: %w", opts.Name, err)
			}
		}
	} else if !opts.ID.IsZero() && known.ID() != opts.ID {
		return nil, fmt.Errorf("the manifest has content ID %s, not the requested %s", known.ID(), opts.ID)
	}
	if len(opts.Seeds) == 0 && len(opts.Mirrors) == 0 {
		return nil, ErrNoSources
	}
	var urls []wire.URL
	seen := map[string]bool{}
	var raws []string
	for _, s := range opts.Seeds {
		u, err := wire.ParseURL(s)
		if err != nil {
			return nil, err
		}
		if seen[u.String()] {
			continue
		}
		seen[u.String()] = true
		urls = append(urls, u)
		raws = append(raws, s)
	}
	var mirrors []*url.URL
	var mirrorRaws []string
	for _, s := range opts.Mirrors {
		u, err := parseMirrorURL(s)
		if err != nil {
			return nil, err
		}
		if seen[u.String()] {
			continue
		}
		seen[u.String()] = true
		mirrors = append(mirrors, u)
		mirrorRaws = append(mirrorRaws, s)
	}
	if opts.Out == "" {
		return nil, errors.New("no output file given")
	}

	client := opts.Client
	if client == nil && len(urls) > 0 {
		c, err := NewClientWith(opts.Auth)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		client = c
	}
	srcs := make([]*source, len(urls))
	for i, u := range urls {
		srcs[i] = newSeedSource(&opts, u, raws[i], client)
	}
	seeds := srcs
	defer func() {
		for _, s := range srcs {
			s.f.close()
		}
	}()

	// agree may return before every seed answered; those questions end with
	// the download.
	var asking sync.WaitGroup
	askCtx, stopAsking := context.WithCancel(ctx)
	defer asking.Wait()
	defer stopAsking()
	name, m := opts.Name, known
	if name == "" && len(mirrors) > 0 {
		if b := path.Base(mirrors[0].Path); b != "/" && b != "." {
			name = b
		}
	}
	hc := opts.HTTPClient
	if hc == nil && len(mirrors) > 0 {
		trust := opts.Auth
		if opts.Client != nil {
			trust = opts.Client.opts
		}
		c, err := NewHTTPClient(trust)
		if err != nil {
			return nil, err
		}
		hc = c
		defer CloseHTTPClient(hc)
	}
	if len(urls) == 0 && known == nil {
		return downloadLearnt(ctx, opts, while, name, mirrors, mirrorRaws, hc, start)
	}
	for round := 1; len(seeds) > 0; round++ {
		n, am, retry, err := agree(askCtx, &asking, seeds, known, len(mirrors), opts)
		if err != nil {
			// Without a manifest nothing can start until a seed gives it;
			// with MaxRetries negative (never give up on a source) the
			// seeds are asked again, with the sources' backoff, for as
			// long as only reaching them failed. Seeds that said they are
			// busy (a limit of theirs) are asked again in any case, as
			// many rounds as MaxRetries gives a source, after the wait
			// they asked for if longer: busy is a state, not a failure.
			busy := retry && errors.Is(err, wire.ErrBusy)
			switch {
			case !retry, opts.MaxRetries >= 0 && !busy, busy && opts.MaxRetries >= 0 && round > maxRetries(opts.MaxRetries):
				return nil, err
			case round == 1 && busy:
				opts.Logf("%v; asking again after a pause (Ctrl-C to stop)", err)
			case round == 1:
				opts.Logf("%v; asking again until a seed answers (Ctrl-C to stop)", err)
			}
			wait := scheduler.DefaultBackoff().Delay(round)
			wait = max(wait, min(retryAfter(err), scheduler.DefaultMaxRetryAfter))
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
			continue
		}
		m = am
		if opts.Name == "" {
			name = n
		}
		break
	}
	for i, u := range mirrors {
		srcs = append(srcs, newMirrorSource(u, mirrorRaws[i], hc, m.Size, opts.AllowInsecureRedirect))
	}
	id := m.ID()
	res := &Result{Name: name, ID: id, Size: m.Size, Checked: true}

	*while = "while checking the file already at " + opts.Out
	done, err := alreadyThere(ctx, opts.Out, m, opts.Workers)
	if err != nil {
		return nil, err
	}
	if done {
		// A crash inside Finish, after the rename, can leave the state file.
		if _, err := os.Stat(partial.PartPath(opts.Out)); errors.Is(err, os.ErrNotExist) {
			_ = os.Remove(partial.StatePath(opts.Out))
		}
		opts.Logf("%s is already complete and verified", opts.Out)
		opts.emit(Event{Kind: EventStart, Name: name, ID: id, Size: m.Size, BlockSize: m.BlockSize, Resumed: m.Size})
		if opts.Share != nil {
			if err := opts.Share.Start(name, m, opts.Out, func(int) bool { return true }); err != nil {
				return nil, fmt.Errorf("sharing %s: %w", opts.Out, err)
			}
		}
		res.ResumedBytes = m.Size
		res.Elapsed = time.Since(start)
		res.Seeds = results(srcs)
		return res, nil
	}

	*while = "while opening the partial download"
	part, err := openPartial(&opts, m, nil)
	if err != nil {
		return nil, err
	}
	defer part.Close()
	res.ResumedBytes = part.PresentBytes()
	if opts.Share != nil {
		// The blocks Open found are durable: it persisted them. Claimed
		// ones are shared once proven.
		if err := opts.Share.Start(name, m, partial.PartPath(opts.Out), part.Has); err != nil {
			return nil, fmt.Errorf("sharing %s: %w", opts.Out, err)
		}
	}
	opts.emit(Event{Kind: EventStart, Name: name, ID: id, Size: m.Size, BlockSize: m.BlockSize, Resumed: res.ResumedBytes})
	plan := verify.FromManifest(m)
	if opts.Checksum != nil {
		plan = withWhole{plan, opts.Checksum}
	}
	pf := startProof(ctx, part, plan, &opts)
	defer pf.stop()

	l := &loop{opts: opts, m: m, plan: plan, id: id, part: part, srcs: srcs, start: start, resumed: res.ResumedBytes, client: client, limiter: cmp.Or(opts.limiter, newByteLimiter(opts.RateLimit))}
	*while = "during the download"
	runErr := l.run(ctx)
	if runErr == nil {
		*while = "while proving the resumed blocks"
		runErr = l.settle(ctx, pf, res)
	}
	defer l.closeDiscovered()
	l.sum(res, start)
	if runErr != nil {
		return res, runErr
	}
	if err := finishPartial(&opts, part, plan); err != nil {
		return res, err
	}
	if opts.Share != nil {
		all := make([]int, m.NumBlocks())
		for i := range all {
			all[i] = i
		}
		opts.Share.Add(all) // Finish made every block durable
	}
	return res, nil
}

// sum fills in res what the loop's run did: its time since start, each
// source's result and the bytes fetched.
func (l *loop) sum(res *Result, start time.Time) {
	res.Elapsed = time.Since(start)
	res.Seeds = results(l.srcs)
	for _, s := range l.srcs {
		res.FetchedBytes += s.received.Load()
	}
}

// alreadyThere reports whether out already holds the file. An out that
// exists but is not the file is never overwritten. Hashing it stops when
// ctx ends (Ctrl-C), with ctx's error.
func alreadyThere(ctx context.Context, out string, m *manifest.Manifest, workers int) (bool, error) {
	fi, err := os.Stat(out)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("%s exists and is not a regular file", out)
	}
	if fi.Size() == m.Size {
		got, err := manifest.BuildFile(ctx, out, workers)
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if err == nil && got.ID() == m.ID() {
			return true, nil
		}
	}
	return false, fmt.Errorf("%s: %w", out, ErrOutExists)
}

// withWhole is a plan with a hash of the whole file besides.
type withWhole struct {
	verify.Plan
	h *verify.Hash
}

func (p withWhole) Whole() *verify.Hash { return p.h }
