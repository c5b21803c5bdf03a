package partial

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/internal/bitset"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

var (
	// ErrLocked is returned by Open when another File, in this process or
	// another, holds the part file.
	ErrLocked = errors.New("another quicxfer process is writing this download")
	// ErrClosed is returned by calls on a closed File.
	ErrClosed = errors.New("partial download already closed")
	// ErrFinished is returned by WriteBlock after Finish.
	ErrFinished = errors.New("download already finished")
	// ErrIncomplete is returned by Finish while blocks are missing or not
	// yet proven (see Prove).
	ErrIncomplete = errors.New("download is not complete")
	// ErrOutExists is wrapped by Finish's error when out exists: it is never
	// replaced. The data stays in the part file and its state on disk, and
	// Finish may be called again once out is gone.
	ErrOutExists = errors.New("output file exists")
	// ErrOtherFile is wrapped by Open's error (an *OtherFileError) when out's
	// partial download is of a different file and Options.DiscardOther is
	// not set.
	ErrOtherFile = errors.New("holds a partial download of a different file")
)

// OtherFileError says that Part holds the partial download of another file,
// the one of content ID ID, which Open left alone. It wraps ErrOtherFile.
type OtherFileError struct {
	Part string
	ID   manifest.ID
}

func (e *OtherFileError) Error() string {
	return fmt.Sprintf("%s %v (content ID %s)", e.Part, ErrOtherFile, e.ID)
}

func (e *OtherFileError) Unwrap() error { return ErrOtherFile }

// PartPath returns the path of out's data file.
func PartPath(out string) string { return out + PartSuffix }

// StatePath returns the path of out's state file.
func StatePath(out string) string { return out + StateSuffix }

// tmpStatePath is where a new state is written before it replaces the old.
func tmpStatePath(out string) string { return StatePath(out) + tempSuffix }

// Options tunes Open.
type Options struct {
	Workers int                              // goroutines for re-checking blocks at Open (0 = GOMAXPROCS)
	Logf    func(format string, args ...any) // one-line messages for the user (nil = silent)
	// DeferProof leaves the blocks whose bit is set and whose xxh64 matches
	// claimed (Claimed) rather than proving them with SHA-256 at Open: the
	// caller proves them with Prove, e.g. while it fetches the others.
	DeferProof bool
	// DiscardOther throws away a partial download of a different file at
	// out; without it Open refuses it with an *OtherFileError.
	DiscardOther bool
	// RemoveEmpty makes Close remove the part and state files when they
	// hold no block at all (none verified, claimed or recovered), so that a
	// download that failed before its first block leaves nothing behind.
	// Files whose state was unreadable are kept: their data may belong to
	// another file.
	RemoveEmpty bool
	// ID, if not zero, is what the state binds the partial download to, in
	// place of the manifest's content ID: a download whose manifest is not
	// the file's identity (Learn) gives one derived from what it knows of
	// the file (its size, its published hash, its mirrors' validators).
	ID manifest.ID
	// Learn is for a download whose manifest has no block hashes (from
	// HTTP mirrors, or a Metalink, whose pieces are checked by the
	// caller's plan): the manifest gives the layout only (Size,
	// BlockSize, any length from MinLearnBlockSize to MaxLearnBlockSize),
	// WriteBlock checks nothing and learns the xxh64 of each block it
	// writes instead, and the state file records it beside the block's
	// bit, so that a block damaged on disk is caught when the download
	// resumes. Without a state to trust (missing or damaged) nothing of
	// the old data is kept: there is nothing to check it against. Open
	// requires DeferProof with Learn: what the xxh64 does not prove, the
	// caller's plan does (Prove).
	Learn bool
	// Buffered writes every block through the page cache, never with
	// O_DIRECT (see direct.go).
	Buffered bool
}

// Report says what Open found.
type Report struct {
	Trusted      int    // blocks whose bit was set and whose data re-checked good (xxh64 and SHA-256)
	Claimed      int    // with DeferProof: blocks whose bit was set and whose xxh64 matched, left for Prove
	Recovered    int    // blocks with no bit whose data on disk verified anyway (written before a crash, bit not yet saved)
	Damaged      int    // blocks whose bit was set but whose data failed the check: they will be fetched again
	Discarded    string // non-empty when an existing partial download was thrown away, and why
	StateDamaged bool   // the state file was unreadable (truncated, edited, wrong checksum) and the data was re-checked instead
	ScannedBytes int64  // bytes the recovery scan read; holes in the part file are skipped
}

