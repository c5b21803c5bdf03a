// Package quicxfer is the client side of quicxfer: it dials seeds over QUIC,
// speaks the wire protocol (package wire) and downloads one file at once
// from many sources (Download): seeds given by the user, HTTP(S) mirrors
// (Options.Mirrors, read with range requests) and the sources those seeds
// name (GET_PEERS).
//
// # How a download runs
//
// Download connects to every seed (Options.ConnsPerSeed QUIC connections
// each, default one, all through one quic.Transport on one UDP socket), asks
// each for the manifest of the name, or of the content ID of a manifest
// file, and keeps the seeds that agree (the majority, or the content ID the
// user named); mirrors serve bytes only, so a download from mirrors alone
// needs the manifest. It opens the partial file and its bitmap
// (internal/partial), which re-checks what an earlier run left, and then
// runs an event loop that owns the scheduler (package scheduler):
//
//	loop:
//	    actions := scheduler.Next(now)        // Fetch(source, block) / Cancel(request)
//	    start a worker per Fetch, cancel the context of each Cancel
//	    wait for: a worker's result, a source's HAVE news, a GET_PEERS answer,
//	              a tick (rates, RTTs, syncs, progress), the next wake-up
//	    feed it back: Finish(fetch, outcome) / SourceDown / Remove
//
// A worker fetches one block (a QUIC stream, or an HTTP range request) into
// a buffer, verifies it by the download's plan (package verify; quicxfer's
// manifest checks a block's length, xxh64 and SHA-256) and only then writes
// it at its offset in the partial file. A separate
// goroutine makes written blocks durable and records them in the bitmap
// about once a second, so syncs are batched and a crash loses no verified
// block it has recorded. Memory is bounded by the scheduler's cap on bytes in
// flight, never by the file size.
//
// # Resume and finish (resume.go)
//
// The blocks an earlier run recorded pass xxh64 at Open and are claimed, not
// trusted: background workers prove them by the plan, with SHA-256
// (partial.File.Prove)
// while the loop fetches the others, and the scheduler counts them had. A
// claimed block that fails is cleared, durably, and the loop runs once more
// with the same sources to fetch it; OUT appears only when every block is
// proven. The final rename never replaces anything (an OUT that appeared
// meanwhile: ErrOutAppeared, the data kept in the part file); a partial
// download of another file at OUT is refused (ErrOtherPartial) unless
// Options.DiscardPartial; a symbolic link at any of the download's files is
// refused (ErrSymlink); and a download that ends before its first block
// removes the empty part and state files it made.
//
// The files, in the order a block travels: options.go (Options and their
// defaults), download.go (Download: check the options, build the sources,
// agree on the manifest, open the partial file, run the loop, finish),
// vote.go (agree: the seeds' manifest vote), loop.go (the event loop: the
// scheduler's actions, a worker's fetch, verify and write, and each result
// fed back), swarm.go (HAVE and GET_PEERS), adapt.go (connections per
// seed), notes.go (what the user is told about each source), events.go and
// progress.go (what a caller sees), resume.go (proof of resumed blocks and
// the final rename).
//
// # Sources
//
// Every source, seed or mirror, goes through the same scheduler, counters,
// verification and notes. A source that errors or stalls is retried with
// backoff and dropped after Options.MaxRetries failures in a row; one that
// sends bad blocks is dropped after three.
//
// The loop knows a source by a small core interface, fetcher (source.go):
// fetch block i into a buffer, returning the scheduler.Outcome of the
// request; a key that identifies it among the others; close. What else a
// kind can do it finds by type assertion to optional capabilities, never
// by naming a concrete type: connector (the loop dials it after a
// backoff), rttMeter, resetter (connections closed after a stall),
// availabilityWatcher (its HAVE), peerNamer (GET_PEERS), manifestAsker
// (it can say what the file is), connScaler (several connections),
// issueNoter, redirector and wholeFileReader (a mirror's).
//
// A new kind of source is one new file: a type implementing fetcher and
// whichever capabilities it has, a compile-time assertion of that set, and
// a constructor returning *source (kind, raw URL, fetcher), which Download
// calls for the sources of its kind. The two kinds there are show it:
// seedsource.go (newSeedSource: a seed over QUIC, with every capability but
// a mirror's) and httpsource.go (newMirrorSource: an HTTP(S) mirror: fetcher,
// rttMeter, issueNoter, redirector, wholeFileReader).
//
// The loop keeps a GET_HAVE stream open to each seed: a full seed answers
// "all"; a peer (a downloader that shares, or a seed filling itself) says
// which blocks it has and then each one it gains, and a block it lacks is
// answered NOT_AVAILABLE, which is no failure unless its HAVE had announced
// the block. A seed that fails to answer its HAVE is down like one whose
// request failed, so a source that is never asked for blocks is still
// dropped when it is gone. Every seed is also asked, now and then, for
// other sources (GET_PEERS, up to Options.MaxPeers are added); a source
// found that way has no blocks until its HAVE arrives, and joins then.
//
// # What a caller sees
//
// Options.Logf gets one-line messages for the user, Options.OnProgress a
// snapshot about every ProgressInterval and Options.OnEvent each Event (a
// source joined, down, stalled, dropped, a block rejected). The Result
// gives each source's contribution and a note saying why it was left out,
// dropped or contributed nothing. With Options.Share the download's own
// blocks are served as they become durable (get --serve, seed --from), and
// syncs come every ShareSyncInterval (250 ms) instead of every second, so
// that peers get them sooner.
package quicxfer
