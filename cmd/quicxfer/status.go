package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui"
	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/internal/partial"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "the state of a partial download: blocks verified, of how many",
		ArgsUsage: "OUT",
		Description: `Reads OUT.qxstate (and OUT.qxpart, OUT.qxcmd) and shows the file, its content
ID, how many blocks are verified, a picture of which ones ('#' all blocks of
that stretch verified, '+' some, '.' none) and the command that resumes the
download. It only reads: it is safe while the download runs, and says so if
one is. For a finished download it says complete without re-checking
anything (only a regular file is a complete OUT, and files left beside it
are named); OUT a directory shows every partial download under it, skipping
with a note on standard error what it cannot read, and never walking /proc,
/sys and the like. It reads only regular files, never a FIFO or a device.

Examples:
   quicxfer status debian.iso
   quicxfer status --json debian.iso
   quicxfer status isos/          # every partial download under isos/`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of lines"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("status: give exactly one OUT")
			}
			out := c.Args().First()
			// The name of one of the download's own files stands for it.
			for _, suf := range []string{partial.PartSuffix, partial.StateSuffix, partial.CommandSuffix} {
				if stem, ok := strings.CutSuffix(out, suf); ok && stem != "" {
					if _, err := os.Stat(partial.StatePath(stem)); err == nil {
						out = stem
					} else if _, err := os.Stat(partial.PartPath(stem)); err == nil {
						out = stem
					}
				}
			}
			if fi, err := os.Stat(out); err == nil && fi.IsDir() {
				if _, err := os.Stat(partial.PartPath(out)); errors.Is(err, fs.ErrNotExist) {
					return statusDir(c, out)
				}
			}
			st, err := downloadStatus(out)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return json.NewEncoder(c.App.Writer).Encode(st)
			}
			st.Print(c.App.Writer)
			return nil
		},
	}
}

// errNoDownload: nothing of a download is at OUT.
var errNoDownload = errors.New("no download")

