package quicxfer

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
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
)

// agreeGrace is how long, after the first seed's manifest, agree waits for
// the other seeds' answers.
const agreeGrace = time.Second

// Defaults of Options.LowestSpeedLimit and LowestSpeedTime: a source that
// sends less than 1 kB/s over 30 s of requests outstanding is too slow.
// Below that a block of the smallest size (128 KiB) takes over two minutes:
// no link a download is worth running over is that slow, but a source that
// trickles on purpose (or a path that nearly died) is, and would otherwise
// hold its blocks, and the download, for hours.
const (
	DefaultLowestSpeedLimit = 1000
	DefaultLowestSpeedTime  = scheduler.DefaultMinRateWindow
)

// Options says what to download from where.
type Options struct {
	Seeds []string    // seed URLs (quic://...)
	Name  string      // the file's name on the seeds (optional with Manifest, or with ID)
	Out   string      // where the complete file appears
	ID    manifest.ID // if not zero, only a manifest with this content ID is accepted
	// DiscardPartial throws away a partial download of a different file at
	// Out; without it Download refuses it (ErrOtherPartial) and keeps it.
	DiscardPartial bool

	// Mirrors are HTTP(S) URLs of the file itself, read with range
	// requests; their blocks are verified like a seed's.
	Mirrors []string
	// Manifest, if not nil, is the file's manifest (from a manifest file):
	// seeds are then asked for its content ID rather than for Name, and a
	// download from mirrors alone needs it. With ID too, the two must agree.
	Manifest *manifest.Manifest
	// HTTPClient, if not nil, is used for every mirror; else one is made
	// with NewHTTPClient and the trust settings of Auth (or of Client).
	HTTPClient *http.Client
	// AllowInsecureRedirect lets an https mirror redirect to plain http.
	// By default such a mirror is dropped (ErrInsecureRedirect): the user
	// asked for https. Redirects are otherwise followed, and reported
	// against the mirror's URL as given (its note says where it went).
	AllowInsecureRedirect bool

	Client       *Client       // optional: share a client (and its UDP socket); else one is made and closed
	Auth         ClientOptions // token, client certificate and trust for the client made when Client is nil
	DialTimeout  time.Duration // per seed, default 10s
	SyncInterval time.Duration // how often verified blocks are made durable and recorded, default 1s (ShareSyncInterval with Share)
	MaxInFlight  int64         // bytes in flight over all seeds: the memory bound (default 64 MiB)
	// ConnsPerSeed is how many QUIC connections to open to each seed. On
	// a path with random loss one connection's congestion control
	// (quic-go's NewReno) caps its rate far below the link's; several
	// connections share the link the way aria2's -x does. 0 is 1 (the
	// default); a positive number is used as is for every seed; ConnsAuto
	// adapts the number per seed: 1 at first, more while each step up
	// raises the seed's rate by over 15 %, up to MaxConnsPerSeed (see
	// adapt.go). Not the default: downloaders that share one bottleneck
	// each see their rate rise as they take share from the others, so
	// each would grow to the cap.
	ConnsPerSeed int
	// MaxConnsPerSeed caps the adaptive number of connections (default
	// DefaultMaxConnsPerSeed); unused with a positive ConnsPerSeed.
	MaxConnsPerSeed int
	// decider, if set (tests), replaces connAdapter in the adaptive mode.
	decider func(maxConns int) connDecider
	Workers int // goroutines for re-checking a partial file (default GOMAXPROCS)
	// MaxRetries is how many failures in a row (connection lost or refused,
	// a stall, a request error) drop a source; between them it waits
	// 0.5 s, 1 s, 2 s, ... up to 15 s. 0 is the scheduler's default (6:
	// about 30 s of trying); negative never drops a source for failing (a
	// source that sends bad blocks is still dropped).
	MaxRetries int
	// LowestSpeedLimit is the lowest rate, in bytes/s, a source may keep
	// (like aria2's --lowest-speed-limit): one that has had requests out
	// for LowestSpeedTime without a break and sent less than that on
	// average is treated as stalled (its blocks go elsewhere, it is tried
	// again after a backoff, and it counts toward MaxRetries), so that a
	// source that trickles a byte a second does not hold the download for
	// ever. 0 is DefaultLowestSpeedLimit; negative turns the rule off.
	LowestSpeedLimit float64
	// LowestSpeedTime is how long a busy source is measured for
	// LowestSpeedLimit (default DefaultLowestSpeedTime).
	LowestSpeedTime time.Duration

	// Logf receives one-line messages for the user (seeds left out or
	// dropped, damaged partial state, ...). Nil discards them.
	Logf func(format string, args ...any)
	// OnProgress, if set, is called from the download loop about every
	// ProgressInterval (default 200ms), and once at the end.
	OnProgress       func(Progress)
	ProgressInterval time.Duration
	// OnEvent, if set, is called from the download loop for each Event
	// (start, a source joined, down, dropped, stalled, a block rejected).
	OnEvent func(Event)

	// Share, if set, is given the download's blocks as they become durable,
	// to serve them (see Sharer).
	Share Sharer
	// SelfURLs are the URLs at which Share serves; one of them is
	// registered with each source (GET_PEERS), so that the source tells
	// its other clients about this one.
	SelfURLs []string
	// MaxPeers is the most sources learnt from other sources (GET_PEERS)
	// that the download adds (default DefaultMaxPeers; negative: none).
	MaxPeers int
	// PeersInterval is how often every source is asked for others (and
	// this side registered again), default DefaultPeersInterval.
	PeersInterval time.Duration
	// LowestFirst asks for blocks in index order rather than rarest first
	// (for streaming).
	LowestFirst bool
}

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
	// backoff, connecting, dropped), or StateShutdown.
	State    string
	Rate     float64 // bytes/s, as the scheduler measures it
	Accepted int64
}

