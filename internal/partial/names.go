package partial

import (
	"slices"
	"strings"
)

// The endings of the files a download of OUT keeps beside it: the part file
// (PartPath), the state (StatePath; the state being written, tmpStatePath)
// and the command record (CommandPath; the record being written,
// CommandTempPath). Nothing but a download writes a file with one of these
// names, and nothing serves one (seed) or writes one for a remote name
// (get DIR).
const (
	PartSuffix    = ".qxpart"
	StateSuffix   = ".qxstate"
	CommandSuffix = ".qxcmd"
	tempSuffix    = ".tmp"
)

var workingSuffixes = []string{PartSuffix, StateSuffix, StateSuffix + tempSuffix, CommandSuffix, CommandSuffix + tempSuffix}

// WorkingSuffixes returns the endings of a download's working files:
// ".qxpart", ".qxstate", ".qxstate.tmp", ".qxcmd", ".qxcmd.tmp".
func WorkingSuffixes() []string { return slices.Clone(workingSuffixes) }

// WorkingSuffix returns the ending of a download's working file that name
// (a path, a base name or a name on the wire) ends with, or "". Case is
// ignored: on a case-insensitive file system "X.QXPART" is x's part file.
func WorkingSuffix(name string) string {
	for _, s := range workingSuffixes {
		if len(name) >= len(s) && strings.EqualFold(name[len(name)-len(s):], s) {
			return s
		}
	}
	return ""
}

// IsWorkingFile reports whether name is the name of one of a download's
// working files (WorkingSuffix).
func IsWorkingFile(name string) bool { return WorkingSuffix(name) != "" }

// CommandTempPath is where the get command writes a new OUT.qxcmd before it
// replaces the old one.
func CommandTempPath(out string) string { return CommandPath(out) + tempSuffix }
