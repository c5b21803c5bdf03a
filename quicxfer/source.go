package quicxfer

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/scheduler"
)

// Sources. The download loop knows a source through fetcher, the core
// every kind implements, and finds what else a kind can do by asking for
// the small capability interfaces below (s.f.(connector), ...); it never
// names a kind's concrete type. A new kind of source is one new file: its
// fetcher type, the capabilities it has, and a constructor that returns a
// *source. The kinds there are:
//
//	seedsource.go  a seed over QUIC: fetcher, connector, rttMeter,
//	               resetter, availabilityWatcher, peerNamer, connScaler,
//	               manifestAsker
//	httpsource.go  an HTTP(S) mirror: fetcher, rttMeter, issueNoter,
//	               redirector, wholeFileReader, protocoler

// fetcher is where a source's blocks come from. The download loop treats
// every source alike through it: the same scheduler, counters,
// verification and notes.
type fetcher interface {
	// fetch reads block index of the content id, at byte offset off of
	// the file, into buf, whose length is the block's, and tells on of
	// the bytes as they arrive. The bytes are not verified here. It says what the request's end means for the
	// scheduler: Delivered with a nil error, else the outcome of the
	// failure (Failed, Down, Busy, ...).
	fetch(ctx context.Context, id manifest.ID, index int, off int64, buf []byte, on progress) (scheduler.Outcome, error)
	// key identifies the source among a download's others (the same
	// source given twice, or named by a peer, is used once): a normalised
	// URL, never shown (the source's raw URL is, redacted).
	key() string
	// close releases the source's connections.
	close()
}

// progress is how a fetcher tells of a block's bytes as they arrive.
type progress struct {
	// got, if not nil, is called with the size of each piece of payload
	// as it arrives, wherever it goes (the skipped start of a whole-file
	// answer too); it may block, to pace the reading (a speed limit).
	got func(n int)
	// filled, if not nil, is called with k each time buf[:k] holds its
	// final bytes, k growing, one call at a time: the download hashes the
	// block as it arrives, while its bytes are in the CPU's caches.
	filled func(k int)
}

func (p progress) bytes(n int) {
	if p.got != nil {
		p.got(n)
	}
}

func (p progress) prefix(k int) {
	if p.filled != nil {
		p.filled(k)
	}
}

// connector is a source the loop connects to itself: it starts in backoff
// unless ready, and after a backoff the scheduler asks for a Connect
// (scheduler.SetConnects) before it is given blocks, so that a dial is not
// taken for a stall.
type connector interface {
	// ready reports, without waiting, whether the source may be asked
	// for blocks at the start.
	ready() bool
	// connect makes (or keeps) the source's connection.
	connect(ctx context.Context) error
}

// rttMeter is a source that measures its round-trip time, which sizes its
// window in the scheduler.
type rttMeter interface {
	// rtt returns the latest round-trip time measured, 0 if none yet.
	rtt() time.Duration
}

// protocoler is a source that says which protocol it answered over (a
// mirror: HTTP/1.1, HTTP/2.0 or HTTP/3.0), for the result.
type protocoler interface {
	protocol() string
}

// resetter is a source whose connections may be dead without knowing it
// (its peer gone without a word: QUIC finds out only at its idle
// timeout): after a stall they are closed, so that it is dialled again
// rather than trusted.
type resetter interface {
	resetConns()
}

// availabilityWatcher is a source that can say which blocks it has (a
// seed's GET_HAVE): watch reports the first answer to onHave and every
// later gain to onAdd, until the source has every block (nil), or the
// error that ended it; asked is false when the source could not be reached
// to ask (its error says only that it is down). A source without it has
// every block.
type availabilityWatcher interface {
	watch(ctx context.Context, id manifest.ID, numBlocks int, onHave func(wire.Have), onAdd func([]uint64)) (asked bool, err error)
}

// peerNamer is a source that names other sources of the content
// (GET_PEERS), registering this side (at one of self) with it.
type peerNamer interface {
	peers(ctx context.Context, id manifest.ID, self []string, timeout time.Duration) ([]string, error)
}

// manifestAsker is a source that can say what the file is: the manifest
// of a name or a content ID (agree asks each).
type manifestAsker interface {
	manifest(ctx context.Context, req wire.ManifestRequest, timeout time.Duration) (wire.ManifestResponse, error)
}