// File is a download in progress: the part file, locked for the File's life,
// and its state. Has, Count, Bytes, Complete, WriteBlock and Sync are safe for
// concurrent use.
type File struct {
	out string
	m   *manifest.Manifest
	id  manifest.ID
	// learn: Options.Learn; xxh then holds the xxh64 of each block
	// written, proven or claimed (guarded by mu), which the state file
	// records for the durable ones.
	learn bool
	xxh   []uint64
	f     *os.File // the part file; its flock is the download's lock
	// direct is the part file opened again with O_DIRECT, nil when its
	// file system has no direct I/O or Options.Buffered (direct.go).
	direct *directWriter
	dir    *os.File // out's directory, for fsync after renames
	logf   func(string, ...any)

	removeEmpty  bool // Options.RemoveEmpty
	stateDamaged bool // Report.StateDamaged: the data may not be this file's

	// life is held shared by WriteBlock and Sync and exclusively by Finish
	// and Close, so that nothing writes into a file being renamed or closed.
	writeMu  sync.Mutex // serialises pwrites (see WriteBlock)
	life     sync.RWMutex
	closed   bool
	finished bool
	renamed  bool // Finish has renamed the part file to out

	mu      sync.Mutex // guards the fields below
	have    bitset.Set // blocks written (durable or not) or proven: verified with SHA-256
	pending []int      // blocks written since the last Sync's snapshot
	count   int
	bytes   int64
	// claimed holds the blocks a previous run recorded whose xxh64 matched
	// at Open, not yet proven with SHA-256 (see Prove). Their bits are in
	// durable; they are not in have.
	claimed      bitset.Set
	nclaimed     int
	claimedBytes int64

	syncMu  sync.Mutex // serialises Sync; guards the fields below
	durable bitset.Set // blocks whose data was fdatasynced: what the state file records
	dirty   bool       // durable differs from the state file on disk
	spare   []int      // the previous snapshot, reused as the next pending list
	buf     []byte     // encoding buffer
	bits    []byte     // durable in its byte form, for the encoding
	err     error      // sticky: set when fdatasync failed, after which nothing is trusted
}

