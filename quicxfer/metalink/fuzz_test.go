package metalink_test

import (
	"bytes"
	"cmp"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/metalink"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// keeps the promises of the package doc (requireValid).
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.meta4", "testdata/*.metalink", "testdata/hostile/*"} {
		paths, err := filepath.Glob(pattern)
		require.NoError(f, err)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			require.NoError(f, err)
			f.Add(b)
		}
	}
	f.Add([]byte(`<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="a"><size>2048</size>` +
		`<pieces length="1024" type="sha-1"><hash>0000000000000000000000000000000000000000</hash>` +
		`<hash>0000000000000000000000000000000000000000</hash></pieces><url>http://h/a</url></file></metalink>`))
	f.Add([]byte(`<metalink version="3.0" xmlns="http://www.metalinker.org/"><files><file name="a/b"><size>1</size>` +
		`<resources><url type="ftp" preference="7">http://h/a</url></resources></file></files></metalink>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ml, err := metalink.Parse(bytes.NewReader(data))
		if err != nil {
			require.Nil(t, ml)
			return
		}
		requireValid(t, ml)
	})
}

// requireValid fails t unless ml keeps every promise Parse makes of what it
// returns.
func requireValid(t testing.TB, ml *metalink.Metalink) {
	t.Helper()
	require.Contains(t, []int{3, 4}, ml.Version)
	require.NotEmpty(t, ml.Files)
	require.LessOrEqual(t, len(ml.Files), metalink.MaxFiles)
	require.LessOrEqual(t, len(ml.Notes), metalink.MaxNotes+1)
	names := make(map[string]bool)
	for _, f := range ml.Files {
		require.NoError(t, wire.CheckName(f.Name))
		require.False(t, names[f.Name], "name %q twice", f.Name)
		names[f.Name] = true

		require.True(t, f.Size == -1 || 0 <= f.Size && f.Size <= metalink.MaxFileSize, "size %d", f.Size)
		rank := map[verify.Algo]int{verify.SHA512: 0, verify.SHA256: 1, verify.SHA1: 2, verify.MD5: 3}
		for i, h := range f.Hashes {
			require.Len(t, h.Sum, h.Algo.Size(), "%s hash", h.Algo)
			if i > 0 {
				require.Less(t, rank[f.Hashes[i-1].Algo], rank[h.Algo], "hashes strongest first, one per function")
			}
		}
		if f.Hash() != nil {
			require.Equal(t, f.Hashes[0], *f.Hash())
		}
		if p := f.Pieces; p != nil {
			require.GreaterOrEqual(t, f.Size, int64(0), "pieces need the size")
			require.True(t, metalink.MinPieceLen <= p.Length && p.Length <= metalink.MaxPieceLen, "piece length %d", p.Length)
			n := (f.Size + p.Length - 1) / p.Length
			require.EqualValues(t, n, len(p.Sums))
			require.LessOrEqual(t, len(p.Sums), metalink.MaxPieces)
			for _, s := range p.Sums {
				require.Len(t, s, p.Algo.Size())
			}
		}
		plan, err := f.Plan()
		require.NoError(t, err)
		require.Equal(t, f.Pieces != nil, plan.Checkable())

		require.LessOrEqual(t, len(f.Mirrors), metalink.MaxMirrors)
		require.True(t, slices.IsSortedFunc(f.Mirrors, func(a, b metalink.Mirror) int {
			return cmp.Compare(rankOf(a), rankOf(b))
		}), "mirrors by priority")
		urls := make(map[string]bool)
		for _, m := range f.Mirrors {
			u, err := url.Parse(m.URL)
			require.NoError(t, err)
			require.Contains(t, []string{"http", "https"}, u.Scheme)
			require.NotEmpty(t, u.Host)
			require.False(t, urls[m.URL], "URL %q twice", m.URL)
			urls[m.URL] = true
			require.True(t, 0 <= m.Priority && m.Priority <= 999999, "priority %d", m.Priority)
			require.Regexp(t, `^([a-z]{2})?$`, m.Location)
		}
	}
}

func rankOf(m metalink.Mirror) int {
	if m.Priority == 0 {
		return 1 << 30
	}
	return m.Priority
}
