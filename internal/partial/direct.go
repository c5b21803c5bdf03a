package partial

import (
	"errors"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
)

// Direct writes: a block whose offset, length and buffer are aligned as the
// file system asks is written with O_DIRECT, from the caller's buffer
// straight to the device, instead of being copied into the page cache. A
// download writes every byte once and reads it back only to re-check it on
// a resume, so the page cache holds nothing it needs; the copy and the
// allocation of fresh page-cache pages were the download's largest cost
// after the transport itself (on this project's VMs, 1 to 3 CPU seconds
// per GiB, against 0.1 with O_DIRECT). The last block (a length that is not
// a multiple of the alignment), a buffer that happens to be unaligned and a
// file system without direct I/O take the buffered path, through the part
// file's own descriptor; the kernel keeps the two coherent (a direct write
// drops the page-cache pages it covers), and the ranges never share a page,
// since an aligned block covers whole pages. Durability is unchanged: Sync
// fdatasyncs the inode, whichever descriptor wrote.

// directWriter is a second descriptor of the part file, opened with
// O_DIRECT, and the alignment its writes need.
type directWriter struct {
	f        *os.File
	memAlign uintptr
	offAlign int64
	off      atomic.Bool  // set once a direct write failed with EINVAL: buffered from then on
	n        atomic.Int64 // blocks written directly, for the tests
}

// openDirect opens the part file at path again with O_DIRECT, or returns
// nil when its file system has no direct I/O (or says nothing of the
// alignment it needs, or path no longer names pf's file).
func openDirect(path string, pf *os.File) *directWriter {
	var stx unix.Statx_t
	err := atomicfile.Control(pf, func(fd int) error {
		return unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &stx)
	})
	if err != nil || stx.Mask&unix.STATX_DIOALIGN == 0 || stx.Dio_offset_align == 0 || stx.Dio_mem_align == 0 {
		return nil
	}
	df, err := atomicfile.OpenFile(path, os.O_WRONLY|unix.O_DIRECT, 0)
	if err != nil {
		return nil
	}
	a, aerr := df.Stat()
	b, berr := pf.Stat()
	if aerr != nil || berr != nil || !os.SameFile(a, b) {
		df.Close()
		return nil
	}
	return &directWriter{f: df, memAlign: uintptr(stx.Dio_mem_align), offAlign: int64(stx.Dio_offset_align)}
}

// fits reports whether data can be written at off with O_DIRECT.
func (d *directWriter) fits(data []byte, off int64) bool {
	if d == nil || d.off.Load() || len(data) == 0 {
		return false
	}
	return off%d.offAlign == 0 && int64(len(data))%d.offAlign == 0 &&
		uintptr(unsafe.Pointer(unsafe.SliceData(data)))%d.memAlign == 0
}

// writeAt writes data at off with O_DIRECT. ok is false when the file
// system refused it (EINVAL): the caller writes it buffered, and so does
// every later write.
func (d *directWriter) writeAt(data []byte, off int64) (ok bool, err error) {
	_, err = d.f.WriteAt(data, off)
	if errors.Is(err, unix.EINVAL) {
		d.off.Store(true)
		return false, nil
	}
	if err == nil {
		d.n.Add(1)
	}
	return true, err
}

func (d *directWriter) close() error {
	if d == nil {
		return nil
	}
	return d.f.Close()
}
