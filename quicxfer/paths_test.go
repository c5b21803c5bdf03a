package quicxfer

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSelectFiles checks the mapping of listed names to paths in OUTDIR,
// including names a lying listing could hold: a name that would land
// outside OUTDIR, and one that names quicxfer's own working files (a file or
// a directory of that name, in any case), whether or not its stem is listed
// too.
func TestSelectFiles(t *testing.T) {
	entries := []listed{
		{"docs/b/c", 2}, {"docs/a", 1}, {"docsx/y", 0},
		{"docs/../etc/passwd", 0}, {"/abs", 0}, {"docs/./x", 0},
		{"docs/a.qxpart", 0}, {"docs/lone.qxpart", 0}, {"docs/lone.qxstate", 0},
		{"docs/lone.qxcmd", 0}, {"docs/x.qxstate.tmp", 0}, {"docs/x.qxcmd.tmp", 0},
		{"docs/d.qxpart/inside", 0}, {"docs/qxpart", 3}, {"docs/a.qxpart.old", 4}, {"docs/A.QxPart", 0},
		{"other", 0},
	}
	files, refused := selectFiles(entries, "docs", "out")
	require.Equal(t, []DirFile{
		{Name: "docs/a", Rel: "a", Size: 1},
		{Name: "docs/a.qxpart.old", Rel: "a.qxpart.old", Size: 4},
		{Name: "docs/b/c", Rel: "b/c", Size: 2},
		{Name: "docs/qxpart", Rel: "qxpart", Size: 3},
	}, files)
	require.Equal(t, filepath.Join("out", "b", "c"), files[2].Out("out"))
	require.Equal(t, 10, refused.N, "%q", refused.Shown)
	require.Len(t, refused.Shown, 10)
	require.Contains(t, refused.Shown[0].Error(), "..")
	for _, r := range refused.Shown[2:] {
		require.Contains(t, r.Error(), "a directory download never writes one")
	}

	files, refused = selectFiles(entries, "", ".")
	require.Len(t, files, 6)
	require.Equal(t, 11, refused.N, "%q", refused.Shown) // "/abs" as well
	require.Len(t, refused.Shown, maxRefusalsShown, "the rest are counted")
}
