package quicxfer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// The path-safety rules of the downloads that write under a directory the
// seeds' names choose the paths in (DownloadDir, Replicate): a name a seed
// lists is refused if it could land outside the directory or names one of
// quicxfer's own working files, and directories are made, or gone through,
// only where they are plain directories.

// ErrOutsideDir is a RefusedError's reason for a name that would be written
// outside the output directory.
var ErrOutsideDir = errors.New("it would be written outside the output directory")

// WorkingNameError is a RefusedError's reason for a name that is, or goes
// through, one of quicxfer's own working files (a component ends with
// Suffix, a partial.WorkingSuffix).
type WorkingNameError struct{ Suffix string }

func (e *WorkingNameError) Error() string {
	return fmt.Sprintf("quicxfer keeps its partial downloads in names ending %s, and a directory download never writes one", e.Suffix)
}

// RefusedError is a name on the seeds' lists that a directory download
// refuses to write. Err says why: the name's check (wire.CheckName, of the
// name or of its part below the directory), ErrOutsideDir, or a
// *WorkingNameError.
type RefusedError struct {
	Name string // as listed
	Err  error
}

func (e *RefusedError) Error() string { return fmt.Sprintf("refusing %q: %v", e.Name, e.Err) }

func (e *RefusedError) Unwrap() error { return e.Err }

// maxRefusalsShown is how many refused names a directory download keeps,
// to be named one line each; the others are counted.
const maxRefusalsShown = 10

// Refusals are the names selectFiles refused: the first maxRefusalsShown,
// and how many in all (a hostile list may hold a million).
type Refusals struct {
	Shown []*RefusedError
	N     int
}

func (r *Refusals) add(name string, err error) {
	r.N++
	if len(r.Shown) < maxRefusalsShown {
		r.Shown = append(r.Shown, &RefusedError{Name: name, Err: err})
	}
}

// DirFile is one file of a directory download: what a directory download
// keeps of each entry of the seeds' lists, no more (a list may hold a
// million names).
type DirFile struct {
	Name string // on the seeds
	Rel  string // relative to the output directory, with '/': the end of Name
	Size int64  // as listed
}

// Out is where f appears: Rel under outdir.
func (f DirFile) Out(outdir string) string {
	return filepath.Join(outdir, filepath.FromSlash(f.Rel))
}

// listed is what a directory download keeps of a seed's list entry.
type listed struct {
	name string
	size int64
}

// workingName returns the suffix of quicxfer's own files
// (partial.WorkingSuffix) that a component of the '/'-separated rel ends
// with, or "". A directory download never writes a name that ends so, nor
// makes a directory of one: a seed could plant a forged OUT.qxpart and
// OUT.qxstate beside a file it also lists, or a .qxcmd whose command status
// shows.
func workingName(rel string) string {
	for _, elem := range strings.Split(rel, "/") {
		if suf := partial.WorkingSuffix(elem); suf != "" {
			return suf
		}
	}
	return ""
}

// selectFiles picks the entries under prefix ("" for all) and maps each to
// a path under outdir. A name that could land outside outdir is refused, and
// so is one that names one of quicxfer's own working files (workingName).
// Files come out sorted by name.
func selectFiles(entries []listed, prefix, outdir string) ([]DirFile, Refusals) {
	var files []DirFile
	var refused Refusals
	for _, e := range entries {
		rel := e.name
		if prefix != "" {
			var ok bool
			if rel, ok = strings.CutPrefix(e.name, prefix+"/"); !ok {
				continue
			}
		}
		if err := wire.CheckName(e.name); err != nil {
			refused.add(e.name, err)
			continue
		}
		if err := wire.CheckName(rel); err != nil {
			refused.add(e.name, err)
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			refused.add(e.name, ErrOutsideDir)
			continue
		}
		if suf := workingName(rel); suf != "" {
			refused.add(e.name, &WorkingNameError{Suffix: suf})
			continue
		}
		files = append(files, DirFile{Name: e.name, Rel: rel, Size: e.size})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, refused
}

// mkdirInside creates rel's directories under root (which exists) one by
// one, refusing to go through anything that is not a plain directory: a
// symbolic link there (planted or left over) would send the files
// elsewhere.
func mkdirInside(root, rel string) error { return plainDirs(root, rel, true) }

// plainDirs walks rel's directories (rel is '/'- or OS-separated) under
// root, through an os.Root of it, so that nothing outside root is reached,
// and refuses anything on the way that is not a plain directory. With
// create, a missing directory is made; without, the walk stops there
// (nothing further down exists either).
func plainDirs(root, rel string, create bool) error {
	rel = filepath.ToSlash(rel)
	if rel == "." || rel == "" {
		return nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	p := "."
	for _, elem := range strings.Split(rel, "/") {
		p = filepath.Join(p, elem)
		fi, err := r.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if !create {
				return nil
			}
			if err := r.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			fi, err = r.Lstat(p)
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory (a symbolic link or a file); refusing to write through it", ShowName(filepath.Join(root, p)))
		}
	}
	return nil
}

// ShowName is a name or path as it is printed: itself if every character in
// it is printable, else quoted with Go's escapes ("a\nb"), so that no name
// forges a line or reaches a terminal as an escape sequence. A name that
// starts with '"' is quoted too, so a quoted name is never taken for one.
func ShowName(s string) string {
	if s != "" && s[0] == '"' || !Printable(s) {
		return strconv.Quote(s)
	}
	return s
}

// Printable reports whether s is valid UTF-8 of printable characters
// (unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the
// ASCII space; no control or format character, no other space).
func Printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}
