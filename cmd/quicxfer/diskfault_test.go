package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGetDiskFull: `get` into a file system too small for the file exits 1
// with one line on standard error that says the disk is full, leaves no
// OUT, and the same command completes once there is room, resuming what
// fitted. (The downloader's other disk faults are tested in package
// quicxfer.)
func TestGetDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	outDir := t.TempDir()
	if b, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", outDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, b)
	}
	t.Cleanup(func() {
		if b, err := exec.Command("umount", outDir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", outDir, err, b)
		}
	})
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), 4<<20+1, 30)
	u := startSeed(t, dir)
	out := filepath.Join(outDir, "f.bin")
	args := []string{"get", "--seed", u, "-o", out, "--json", "--quiet", "f.bin"}

	r := run(t, args...)
	require.Equal(t, 1, r.code, r.stderr)
	msg := strings.TrimSpace(r.stderr)
	require.NotContains(t, msg, "\n", "one line: %q", msg)
	require.Contains(t, msg, "no space left on device")
	require.NotContains(t, msg, "panic")
	_, err := os.Stat(out)
	require.ErrorIs(t, err, os.ErrNotExist)

	b, err := exec.Command("mount", "-o", "remount,size=16m", outDir).CombinedOutput()
	require.NoError(t, err, "%s", b)
	r = run(t, args...)
	require.Zero(t, r.code, r.stderr)
	var j getJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j))
	require.Positive(t, j.ResumedBytes, "what fitted is kept")
	requireFile(t, out, data)
}
