package partial

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsWorkingFile(t *testing.T) {
	// Every file a download keeps beside OUT, as this package names them.
	for _, p := range []string{PartPath("x"), StatePath("x"), tmpStatePath("x"), CommandPath("x"), CommandTempPath("x"),
		"dir/sub/f.iso.qxpart", "/abs/f.qxstate"} {
		require.True(t, IsWorkingFile(p), p)
	}
	for _, p := range []string{"x", "x.qxpart.bak", "x.qxstat", "qxpart", "x.tmp", "x.qxcmdx", ""} {
		require.False(t, IsWorkingFile(p), p)
	}
	for _, s := range WorkingSuffixes() {
		require.True(t, IsWorkingFile("f"+s), s)
	}
	// Case is ignored (a case-insensitive file system).
	require.True(t, IsWorkingFile("x.QXPART"))
	require.Equal(t, ".qxstate.tmp", WorkingSuffix("d/X.QxState.TMP"))
	// The list returned is a copy.
	WorkingSuffixes()[0] = ".other"
	require.True(t, IsWorkingFile("f.qxpart"))
}
