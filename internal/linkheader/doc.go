// Package linkheader reads HTTP Link headers (RFC 8288) as mirror
// redirectors send them: MirrorBrain and MirrorCache name a file's mirrors
// as links of relation "duplicate" with a priority and a country (RFC 6249,
// Metalink/HTTP), and its Metalink or torrent as links of relation
// "describedby":
//
//	Link: <http://a/x.iso>; rel=duplicate; pri=1; geo=de,
//	      <http://b/x.iso>; rel=duplicate; pri=2; geo=us,
//	      <http://a/x.iso.meta4>; rel=describedby; type="application/metalink4+xml"
//
// Parse reads the links of any relation; Duplicates and Described pick out
// the mirrors and the descriptions, their URLs resolved against the
// response's and kept only if http or https. A header is read leniently: a
// link that cannot be read is skipped, the ones around it kept.
package linkheader