// StateShutdown is the SeedProgress.State of a seed that said it is
// shutting down (it closed its connection with SHUTTING_DOWN) and has not
// been reached since: it is tried again with backoff, like a seed that
// went away, but it is not failing.
const StateShutdown = "shutdown"

// Result sums up a download.
type Result struct {
	Name         string
	ID           manifest.ID
	Size         int64
	FetchedBytes int64 // payload bytes received over the network in this run (duplicates and rejected blocks included)
	ResumedBytes int64 // bytes already verified on disk when the run started
	Elapsed      time.Duration
	Seeds        []SeedResult
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
}

func (o *Options) fill() {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = time.Second
		if o.Share != nil {
			// A block is shared once durable: peers should not wait a
			// second for what this side has.
			o.SyncInterval = ShareSyncInterval
		}
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 64 << 20
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxConnsPerSeed <= 0 {
		o.MaxConnsPerSeed = DefaultMaxConnsPerSeed
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 200 * time.Millisecond
	}
	if o.MaxPeers == 0 {
		o.MaxPeers = DefaultMaxPeers
	}
	if o.PeersInterval <= 0 {
		o.PeersInterval = DefaultPeersInterval
	}
	if o.LowestSpeedLimit == 0 {
		o.LowestSpeedLimit = DefaultLowestSpeedLimit
	}
	if o.LowestSpeedTime <= 0 {
		o.LowestSpeedTime = DefaultLowestSpeedTime
	}
}

