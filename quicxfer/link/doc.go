// Package link reads and writes quicxfer links: one line that names a file by
// its content ID and says where to get it, so that a link is a whole download.
//
//	qx:?id=<64 hex digits>&name=<file name>&size=<bytes>&seed=quic://...&mirror=https://...
//
// The form is a magnet link's (an opaque "qx:" URI whose query holds the
// parameters), with the content ID in place of the info hash:
//
//	id      the content ID (manifest.ID), 64 hex digits; required, once
//	name    the file's name, as wire.CheckName accepts it; optional, once
//	size    the file's size in bytes, 0 to manifest.MaxSize; optional, once
//	seed    a seed URL, as wire.ParseURL accepts it; repeatable
//	mirror  an http:// or https:// URL of the file; repeatable
//	x.*     an extension: ignored
//
// Values are percent-encoded as in a URL query ('+' reads as a space, as
// url.ParseQuery reads it). Link.String writes the parameters in the order
// above and escapes only what a query value needs ('%', '&', '+', '#', ';',
// space, non-ASCII, the brackets of an IPv6 address, quotes and other shell
// characters), so that a seed URL stays readable:
// qx:?id=...&seed=quic://10.0.0.5:4433?pin=....
//
// # What Parse refuses
//
// Every error wraps ErrInvalid and says what is wrong in one line: a link
// longer than MaxLen bytes (as given, or once written in its canonical form);
// a scheme other than qx (case-insensitive) or anything between "qx:" and
// "?"; a raw space or control character (a link is one line: they must be
// percent-encoded); a raw '#' or ';' (some parsers take ';' for '&': a link
// must mean one thing to all of them); a bad percent-escape; a missing, malformed or
// all-zero id (the project's "no ID"); a name wire.CheckName refuses; a size
// that is not a decimal number of bytes up to manifest.MaxSize; a seed URL
// wire.ParseURL refuses; a mirror URL that is not http or https, has no host
// or carries user information (a link is meant to be shared: a password in
// it would leak); id, name or size given twice; more than MaxSeeds seeds or
// MaxMirrors mirrors; and any parameter it does not know.
//
// Unknown parameters: a key that starts with "x." is an extension, in the
// way magnet links have x.pe and friends, and is skipped (and not kept:
// String does not write it back); any other unknown key is an error. Being
// strict about the rest means a misspelt key ("seeds=", "mirrors=") is
// reported rather than silently costing the user a source, and a later
// version that adds a parameter whose meaning matters (a hash that must be
// checked) is not half-understood by this one.
//
// # Canonical form
//
// Parse normalizes what it keeps: the ID as parsed, seed URLs in
// wire.URL.String's canonical form (the port always written, the pin first),
// duplicate seeds and mirrors dropped (the first one kept), mirrors as given.
// So for every link s that Parse accepts, Parse(Parse(s).String()) returns
// the same Link, and String is its canonical text (the fuzz test checks
// both).
package link