// Open opens or creates the partial download of m at out: the part file
// PartPath(out), locked for the File's life, and the state StatePath(out).
// It re-checks what a previous run left (see the package documentation for
// the rules), persists what it found, and reports it. Open does not look at
// out itself beyond refusing a symbolic link there: Finish renames the part
// file to out, and never replaces anything.
//
// Open returns ErrLocked if another File holds the download, CheckPaths's
// error if a file of the download cannot be its own (a symbolic link, a
// hard link, a FIFO, ...) or a name would be too long, and an
// *OtherFileError for a partial download of a different file unless
// opts.DiscardOther is set.
func Open(out string, m *manifest.Manifest, opts Options) (*File, Report, error) {
	if err := checkManifest(m, opts.Learn); err != nil {
		return nil, Report{}, err
	}
	if opts.Learn && !opts.DeferProof {
		return nil, Report{}, errors.New("partial: Learn needs DeferProof")
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := CheckPaths(out); err != nil {
		return nil, Report{}, err
	}
	pf, created, err := openLocked(PartPath(out))
	if err != nil {
		return nil, Report{}, err
	}
	dir, err := os.Open(filepath.Dir(out))
	if err != nil {
		pf.Close()
		return nil, Report{}, err
	}
	n := m.NumBlocks()
	id := opts.ID
	if id.IsZero() {
		id = m.ID()
	}
	f := &File{
		out: out, m: m, id: id, f: pf, dir: dir, logf: logf, learn: opts.Learn,
		removeEmpty: opts.RemoveEmpty,
		have:        bitset.New(n),
		claimed:     bitset.New(n),
		durable:     bitset.New(n),
		dirty:       true, // whatever Open finds, it writes down
	}
	if opts.Learn {
		f.xxh = make([]uint64, n)
	}
	rep, err := f.load(created, opts)
	if err == nil {
		// Make a truncation or extension durable before the state that
		// describes the new contents.
		err = fdatasync(pf)
	}
	if err == nil {
		f.syncMu.Lock()
		err = f.syncLocked()
		f.syncMu.Unlock()
	}
	if err != nil {
		if created {
			os.Remove(PartPath(out)) // still locked: nobody else uses it
		}
		pf.Close()
		dir.Close()
		return nil, Report{}, err
	}
	if !opts.Buffered {
		f.direct = openDirect(PartPath(out), pf)
	}
	return f, rep, nil
}

// Paths returns every path a download at out may create or write: out
// itself (at Finish), the part file, the state file and its temporary name,
// and the command file (CommandPath) and its temporary name.
func Paths(out string) []string {
	return []string{out, PartPath(out), StatePath(out), tmpStatePath(out), CommandPath(out), CommandTempPath(out)}
}

func checkManifest(m *manifest.Manifest, learn bool) error {
	switch {
	case m == nil:
		return errors.New("no manifest")
	case m.Size < 0 || m.Size > manifest.MaxSize:
		return fmt.Errorf("manifest: size %d out of range", m.Size)
	case !validBlockSize(uint64(m.BlockSize)) && !(learn && validLearnBlockSize(uint64(m.BlockSize))):
		return fmt.Errorf("manifest: block size %d", m.BlockSize)
	case m.NumBlocks() > manifest.MaxBlocks:
		return fmt.Errorf("manifest: %d blocks, more than %d", m.NumBlocks(), manifest.MaxBlocks)
	case m.NumBlocks() != manifest.NumBlocksFor(m.Size, m.BlockSize):
		return fmt.Errorf("manifest: %d blocks for size %d", m.NumBlocks(), m.Size)
	}
	return nil
}

// openLocked opens the part file, creating it if it does not exist, and
// takes its lock. It reports whether it created the file. After locking it
// checks that the path still names the file it locked: a File finishing
// renames its part file away, and a lock on that inode would guard nothing.
func openLocked(path string) (*os.File, bool, error) {
	for range 10 {
		created := false
		f, err := atomicfile.OpenFile(path, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			f, err = atomicfile.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			created = true
		}
		if err != nil {
			return nil, false, err
		}
		if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, false, fmt.Errorf("%s: %w", path, ErrLocked)
			}
			return nil, false, fmt.Errorf("locking %s: %w", path, err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, false, err
		}
		if pi, err := os.Lstat(path); err == nil && os.SameFile(fi, pi) {
			return f, created, nil
		}
		f.Close()
	}
	return nil, false, fmt.Errorf("%s keeps being replaced while it is opened", path)
}

func flock(f *os.File, how int) error {
	return atomicfile.Control(f, func(fd int) error {
		for {
			if err := unix.Flock(fd, how); err != unix.EINTR {
				return err
			}
		}
	})
}

func fdatasync(f *os.File) error {
	return atomicfile.Control(f, func(fd int) error {
		for {
			if err := unix.Fdatasync(fd); err != unix.EINTR {
				return err
			}
		}
	})
}

