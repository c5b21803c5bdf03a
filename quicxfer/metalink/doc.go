// Package metalink reads Metalink files: the XML documents that mirror
// redirectors publish to say where a file can be downloaded from and how to
// check it. Both dialects in use are read: Metalink 4 (RFC 5854, namespace
// urn:ietf:params:xml:ns:metalink, as MirrorBrain's .meta4) and Metalink 3.0
// (namespace http://www.metalinker.org/, as Fedora's MirrorManager and
// openSUSE's MirrorCache and MirrorBrain write .metalink).
//
// Parse turns either into one Metalink: for each file its name, its size,
// its whole-file hashes (strongest first), its piece hashes if any and its
// mirrors (HTTP and HTTPS only, best priority first). File.Plan turns a file
// into the verify.Plan a download checks its data with.
//
// # What is read, what is skipped
//
// Only elements of the document's own namespace are read, and of them only
// the ones above (file, size, hash, pieces, url; in 3.0 also files,
// verification, resources). Everything else — a generator, a publisher, a
// description, extension elements such as MirrorManager's mm0:timestamp and
// mm0:alternates (older versions of the file, whose hashes must not be taken
// for the current one's) — is skipped whole. What a caller might miss is
// listed in Metalink.Notes: a metaurl (torrent), a mirror of another scheme
// (ftp, rsync, a 3.0 bittorrent url), a hash of a function verify does not
// know, a file with no usable mirror.
//
// Priorities: Metalink 4 gives a url a priority from 1 (best) to 999999;
// 3.0 gives it a preference from 1 to 100 (100 best), read as priority
// 101 - preference. A url without one sorts last (Priority 0). A location is
// an ISO 3166-1 country code, lower-cased.
//
// # Validation
//
// Parse refuses, with an error wrapping ErrInvalid that names the file, a
// Metalink that would make a download write outside its directory or
// allocate without bound: a name that wire.CheckName refuses (absolute, with
// a ".." component, a control character) or that two files share; a size
// that is not a number from 0 to MaxFileSize; pieces shorter than
// MinPieceLen or longer than MaxPieceLen, more than MaxPieces of them, or a
// count of piece sums that is not the file's size divided by the piece
// length, rounded up; a sum that is not hex of its function's length; more
// than MaxFiles files or MaxMirrors mirrors for one file. Limits are checked
// as the document is read, before anything is allocated for what they
// bound.
//
// Bad pieces are an error, not a note: pieces whose count does not fit the
// size, or 3.0 pieces whose piece="i" indexes miss one or repeat one, come
// from a broken or forged generator, and quietly falling back to the
// whole-file hash would hide that. Pieces of a file whose size is not given
// cannot be checked and are dropped with a note.
//
// The XML is read with encoding/xml, which never fetches or expands an
// external or a user-defined entity; Parse refuses any DOCTYPE (neither
// dialect has one), so entity tricks such as "billion laughs" fail at once.
// A document larger than MaxSize is an error, never silently truncated.
// What encoding/xml would hold at once is bounded too: the nesting of
// elements (64 deep below what Parse reads), the attributes of an element
// (1024), the text of an element Parse reads (64 KiB), so that a hostile
// document costs a small multiple of its size in memory.
package metalink
