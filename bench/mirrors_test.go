package bench

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/metalink"
	qxverify "github.com/quicxfer/quicxfer/quicxfer/verify"
)

// TestMeta4 writes scenario 12's Metalink and reads it with quicxfer's
// parser: the name, size, whole hash, every piece hash, and the liar
// first at priority 1.
func TestMeta4(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, fileName)
	const size = 3<<20 + 12345
	want, err := writeFile(src, size)
	require.NoError(t, err)
	urls := []string{"http://10.199.0.2/bench.bin", "http://10.199.1.2/bench.bin", "http://10.199.2.2/a&b.bin", "http://10.199.3.2/bench.bin"}
	path := filepath.Join(dir, "bench.meta4")
	require.NoError(t, writeBenchMeta4(path, src, size, want, DefaultPieceLength, urls, 3))

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	ml, err := metalink.Parse(f)
	require.NoError(t, err)
	require.Equal(t, 4, ml.Version)
	require.Len(t, ml.Files, 1)
	mf := ml.Files[0]
	require.Equal(t, fileName, mf.Name)
	require.EqualValues(t, size, mf.Size)
	require.Equal(t, qxverify.SHA256, mf.Hash().Algo)
	require.Equal(t, want[:], mf.Hash().Sum)
	require.NotNil(t, mf.Pieces)
	require.EqualValues(t, DefaultPieceLength, mf.Pieces.Length)
	require.Equal(t, qxverify.SHA256, mf.Pieces.Algo)
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	require.Len(t, mf.Pieces.Sums, (size+DefaultPieceLength-1)/DefaultPieceLength)
	for i, sum := range mf.Pieces.Sums {
		piece := data[i*DefaultPieceLength : min((i+1)*DefaultPieceLength, size)]
		h := sha256.Sum256(piece)
		require.Equal(t, h[:], sum, "piece %d", i)
	}
	var got []string
	for _, m := range mf.Mirrors {
		got = append(got, m.URL)
	}
	require.Equal(t, []string{urls[3], urls[0], urls[1], urls[2]}, got, "the liar first, then in order")
	require.Equal(t, 1, mf.Mirrors[0].Priority)
	require.Equal(t, 4, mf.Mirrors[3].Priority)
	_, err = mf.Plan()
	require.NoError(t, err)
}

func TestWriteLiar(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "liar", "src")
	_, err := writeFile(src, 2<<20+7)
	require.NoError(t, err)
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, os.Chtimes(src, mtime, mtime))
	require.NoError(t, writeLiar(src, dst))
	a, err := os.ReadFile(src)
	require.NoError(t, err)
	b, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.Len(t, b, len(a))
	for i := range a {
		if a[i]^liarXOR != b[i] {
			t.Fatalf("byte %d: %#x, want %#x", i, b[i], a[i]^liarXOR)
		}
	}
	fi, err := os.Stat(dst)
	require.NoError(t, err)
	require.True(t, fi.ModTime().Equal(mtime), "the liar's Last-Modified is the source's")
}

func TestBlockRanges(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{
		{nil, "none"},
		{[]int{4}, "4"},
		{[]int{0, 1, 2}, "0-2"},
		{[]int{9, 0, 4, 1, 4}, "0-1, 4, 9"},
		{[]int{3, 5, 7, 8, 9, 11}, "3, 5, 7-9, 11"},
	} {
		require.Equal(t, tc.want, blockRanges(tc.in), "%v", tc.in)
	}
}

func TestMirrorIndex(t *testing.T) {
	urls := []string{"http://10.199.0.2/bench.bin", "http://10.199.1.2:80/bench.bin"}
	for _, tc := range []struct {
		u    string
		want int
	}{
		{"http://10.199.0.2/bench.bin", 0},
		{"http://10.199.0.2:80/bench.bin", 0},
		{"http://10.199.1.2/bench.bin", 1},
		{"http://10.199.9.2/bench.bin", -1},
		{"::not a url", -1},
	} {
		require.Equal(t, tc.want, mirrorIndex(urls, tc.u), tc.u)
	}
}