// load decides what to keep of a previous run and fills have and durable.
func (f *File) load(created bool, opts Options) (Report, error) {
	var rep Report
	part, statePath := PartPath(f.out), StatePath(f.out)
	// A leftover of a Sync cut short; never read, only replaced.
	if err := os.Remove(tmpStatePath(f.out)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rep, err
	}
	st, stateErr := readState(statePath)
	stateMissing := errors.Is(stateErr, fs.ErrNotExist)

	var old *State // the state to resume from, nil if none
	scan := false  // whether blocks without a bit are worth reading
	switch {
	case created && stateMissing:
		// A fresh download.
	case created:
		rep.Discarded = "its data file " + part + " was missing"
		f.logf("%s exists but %s does not; starting over", statePath, part)
	case stateMissing:
		rep.StateDamaged = true
		scan = true
		f.logf("%s is missing; re-checking the data in %s", statePath, part)
	case stateErr != nil && !errors.Is(stateErr, ErrBadState):
		return rep, fmt.Errorf("reading %s: %w", statePath, stateErr)
	case stateErr != nil:
		rep.StateDamaged = true
		scan = true
		f.logf("%s is damaged (%v); re-checking the data in %s", statePath, stateErr, part)
	case st.ID != f.id || st.Size != f.m.Size || st.BlockSize != f.m.BlockSize || (st.XXH != nil) != f.learn:
		if !opts.DiscardOther {
			return rep, &OtherFileError{Part: part, ID: st.ID}
		}
		rep.Discarded = fmt.Sprintf("it is a different file (content ID %s)", st.ID)
		f.logf("%s holds a partial download of a different file (content ID %s); discarding it, as asked, and starting over", part, st.ID)
		// Never mix two files: nothing of the old data is read again.
		if err := f.f.Truncate(0); err != nil {
			return rep, fmt.Errorf("discarding %s: %w", part, err)
		}
	default:
		// Learning, a block without a bit has no xxh64 to be checked
		// against: there is nothing to recover.
		old, scan = st, !f.learn
	}

	// Bring the part file to the full size: extending leaves a hole (which
	// fails any check), truncating drops what no block can use.
	fi, err := f.f.Stat()
	if err != nil {
		return rep, err
	}
	if fi.Size() != f.m.Size {
		if !created && rep.Discarded == "" {
			f.logf("%s is %d bytes, want %d; resizing it", part, fi.Size(), f.m.Size)
		}
		if err := f.f.Truncate(f.m.Size); err != nil {
			return rep, fmt.Errorf("resizing %s: %w", part, err)
		}
	}
	f.stateDamaged = rep.StateDamaged
	if f.learn && old == nil && scan {
		// No state to trust, and no hash in the manifest to check the
		// data against: none of it can be kept.
		f.logf("%s: nothing to check its data against without a readable state; starting over", part)
		if err := f.f.Truncate(0); err != nil {
			return rep, fmt.Errorf("discarding %s: %w", part, err)
		}
		if err := f.f.Truncate(f.m.Size); err != nil {
			return rep, fmt.Errorf("resizing %s: %w", part, err)
		}
		f.stateDamaged, scan = false, false
		rep.Discarded = "its state was missing or damaged"
	}
	if old == nil && !scan {
		return rep, nil
	}
	if err := f.check(old, scan, opts.Workers, opts.DeferProof, &rep); err != nil {
		return rep, fmt.Errorf("re-checking %s: %w", part, err)
	}
	if got := rep.Trusted + rep.Claimed + rep.Recovered; got > 0 || old != nil {
		proof := ""
		if rep.Claimed > 0 {
			proof = fmt.Sprintf("; %d to be proven with SHA-256 while the download runs", rep.Claimed)
			if f.learn {
				// Their xxh64 matched what was written; the caller's plan
				// (piece hashes, a whole-file checksum) checks the rest.
				proof = fmt.Sprintf("; %d matched the xxh64 recorded when they were written", rep.Claimed)
			}
		}
		f.logf("%s: resuming with %d of %d blocks (%d recovered, %d damaged%s)", part, got, f.m.NumBlocks(), rep.Recovered, rep.Damaged, proof)
	}
	return rep, nil
}

// readState reads and decodes a state file, refusing to read more than any
// valid state can hold (ErrBadState), a symbolic link
// (*atomicfile.SymlinkError) and anything but a regular file
// (*atomicfile.NotRegularError; a FIFO does not hang it).
func readState(path string) (*State, error) {
	b, err := atomicfile.ReadFileNoFollow(path, int64(MaxStateLen))
	if errors.Is(err, atomicfile.ErrTooLarge) {
		return nil, fmt.Errorf("%w: larger than any state", ErrBadState)
	}
	if err != nil {
		return nil, err
	}
	return DecodeState(b)
}

// Has reports whether block i is written (and verified by the caller) or
// proven: verified with SHA-256 against the manifest. A claimed block is not
// had until Prove proves it.
func (f *File) Has(i int) bool { return f.in(i, f.have) }

// Claimed reports whether block i is claimed: a previous run recorded it
// and its xxh64 matched at Open, but it is not proven yet (Options.DeferProof;
// see Prove).
func (f *File) Claimed(i int) bool { return f.in(i, f.claimed) }

// Present reports whether block i is had or claimed, read at one instant:
// a block that Prove proves meanwhile is one or the other, never neither
// (as Has, then Claimed, called one after the other, may find it).
func (f *File) Present(i int) bool { return f.in(i, f.have, f.claimed) }

