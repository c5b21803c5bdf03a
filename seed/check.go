package seed

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

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
// parse, the state directory is (or can be made) a writable directory, the
// certificate and key (the operator's, or the self-signed pair in the state
// directory if it is there) load, the client CA file holds certificates,
// and every PATH exists and can be read; it lists the files that would be
// served and opens each one, but hashes nothing, binds nothing and writes
// nothing. Files that cannot be opened are counted and logged at warning
// level (a running seed skips them); a PATH that cannot be served is an
// error.
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
		fh, err := f.root.Open(f.rel)
		var fi fs.FileInfo
		if err == nil {
			err = g.check(fh, f.Path)
			if err == nil {
				fi, err = fh.Stat()
			}
			fh.Close()
		}
		if notServable(err) {
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

// checkStateDir checks that dir is a directory the seed can write, or that
// the nearest directory above it that exists is one (New makes the rest).
// It returns dir's resolved absolute path (as New computes it, to leave it
// out of the files served) and whether dir does not exist yet.
func checkStateDir(dir string) (abs string, isNew bool, err error) {
	abs, err = filepath.Abs(dir)
	if err != nil {
		return "", false, fmt.Errorf("state directory: %w", err)
	}
	p := abs
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return "", false, fmt.Errorf("state directory %s: %s is not a directory", dir, p)
			}
			if err := unix.Access(p, unix.W_OK|unix.X_OK); err != nil {
				return "", false, fmt.Errorf("state directory %s: %s is not writable: %w", dir, p, err)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", false, fmt.Errorf("state directory: %w", err)
		}
		isNew = true
		parent := filepath.Dir(p)
		if parent == p {
			return "", false, fmt.Errorf("state directory %s: no existing parent", dir)
		}
		p = parent
	}
	if !isNew {
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			abs = r
		}
	}
	return abs, isNew, nil
}
