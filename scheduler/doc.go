// Package scheduler decides which block of a file to ask of which seed.
//
// It is pure decision logic: no I/O, no goroutines, no clock of its own. The
// caller reports events (a source was added, bytes arrived, a connection was
// lost) and how each request it was asked to make ended (Finish with an
// Outcome: Delivered, Failed, Rejected, ...), and asks Next for what to do;
// every method
// that depends on time takes it as a now argument, so the whole package is
// tested with a fake clock. A Scheduler is not safe for concurrent use: it is
// meant to be driven by the caller's single event-loop goroutine.
//
// The files: scheduler.go (the types, New, Next), lifecycle.go (a source
// added, connected, down, dropped), availability.go (which blocks each
// source has), outcome.go (requests issued and how they ended: Finish),
// pick.go (which block to which source, the endgame), stats.go (Done, Err,
// NextWake, Stats), config.go (Config, defaults, BackoffPolicy), source.go
// (a source's own state: rate, window, stalls) and freeset.go (the free
// blocks).
//
// # Sketch of the algorithm
//
// Blocks. A block is missing, in flight (at one source, or at two during the
// endgame) or done. Missing blocks that are not in flight are free; they sit
// in a bitmap with a low-water cursor, and again in one such bitmap per
// rarity level (below).
//
// Availability. A source has every block (a full seed, what AddSource makes)
// or a set of blocks given by SetAvailable and grown by AddAvailable (a peer
// that is itself downloading). A source is only ever asked for blocks it has.
// The rarity of a block is the number of usable sources that have it; it is
// kept up to date as sources gain blocks, go into backoff, come back or are
// dropped.
//
// Order. With RarestFirst (the default) a source is given the free block of
// lowest rarity among those it has, ties by lowest index, so that a block held
// by few sources is fetched while they are there and a swarm does not starve
// on it; when every source is a full seed all blocks have the same rarity and
// this is lowest-first. LowestFirst (Config.Order) keeps the index order, for
// streaming. Config.TieStart moves where ties start (wrapping around), so
// that downloaders of one swarm ask the full seeds for different blocks first
// and have something to give each other at once.
//
// Cost. Let N be the number of blocks, W = N/64 the bitmap words, S the
// sources and L the distinct rarity levels (at most S+1). For a full seed,
// picking a block is amortised O(1) in LowestFirst and O(L) in RarestFirst
// (each level keeps a low-water cursor). For a partial source the free bitmap
// is ANDed with the source's bitmap word by word: O(W) per pick in
// LowestFirst, O(L·W) at worst in RarestFirst (typically the first non-empty
// level answers). A decision costs O(assignments · S) picks; with 16 000
// blocks (W = 250) and 30 partial sources a pick is at most a few thousand
// word operations, microseconds. Measured on a 2-core machine (go test
// -bench Next): a turn (a block arrives, Next refills) costs about 0.7 µs
// with 10 000 blocks and 12 full seeds, 1.5 µs with 16 000 blocks, one full
// seed and 29 peers each holding a random half. AddAvailable is O(1); a source changing
// state (backoff, back, dropped) or a SetAvailable costs O(N) for a full seed
// and O(W + blocks it has) for a partial one. Memory: N/8 bytes per partial
// source and per rarity level, 4 bytes per block for the rarity counts.
//
// Rate. Progress reports the cumulative bytes received from a source. The rate
// is bytes over busy time (time with at least one request outstanding), both
// summed with an exponential decay in wall time (time constant 1 s), so the
// estimate follows changes within a few seconds, is not fooled by blocks that
// complete in bunches, and does not fall while a source idles. A source with no
// bytes measured yet has an unknown rate.
//
// Window. Each source may have window bytes not yet received, where
//
//	window = clamp(2 · rate · (RTT + RTTMargin), MinWindow, MaxWindow)
//
// and an unknown rate gives MinWindow (the probe window). SetMinWindow raises
// one source's MinWindow (and its MaxWindow if need be): a caller with n
// connections to a source gives it n blocks so that each has one in flight. Bytes not yet
// received are the bytes of its outstanding requests minus the bytes that have
// arrived for them, so a new request goes out while the previous ones are still
// arriving and the pipe stays full; the bytes issued to one source are further
// capped at twice its window and at MaxWindow. The window grows as a source
// delivers, like slow start. Independently, the full length of every
// outstanding request counts against MaxInFlight, which bounds the caller's
// buffers.
//
// Assignment. Next repeatedly gives one block (the first free one in the
// configured order that the source has and may serve) to the source that would finish it soonest, finish = (bytes not
// yet received + block length) / rate, until no source has room or no block is
// left. Sources with an unknown rate come after all those with a known rate
// (except for the first block of an idle one, so that a tight MaxInFlight
// cannot starve a newcomer) and get their probe window only while plenty of
// work remains (the other sources would need at least a second for it).
//
// Tail rule. A source is not given a block if its estimated finish for it is
// later than the time the other usable sources that have it together need for all the
// remaining work (their bytes not yet received plus the unassigned bytes,
// divided by the sum of their rates) and also later than the soonest any one
// of them could finish that block (blocks do not split, so the sum alone would
// refuse everyone at the very end). The faster sources take the block when
// they have room, so the download never waits on the slowest seed.
//
// Endgame. A source with room but no free block left that it has may
// duplicate a block it has that is in flight at a single other source whose estimated finish (its bytes not yet
// received / its rate; unknown rate means never) is later than 1.5 times the
// duplicating source's own. The block at the slowest holder, most recently
// issued there, is chosen. When one copy is Delivered the other comes back as a
// Cancel.
//
// Failures. A source with requests outstanding and no Progress for
// StallTimeout (counted from the later of its last progress and its oldest
// outstanding request) is stalled: Next cancels its requests and it goes into
// backoff, as after SourceDown. With Config.MinRate, a source busy without a
// break for MinRateWindow that received less than MinRate bytes/s in that
// time is too slow, and fails the same way (a trickle of a byte a second is
// never a stall). Losing the connection, stalling, being too slow and request
// errors (Finish with Failed or Busy) are consecutive failures; after MaxRetries of them
// without a delivery in between the source is dropped. Short of that, the
// n-th makes it wait BackoffBase·2^(n-1), at most BackoffMax (BackoffPolicy;
// a refusal may ask for longer, up to MaxRetryAfter), after which it comes
// back with an unknown rate and the probe window, or, for a source the
// caller connects to itself (SetConnects), as a Connect: it waits, given
// nothing and never stalled, until the caller reports Connected or
// SourceDown. A source is charged one failure per backoff period: a request
// error sends it into backoff and leaves its other requests running (they
// may still arrive), and the failure of a request issued before it last
// became usable counts with the failure already counted, so requests in
// flight that fail together count once and a source that refuses everything
// is asked again once per period, not hammered.
//
// Bad blocks. A block that fails verification is a strike. The source is not
// asked for that block again while another usable source may serve it, but
// is when none may (a byte flipped on the way, once, is not the end of a
// download whose only source it is); after a second bad copy of the same
// block, never. At MaxStrikes it is dropped.
//
// Err reports when the download can no longer finish: every source dropped
// (ErrNoSources), or a missing block that every remaining source sent two bad
// copies of (ErrNoValidSource). A missing block that no source has yet is
// not an error while a live source could still gain it: a full seed has it,
// and a partial source (in backoff or not) may gain it; it is a wait.
package scheduler