func TestShownArgs(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	got := shownArgs([]string{"get", "--checksum", "sha-256=" + sum, "-o", "/tmp/x/out.bin", "/tmp/x/bench.meta4"}, "/tmp/x/out.bin")
	require.Equal(t, []string{"get", "--checksum", "sha-256=HEX", "-o", "OUT", "bench.meta4"}, got)
}

// TestHTTPMirrorsScenario runs scenario 12 small with the binary: (a) and
// (b) where kernel links and nginx can be had (skipped, with the reason,
// elsewhere), (c) everywhere. Every output is byte-identical, the liar has
// nothing accepted, and each protocol is the one asked for. No timing is
// checked.
func TestHTTPMirrorsScenario(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := fast
	o.Exe = buildBinary(t)
	sc := ScenarioHTTPMirrors(3 << 20)
	sc.Mirrors.Rounds, sc.Mirrors.H3Rounds = 2, 1
	r, err := Run(ctx, sc, t.TempDir(), o)
	require.NoError(t, err)
	m := r.Mirrors
	require.NotNil(t, m)
	require.True(t, r.DownloaderInChild)
	require.InDelta(t, float64(sc.FileSize)/(70*MB), r.Ideal, 1e-12)

	if why := MirrorsUnavailable(); why != "" {
		t.Logf("(a) and (b) skipped: %s", why)
		require.Equal(t, why, m.Skipped)
		require.Nil(t, m.Mirrors)
		require.Nil(t, m.Metalink)
	} else {
		require.Empty(t, m.Skipped)
		a := m.Mirrors
		require.NotNil(t, a)
		q := a.Quicxfer
		require.Empty(t, q.Err)
		require.True(t, q.Identical)
		require.True(t, q.Verified, "--checksum verifies the file")
		require.True(t, r.Verified)
		require.Len(t, q.Sources, 3)
		var accepted, sent int64
		for _, s := range q.Sources {
			accepted += s.Bytes
			sent += s.Sent
			require.Equal(t, "HTTP/1.1", s.Protocol)
		}
		require.Equal(t, sc.FileSize, accepted, "every byte accepted once")
		require.GreaterOrEqual(t, sent, sc.FileSize, "nginx's access logs count what was sent")
		require.Positive(t, q.CPUSeconds)
		require.Positive(t, q.TimeOverIdeal)

		require.Len(t, a.QuicxferRuns, 2)
		b := m.Metalink
		require.NotNil(t, b)
		require.Len(t, b.QuicxferRuns, 2)
		for _, q := range b.QuicxferRuns {
			require.Empty(t, q.Err)
			require.True(t, q.Identical)
			require.True(t, q.Verified)
			require.Len(t, q.Sources, 4)
			liar, ok := liarSource(q)
			require.True(t, ok)
			require.Zero(t, liar.Bytes, "nothing accepted from the liar")
			for u, blocks := range q.Rejected {
				if u != liar.URL {
					require.Empty(t, blocks, "an honest mirror's block rejected")
				}
			}
			require.Len(t, q.Rejected[liar.URL], int(liar.BadBlocks), "one block_rejected event per bad block")
		}

		if m.Aria2Skipped == "" {
			require.Len(t, a.Aria2, len(Aria2Variants(Scenario{Seeds: sc.Seeds[:3]})))
			for _, run := range a.Aria2 {
				require.Empty(t, run.Err, run.Options)
				require.True(t, run.Identical, run.Options)
			}
			// With the liar, how aria2c fares is aria2c's business.
			require.NotEmpty(t, b.Aria2)
			for _, run := range b.Aria2 {
				t.Logf("(b) aria2c %s: %.2f s, identical %v %s", run.Options, run.Elapsed, run.Identical, run.Err)
			}
			require.GreaterOrEqual(t, a.Aria2Best, 0)
			require.Len(t, a.Aria2BestRuns, 2, "the best setting's run, and one after the first quicxfer round")
			require.NotNil(t, a.Aria2BestMedian)
			require.NotNil(t, r.Aria2)
			require.NotNil(t, r.Aria2.Best)
		}
	}

	c := m.HTTP3
	require.NotNil(t, c)
	require.Len(t, c.Runs, 2)
	for _, run := range c.Runs {
		require.Empty(t, run.Err, run.Mode)
		require.True(t, run.Identical)
		require.Positive(t, run.Throughput)
	}
	require.Equal(t, "HTTP/3.0", c.HTTP3.Protocol)
	require.Equal(t, "HTTP/1.1", c.HTTP1.Protocol)

	dir := t.TempDir()
	require.NoError(t, WriteReport(dir, []Result{r}))
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "12-http-mirrors")
	require.Contains(t, string(md), "#### (c) one https mirror on loopback")
	if m.Skipped == "" {
		require.Contains(t, string(md), "#### (a) three mirrors (40, 20 and 10 MB/s)")
		require.Contains(t, string(md), "blocks rejected (block_rejected events)")
		require.FileExists(t, filepath.Join(dir, plotName(r.Name)))
		require.FileExists(t, filepath.Join(dir, m.Plots["b-quicxfer"]))
	} else {
		require.Contains(t, string(md), "(a) not run")
	}
	requireNoKernelLeftovers(t)
}