// connScaler is a source with several connections whose number the loop
// sets (Options.ConnsPerSeed, connAdapter).
type connScaler interface {
	// setActive sets how many connections requests use; trim then closes
	// the idle ones beyond them.
	setActive(n int)
	conns() int
	trim()
	// takeRefused returns, and forgets, the number of connections the
	// source took before one more was refused (0: none refused since the
	// last call).
	takeRefused() int
	// window returns the bytes in flight that keep its connections busy,
	// for the scheduler's MinWindow of the source.
	window(blockSize int64) int64
	// path returns the round-trip times of its first connection.
	path() pathRTT
}

// issueNoter is a fetcher that wants to know of each request as the
// download loop issues it, in the loop's order, before the request's own
// goroutine runs (a mirror read as a whole file serves them in that order).
type issueNoter interface {
	issued(off int64)
}

// redirector is a source whose requests may be redirected elsewhere (an
// HTTP mirror): redirectedTo is where the last one went, "" if nowhere.
type redirector interface {
	redirectedTo() string
}

// wholeFileReader is a source that may ignore range requests and is then
// read as a whole file, but only while it is the only source left.
type wholeFileReader interface {
	setAlone(alone bool) // the loop says whether it is the only source left
	ignoresRanges() bool // it answered a range request with the whole file
	readsWhole() bool    // it is read as a whole file now
}

// source is one source of a download (a seed or a mirror): its fetcher and
// its counters.
type source struct {
	kind string // "seed" or "mirror", for messages
	raw  string // the URL as the user gave it
	id   scheduler.SourceID
	f    fetcher

	received  atomic.Int64 // payload bytes received, duplicates and rejected included
	accepted  atomic.Int64 // payload bytes of blocks verified and kept
	blocks    atomic.Int64
	badBlocks atomic.Int64
	// holding counts its reads waiting for the download's speed limit now;
	// held says one waited since the loop last looked (ratelimit.go).
	holding atomic.Int32
	held    atomic.Bool

	// Set by the download loop only.
	note     string    // why it was left out or dropped, for the summary
	leftOut  bool      // serves another file, or not this name: never asked for blocks
	asked    int       // requests issued to it
	lastRecv int64     // received, as of the last tick
	lastData time.Time // the tick at which received last grew
	lastErr  string    // the last request error, described, for the summary

	tempNote bool // note says it was unreachable or stalled: cleared when it delivers a block
	// suspect: left out after its copy of a block differed from the only
	// other mirror's, the whole file failing its checksum (repair.go);
	// used again if another is caught.
	suspect  bool
	toldBusy bool // the user was told it is busy (once per download)
	// toldCause is the error the user was last told it is down for
	// (noteCauses).
	toldCause string
	shutdown  bool // it said it is shutting down, and has not been reached since
	// toldRedirect is where the user was last told the mirror redirects;
	// toldRanges, toldWhole: that it ignores Range requests, and that it
	// is read as a whole file.
	toldRedirect          string
	toldRanges, toldWhole bool
	asking                bool        // a GET_PEERS request to it is in flight
	adapt                 connDecider // decides its number of connections (a seed, Options.ConnsPerSeed 0); nil: fixed
	maxConns              int         // the most connections it had at once (a seed)
	minWindow             int64       // the MinWindow last set for it in the scheduler (connScaler)

	debug      debugState // what the debug lines last said of it (debug.go)
	discovered bool       // learnt from another source (GET_PEERS), not given by the user
	haveKnown  bool       // its HAVE (or a sign it is a full seed) has arrived

	// ctx is the source's own context, derived from the loop's: stop
	// cancels it when the source is dropped, ending its HAVE watcher and
	// any GET_PEERS request to it.
	ctx  context.Context
	stop context.CancelFunc
}

// resetConns closes the source's connections if it is a resetter (see
// there); other kinds' connections are their own business (a mirror's are
// the HTTP client's).
func (s *source) resetConns() {
	if r, ok := s.f.(resetter); ok {
		r.resetConns()
	}
}

// ready reports whether s may be asked for blocks at the start: a
// connector that is not connected starts in backoff.
func (s *source) ready() bool {
	c, ok := s.f.(connector)
	return !ok || c.ready()
}

// retryAfterError is an error by which a source asks to be left alone for
// a while (an HTTP Retry-After).
type retryAfterError interface {
	error
	RetryAfter() time.Duration
}

// retryAfter returns the wait err asks for, 0 if none.
func retryAfter(err error) time.Duration {
	if ra, ok := errors.AsType[retryAfterError](err); ok {
		return ra.RetryAfter()
	}
	return 0
}
