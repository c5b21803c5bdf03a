// Package partial keeps a download's partial data and the record of which of
// its blocks are safely on disk, so that a download cut short by a crash, a
// SIGKILL or a power cut resumes without trusting a bad byte or re-fetching a
// good one.
//
// # Files
//
// For an output path OUT:
//
//   - OUT.qxpart holds the data: a sparse file of the full size (ftruncate, no
//     preallocation), every block written at its offset. It is locked
//     (flock LOCK_EX|LOCK_NB) for the life of a File, so two processes never
//     write one download (ErrLocked).
//   - OUT.qxstate records which blocks are durable (format below).
//   - OUT.qxstate.tmp exists only while a Sync writes a new state.
//   - OUT appears only at the end, when Finish renames OUT.qxpart to it;
//     the rename never replaces anything (renameat2 RENAME_NOREPLACE): an
//     OUT that appeared meanwhile is left alone, Finish fails with
//     ErrOutExists, and the data and its state stay for a later Finish.
//   - OUT.qxcmd (CommandPath) is written by the get command, not by this
//     package: how it was called, so that `quicxfer status OUT` can say
//     which command resumes the download.
//
// None of these is ever opened through a symbolic link, and nothing is
// written into a file that is not the download's own: before it creates
// anything, Open (CheckPaths) refuses a symbolic link at any of them
// (Paths) with an *atomicfile.SymlinkError, a working file that is not a
// regular file (a FIFO, a device, a directory) with an
// *atomicfile.NotRegularError, one with another hard link (another name of
// someone's file) with an *atomicfile.HardLinkError, and an OUT whose
// working files' names would be longer than the file system allows with a
// *NameTooLongError. The part file is opened O_NOFOLLOW|O_NONBLOCK (checked
// again once open), and the state is written through a new temporary file
// (O_CREAT|O_EXCL) renamed over the old (internal/atomicfile).
//
// Inspect reads all of these without writing or locking anything, so it is
// safe while a download runs; it tells a running download by the part
// file's flock in /proc/locks.
//
// The state file, all integers big endian:
//
//	magic "QXSTATE\n" (8) | format version = 1 (1) | content ID (32) |
//	size (8) | block size (8) | block count n (8) |
//	bitmap ((n+7)/8 bytes; bit i is block i, LSB first in each byte) |
//	SHA-256 of everything before (32)
//
// DecodeState checks the length against the header before it allocates and
// refuses anything that is not exactly one valid encoding.
//
// # Write and sync order
//
// WriteBlock pwrites a block (which the caller has verified) into the part
// file and marks it present but not durable, in memory only.
//
// Sync, serialised: (1) snapshot the blocks written since the last Sync;
// (2) fdatasync the part file; (3) add the snapshot to the durable bitset.Set;
// (4) write the whole state to a new OUT.qxstate.tmp and fsync it; (5) rename it
// over OUT.qxstate; (6) fsync the directory.
//
// Finish: fdatasync the part file, rename it to OUT, fsync the directory,
// remove the state file, fsync the directory.
//
// Why a power cut at any instant leaves a state that resumes correctly: the
// invariant is that every bit set in the OUT.qxstate on disk names a block
// whose bytes are durable in OUT.qxpart. A block's bit enters a state file
// only in step 4, after step 2 has made the block's bytes (and the file's
// size) durable. The state file is never written in place: the new one is
// complete and durable before step 5 renames it, and a rename replaces a name
// atomically, so after a cut the name points at the old state or the new one,
// never at a mixture or an empty file, and both are true. A cut before step 6
// may lose the rename, which only loses bits, never adds a false one. A
// leftover OUT.qxstate.tmp is never read; Open deletes it. The part file is
// renamed to OUT only after its data is durable, and the state is removed
// only after that rename is durable.
//
// The invariant is about durability, not about the disk being honest, so Open
// does not rely on it alone: every block whose bit is set is proven again
// with SHA-256 before it counts (a state and part file can be planted, and
// xxh64 is no proof: bytes are easily forged to keep it), and a state that
// does not decode costs a re-read, not the download.
//
// # Open
//
//   - No part file and no state: a fresh download (part file created at full
//     size, all holes; initial state written).
//   - A state for the same content ID, size and block size: every block whose
//     bit is set is re-checked in parallel (Options.Workers) with xxh64, a
//     fast filter, and then SHA-256, the proof (Report.Trusted); failures
//     are cleared and reported as Damaged. With Options.DeferProof the
//     SHA-256 is left for later: blocks whose xxh64 matches are claimed
//     (Claimed, Report.Claimed), not had, and Prove settles them while the
//     caller fetches the others: a proven block becomes had, a failed one
//     has its bit cleared in the state file, durably, and is missing again.
//     A claimed block is never written (WriteBlock does nothing) and never
//     finishes a download (Finish wants every block had). Blocks without a
//     bit go through the recovery scan.
//   - A state for a different file: Open refuses (*OtherFileError) and
//     leaves both files alone, unless Options.DiscardOther, with which the
//     part file is truncated to zero and re-created (Report.Discarded). The
//     two files are never mixed.
//   - A state that does not decode, or none while the part file exists:
//     Report.StateDamaged, and every block goes through the recovery scan.
//   - A state without a part file: started over (Report.Discarded).
//   - Recovery scan: SEEK_DATA/SEEK_HOLE find the regions of the part file
//     that hold data, and only blocks that overlap one are read (everything
//     is read where the file system cannot tell). A block is recovered only if
//     its xxh64 and then its SHA-256 (manifest.Verify) match. This is what
//     keeps a crash between a block's write and the next Sync from costing a
//     re-fetch: the bytes are usually in the file even though no bit says so.
//   - The part file is truncated or extended to the manifest's size before any
//     check, so blocks past a short end fail theirs.
//   - Whatever Open found is then persisted: recovered blocks are flushed
//     before their bits are written, as in Sync.
//
// # Close
//
// Close syncs what is written and releases the lock. With
// Options.RemoveEmpty a download that holds no block (none had, claimed or
// recovered, and a readable state) is removed instead: what a download that
// failed before its first block would otherwise leave behind.
package partial