// downloadStatus reads what is at out without writing or locking anything.
func downloadStatus(out string) (*ui.Status, error) {
	in, err := partial.Inspect(out)
	if err != nil {
		return nil, err
	}
	if !in.Exists() {
		return nil, fmt.Errorf("%w at %s: none of %s, %s or %s exists", errNoDownload, showName(out), showName(out), showName(partial.PartPath(out)), showName(partial.StatePath(out)))
	}
	hasPartial := in.PartExists || !errors.Is(in.StateErr, fs.ErrNotExist)
	if in.OutExists && !in.OutMode.IsRegular() && !hasPartial {
		// Only a regular file can be a finished download.
		return nil, fmt.Errorf("%w at %s: %w, and neither %s nor %s exists", errNoDownload, showName(out),
			&atomicfile.NotRegularError{Path: showName(out), Mode: in.OutMode}, showName(partial.PartPath(out)), showName(partial.StatePath(out)))
	}
	st := &ui.Status{Out: out, Running: in.Running, PID: in.LockPID}
	addNote := func(note string) { st.Note = strings.TrimPrefix(st.Note+"; "+note, "; ") }
	rec, recErr := readRecord(out)
	if rec != nil {
		st.Name = rec.Name
	}
	switch {
	case !in.PartExists && in.OutExists && in.OutMode.IsRegular():
		// A state file beside a complete OUT is what a crash between
		// Finish's rename and its removal of the state leaves.
		st.State, st.Size, st.Percent = "complete", in.OutSize, 100
		var left []string
		for _, p := range []string{partial.StatePath(out), partial.CommandPath(out)} {
			if _, err := os.Lstat(p); err == nil {
				left = append(left, showName(p))
			}
		}
		id, marked, unsupported := doneMark(out)
		if marked && !id.IsZero() { // zero: a file from mirrors alone, which has no content ID
			st.ContentID = id.String()
		}
		switch {
		case len(left) == 0 && in.Refused == nil && !marked && !unsupported && rec == nil:
			// No trace of a get: a finished one marks OUT (markDone).
			return nil, &saidError{msg: fmt.Sprintf("%s exists but was not downloaded by quicxfer (no state)", showName(out)), err: errNoDownload}
		case in.Refused != nil:
			st.Note = fmt.Sprintf("not re-checked; the next get of it refuses to start: %s", showRefusal(in.Refused))
		case len(left) > 0:
			st.Note = fmt.Sprintf("not re-checked (run the get again to verify it); %s left over from its download: the next get of it removes them", strings.Join(left, " and "))
		default:
			st.Note = "nothing partial left; not re-checked (run the get again to verify it)"
		}
		return st, nil
	case in.State != nil && !in.PartExists:
		st.State = "stale"
		st.Note = fmt.Sprintf("%s exists without %s: the next get starts over", showName(partial.StatePath(out)), showName(partial.PartPath(out)))
	case in.State == nil:
		st.State, st.Size = "unreadable", in.PartSize
		why := "is missing"
		if !errors.Is(in.StateErr, fs.ErrNotExist) {
			why = "is damaged (" + in.StateErr.Error() + ")"
		}
		st.Note = fmt.Sprintf("%s %s: the next get re-checks the data in %s and keeps every block that verifies", showName(partial.StatePath(out)), why, showName(partial.PartPath(out)))
	default:
		st.State = "partial"
	}
	if s := in.State; s != nil {
		st.Size, st.ContentID, st.BlockSize, st.Blocks = s.Size, s.ID.String(), s.BlockSize, s.NumBlocks
		if s.XXH != nil {
			// Learnt from mirrors alone: its ID binds the state to the
			// file's size and checksum; it is no content ID.
			st.ContentID = ""
			addNote("from HTTP mirrors without a manifest (no content ID)")
		}
		if st.State == "partial" {
			st.BlocksVerified, st.BytesVerified = s.Verified()
			st.Bitmap = ui.Picture(s, ui.PictureWidth)
		}
		st.Percent = 100
		if s.Size > 0 {
			st.Percent = 100 * float64(st.BytesVerified) / float64(s.Size)
		}
	}
	switch {
	case in.OutExists && !in.OutMode.IsRegular():
		addNote(fmt.Sprintf("%s exists too and is not a regular file: get never replaces it", showName(out)))
	case in.OutExists:
		addNote(fmt.Sprintf("%s exists too: get checks it and uses it if it is this file, else refuses to touch it", showName(out)))
	}
	if in.Refused != nil {
		addNote("the next get refuses to start: " + showRefusal(in.Refused))
	}
	if recErr != nil {
		addNote(fmt.Sprintf("%s is not shown: %s", showName(partial.CommandPath(out)), showRefusal(recErr)))
		st.NotShown = true
	}
	if rec != nil {
		args, password, err := resumeArgs(rec)
		if err != nil {
			addNote(fmt.Sprintf("%s is not shown: %v", showName(partial.CommandPath(out)), err))
			st.NotShown = true
			return st, nil
		}
		st.ResumeArgs, st.ResumeDir, st.TokenNeeded, st.PasswordNeeded = args, rec.Dir, rec.Token, password
		st.ResumeCommand = shellQuote(args)
		if wd, err := os.Getwd(); err != nil || !sameDir(wd, rec.Dir) {
			st.ResumeCommand = "cd " + shellQuote([]string{rec.Dir}) + " && " + st.ResumeCommand
		}
	}
	return st, nil
}

// resumeArgs returns the command rec recorded as status shows it, once it
// is known to be a quicxfer get: "quicxfer", "get", then what get's own
// flags parse (at most one NAME), run in an absolute directory, every
// argument printable (a control character would reach the terminal, or
// forge a line) and a mirror URL's password redacted (password says one
// was). OUT.qxcmd is a file anyone who could write beside OUT could have
// planted: status never shows another command for the user to run.
func resumeArgs(rec *getRecord) (args []string, password bool, err error) {
	if len(rec.Args) < 2 || rec.Args[0] != "quicxfer" || rec.Args[1] != "get" {
		return nil, false, errors.New("it does not hold a quicxfer get command")
	}
	for _, a := range append([]string{rec.Dir}, rec.Args...) {
		if !printable(a) {
			return nil, false, errors.New("its command holds characters that cannot be printed")
		}
	}
	if !filepath.IsAbs(rec.Dir) {
		return nil, false, fmt.Errorf("its working directory %q is not an absolute path", rec.Dir)
	}
	set := flag.NewFlagSet("get", flag.ContinueOnError)
	set.SetOutput(io.Discard)
	for _, f := range getCommand().Flags {
		if err := f.Apply(set); err != nil {
			return nil, false, err
		}
	}
	if err := set.Parse(rec.Args[2:]); err != nil {
		return nil, false, fmt.Errorf("its get command does not parse: %v", err)
	}
	names := 0
	for _, a := range set.Args() {
		if kindOf(a) == argName {
			names++ // mirrors' URLs and a Metalink go with at most one NAME
		}
	}
	if names > 1 {
		return nil, false, fmt.Errorf("its get command has %d arguments, not one NAME", names)
	}
	args = make([]string, len(rec.Args))
	for i, a := range rec.Args {
		args[i] = redactURL(a)
		if strings.Contains(args[i], "://") && strings.Contains(args[i], ":"+redactedPassword+"@") {
			password = true
		}
	}
	return args, password, nil
}

