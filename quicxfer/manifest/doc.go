// Package manifest describes a file as indexed, hashed blocks and names it by
// a content ID.
//
// A Manifest holds the file's size, its block size and, for every block, an
// xxh64 and a SHA-256 of the block's bytes. The block size is a function of the
// file size (BlockSizeFor), so one file has exactly one manifest and one ID.
//
// The content ID is SHA-256 over a domain-separation string and the canonical
// binary encoding of the manifest (AppendBinary). It covers the bytes of the
// file, not its name: two seeds serving the same bytes under different names
// report the same ID.
//
// What each hash protects against:
//   - xxh64 (per block) catches accidental damage cheaply: a flipped bit in
//     transit, a partial file edited or truncated on disk. It is what resume
//     re-checks, at memory speed. It is no defence against a seed that forges
//     a block to match it.
//   - SHA-256 (per block) is the proof: a block is kept only if its SHA-256
//     matches the manifest, so a seed cannot make a downloader keep forged
//     bytes without breaking SHA-256.
//   - The content ID (SHA-256 of the manifest) binds the per-block hashes
//     together: a manifest that hashes to the ID the user asked for can only
//     describe the published file, and a file whose every block matched such a
//     manifest is that file. There is no extra pass over the file at the end.
package manifest