// in reports whether block i is in one of sets, f's own, read under f.mu.
func (f *File) in(i int, sets ...bitset.Set) bool {
	if i < 0 || i >= f.m.NumBlocks() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range sets {
		if b.Get(i) {
			return true
		}
	}
	return false
}

// tally is what a File holds, read at one instant.
type tally struct {
	count        int   // blocks present (Has)
	bytes        int64 // their size
	claimedBytes int64 // the size of the claimed blocks
}

func (f *File) tally() tally {
	f.mu.Lock()
	defer f.mu.Unlock()
	return tally{count: f.count, bytes: f.bytes, claimedBytes: f.claimedBytes}
}

// PresentBytes returns Bytes plus the size of the claimed blocks, read at
// one instant: the bytes on disk that are proven or being proven.
func (f *File) PresentBytes() int64 {
	t := f.tally()
	return t.bytes + t.claimedBytes
}

// Count returns how many blocks are present (Has), durable or not yet.
func (f *File) Count() int { return f.tally().count }

// Bytes returns the size of the blocks Count counts.
func (f *File) Bytes() int64 { return f.tally().bytes }

// Complete reports whether every block is present (Has): written or proven,
// none merely claimed.
func (f *File) Complete() bool { return f.Count() == f.m.NumBlocks() }

// WriteBlock writes block i, which the caller has verified against the
// manifest, at its offset. As a guard against a block written at the wrong
// index it checks the length and the xxh64 (at memory speed) and returns an
// error wrapping manifest.ErrHashMismatch if they do not match. Writing a
// block that is already present, or claimed (Prove settles it), does
// nothing. The block becomes durable, and
// is recorded in the state file, at the next Sync. WriteBlock is safe for
// concurrent use.
func (f *File) WriteBlock(i int, data []byte) error {
	return f.write(i, data, false, 0)
}

// WriteVerified is WriteBlock for a caller that took the block's xxh64 as
// its bytes arrived (xxh): the guard compares it with the manifest's (or,
// learning, records it) instead of hashing the block again.
func (f *File) WriteVerified(i int, data []byte, xxh uint64) error {
	return f.write(i, data, true, xxh)
}

// write is WriteBlock, with the block's xxh64 given when known.
func (f *File) write(i int, data []byte, known bool, xxh uint64) error {
	f.life.RLock()
	defer f.life.RUnlock()
	switch {
	case f.closed:
		return ErrClosed
	case f.finished:
		return ErrFinished
	case i < 0 || i >= f.m.NumBlocks():
		return fmt.Errorf("block %d out of range [0,%d)", i, f.m.NumBlocks())
	case f.Has(i) || f.Claimed(i):
		return nil
	case int64(len(data)) != f.m.BlockLen(i):
		return fmt.Errorf("writing block %d: %d bytes, want %d: %w", i, len(data), f.m.BlockLen(i), manifest.ErrHashMismatch)
	case !f.learn && !known && !f.m.CheckXXH(i, data):
		return fmt.Errorf("writing block %d: %d bytes do not match its xxh64: %w", i, len(data), manifest.ErrHashMismatch)
	case !f.learn && known && xxh != f.m.Blocks[i].XXH:
		return fmt.Errorf("writing block %d: %d bytes do not match its xxh64: %w", i, len(data), manifest.ErrHashMismatch)
	}
	if f.learn && !known {
		xxh = xxhash.Sum64(data)
	}
	// One write at a time: concurrent pwrites to one file contend for the
	// inode's lock in the kernel, where waiting costs CPU; here it does not.
	f.writeMu.Lock()
	err := f.writeAt(data, f.m.BlockOffset(i))
	f.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("writing block %d: %w", i, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.have.Get(i) {
		f.markLocked(i)
		f.pending = append(f.pending, i)
		if f.learn {
			f.xxh[i] = xxh
		}
	}
	return nil
}

// writeAt writes data at off: with O_DIRECT where it can (direct.go),
// through the page cache otherwise.
func (f *File) writeAt(data []byte, off int64) error {
	if f.direct.fits(data, off) {
		if ok, err := f.direct.writeAt(data, off); ok {
			return err
		}
	}
	_, err := f.f.WriteAt(data, off)
	return err
}

// ReadAt reads the part file at off, as io.ReaderAt: a caller reads only
// blocks that are present (what it wrote, or proved).
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.life.RLock()
	defer f.life.RUnlock()
	switch {
	case f.closed:
		return 0, ErrClosed
	case f.finished:
		return 0, ErrFinished
	}
	return f.f.ReadAt(p, off)
}