// showRefusal is err's message as status prints it: a path in it may hold
// anything, so what cannot be printed is escaped (showName) in place.
func showRefusal(err error) string {
	msg := err.Error()
	if printable(msg) {
		return msg
	}
	q := strconv.Quote(msg)
	return q[1 : len(q)-1]
}

func sameDir(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// statusDir shows every download under dir that has partial files. What
// it cannot read (a directory without permission, a download whose files
// are refused) is skipped with a note, on standard error and in --json's
// "skipped"; a virtual file system it reaches from another (/proc, /sys,
// ...) is not walked: no download lives there.
func statusDir(c *cli.Context, dir string) error {
	outs := map[string]bool{}
	var skipped []string
	rootDev, _ := deviceOf(dir)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil && p == dir:
			return err
		case err != nil:
			skipped = append(skipped, showRefusal(err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		case d.IsDir():
			if dev, ok := deviceOf(p); ok && dev != rootDev && virtualFS(p) {
				return fs.SkipDir
			}
		case d.Type().IsRegular():
			for _, suf := range []string{partial.PartSuffix, partial.StateSuffix} {
				if base, ok := strings.CutSuffix(p, suf); ok {
					outs[base] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	list := make([]string, 0, len(outs))
	for o := range outs {
		list = append(list, o)
	}
	sort.Strings(list)
	all := []*ui.Status{}
	for _, o := range list {
		st, err := downloadStatus(o)
		if errors.Is(err, errNoDownload) {
			continue // gone since the walk found it
		}
		if err != nil {
			skipped = append(skipped, showRefusal(err))
			continue
		}
		all = append(all, st)
	}
	if len(skipped) > 0 {
		const show = 3
		more := ""
		if len(skipped) > show {
			more = fmt.Sprintf(" and %d more", len(skipped)-show)
		}
		fmt.Fprintf(c.App.ErrWriter, "quicxfer: status: skipped %d it could not read: %s%s\n", len(skipped), strings.Join(skipped[:min(show, len(skipped))], "; "), more)
	}
	if c.Bool("json") {
		return json.NewEncoder(c.App.Writer).Encode(ui.StatusDir{Dir: dir, Files: all, Skipped: skipped})
	}
	if len(all) == 0 {
		fmt.Fprintf(c.App.Writer, "%s: no partial download under it\n", showName(dir))
	}
	for _, st := range all {
		st.Print(c.App.Writer)
	}
	return nil
}

// deviceOf returns the device of the file system p is on.
func deviceOf(p string) (uint64, bool) {
	var st unix.Stat_t
	if unix.Lstat(p, &st) != nil {
		return 0, false
	}
	return uint64(st.Dev), true
}

// virtualFS reports whether the directory p is on a file system of the
// kernel's own (procfs, sysfs, cgroups, ...), where no download is kept and
// a walk meets only unreadable or endless entries.
func virtualFS(p string) bool {
	var st unix.Statfs_t
	if unix.Statfs(p, &st) != nil {
		return false
	}
	switch uint32(st.Type) {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.DEVPTS_SUPER_MAGIC, unix.CGROUP_SUPER_MAGIC,
		unix.CGROUP2_SUPER_MAGIC, unix.DEBUGFS_MAGIC, unix.TRACEFS_MAGIC, unix.SECURITYFS_MAGIC,
		unix.BPF_FS_MAGIC, unix.PSTOREFS_MAGIC, unix.NSFS_MAGIC, unix.EFIVARFS_MAGIC, unix.SELINUX_MAGIC,
		unix.SMACK_MAGIC, unix.BINFMTFS_MAGIC, unix.HUGETLBFS_MAGIC, unix.RDTGROUP_SUPER_MAGIC:
		return true
	}
	return false
}
