package scheduler

import (
	"errors"
	"time"
)

// ReqID tags one request the scheduler asked the caller to make. IDs start at
// 1 and are never reused.
type ReqID uint64

// ActionKind says what an Action asks of the caller.
type ActionKind int

// Kinds of Action.
const (
	Fetch   ActionKind = iota + 1 // caller must request Block from Source, tagged Req
	Cancel                        // caller must abandon request Req (Block at Source); the scheduler has already forgotten it
	Connect                       // caller must connect to Source (see SetConnects), then report Connected or SourceDown
)

func (k ActionKind) String() string {
	switch k {
	case Fetch:
		return "fetch"
	case Cancel:
		return "cancel"
	case Connect:
		return "connect"
	}
	return "unknown"
}

// Action is one thing the caller must do.
type Action struct {
	Kind   ActionKind
	Req    ReqID
	Source SourceID
	Block  int
	// Why, for a Cancel, is the failure of Source that caused it:
	// FailStall or FailSlow when Next found it stalled or too slow,
	// FailDown after SourceDown. NoFailure for every other Cancel
	// (another copy arrived, the source was removed or dropped for bad
	// blocks, or requests left over from an earlier failure stalled).
	Why Failure
}

var (
	// ErrNoSources is returned by Err when every source added has been
	// dropped and blocks are still missing.
	ErrNoSources = errors.New("every source was dropped")
	// ErrNoValidSource is returned by Err, wrapped with the block index, when
	// a missing block has no remaining source that may serve it (each of
	// them sent two bad copies of it). A block that no source has yet is not this
	// error while a live source could still gain it; see the package
	// documentation.
	ErrNoValidSource = errors.New("no remaining source can serve it")
)

type request struct {
	id     ReqID
	src    *source
	block  int
	length int64
	issued time.Time
}

type blockState struct {
	done    bool
	holders []*request // outstanding requests for the block, at most maxCopies
}

// Scheduler holds the state of one download. See the package documentation
// for the algorithm. It is not safe for concurrent use.
type Scheduler struct {
	cfg      Config
	blocks   []blockState
	free     freeSet
	missing  int
	reqs     map[ReqID]*request
	lastReq  ReqID
	sources  []*source // index id-1
	inFlight int64     // full length of all outstanding requests
	clock    time.Time // latest now seen, for the calls that take none
	anyBans  bool      // some source has a banned block
	partials int       // sources that do not have every block

	// rarity[b] is the number of usable sources that have block b; levels[r]
	// holds the free blocks of rarity r (a partition of free).
	rarity []int32
	levels []freeSet

	cands []cand // scratch for Next
}

// New returns a scheduler for the file described by cfg. have(i) reports
// blocks already verified on disk (resume); nil means none. Zero fields of cfg
// get the defaults. New panics if NumBlocks, BlockSize and Size do not
// describe a file.
func New(cfg Config, have func(block int) bool) *Scheduler {
	cfg = cfg.withDefaults()
	s := &Scheduler{
		cfg:    cfg,
		blocks: make([]blockState, cfg.NumBlocks),
		free:   newFreeSet(cfg.NumBlocks),
		reqs:   make(map[ReqID]*request),
		rarity: make([]int32, cfg.NumBlocks),
	}
	for i := range s.blocks {
		if have != nil && have(i) {
			s.blocks[i].done = true
			continue
		}
		s.missing++
		s.addFree(i)
	}
	return s
}

// Next returns the Cancels to perform (stalled or too slow sources), the
// Connects (sources whose backoff ended, see SetConnects) and the new
// Fetches to issue, in that order. Call it after every batch of events and
// at NextWake.
func (s *Scheduler) Next(now time.Time) []Action {
	s.tick(now)
	var acts []Action
	for _, x := range s.sources {
		if d := x.stallDeadline(&s.cfg); !d.IsZero() && !now.Before(d) {
			if x.state == usable {
				acts = s.failSource(x, FailStall, now, acts)
			} else {
				// Left over from a failure already counted: they only
				// give their blocks back.
				acts = s.cancelAll(x, now, acts)
			}
		} else if d := x.slowDeadline(&s.cfg); !d.IsZero() && !now.Before(d) {
			if float64(x.total-x.slowBytes) < s.cfg.MinRate*now.Sub(x.slowMark).Seconds() {
				acts = s.failSource(x, FailSlow, now, acts)
			} else {
				x.slowMark, x.slowBytes = now, x.total
			}
		}
		if x.state == backingOff && !now.Before(x.backoffUntil) {
			if x.connects {
				x.state = connecting
				acts = append(acts, Action{Kind: Connect, Source: x.id})
			} else {
				s.back(x, now)
			}
		}
	}
	return s.assign(now, acts)
}

// BackoffPolicy returns the scheduler's backoff policy (Config.BackoffBase and
// BackoffMax with their defaults).
func (s *Scheduler) BackoffPolicy() BackoffPolicy {
	return BackoffPolicy{Base: s.cfg.BackoffBase, Max: s.cfg.BackoffMax}
}

func (s *Scheduler) tick(now time.Time) { s.clock = later(s.clock, now) }

func (s *Scheduler) source(id SourceID) *source {
	if id < 1 || int(id) > len(s.sources) {
		return nil
	}
	return s.sources[id-1]
}
