package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui"
	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// getRecord is what OUT.qxcmd holds: how the get that writes OUT was
// called, so that `quicxfer status OUT` can say which command resumes it.
// The state file (OUT.qxstate, with its checksum) is untouched by this; a
// download without a record resumes all the same, status just cannot name
// the command.
type getRecord struct {
	Version int      `json:"version"`
	Name    string   `json:"name"`            // the file's name on the seeds
	Args    []string `json:"args"`            // the whole command, "quicxfer", "get", flags, NAME; no token
	Dir     string   `json:"dir"`             // the working directory it ran in (relative paths in Args are relative to it)
	Token   bool     `json:"token,omitempty"` // an access token was given; it is never recorded
}

const getRecordVersion = 1

// commandArgs rebuilds the command line of c from the flags that were set
// (on the command line or from the environment), so that it runs the same
// way without that environment. The access token is left out: it is a
// secret and must not land in a file; the record says one was given. So is
// the password of a mirror URL (redactURL).
func commandArgs(c *cli.Context, positional ...string) (args []string, token bool) {
	args = []string{"quicxfer", c.Command.Name}
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		if !c.IsSet(name) {
			continue
		}
		if name == "token" {
			token = true
			continue
		}
		switch f.(type) {
		case *cli.BoolFlag:
			if c.Bool(name) {
				args = append(args, "--"+name)
			} else {
				args = append(args, "--"+name+"=false")
			}
		case *cli.StringSliceFlag:
			for _, v := range c.StringSlice(name) {
				// A mirror URL's password is never recorded (status
				// says to put it back in place of xxxxx).
				args = append(args, "--"+name, redactURL(v))
			}
		default:
			args = append(args, "--"+name, fmt.Sprint(c.Value(name)))
		}
	}
	if len(positional) > 0 && strings.HasPrefix(positional[0], "-") {
		args = append(args, "--")
	}
	return append(args, positional...), token
}

// writeRecord writes OUT.qxcmd for a get about to download name into out.
// It leaves alone the record of a download that another process is running
// now. It is best effort: without it status only cannot name the command,
// and whatever kept it from being written (a missing or read-only
// directory, a full disk) stops the download itself with its own one-line
// error, so a second line about the record would only repeat it.
//
// It writes nothing while any of the download's working files is not its
// own (partial.CheckPaths: a symbolic link, a hard link, a FIFO, ...; or a
// name too long) and leaves that file where it is: the download then
// refuses it in one line. The record goes into a new file (O_EXCL) renamed
// over OUT.qxcmd, never into an existing one.
func writeRecord(c *cli.Context, out, name string, positional ...string) {
	_ = tryWriteRecord(c, out, name, positional...)
}

func tryWriteRecord(c *cli.Context, out, name string, positional ...string) error {
	if err := partial.CheckPaths(out); err != nil {
		return err
	}
	if in, err := partial.Inspect(out); err == nil && in.Running && in.LockPID != os.Getpid() {
		return nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	args, token := commandArgs(c, positional...)
	b, err := json.Marshal(getRecord{Version: getRecordVersion, Name: name, Args: args, Dir: dir, Token: token})
	if err != nil {
		return err
	}
	path := partial.CommandPath(out)
	// Not synced: a record lost in a crash only keeps status from naming
	// the command.
	return atomicfile.Write(path, append(b, '\n'), atomicfile.Options{Temp: partial.CommandTempPath(out), Perm: 0o644, NoSync: true})
}

// endRecord removes OUT.qxcmd when nothing is left to resume: the download
// finished, or it ended before it made a part file (or removed the empty
// one it made). Only a plain file there can be the record: a symbolic link,
// a hard link (another name of someone's file), a FIFO stay.
func endRecord(out string) {
	if _, err := os.Lstat(partial.PartPath(out)); errors.Is(err, fs.ErrNotExist) && atomicfile.CheckPlain(partial.CommandPath(out)) == nil {
		_ = os.Remove(partial.CommandPath(out))
	}
}

// maxRecordLen bounds OUT.qxcmd: far more than any get command line.
const maxRecordLen = 1 << 20

// errNoRecord: OUT.qxcmd does not hold a get's record.
var errNoRecord = errors.New("it does not hold the record of a quicxfer get")

// readRecord reads OUT.qxcmd: nil and nil if there is none; an error if it
// is not a regular file (a symbolic link is not followed, a FIFO does not
// block), is larger than maxRecordLen, or does not parse (errNoRecord).
func readRecord(out string) (*getRecord, error) {
	b, err := atomicfile.ReadFileNoFollow(partial.CommandPath(out), maxRecordLen)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, err
	}
	var r getRecord
	if json.Unmarshal(b, &r) != nil || r.Version != getRecordVersion || len(r.Args) < 2 {
		return nil, errNoRecord
	}
	return &r, nil
}

// shellQuote quotes each argument for a POSIX shell where it needs it (a
// seed URL's '?' is a glob character) and joins them.
func shellQuote(args []string) string { return ui.ShellQuote(args) }

// doneAttr is the extended attribute a finished get leaves on OUT: the
// file's content ID, so that status can tell a file quicxfer downloaded
// (all its working files gone) from one that was only put there.
const doneAttr = "user.quicxfer.content_id"

// markDone sets doneAttr on out, complete and verified as id. It is best
// effort: a file system without user attributes keeps no mark, and status
// then says complete as it did before there was one.
func markDone(out string, id manifest.ID) {
	_ = unix.Lsetxattr(out, doneAttr, []byte(id.String()), 0)
}

// doneMark reads doneAttr of out: the content ID a get recorded (ok), or
// that the file system keeps no user attributes (unsupported).
func doneMark(out string) (id manifest.ID, ok, unsupported bool) {
	buf := make([]byte, 128)
	n, err := unix.Lgetxattr(out, doneAttr, buf)
	switch {
	case errors.Is(err, unix.ENOTSUP):
		return manifest.ID{}, false, true
	case err != nil:
		return manifest.ID{}, false, false
	}
	id, err = manifest.ParseID(string(buf[:n]))
	return id, err == nil, false
}
