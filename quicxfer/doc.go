// Package quicxfer is the client side of quicxfer: it dials seeds over QUIC,
// speaks the wire protocol (package wire) and downloads one file from many
// seeds at once (Download).
//
// # How a download runs
//
// Download connects to every seed (one QUIC connection each, all through one
// quic.Transport on one UDP socket), asks each for the manifest of NAME and
// keeps the seeds that agree (the majority, or the one content ID the user
// named). It opens the partial file and its bitmap (internal/partial), which
// re-checks what an earlier run left, and then runs an event loop that owns
// the scheduler (package scheduler):
//
//	loop:
//	    actions := scheduler.Next(now)        // Fetch(seed, block) / Cancel(request)
//	    start a worker per Fetch, cancel the context of each Cancel
//	    wait for: a worker's result, a tick (rates, RTTs, progress), the next wake-up
//	    feed the result back: Delivered / Rejected / Failed / SourceDown
//
// A worker opens a stream, reads the block into a buffer, verifies it against
// the manifest (length, xxh64, SHA-256) and only then writes it at its offset
// in the partial file. A separate goroutine makes written blocks durable and
// records them in the bitmap about once a second, so syncs are batched and a
// crash loses no verified block it has recorded. Memory is bounded by the
// scheduler's cap on bytes in flight, never by the file size.
package quicxfer
