package manifest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
)

// TestWriteFileReplacesOnlyManifests: WriteFile replaces a manifest file
// (even a damaged one) and nothing else; a symbolic link is never followed.
func TestWriteFileReplacesOnlyManifests(t *testing.T) {
	data := randomBytes(t, MinBlockSize+3, 11)
	m, err := Build(context.Background(), bytes.NewReader(data), int64(len(data)), 0)
	require.NoError(t, err)
	other := randomBytes(t, 100, 12)
	om, err := Build(context.Background(), bytes.NewReader(other), int64(len(other)), 0)
	require.NoError(t, err)

	for _, tc := range []struct {
		name    string
		plant   func(t *testing.T, path string) // what is at path before
		replace bool
	}{
		{"nothing", func(*testing.T, string) {}, true},
		{"a manifest file", func(t *testing.T, p string) { require.NoError(t, om.WriteFile(p)) }, true},
		{"a damaged manifest file", func(t *testing.T, p string) {
			require.NoError(t, os.WriteFile(p, append([]byte(fileMagic), "garbage"...), 0o644))
		}, true},
		{"an 8 MiB data file", func(t *testing.T, p string) { require.NoError(t, os.WriteFile(p, randomBytes(t, 8<<20, 13), 0o644)) }, false},
		{"an empty file", func(t *testing.T, p string) { require.NoError(t, os.WriteFile(p, nil, 0o644)) }, false},
		{"a directory", func(t *testing.T, p string) { require.NoError(t, os.Mkdir(p, 0o755)) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f.qxm")
			tc.plant(t, p)
			before, _ := os.ReadFile(p)
			err := m.WriteFile(p)
			if tc.replace {
				require.NoError(t, err)
				got, err := ReadFile(p)
				require.NoError(t, err)
				require.Equal(t, m.ID(), got.ID())
				return
			}
			require.ErrorIs(t, err, ErrNotReplaceable)
			require.Contains(t, err.Error(), p)
			require.ErrorIs(t, CheckReplaceable(p), ErrNotReplaceable)
			after, _ := os.ReadFile(p)
			require.True(t, bytes.Equal(before, after), "left as it was")
			entries, err := os.ReadDir(filepath.Dir(p))
			require.NoError(t, err)
			require.Len(t, entries, 1, "no temporary file left beside it")
		})
	}

	t.Run("a symbolic link", func(t *testing.T) {
		for name, target := range map[string][]byte{"to a data file": []byte("precious"), "to a manifest file": om.MarshalFile()} {
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				victim := filepath.Join(dir, "victim")
				require.NoError(t, os.WriteFile(victim, target, 0o644))
				p := filepath.Join(dir, "f.qxm")
				require.NoError(t, os.Symlink(victim, p))
				require.ErrorIs(t, m.WriteFile(p), atomicfile.ErrSymlink)
				got, err := os.ReadFile(victim)
				require.NoError(t, err)
				require.Equal(t, target, got)
				require.True(t, atomicfile.IsSymlink(p))
			})
		}
	})
}
