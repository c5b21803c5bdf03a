package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// jsonNotes is the part of get's --json this file looks at.
type jsonNotes struct {
	OK        bool   `json:"ok"`
	ContentID string `json:"content_id"`
	Seeds     []struct {
		URL   string `json:"url"`
		Bytes int64  `json:"bytes"`
		Note  string `json:"note"`
	} `json:"seeds"`
}

// TestGetID: `get --id ID` takes the file only from seeds whose manifest
// hashes to ID, even when those that serve another file under the same name
// are the majority, names them, and fails in one line when no seed has it.
func TestGetID(t *testing.T) {
	good, bad := t.TempDir(), t.TempDir()
	data := writeRandom(t, filepath.Join(good, "f.bin"), 2<<20+9, 20)
	writeRandom(t, filepath.Join(bad, "f.bin"), len(data), 21)
	liar1 := startSeed(t, bad)
	liar2 := startSeed(t, bad)
	honest := startSeed(t, "--rate-limit", "10MB/s", good)
	man := run(t, "manifest", filepath.Join(good, "f.bin"))
	require.Zero(t, man.code, man.stderr)
	id := strings.TrimSpace(man.stdout)

	out := filepath.Join(t.TempDir(), "f.bin")
	r := run(t, "get", "--id", id, "--seed", liar1, "--seed", liar2, "--seed", honest, "-o", out, "--json", "--quiet", "f.bin")
	require.Zero(t, r.code, r.stderr)
	requireFile(t, out, data)
	var j jsonNotes
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j), r.stdout)
	require.True(t, j.OK)
	require.Equal(t, id, j.ContentID)
	for i, liar := range []string{liar1, liar2} {
		require.Equal(t, liar, j.Seeds[i].URL)
		require.Zero(t, j.Seeds[i].Bytes)
		require.Contains(t, j.Seeds[i].Note, "different", "the liar is named in --json")
		require.Contains(t, r.stderr, liar, "the liar is named on standard error")
	}
	require.Equal(t, int64(len(data)), j.Seeds[2].Bytes)

	// Only seeds of another file: exit 1, one line that gives the ID, nothing written.
	out2 := filepath.Join(t.TempDir(), "f.bin")
	r = run(t, "get", "--id", id, "--seed", liar1, "--seed", liar2, "-o", out2, "--quiet", "f.bin")
	require.Equal(t, 1, r.code, r.stderr)
	msg := strings.TrimSpace(r.stderr)
	require.NotContains(t, msg, "\n", "one line: %q", msg)
	require.Contains(t, msg, "content ID")
	require.Contains(t, msg, id)
	entries, err := os.ReadDir(filepath.Dir(out2))
	require.NoError(t, err)
	require.Empty(t, entries, "nothing written for a refused manifest")

	// An ID that is not one is a usage error.
	r = run(t, "get", "--id", "xyz", "--seed", honest, "-o", out2, "f.bin")
	require.Equal(t, 2, r.code, r.stderr)
	require.Contains(t, r.stderr, "--id")
}
