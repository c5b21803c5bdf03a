package partial

import (
	"slices"
	"strings"
)

// workingSuffixes are the endings of the files a download of OUT keeps
// beside it: PartPath, StatePath and the state file being written (see
// tmpStatePath), CommandPath and the record the get command is writing.
// Nothing but a download writes a file with one of these names, and nothing
// serves one (seed) or writes one for a remote name (get DIR).
var workingSuffixes = []string{".qxpart", ".qxstate", ".qxstate.tmp", ".qxcmd", ".qxcmd.tmp"}

// WorkingSuffixes returns the endings of a download's working files:
// ".qxpart", ".qxstate", ".qxstate.tmp", ".qxcmd", ".qxcmd.tmp".
func WorkingSuffixes() []string { return slices.Clone(workingSuffixes) }

// IsWorkingFile reports whether name (a path, a base name or a name on the
// wire, with '/' or the OS's separator) is the name of one of a download's
// working files: whether it ends with one of WorkingSuffixes. The match is
// exact, as the files are made (".QXPART" is another name).
func IsWorkingFile(name string) bool {
	for _, s := range workingSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}