// checkXXH reports whether data, read from disk, is block i as the
// manifest says (or, learning, as it was written: old's xxh64).
func (f *File) checkXXH(i int, data []byte, old *State) bool {
	if !f.learn {
		return f.m.CheckXXH(i, data)
	}
	return old != nil && i < len(old.XXH) && int64(len(data)) == f.m.BlockLen(i) && xxhash.Sum64(data) == old.XXH[i]
}

// XXH returns the xxh64 a learning File (Options.Learn) knows of block i:
// the one it wrote, or the one the state recorded of a claimed or proven
// block; false if it has none (not learning, or the block is missing).
func (f *File) XXH(i int) (uint64, bool) {
	if !f.learn || i < 0 || i >= f.m.NumBlocks() {
		return 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.have.Get(i) && !f.claimed.Get(i) {
		return 0, false
	}
	return f.xxh[i], true
}

// Forget makes the present blocks of blocks missing again, their bits
// cleared in the state file before Forget returns, so that they can be
// written anew: a caller that finds, after the fact, that they were bad (a
// whole-file hash that failed, and the mirror that sent them). Blocks not
// present are skipped.
func (f *File) Forget(blocks []int) error {
	f.life.RLock()
	defer f.life.RUnlock()
	switch {
	case f.closed:
		return ErrClosed
	case f.finished:
		return ErrFinished
	}
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	f.mu.Lock()
	for _, i := range blocks {
		if i < 0 || i >= f.m.NumBlocks() || !f.have.Get(i) {
			continue
		}
		f.have.Clear(i)
		f.count--
		f.bytes -= f.m.BlockLen(i)
		f.durable.Clear(i)
		if f.learn {
			f.xxh[i] = 0
		}
		f.pending = slices.DeleteFunc(f.pending, func(j int) bool { return j == i })
		f.dirty = true
	}
	f.mu.Unlock()
	return f.syncLocked()
}

// markLocked records block i as present; f.mu is held.
func (f *File) markLocked(i int) {
	f.have.Set(i)
	f.count++
	f.bytes += f.m.BlockLen(i)
}

// claimLocked records block i as claimed; f.mu is held.
func (f *File) claimLocked(i int) {
	f.claimed.Set(i)
	f.nclaimed++
	f.claimedBytes += f.m.BlockLen(i)
}

// unclaimLocked forgets block i's claim; f.mu is held.
func (f *File) unclaimLocked(i int) {
	f.claimed.Clear(i)
	f.nclaimed--
	f.claimedBytes -= f.m.BlockLen(i)
}

// Sync makes every block written before the call durable and records them in
// the state file. Calls are serialised; a Sync with nothing new to record
// does no I/O. If the data cannot be flushed, Sync returns the error and so
// does every later call: the kernel may have dropped the unflushed pages, and
// only a new Open, which re-checks the data, can say which blocks survived.
func (f *File) Sync() error {
	f.life.RLock()
	defer f.life.RUnlock()
	switch {
	case f.closed:
		return ErrClosed
	case f.finished:
		return nil
	}
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	return f.syncLocked()
}

// syncLocked is Sync with f.syncMu held. The order is what makes the state
// true after a power cut: data first (fdatasync), then the bits, in a new
// state file fsynced before it is renamed over the old one.
func (f *File) syncLocked() error {
	if f.err != nil {
		return f.err
	}
	f.mu.Lock()
	snap := f.pending
	f.pending = f.spare[:0]
	f.mu.Unlock()
	f.spare = snap[:0]
	if len(snap) == 0 && !f.dirty {
		return nil
	}
	if len(snap) > 0 {
		if err := fdatasync(f.f); err != nil {
			f.err = fmt.Errorf("flushing %s: %w", PartPath(f.out), err)
			return f.err
		}
		for _, i := range snap {
			f.durable.Set(i)
		}
		f.dirty = true
	}
	if err := f.writeState(); err != nil {
		return err // dirty stays set: the next Sync tries again
	}
	f.dirty = false
	return nil
}

// writeState replaces the state file with one recording f.durable.
func (f *File) writeState() error {
	n := f.m.NumBlocks()
	f.bits = bitset.Set(f.durable).AppendBytes(f.bits[:0], n)
	st := State{ID: f.id, Size: f.m.Size, BlockSize: f.m.BlockSize, NumBlocks: n, Bitmap: f.bits}
	if f.learn {
		st.XXH = make([]uint64, n)
		f.mu.Lock()
		for i := range n {
			if f.durable.Get(i) {
				st.XXH[i] = f.xxh[i]
			}
		}
		f.mu.Unlock()
	}
	f.buf = st.Append(f.buf[:0])
	// A new temporary file (O_EXCL: never through a symbolic link),
	// fsynced, renamed over the state, the directory fsynced.
	if err := atomicfile.Write(StatePath(f.out), f.buf, atomicfile.Options{Temp: tmpStatePath(f.out), Dir: f.dir}); err != nil {
		return fmt.Errorf("saving %s: %w", StatePath(f.out), err)
	}
	return nil
}

// Finish completes the download: it flushes the data, renames the part file
// to out, syncs the directory, removes the state file and syncs the
// directory again. The rename never replaces anything: if out exists (in any
// form, a symbolic link included), Finish returns an error wrapping
// ErrOutExists and leaves the part file and its state as they are. It
// returns ErrIncomplete unless every block is present (claimed blocks are
// not). A Finish that failed may be called again; once it has succeeded,
// later calls do nothing. Close is still needed to release the lock.
func (f *File) Finish() error {
	f.life.Lock()
	defer f.life.Unlock()
	switch {
	case f.closed:
		return ErrClosed
	case f.finished:
		return nil
	case f.err != nil:
		return f.err
	case !f.Complete():
		return fmt.Errorf("%s: %d of %d blocks: %w", f.out, f.Count(), f.m.NumBlocks(), ErrIncomplete)
	}
	if !f.renamed {
		if err := fdatasync(f.f); err != nil {
			f.err = fmt.Errorf("flushing %s: %w", PartPath(f.out), err)
			return f.err
		}
		if err := atomicfile.RenameNoReplace(PartPath(f.out), f.out); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w; not replaced", f.out, ErrOutExists)
			}
			return fmt.Errorf("finishing %s: %w", f.out, err)
		}
		f.renamed = true
	}
	if err := f.dir.Sync(); err != nil {
		return fmt.Errorf("finishing %s: syncing the directory: %w", f.out, err)
	}
	if err := os.Remove(StatePath(f.out)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("finishing %s: %w", f.out, err)
	}
	if err := f.dir.Sync(); err != nil {
		return fmt.Errorf("finishing %s: syncing the directory: %w", f.out, err)
	}
	f.finished = true
	return nil
}

// Close syncs (unless the download is finished), releases the lock and
// closes the files. With Options.RemoveEmpty, a download that holds no block
// is removed instead of synced. It is idempotent: later calls return nil.
func (f *File) Close() error {
	f.life.Lock()
	defer f.life.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	switch {
	case f.finished || f.renamed:
	case f.removeEmpty && f.empty():
		err = f.remove()
	default:
		f.syncMu.Lock()
		err = f.syncLocked()
		f.syncMu.Unlock()
	}
	if cerr := f.direct.close(); err == nil {
		err = cerr
	}
	// Closing the only descriptor of the open file releases its flock.
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if cerr := f.dir.Close(); err == nil {
		err = cerr
	}
	return err
}

// empty reports whether the download holds no block: none present (written,
// recovered or proven), none claimed, and the state was readable (a part
// file whose state was not may hold another file's data).
func (f *File) empty() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count == 0 && f.nclaimed == 0 && !f.stateDamaged
}

// remove deletes the part file (still locked, so no other File uses it) and
// the state file, and syncs the directory.
func (f *File) remove() error {
	for _, p := range []string{PartPath(f.out), StatePath(f.out)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", p, err)
		}
	}
	return f.dir.Sync()
}