// Download fetches Name from every seed at once into Out, verifying every
// block, and resumes from what an earlier run left. On any error the partial
// state stays on disk, consistent, so that running it again resumes.
func Download(ctx context.Context, opts Options) (*Result, error) {
	opts.fill()
	start := time.Now()
	known := opts.Manifest
	if known == nil {
		if opts.Name == "" && opts.ID.IsZero() {
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
		return nil, errors.New("no seed given (use --seed URL, or --mirror URL with --manifest FILE)")
	}
	if len(opts.Seeds) == 0 && known == nil {
		return nil, errors.New("mirrors alone cannot say what the file is: give its manifest (--manifest FILE) or a --seed")
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
		srcs[i] = opts.newSeed(u, raws[i], client)
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
	for round := 1; len(seeds) > 0; round++ {
		n, am, retry, err := agree(askCtx, &asking, seeds, known, len(mirrors), opts)
		if err != nil {
			// Without a manifest nothing can start until a seed gives it;
			// with MaxRetries negative (never give up on a source) the
			// seeds are asked again, with the sources' backoff, for as
			// long as only reaching them failed.
			if !retry || opts.MaxRetries >= 0 {
				return nil, err
			}
			if round == 1 {
				opts.Logf("%v; asking again until a seed answers (Ctrl-C to stop)", err)
			}
			t := time.NewTimer(scheduler.DefaultBackoff().Delay(round))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
			continue
		}
		m = am
		if name == "" {
			name = n
		}
		break
	}
	if name == "" && len(mirrors) > 0 {
		if b := path.Base(mirrors[0].Path); b != "/" && b != "." {
			name = b
		}
	}
	if len(mirrors) > 0 {
		hc := opts.HTTPClient
		if hc == nil {
			trust := opts.Auth
			if opts.Client != nil {
				trust = opts.Client.opts
			}
			hc = NewHTTPClient(trust)
			defer hc.CloseIdleConnections()
		}
		for i, u := range mirrors {
			srcs = append(srcs, newMirrorSource(u, mirrorRaws[i], hc, m.Size, opts.AllowInsecureRedirect))
		}
	}
	id := m.ID()
	res := &Result{Name: name, ID: id, Size: m.Size}

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

	part, err := openPartial(&opts, m)
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
	pf := startProof(ctx, part, &opts)
	defer pf.stop()

	l := &loop{opts: opts, m: m, id: id, part: part, srcs: srcs, start: start, resumed: res.ResumedBytes, client: client}
	runErr := l.run(ctx)
	if runErr == nil {
		runErr = l.settle(ctx, pf, res)
	}
	defer l.closeDiscovered()
	res.Elapsed = time.Since(start)
	res.Seeds = results(l.srcs)
	for _, s := range l.srcs {
		res.FetchedBytes += s.received.Load()
	}
	if runErr != nil {
		return res, runErr
	}
	if err := finishPartial(&opts, part); err != nil {
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

func results(srcs []*source) []SeedResult {
	out := make([]SeedResult, len(srcs))
	for i, s := range srcs {
		note := s.note
		if hf, ok := s.f.(*httpFetcher); ok {
			if to := hf.redirectedTo(); to != "" {
				note = strings.TrimPrefix(note+"; redirected to "+to, "; ")
			}
		}
		out[i] = SeedResult{
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

// agree connects to every seed, asks each for the manifest of the name, and
// settles on one: the one whose content ID the user gave, or else the one
// most seeds report (ties to the earliest seed given). Seeds that report
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
			conn, err := s.f.(*seedFetcher).connect(ctx)
			if err != nil {
				ch <- indexed{i, answer{err: err}}
				return
			}
			mctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
			defer cancel()
			resp, err := conn.Manifest(mctx, req)
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
			return "", nil, false, ctx.Err()
		}
	}

	count := map[manifest.ID]int{}
	var best manifest.ID
	for _, a := range answers {
		if a.err != nil {
			continue
		}
		count[a.id]++
		if opts.ID.IsZero() && (best.IsZero() || count[a.id] > count[best]) {
			best = a.id
		}
	}
	if !opts.ID.IsZero() {
		best = opts.ID
	}
	var chosen *answer
	var firstErr error
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
			s.note, s.tempNote = "unreachable: "+Describe(a.err), true
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %s", s.raw, Describe(a.err))
			}
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
		case notFound > 0 && firstErr == nil:
			return "", nil, false, fmt.Errorf("%s: %w", what, ErrNotFound)
		default:
			return "", nil, transient > 0 && len(count) == 0, fmt.Errorf("%w: %v", ErrNoSeeds, firstErr)
		}
	}
	for _, w := range warnings {
		opts.Logf("%s", w)
	}
	return chosen.name, chosen.m, false, nil
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
	return false, fmt.Errorf("%s: %w; remove it or choose another -o", out, ErrOutExists)
}

// loop is one download's event loop: it owns the scheduler.
type loop struct {
	opts    Options
	m       *manifest.Manifest
	id      manifest.ID
	part    *partial.File
	srcs    []*source
	byID    map[scheduler.SourceID]*source
	start   time.Time
	resumed int64

	sched   *scheduler.Scheduler
	results chan result
	cancels map[scheduler.ReqID]context.CancelFunc
	bufs    sync.Pool
	joins   joins      // what events last said about each source
	writeMu sync.Mutex // see fetch

	// Swarm (swarm.go).
	client     *Client
	backoff    scheduler.BackoffPolicy // the scheduler's, for the HAVE watchers
	avail      chan availMsg
	connected  chan connectMsg
	peers      chan peersMsg
	known      map[string]bool // URLs of every source, given or found
	discovered int
	written    []int // blocks verified and written since the last sync request
	// announced holds the requests issued to a source whose HAVE had
	// arrived: a NOT_AVAILABLE for one of them is the source's fault.
	announced map[scheduler.ReqID]bool
	idleSince time.Time // when nothing was last in flight with blocks missing; zero if busy
	toldIdle  bool
}

// closeDiscovered closes the connections of the sources the download found.
func (l *loop) closeDiscovered() {
	for _, s := range l.srcs {
		if s.discovered {
			s.f.close()
		}
	}
}

type result struct {
	a   scheduler.Action
	out outcome
	err error // nil: delivered
}

func (l *loop) run(ctx context.Context) error {
	order := scheduler.RarestFirst
	if l.opts.LowestFirst {
		order = scheduler.LowestFirst
	}
	tieStart := 0
	if l.opts.Share != nil && l.m.NumBlocks() > 0 {
		// Sharing downloaders start at different places, so that they
		// have different blocks to give each other.
		tieStart = rand.IntN(l.m.NumBlocks())
	}
	l.sched = scheduler.New(scheduler.Config{
		NumBlocks:   l.m.NumBlocks(),
		BlockSize:   l.m.BlockSize,
		Size:        l.m.Size,
		MaxInFlight: max(l.opts.MaxInFlight, l.m.BlockSize),
		// Each connection to a seed needs a block of its own in flight
		// (adaptConns raises it per seed in the adaptive mode).
		MinWindow:     int64(max(2, l.opts.ConnsPerSeed)) * l.m.BlockSize,
		MaxRetries:    maxRetries(l.opts.MaxRetries),
		MinRate:       max(l.opts.LowestSpeedLimit, 0),
		MinRateWindow: l.opts.LowestSpeedTime,
		Order:         order,
		TieStart:      tieStart,
	}, l.present)
	l.backoff = l.sched.BackoffPolicy()
	l.byID = map[scheduler.SourceID]*source{}
	if l.joins == nil { // a second run (settle) goes on from the first
		l.joins = joins{}
	}
	l.cancels = map[scheduler.ReqID]context.CancelFunc{}
	l.results = make(chan result, 64)
	bs := l.m.BlockSize
	l.bufs.New = func() any { b := make([]byte, bs); return &b }

	l.avail = make(chan availMsg)
	l.connected = make(chan connectMsg)
	l.announced = map[scheduler.ReqID]bool{}
	l.peers = make(chan peersMsg)
	l.known = map[string]bool{}
	for _, u := range l.opts.SelfURLs {
		if pu, err := wire.ParseURL(u); err == nil {
			l.known[pu.String()] = true // never our own
		}
	}

	ctx, cancelAll := context.WithCancel(ctx)
	var workers sync.WaitGroup
	defer func() {
		cancelAll()
		workers.Wait()
	}()

	now := time.Now()
	// addSource registers s, which is in l.srcs, with the scheduler and
	// starts watching its HAVE.
	addSource := func(s *source) {
		now := time.Now()
		s.id = l.sched.AddSource(now)
		s.ctx, s.stop = context.WithCancel(ctx)
		l.byID[s.id] = s
		if _, ok := s.f.(*seedFetcher); ok {
			// After a backoff the loop connects to it (a Connect) before
			// it is asked for blocks: a dial is not taken for a stall.
			l.sched.SetConnects(s.id)
		}
		switch {
		case s.discovered:
			// Most likely a peer: nothing until its HAVE says, and it
			// joins when that arrives.
			l.sched.SetAvailable(s.id, nil)
		case !s.f.ready():
			l.joins.down(&l.opts, s, EventSourceDown, cmp.Or(s.note, "not connected yet"))
			l.sched.SourceDown(s.id, now) // unreachable at start: retried with backoff
		default:
			l.joins.join(&l.opts, s)
		}
		if _, ok := s.f.(*seedFetcher); !ok {
			s.haveKnown = true // a mirror has the whole file (a new source has every block)
			return
		}
		workers.Go(func() { l.watchHave(s.ctx, s) })
	}
	for _, s := range l.srcs {
		l.known[s.key()] = true
		if s.leftOut {
			l.joins.drop(&l.opts, s, s.note)
			continue // serves something else
		}
		addSource(s)
	}
	l.updateAlone()
	// Other sources are asked for more at once, then after 250 ms, 500 ms, 1 s,
	// ... up to every PeersInterval: a swarm starting together finds itself
	// quickly.
	lastPeers, peersWait := now.Add(-l.opts.PeersInterval), time.Duration(0)

	// The syncer makes written blocks durable and records them, off the loop.
	// The blocks handed over with a request were written before it, so
	// once Sync returns they are durable and may be shared.
	syncReq := make(chan []int, 1)
	syncErr := make(chan error, 1)
	var syncer sync.WaitGroup
	syncer.Add(1)
	go func() {
		defer syncer.Done()
		for blocks := range syncReq {
			if err := l.part.Sync(); err != nil {
				select {
				case syncErr <- err:
				default:
				}
				continue
			}
			if l.opts.Share != nil && len(blocks) > 0 {
				l.opts.Share.Add(blocks)
			}
		}
	}()
	defer func() {
		close(syncReq)
		syncer.Wait()
	}()

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	lastSync, lastProgress, lastTie := now, now, now
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()

	apply := func(actions []scheduler.Action) {
		for _, a := range actions {
			switch a.Kind {
			case scheduler.Fetch:
				src := l.byID[a.Source]
				src.asked++
				if n, ok := src.f.(issueNoter); ok {
					n.issued(l.m.BlockOffset(a.Block))
				}
				if src.haveKnown {
					l.announced[a.Req] = true
				}
				wctx, cancel := context.WithCancel(ctx)
				l.cancels[a.Req] = cancel
				workers.Add(1)
				go func() {
					defer workers.Done()
					defer cancel()
					r := l.fetch(wctx, src, a)
					select {
					case l.results <- r:
					case <-ctx.Done():
					}
				}()
			case scheduler.Cancel:
				if cancel, ok := l.cancels[a.Req]; ok {
					cancel()
					delete(l.cancels, a.Req)
				}
				delete(l.announced, a.Req)
			case scheduler.Connect:
				src := l.byID[a.Source]
				workers.Go(func() {
					_, err := src.seedConn(src.ctx)
					select {
					case l.connected <- connectMsg{src, err}:
					case <-ctx.Done():
					}
				})
			}
		}
	}

	for {
		now := time.Now()
		if l.sched.Done() {
			l.nameIdle(now)
			l.progress(now)
			return nil
		}
		if err := l.sched.Err(); err != nil {
			l.progress(now)
			return fmt.Errorf("%w: %w%s", ErrNoSeeds, err, l.why())
		}
		acts := l.sched.Next(now)
		l.noteStalls(acts)
		apply(acts)
		if w := l.sched.NextWake(now); !w.IsZero() {
			wake.Reset(max(w.Sub(now), time.Millisecond))
		} else {
			wake.Reset(time.Hour)
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-syncErr:
			return fmt.Errorf("saving progress: %w", err)
		case r := <-l.results:
			if r.err == nil {
				l.written = append(l.written, r.a.Block)
			}
			if err := l.handle(r, apply); err != nil {
				return err
			}
		case m := <-l.avail:
			l.onAvail(m, apply)
		case m := <-l.connected:
			l.onConnect(m, apply)
		case m := <-l.peers:
			l.onPeers(m, addSource)
		case <-wake.C:
		case <-tick.C:
			now := time.Now()
			l.noteWaiting(now)
			for id, s := range l.byID {
				if r := s.received.Load(); r != s.lastRecv {
					s.lastRecv, s.lastData = r, now
				}
				l.sched.Progress(id, s.lastRecv, now)
				if rtt := s.f.rtt(); rtt > 0 {
					l.sched.SetRTT(id, rtt)
				}
			}
			l.adaptConns(now)
			l.updateAlone()
			if l.opts.Share != nil && l.m.NumBlocks() > 0 && now.Sub(lastTie) >= time.Second {
				// A new place every second: downloaders that reach the
				// same region do not keep asking for the same blocks.
				lastTie = now
				l.sched.SetTieStart(rand.IntN(l.m.NumBlocks()))
			}
			if now.Sub(lastSync) >= l.opts.SyncInterval {
				lastSync = now
				select {
				case syncReq <- l.written:
					l.written = nil
				default: // the last sync is still running: these go with the next
				}
			}
			if (l.opts.MaxPeers > 0 || len(l.opts.SelfURLs) > 0) && now.Sub(lastPeers) >= peersWait {
				lastPeers = now
				peersWait = min(max(2*peersWait, 250*time.Millisecond), l.opts.PeersInterval)
				l.askPeers(ctx, func(f func()) { workers.Go(f) })
			}
			if now.Sub(lastProgress) >= l.opts.ProgressInterval {
				lastProgress = now
				l.progress(now)
			}
		}
	}
}

// handle feeds one worker's result to the scheduler. It returns an error
// only for what ends the download (the disk failing).
func (l *loop) handle(r result, apply func([]scheduler.Action)) error {
	now := time.Now()
	a := r.a
	delete(l.cancels, a.Req)
	announced := l.announced[a.Req]
	delete(l.announced, a.Req)
	s := l.byID[a.Source]
	if hf, ok := s.f.(*httpFetcher); ok {
		l.noteMirror(s, hf)
	}
	var de *diskError
	switch {
	case r.err == nil:
		if s.tempNote {
			s.note, s.tempNote = "", false // it works after all
		}
		l.joins.join(&l.opts, s)
		apply(l.sched.Delivered(a.Req, a.Source, a.Block, now))
		return nil
	case errors.As(r.err, &de):
		return de
	case errors.Is(r.err, context.Canceled):
		return nil // the scheduler cancelled it
	}
	switch r.out {
	case outRejected:
		s.badBlocks.Add(1)
		l.opts.Logf("%s %s sent a bad copy of block %d (%v); fetching it elsewhere", s.kind, s.raw, a.Block, r.err)
		l.opts.emit(Event{Kind: EventBlockRejected, Source: s.raw, Block: a.Block, Reason: r.err.Error()})
		apply(l.sched.Rejected(a.Req, a.Source, a.Block, now))
		if st := l.sched.Stats(a.Source); st.State == scheduler.Dropped {
			l.dropped(s, st.DropReason)
		}
		return nil
	case outReturned:
		l.sched.Returned(a.Req, a.Source, a.Block, now)
		return nil
	case outGone:
		s.lastErr = Describe(r.err)
		apply(l.sched.Remove(a.Source))
		l.dropped(s, s.lastErr)
		return nil
	case outUnavailable:
		if !announced {
			l.sched.Unavailable(a.Req, a.Source, a.Block, now)
			return nil
		}
		// Its own HAVE said it had the block: a failure, like an error.
		apply(l.sched.Failed(a.Req, a.Source, a.Block, now))
	case outDown:
		l.down(s, r.err, apply)
		return nil
	case outBusy:
		apply(l.sched.Refused(a.Req, a.Source, a.Block, retryAfter(r.err), now))
		if !s.toldBusy {
			// Once: a source that is busy now and then (a seed's request
			// rate) would otherwise fill the screen.
			s.toldBusy = true
			l.opts.Logf("%s %s is busy (%s); asking it again after a pause", s.kind, s.raw, Describe(r.err))
		}
	default:
		apply(l.sched.Failed(a.Req, a.Source, a.Block, now))
	}
	s.lastErr = Describe(r.err)
	if l.sched.Stats(a.Source).State == scheduler.Dropped {
		l.dropped(s, s.lastErr)
	}
	return nil
}

// noteMirror tells the user, once, where a mirror redirects, and that it
// ignores Range requests: what that means for it, and, when it is read as
// a whole file, its note says so.
func (l *loop) noteMirror(s *source, hf *httpFetcher) {
	if to := hf.redirectedTo(); to != s.toldRedirect {
		s.toldRedirect = to
		if to != "" {
			l.opts.Logf("%s %s redirects to %s", s.kind, s.raw, to)
		}
	}
	if !hf.ignoresRange.Load() {
		return
	}
	whole := hf.alone.Load()
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

// updateAlone tells each mirror whether it is the only source left (every
// other one dropped or left out): one that ignores Range requests is then
// read as a whole file.
func (l *loop) updateAlone() {
	live := 0
	for _, s := range l.srcs {
		if !s.leftOut && s.id != 0 && l.sched.Stats(s.id).State != scheduler.Dropped {
			live++
		}
	}
	for _, s := range l.srcs {
		if hf, ok := s.f.(*httpFetcher); ok {
			hf.setAlone(live == 1 && !s.leftOut && s.id != 0 && l.sched.Stats(s.id).State != scheduler.Dropped)
		}
	}
}

// down reports that s's connection was lost or could not be made (err),
// and tells the user once per outage: an event, and for a seed that said it
// is shutting down, a line that says so (it is a state of its own, not a
// failure to explain).
func (l *loop) down(s *source, err error, apply func([]scheduler.Action)) {
	apply(l.sched.SourceDown(s.id, time.Now()))
	// A connection this side closed (after a stall, say) says nothing new
	// about the source: the reason that made us close it stays.
	var ae *quic.ApplicationError
	ours := errors.Is(err, errNotConnected) || closedHere(err) || errors.As(err, &ae) && !ae.Remote
	if !ours || s.lastErr == "" {
		s.lastErr = Describe(err)
	}
	if errors.Is(err, wire.ErrShuttingDown) && !s.shutdown {
		s.shutdown = true
		if s.note == "" || s.tempNote {
			s.note, s.tempNote = "it shut down during the download", true
		}
	}
	switch l.sched.Stats(s.id).State {
	case scheduler.Dropped:
		if s.shutdown {
			l.dropped(s, "it shut down and did not come back ("+s.lastErr+")")
		} else {
			l.dropped(s, s.lastErr)
		}
	case scheduler.Backoff:
		reason := s.lastErr
		if s.shutdown {
			reason = "shutting down"
		}
		if l.joins.down(&l.opts, s, EventSourceDown, reason) && s.shutdown {
			l.opts.Logf("%s %s is shutting down; trying it again later", s.kind, s.raw)
		}
	}
}

// connectMsg is the end of a Connect: a dial of a seed's first connection.
type connectMsg struct {
	s   *source
	err error
}

// onConnect feeds the end of a Connect to the scheduler.
func (l *loop) onConnect(m connectMsg, apply func([]scheduler.Action)) {
	s := m.s
	if l.sched.Stats(s.id).State != scheduler.Connecting || s.ctx.Err() != nil {
		return // failed or dropped meanwhile
	}
	if m.err != nil {
		l.down(s, m.err, apply)
		return
	}
	s.shutdown = false // it is back
	l.sched.Connected(s.id, time.Now())
}

// dropped records that the scheduler dropped s for reason: its note (which
// replaces any earlier one), one log line and one event; and it stops what
// the loop still does with s besides its requests (its HAVE watcher, a
// GET_PEERS request), so that it is not dialled again.
func (l *loop) dropped(s *source, reason string) {
	if l.joins[s] == joinDropped {
		return
	}
	s.note, s.tempNote = "dropped: "+reason, false
	l.opts.Logf("%s %s dropped: %s", s.kind, s.raw, reason)
	l.joins.drop(&l.opts, s, reason)
	if s.stop != nil {
		s.stop()
	}
}

// fetch runs one request: fetch, verify, write. It never touches the
// scheduler; the loop does.
func (l *loop) fetch(ctx context.Context, s *source, a scheduler.Action) result {
	bp := l.bufs.Get().(*[]byte)
	defer l.bufs.Put(bp)
	buf := (*bp)[:l.m.BlockLen(a.Block)]
	out, err := s.f.fetch(ctx, l.id, a.Block, l.m.BlockOffset(a.Block), buf, func(n int) { s.received.Add(int64(n)) })
	if err != nil {
		if ctx.Err() != nil {
			return result{a: a, err: ctx.Err()}
		}
		return result{a: a, out: out, err: err}
	}
	if err := l.m.Verify(a.Block, buf); err != nil {
		return result{a: a, out: outRejected, err: err}
	}
	// Has and WriteBlock under one lock, so that of two copies arriving
	// together only one counts as accepted (partial serialises the
	// writes anyway).
	l.writeMu.Lock()
	if l.part.Has(a.Block) {
		l.writeMu.Unlock()
		return result{a: a} // another source's copy won the race
	}
	err = l.part.WriteBlock(a.Block, buf)
	l.writeMu.Unlock()
	if err != nil {
		// A disk error is the download's, not the source's: stop everything.
		return result{a: a, out: outFailed, err: &diskError{err}}
	}
	s.accepted.Add(int64(len(buf)))
	s.blocks.Add(1)
	return result{a: a}
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

// ShareSyncInterval is the default Options.SyncInterval of a downloader that
// shares what it has: its blocks reach its peers this long after they
// arrive, at the cost of four syncs a second.
const ShareSyncInterval = 250 * time.Millisecond

// ConnsAuto is Options.ConnsPerSeed for connections that adapt per seed.
const ConnsAuto = -1

// newSeed makes a seed source with the connections o asks for: a fixed
// number, or room for MaxConnsPerSeed of which the source's connAdapter
// decides how many are used.
func (o *Options) newSeed(u wire.URL, raw string, client *Client) *source {
	if o.ConnsPerSeed != ConnsAuto {
		n := max(o.ConnsPerSeed, 1)
		s := newSeedSource(u, raw, client, o.DialTimeout, n, n)
		s.maxConns = n
		return s
	}
	s := newSeedSource(u, raw, client, o.DialTimeout, o.MaxConnsPerSeed, 1)
	if o.decider != nil {
		s.adapt = o.decider(o.MaxConnsPerSeed)
	} else {
		s.adapt = newConnAdapter(o.MaxConnsPerSeed)
	}
	s.maxConns = 1
	return s
}

// adaptConns feeds every adapting seed's connAdapter (every tick) and
// applies the number it returns: the slots the seed's requests take, and
// its minimum window in the scheduler: two blocks per connection, so that
// each has one in flight and the next asked for while it arrives (a
// connection held back by loss is slow: its rate-based window alone would
// be a fraction of a block).
// A seed counts as busy while it is usable, has requests out and the
// download still has unassigned blocks for each of its connections; at the
// tail, or in backoff, its adapter waits.
func (l *loop) adaptConns(now time.Time) {
	unassigned := int64(l.sched.Missing())*l.m.BlockSize - l.sched.InFlight()
	for id, s := range l.byID {
		sf, ok := s.f.(*seedFetcher)
		if !ok {
			continue
		}
		if r := int(sf.refused.Swap(0)); r > 0 && r < sf.conns() {
			// It took no more than r connections (e.g. its --max-conns
			// is reached): use r from now on.
			l.opts.Logf("seed %s takes no more connections (it refused or lost number %d while the first worked); using %d", s.raw, r+1, r)
			if s.adapt != nil {
				s.adapt.limit(r)
			}
			sf.setActive(r)
			l.sched.SetMinWindow(id, int64(2*r)*l.m.BlockSize)
			sf.trim()
		}
		if s.adapt == nil {
			continue
		}
		st := l.sched.Stats(id)
		n := sf.conns()
		busy := (st.State == scheduler.Active || st.State == scheduler.Probing) && st.InFlightReqs > 0 &&
			unassigned >= int64(n)*l.m.BlockSize
		if m := s.adapt.update(now, s.received.Load(), busy); m != n {
			sf.setActive(m)
			l.sched.SetMinWindow(id, int64(2*m)*l.m.BlockSize)
			s.maxConns = max(s.maxConns, m)
		}
		sf.trim()
	}
}

type diskError struct{ err error }

func (e *diskError) Error() string { return "writing to disk: " + e.err.Error() }
func (e *diskError) Unwrap() error { return e.err }

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
		state := st.State.String()
		if s.shutdown && (st.State == scheduler.Backoff || st.State == scheduler.Connecting) {
			state = StateShutdown
		}
		p.Seeds = append(p.Seeds, SeedProgress{URL: s.raw, State: state, Rate: st.Rate, Accepted: s.accepted.Load()})
	}
	l.opts.OnProgress(p)
}

// maxRetries maps Options.MaxRetries to the scheduler's.
func maxRetries(n int) int {
	if n < 0 {
		return math.MaxInt32 // never, in practice
	}
	return n // 0: the scheduler's default
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
