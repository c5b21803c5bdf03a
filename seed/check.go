package seed

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/internal/pemfile"
)

// CheckResult is what Check found.
type CheckResult struct {
	Listen        string // the UDP address, as given
	MetricsListen string // "" without metrics
	StateDir      string
	StateDirNew   bool   // the state directory does not exist yet; New will make it
	Certificate   string // "operator", "self-signed" (in the state directory) or "self-signed, to be made"
	Paths         int
	Files         int   // files that would be served (before hashing)
	Bytes         int64 // their total size
	Unreadable    int   // files found that cannot be opened (each logged as a warning)
	Tokens        int
	ClientCA      bool
}

// Check validates opts without serving: the listen and metrics addresses
// parse, the state directory is (or can be made) a directory the seed can
// write (tried, see checkStateDir), the certificate and key (the
// operator's, or the self-signed pair in the state directory if it is
// there) load, the client CA file holds certificates, and every PATH exists
// and can be read; it lists the files that would be served and opens each
// one, but hashes nothing, binds nothing and leaves nothing behind (what it
// makes to try the state directory it removes). Files that cannot be
// opened are counted and logged at warning level (a running seed skips
// them); a PATH that cannot be served is an error.
func Check(opts Options) (CheckResult, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return CheckResult{}, err
	}
	log := o.Logger
	res := CheckResult{
		Listen: o.Listen, MetricsListen: o.MetricsListen, StateDir: o.StateDir,
		Paths: len(o.Paths), Tokens: len(o.Tokens), ClientCA: o.ClientCAFile != "",
	}
	if _, err := net.ResolveUDPAddr("udp", o.Listen); err != nil {
		return res, fmt.Errorf("listen address %q: %w", o.Listen, err)
	}
	if o.MetricsListen != "" {
		if _, err := net.ResolveTCPAddr("tcp", o.MetricsListen); err != nil {
			return res, fmt.Errorf("metrics address %q: %w", o.MetricsListen, err)
		}
	}
	stateAbs, isNew, err := checkStateDir(o.StateDir)
	if err != nil {
		return res, err
	}
	res.StateDirNew = isNew
	switch {
	case o.CertFile != "":
		if _, err := pemfile.KeyPair(o.CertFile, o.KeyFile); err != nil {
			return res, fmt.Errorf("loading certificate %s: %w", o.CertFile, err)
		}
		res.Certificate = "operator"
	default:
		res.Certificate = "self-signed, to be made"
		keyPath, certPath := filepath.Join(o.StateDir, keyFileName), filepath.Join(o.StateDir, certFileName)
		if _, err := os.Stat(certPath); err == nil {
			if _, err := pemfile.KeyPair(certPath, keyPath); err != nil {
				return res, fmt.Errorf("loading the seed's certificate from %s: %w", o.StateDir, err)
			}
			res.Certificate = "self-signed"
		}
	}
	if o.ClientCAFile != "" {
		if _, err := loadClientCAs(o.ClientCAFile); err != nil {
			return res, err
		}
	}

	g := newGuard(stateAbs, keyFiles(o)...)
	roots, files, err := scan(o.Paths, g, log)
	if err != nil {
		return res, err
	}
	defer func() {
		for _, r := range roots {
			r.Close()
		}
	}()
	for _, f := range files {
		fh, fi, err := openRegular(f.root, f.rel)
		if err == nil {
			err = g.check(fh, f.Path)
			fh.Close()
		}
		if notServable(err) || errors.Is(err, atomicfile.ErrNotRegular) {
			log.Warn("the seed would not serve this file", "path", f.Path, "err", err)
			continue
		}
		if err != nil {
			res.Unreadable++
			log.Warn("cannot read a file; the seed would skip it", "path", f.Path, "err", err)
			continue
		}
		res.Files++
		res.Bytes += fi.Size()
	}
	return res, nil
}

// checkStateDir checks that New can do with dir what it will: make it
// (and the directories above it that are missing) if it does not exist,
// make its "manifests" directory if that is missing, and write files in
// both. It tries what it can instead of reading permission bits, which say
// nothing of a read-only mount or a file system such as /proc: it makes a
// temporary file (or, where a directory is to be made, a temporary
// directory with a file in it) in each place New will write, and removes
// it. A symbolic link that leads nowhere, where New would make a
// directory, is an error, as it is for New. It returns dir's resolved
// absolute path (as New computes it, to leave it out of the files served)
// and whether dir does not exist yet.
func checkStateDir(dir string) (abs string, isNew bool, err error) {
	abs, err = filepath.Abs(dir)
	if err != nil {
		return "", false, fmt.Errorf("state directory: %w", err)
	}
	fail := func(format string, args ...any) (string, bool, error) {
		return "", false, fmt.Errorf("state directory %s: %s", dir, fmt.Sprintf(format, args...))
	}
	// The nearest directory at or above abs that exists.
	p := abs
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fail("%s is not a directory", p)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fail("%v", err)
		}
		if _, lerr := os.Lstat(p); lerr == nil {
			target, _ := os.Readlink(p)
			return fail("%s is a symbolic link to %s, which does not exist; make that directory or give another", p, target)
		}
		isNew = true
		parent := filepath.Dir(p)
		if parent == p {
			return fail("no existing parent")
		}
		p = parent
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return fail("%v", err)
	}
	if isNew {
		rest, err := filepath.Rel(p, abs)
		if err != nil {
			return fail("%v", err)
		}
		if err := probeWrite(real, true); err != nil {
			return fail("cannot make it in %s: %v", p, err)
		}
		return filepath.Join(real, rest), true, nil
	}
	if err := probeWrite(real, false); err != nil {
		return fail("cannot write in it: %v", err)
	}
	cache := filepath.Join(real, "manifests")
	fi, err := os.Stat(cache)
	switch {
	case err == nil && !fi.IsDir():
		return fail("%s is not a directory", cache)
	case err == nil:
		if err := probeWrite(cache, false); err != nil {
			return fail("cannot write in %s: %v", cache, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fail("%v", err)
	default:
		if _, lerr := os.Lstat(cache); lerr == nil {
			target, _ := os.Readlink(cache)
			return fail("%s is a symbolic link to %s, which does not exist", cache, target)
		}
		if err := probeWrite(real, true); err != nil {
			return fail("cannot make %s: %v", cache, err)
		}
	}
	return real, false, nil
}

// probeWrite makes a temporary file in dir, or, with mkdir, a temporary
// directory with a file in it, and removes what it made.
func probeWrite(dir string, mkdir bool) error {
	if mkdir {
		d, err := os.MkdirTemp(dir, ".quicxfer-check-")
		if err != nil {
			return err
		}
		defer os.Remove(d)
		dir = d
	}
	f, err := os.CreateTemp(dir, ".quicxfer-check-")
	if err != nil {
		return err
	}
	name := f.Name()
	err = f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}
