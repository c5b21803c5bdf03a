// Package seed serves files to quicxfer downloaders over QUIC.
//
// A Server indexes every regular file under its paths at start-up: each file
// gets a manifest (hashed blocks, see package manifest), loaded from a cache in
// the state directory while the file's size and modification time are
// unchanged, and hashed again otherwise. It then answers requests, one per
// bidirectional stream opened by the client (see package wire):
//
//	List         a FileEntry frame per file, sorted by name, then FIN
//	GetManifest  one Manifest frame (by name or by content ID), then FIN
//	GetBlock     a block header, the block's bytes, then FIN
//	GetRange     a block header for the range, the range's bytes, then FIN
//
// or resets the stream with a wire.ErrCode. For a swarm (swarm.go) it also
// answers GetHave (HAVE ALL for its files; for a file added with Share, the
// blocks it has, then HAVE_ADD as Shared.Add makes more available) and
// GetPeers (other sources of a content ID: Options.Peers, AddPeer, and peers
// that registered, forgotten PeerTTL after their last contact; at most 2
// registered URLs per asker address and 256 per content ID, the oldest
// making room; an answer lists the permanent sources first, then a random
// sample of registered ones), and serves a shared file's available blocks
// only (ErrCodeNotAvailable for the others, ranges of them included). A connection has at most 4
// GetHave streams open (more: ErrCodeBusy), and HAVE, HAVE_ADD and PEERS
// frames are built in send buffers, within MaxSendBuffers like blocks.
// DownloadSharer connects a download (quicxfer.Options.Share) to Share.
// Blocks are read from disk for
// every request, through an os.Root per served path, in chunks of at most
// 64 KiB from a shared pool, so memory is bounded by streams × chunk and a
// file that changed on disk is served as it now is (a short read resets the
// stream with ErrCodeFileChanged; the client verifies every block anyway).
// One rate.Limiter, shared by every stream, caps the bytes sent per second.
//
// Limits against hostile or broken clients (Options, each a flag of
// `quicxfer seed`): connections (MaxConns; more are closed with
// ErrCodeBusy), connections from one address (MaxConnsPerIP, an IPv4
// address or an IPv6 /64, counted at admission; more are closed with
// ErrCodeBusy too, so one address cannot hold every slot), concurrent streams per connection (MaxStreamsPerConn, told to
// the client in QUIC's stream limit), the handshake, idle and request
// timeouts, requests per second per connection (MaxRequestRate and
// RequestBurst, a token bucket; streams past it are reset with ErrCodeBusy
// before they are read or cost a goroutine), the bytes of block responses a
// connection may have in progress (MaxConnInflight, a weighted semaphore per
// connection: a block or a range weighs its length), and the memory of send buffers over
// all connections (MaxSendBuffers, one weighted semaphore: each response
// holds one chunk), beside a small reserve of send buffers per connection
// (ConnSendReserve): a response takes its buffer from its connection's
// reserve first, then from the shared pool, and when both are used up waits
// for its own connection's reserve, so that connections that never read
// cannot starve the others by holding every shared buffer. A response that
// finds a semaphore full waits for as long as its client wants it; a client
// that stops reading loses its response after IdleTimeout, so that it cannot
// hold a buffer for ever. Worst-case memory for responses is therefore
// MaxSendBuffers + MaxConns × ConnSendReserve, not MaxConns ×
// MaxStreamsPerConn × 64 KiB; receive windows are small (64 KiB a stream,
// 1 MiB a connection) since a seed only receives requests.
//
// Never served, whatever the PATHs hold: a download's working files
// (partial.IsWorkingFile: .qxpart, .qxstate, .qxcmd and their .tmp; the
// record holds local paths and URLs), and the seed's own files. Every file
// opened, to be indexed or to serve a block, is checked by what was opened
// (guard, private.go): its real path (/proc/self/fd) must not be under the
// state directory, nor any of its directories be the state directory by
// device and inode (a bind mount), nor the file be a TLS key by device and
// inode (a hard link); a file reached through a symbolic link to a working
// file is refused too. So a link in a PATH, planted before the scan or
// swapped in after, never leads to the key. A PATH inside the state
// directory is an error (ErrPrivateFile); a PATH holding it skips it.
//
// Private seeds: with Options.Tokens, every request on a connection is
// refused with ErrCodeUnauthorized until the connection has sent an accepted
// token in an AUTH request (see package wire); three refused tokens close the
// connection. Only the tokens' SHA-256 digests are kept, compared in
// constant time, and no token is ever logged. With Options.ClientCAFile the
// TLS handshake requires a client certificate signed by one of those CAs
// (mutual TLS); with both, a client needs both.
//
// Lifetime: New binds the socket and returns when ready; Serve owns one
// goroutine per connection, which owns one goroutine per stream. When Serve's
// context ends, the listener stops, new streams are refused with
// ErrCodeShuttingDown, in-flight streams get a short grace period, then every
// connection is closed with ErrCodeShuttingDown and the transport is closed.
// Close stops everything at once.
//
// Reload: the files served are one immutable fileSet behind an atomic
// pointer. Server.Reload (SIGHUP in `quicxfer seed`) scans the PATHs again,
// keeps the servedFile of every file whose place, size and modification
// time are unchanged, indexes new and changed files (cache first) while the
// old set is still served, then swaps the pointer. A request looks the set
// up once, so it sees one set whole; a response in progress holds its
// servedFile and the file it opened, and finishes from them. A root
// replaced by a reload (its directory was replaced) is closed at once; a
// response that had yet to open its file opens the same content through
// the new set, or answers FILE_CHANGED if it is gone.
//
// Operations: Options.MetricsListen serves Prometheus metrics (a registry of
// the Server's own; most values are its atomic counters read at scrape
// time) at /metrics and a health check at /healthz; Check validates Options
// without serving. Failed handshakes are counted through the transport's
// ConnContext, whose context quic-go ends when a handshake fails.
//
// Without an operator certificate the seed makes a self-signed ECDSA P-256
// certificate, keeps it in the state directory and advertises its SHA-256 pin
// in its URLs (quic://HOST:PORT?pin=...), so the pin survives restarts.
package seed
