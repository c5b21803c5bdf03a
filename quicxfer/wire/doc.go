// Package wire defines the quicxfer protocol spoken between a client and a
// seed: how messages are framed on QUIC streams, how each message is encoded,
// how errors travel, which file names are allowed, and the seed URL that
// carries the seed's address and certificate pin. It does no networking
// itself; the text below is the normative description of protocol version 1.
//
// # Connection
//
// A client connects to a seed over QUIC (RFC 9000) with TLS 1.3 and offers
// the ALPN protocol ID "quicxfer/1" (ALPN); the ALPN names the protocol
// version, and a seed refuses a connection that does not negotiate it. A seed
// usually has a self-signed certificate: the client then checks it against the
// pin from the seed URL, the SHA-256 of the leaf certificate's
// SubjectPublicKeyInfo (see Pin), rather than against a CA.
//
// Either side may close the connection with a CONNECTION_CLOSE carrying an
// application error code from the table below; a seed that stops serving
// closes with ErrCodeShuttingDown, and a normal close uses ErrCodeNoError.
//
// # Streams
//
// Every request uses its own bidirectional stream opened by the client. The
// client writes exactly one request frame and then closes its send side (FIN).
// The seed answers with the response frame(s) the request calls for and closes
// its send side. Unidirectional streams and datagrams are not used.
//
// A seed that cannot answer resets its send side (RESET_STREAM) and stops
// reading (STOP_SENDING) with an error code that says why, such as
// ErrCodeNotFound. It may do so after it has sent part of an answer; the client
// then discards what it received on that stream. A client that no longer wants
// an answer cancels the stream in both directions (STOP_SENDING and
// RESET_STREAM) with ErrCodeCancelled, and the seed stops sending on it.
//
// A client may have many requests in flight at once, each on its own stream,
// up to the seed's stream limit.
//
// # Frames
//
// Every message is one frame:
//
//	frame = type (varint) | payload length (varint) | payload
//
// Varints are QUIC variable-length integers (RFC 9000, section 16), and must
// use the shortest encoding of their value; a receiver refuses a longer one as
// malformed, so that every message has exactly one encoding. A receiver checks
// the payload length against the limit for the frame's type (MaxPayload)
// before it allocates or reads anything, and refuses a frame of a type it does
// not know (a seed resets the stream with ErrCodeBadRequest): frames are never
// skipped or guessed at. A payload must be exactly consumed by its fields;
// trailing bytes make a frame malformed. A stream that ends inside a frame is
// truncated and its frames are not used.
//
// Requests (client to seed):
//
//	0x01 LIST          empty payload.
//	                   Answer: zero or more FILE_ENTRY frames, then FIN. A
//	                   client may refuse a list of more than MaxListEntries
//	                   frames or MaxListBytes of their payloads (ListReader).
//	0x02 GET_MANIFEST  kind (1 byte) | key
//	                   kind 0: key is a file name, the rest of the payload (UTF-8).
//	                   kind 1: key is a 32-byte content ID.
//	                   Answer: one MANIFEST frame, then FIN.
//	0x03 GET_BLOCK     content ID (32 bytes) | block index (varint)
//	                   Answer: one BLOCK frame, then FIN.
//	0x04 AUTH          token (the whole payload, 1 to MaxTokenLen bytes)
//	                   Answer: FIN with no data if the token is accepted,
//	                   else a reset with ErrCodeUnauthorized.
//	0x05 GET_HAVE      content ID (32 bytes)
//	                   Answer: one HAVE frame, then HAVE_ADD frames as the
//	                   source gains blocks; see "Swarm" below.
//	0x06 GET_PEERS     content ID (32 bytes) | URL length (varint) | URL
//	                   URL is the asker's own seed URL (at most MaxURLLen
//	                   bytes), or empty. Answer: one PEERS frame, then FIN.
//	0x07 GET_RANGE     content ID (32 bytes) | block index (varint) |
//	                   offset (varint) | length (varint)
//	                   Asks for bytes [offset, offset+length) of the block:
//	                   length is at least 1 and offset+length at most
//	                   2^62-1, else the frame is malformed. Answer: one BLOCK
//	                   frame whose payload is exactly those bytes, then FIN.
//
// Responses (seed to client):
//
//	0x11 FILE_ENTRY    name length (varint) | name | size (varint) | content ID (32 bytes)
//	                   size is at most manifest.MaxSize.
//	0x12 MANIFEST      name length (varint) | name | manifest
//	                   manifest is the canonical encoding of the manifest (see
//	                   manifest.Manifest.AppendBinary) and fills the rest of the
//	                   payload.
//	0x13 BLOCK         the block's bytes; the payload length is the length of
//	                   the block as given by the manifest (the last block of a
//	                   file may be short). Answering GET_RANGE: the range's
//	                   bytes, and the payload length is the range's length.
//	0x14 HAVE          kind (1 byte) | ...
//	                   kind 0 ALL: nothing follows; the source has every block.
//	                   kind 1 BITFIELD: count N (varint) | ceil(N/8) bytes; block
//	                   i is bit i mod 8 (least significant first) of byte
//	                   i/8; bits at N and beyond are 0.
//	                   kind 2 RUNS: count N (varint) | run lengths (varints):
//	                   alternately blocks absent and present, starting with
//	                   absent; the first run may be 0, no other; they add up
//	                   to N.
//	0x15 HAVE_ADD      block indexes (varints, 1 to MaxHaveAdd of them, the
//	                   whole payload): blocks the source has gained.
//	0x16 PEERS         count (varint, at most MaxPeers) | count times:
//	                   URL length (varint) | URL (a seed URL, 1 to MaxURLLen bytes)
//
// A MANIFEST answering a request by name carries that name; one answering a
// request by content ID carries a name under which the seed serves the file. A
// client that asked by content ID checks that the manifest hashes to that ID
// (manifest.Manifest.ID) before it trusts anything in it, and checks every
// block against the manifest before it keeps it. A GET_BLOCK whose index is not
// below the manifest's number of blocks is a bad request, and so is a
// GET_RANGE whose index is, or whose range does not lie within the block
// (offset+length above the block's length as given by the manifest): the seed
// resets the stream with ErrCodeBadRequest. A seed that finds the
// file it serves no longer matches the manifest it published answers
// ErrCodeFileChanged.
//
// A client reads a BLOCK's header, checks that its length is the one it
// expects (ReadBlockHeader), and then reads the payload straight into its own
// buffer with io.ReadFull.
//
// A client uses GET_RANGE to spread one block over several connections, so
// that a slow one (a lossy link) holds up only its part of the block, not all
// of it; it checks the whole block against the manifest once every part has
// arrived. GET_RANGE came after the other requests of version 1: a seed of an
// older version does not know the frame type and refuses it with
// ErrCodeBadRequest, as it refuses any unknown frame, after which the client
// asks that seed for whole blocks (GET_BLOCK) only. A client takes its ranges
// from the manifest and so never asks for one outside a block; it can take
// ErrCodeBadRequest in answer to a GET_RANGE as that refusal.
//
// # Swarm: availability and other sources
//
// A source is a full seed, which has every block of the files it serves, or
// a peer, which serves a file while it is itself downloading it and has only
// some of its blocks. Both answer GET_HAVE and GET_PEERS.
//
// GET_HAVE asks which blocks of a content ID the source has. A full seed
// answers with HAVE kind ALL and FIN. A peer answers with HAVE kind BITFIELD
// or RUNS (whichever is shorter: so the frame is never longer than the
// bitfield, 32 KiB for manifest.MaxBlocks blocks) for the blocks it can serve
// now, then keeps the stream open and sends a HAVE_ADD for blocks it gains,
// batched as it likes; when it has every block it ends the stream with FIN. A
// client checks that N equals the manifest's block count and every HAVE_ADD
// index is below it, and treats anything else as a broken stream. A source
// that does not serve the content ID resets the stream with ErrCodeNotFound.
// A client that no longer wants updates cancels the stream. A GET_HAVE stream
// lasts as long as the peer downloads; it is one of the connection's streams.
//
// A source only announces a block once it can serve it: its data is verified
// and on disk. A GET_BLOCK or GET_RANGE for a block a peer does not have is
// answered by a reset with ErrCodeNotAvailable; the client asks another source for it and
// should not ask this one again until a HAVE says it has it.
//
// GET_PEERS asks a source for other sources of a content ID. The answer is a
// PEERS frame with up to MaxPeers seed URLs (never the asker's own), then FIN;
// a source with none answers an empty list, and one that does not serve the
// content ID resets with ErrCodeNotFound. A source lists the seeds it fills
// from, those its operator names, and peers that registered with it. A peer
// registers by putting its own seed URL in GET_PEERS; a source accepts the
// registration only if the URL's host is the IP address the request came from
// (so nobody can list a third party), and drops an entry that has not been
// refreshed for about two minutes, so a registered peer asks again about every
// minute. A source keeps only the host, port and pin of a registered URL, and
// may bound how many it keeps (the reference seed: 2 per asking address, 256
// per content ID, the oldest making room); it lists the seeds it fills from
// and those its operator names first, then registered peers. A client also drops a listed source that does not answer. Every
// block from any source is checked against the manifest, so a listed source
// can waste time, never corrupt a file.
//
// # Private seeds
//
// A seed may be private: it then refuses every request on a connection (LIST
// included, so not even the names of its files are told) by resetting the
// stream with ErrCodeUnauthorized, until the connection has been authorised.
// A connection is authorised in one of two ways, as the seed is set up:
//
//   - by a token: the client sends one AUTH frame on a stream of its own, as
//     its first request, and waits for the answer (FIN) before it sends any
//     other request, since streams are not ordered among themselves. For
//     example the token "s3cret" is sent as the bytes
//     04 06 73 33 63 72 65 74 (type AUTH, payload length 6, the token). A
//     token the seed does not accept is answered with a reset
//     ErrCodeUnauthorized, and after a few such answers the seed closes the
//     connection with ErrCodeUnauthorized. An authorised connection stays
//     authorised until it closes; a new connection sends AUTH again.
//   - by a client certificate (mutual TLS): the seed asks for one in the
//     handshake and refuses a connection without a certificate it accepts
//     with a TLS alert (certificate_required, bad_certificate or unknown_ca,
//     i.e. the QUIC transport errors 0x174, 0x12a or 0x130).
//
// A seed that needs no token answers AUTH with FIN as well, so a client that
// has a token can always send it. Tokens are secrets: a seed compares them in
// constant time and never logs them.
//
// # Limits
//
// MaxNameLen is 4096 bytes. The largest payload of each frame type:
//
//	LIST          0
//	GET_MANIFEST  1 + MaxNameLen
//	GET_BLOCK     32 + 8
//	AUTH          MaxTokenLen (256)
//	FILE_ENTRY    8 + MaxNameLen + 8 + 32
//	MANIFEST      8 + MaxNameLen + manifest.MaxEncodedLen
//	BLOCK         manifest.MaxBlockSize
//	GET_HAVE      32
//	GET_PEERS     32 + 2 + MaxURLLen (1024)
//	GET_RANGE     32 + 8 + 8 + 8
//	HAVE          1 + 8 + manifest.MaxBlocks/8
//	HAVE_ADD      MaxHaveAdd (1024) · 8
//	PEERS         1 + MaxPeers (64) · (2 + MaxURLLen)
//
// # Names
//
// A file name is a relative path with '/' separators: non-empty, at most
// MaxNameLen bytes, valid UTF-8, without control characters (C0 U+0000 to
// U+001F, DEL U+007F, C1 U+0080 to U+009F) or backslash, not starting with
// '/', and without empty, "." or ".." components (so no "a//b" and no trailing
// '/'). Both sides check every name they receive (CheckName), so a seed cannot
// be tricked into opening a path outside what it serves, a client never
// writes to a path a seed chose to be hostile, and a name printed in a list
// cannot forge a line or send an escape sequence to a terminal. A seed does
// not serve a file whose name CheckName refuses.
//
// # Error codes
//
// Error codes are used both to reset streams and to close connections:
//
//	0x0 NO_ERROR       no error (a normal connection close)
//	0x1 CANCELLED      the requester no longer wants the answer
//	0x2 BAD_REQUEST    malformed or unknown request, out-of-range block or range
//	0x3 NOT_FOUND      no such file or content ID
//	0x4 INTERNAL       the seed failed, e.g. it cannot read its file
//	0x5 BUSY           a limit was reached (connections, request rate); try later
//	0x6 SHUTTING_DOWN  the seed is stopping
//	0x7 UNAUTHORIZED   a private seed, and this connection is not authorised
//	0x8 FILE_CHANGED   the file on disk no longer matches its manifest
//	0x9 NOT_AVAILABLE  a peer does not have this block (yet)
//
// Other codes are reserved; a receiver treats one it does not know as a
// failure of that request (or connection) for no stated reason.
//
// # Seed URL
//
// A seed is named by a URL of the form
//
//	quic://HOST[:PORT][/][?pin=PIN]
//
// HOST is a DNS name or IPv4 address, or an IPv6 address in brackets; PORT
// defaults to 4433 (DefaultPort); PIN is the unpadded base64url encoding
// (RFC 4648, section 5) of the SHA-256 of the seed certificate's
// SubjectPublicKeyInfo. Other query parameters are ignored, so that later
// versions can add some. See ParseURL.
package wire
