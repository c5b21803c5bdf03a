package main

import (
	"debug/buildinfo"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVersionLine: the module version, the commit and whether the tree was
// modified, the Go version; "(devel)" when no version was stamped.
func TestVersionLine(t *testing.T) {
	info := func(v string, settings ...debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/quicxfer/quicxfer", Version: v}, Settings: settings}
	}
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "01d6c0e0123456789abcdef0123456789abcdef0"}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"release", info("v1.4.0", rev, debug.BuildSetting{Key: "vcs.modified", Value: "false"}),
			"quicxfer v1.4.0 (commit 01d6c0e0123456789abcdef0123456789abcdef0; go1.26.8)"},
		{"modified checkout", info("(devel)", rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"}),
			"quicxfer (devel) (commit 01d6c0e0123456789abcdef0123456789abcdef0, modified; go1.26.8)"},
		{"no vcs", info(""), "quicxfer (devel) (go1.26.8)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, version(tc.info, true))
		})
	}
	require.Contains(t, version(nil, false), "unknown version")
}

// TestVersion: --version and the version command print the binary's own
// build information in one line and exit 0.
func TestVersion(t *testing.T) {
	info, err := buildinfo.ReadFile(bin)
	require.NoError(t, err)
	want := version(info, true) + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := runRefused(t, args...)
		require.Zero(t, r.code, r.stderr)
		require.Equal(t, want, r.stdout, args)
		require.True(t, strings.HasPrefix(r.stdout, "quicxfer "))
		require.Empty(t, r.stderr)
	}
	requireUsage(t, runRefused(t, "version", "extra"), "version: takes no arguments")
}