func TestSuiteHasHTTPMirrors(t *testing.T) {
	scs := Suite(SuiteOptions{Only: []int{12}, NoAria2: true, Run: RunOptions{Exe: "quicxfer"}})
	require.Len(t, scs, 1)
	sc := scs[0]
	require.Equal(t, "12-http-mirrors", sc.Name)
	require.Equal(t, ModeMirrors, sc.Mode)
	require.EqualValues(t, 256<<20, sc.FileSize, "256 MiB unless told")
	require.True(t, sc.Mirrors.NoAria2)
	require.Len(t, sc.Seeds, 4)
	require.Empty(t, KernelUnsupported(sc), "rate-only links")
	require.InDelta(t, 20*MB, sc.Seeds[3].Rate, 1e-9, "the liar's")
	require.EqualValues(t, 64<<20, Suite(SuiteOptions{MirrorsSize: 64 << 20, Only: []int{12}, Run: RunOptions{Exe: "x"}})[0].FileSize)
	require.Empty(t, Suite(SuiteOptions{Only: []int{12}}), "needs the binary")
}

// TestMirrorsReportSkipped: a run whose (a) and (b) were skipped has a row
// that says so, and its (c).
func TestMirrorsReportSkipped(t *testing.T) {
	r := Result{Number: 12, Name: "12-http-mirrors", Size: 1 << 20, Mirrors: &MirrorsResult{
		Skipped: "kernel links: kernel links need root (network namespaces, veth, tc)",
		HTTP3: &HTTP3Compared{Runs: []HTTP3Run{{Mode: "always", Protocol: "HTTP/3.0", Throughput: 100 * MB, CPUSeconds: 0.5}},
			HTTP3: HTTP3Summary{Protocol: "HTTP/3.0", Throughput: 100 * MB, CPUSeconds: 0.5, Runs: 1}},
	}}
	var md strings.Builder
	WriteTable(&md, []Result{r})
	writeDetails(&md, []Result{r})
	s := md.String()
	require.Contains(t, s, "| 12-http-mirrors | (a) not run |")
	require.Contains(t, s, "(a), (b) skipped: kernel links: kernel links need root")
	require.Contains(t, s, "(c) loopback: HTTP/3 100.0 MB/s (0.50 CPU s)")
	require.Contains(t, s, "| 1 | always | HTTP/3.0 |")
}
