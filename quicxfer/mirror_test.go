package quicxfer_test

import (
	"bytes"
	"cmp"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/quicxfer/quicxfer/internal/paced"
	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/seed"
)

// mirror is an HTTP mirror for a test: a real net/http server on 127.0.0.1
// serving one file at /files/NAME with some behaviour.
type mirror struct {
	srv      *httptest.Server
	name     string
	requests atomic.Int64
}

func (m *mirror) URL() string { return m.srv.URL + "/files/" + m.name }

// mirrorBehaviour answers one request for data.
type mirrorBehaviour func(w http.ResponseWriter, r *http.Request, data []byte)

// startMirror serves data as name with behaviour b (honest if nil), its
// body sent at most at bytesPerSec (0: no limit) over all connections.
func startMirror(t testing.TB, name string, data []byte, bytesPerSec float64, b mirrorBehaviour, tls bool) *mirror {
	t.Helper()
	if b == nil {
		b = honestRanges
	}
	m := &mirror{name: name}
	var lim *rate.Limiter
	if bytesPerSec > 0 {
		lim = rate.NewLimiter(rate.Limit(bytesPerSec), 64<<10)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/"+name {
			http.NotFound(w, r)
			return
		}
		m.requests.Add(1)
		if lim != nil {
			w = &paced.ResponseWriter{ResponseWriter: w, Lim: lim, Ctx: r.Context()}
		}
		b(w, r, data)
	})
	m.srv = httptest.NewUnstartedServer(h)
	m.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	if tls {
		m.srv.StartTLS()
	} else {
		m.srv.Start()
	}
	t.Cleanup(m.srv.Close)
	return m
}

// honestRanges is what a good mirror does: http.ServeContent.
func honestRanges(w http.ResponseWriter, r *http.Request, data []byte) {
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// otherFile serves a file of the same size with other bytes: a lying mirror.
func otherFile(w http.ResponseWriter, r *http.Request, data []byte) {
	other := bytes.Clone(data)
	for i := range other {
		other[i] ^= 0x5a
	}
	honestRanges(w, r, other)
}

// errorPage answers 200 with a short HTML page, whatever was asked.
func errorPage(w http.ResponseWriter, _ *http.Request, _ []byte) {
	w.Header().Set("Content-Type", "text/html")
	_, _ = io.WriteString(w, "<html><body>Mirror over quota, try later</body></html>")
}

// ignoresRange answers 200 with the whole file.
func ignoresRange(w http.ResponseWriter, r *http.Request, data []byte) {
	r.Header.Del("Range")
	honestRanges(w, r, data)
}

// truncatesRanges announces the range and its full length but sends half of
// it and closes the connection.
func truncatesRanges(w http.ResponseWriter, r *http.Request, data []byte) {
	honestRanges(&cutWriter{ResponseWriter: w, left: -1}, r, data)
}

type cutWriter struct {
	http.ResponseWriter
	left int
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if w.left < 0 {
		n, _ := strconv.Atoi(w.Header().Get("Content-Length"))
		w.left = n / 2
	}
	if len(p) > w.left {
		n, _ := w.ResponseWriter.Write(p[:w.left])
		w.left = 0
		return n, io.ErrShortWrite
	}
	w.left -= len(p)
	return w.ResponseWriter.Write(p)
}

// shiftedRanges answers the range one block further on: its Content-Range
// says so.
func shiftedRanges(w http.ResponseWriter, r *http.Request, data []byte) {
	var a, b int64
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b); err == nil {
		r.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", a+manifest.MinBlockSize/2, b+manifest.MinBlockSize/2))
	}
	honestRanges(w, r, data)
}

// liesAboutRange sends the right bytes but a Content-Range of another range.
func liesAboutRange(w http.ResponseWriter, r *http.Request, data []byte) {
	var a, b int64
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b); err != nil || b >= int64(len(data)) {
		http.Error(w, "bad range", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a+1, b+1, len(data)+1))
	w.WriteHeader(http.StatusPartialContent)
	_, _ = w.Write(data[a : b+1])
}

func notFound(w http.ResponseWriter, r *http.Request, _ []byte) { http.NotFound(w, r) }

func serverError(w http.ResponseWriter, _ *http.Request, _ []byte) {
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// stalls sends the headers of the range asked for and then nothing.
func stalls(w http.ResponseWriter, r *http.Request, data []byte) {
	var a, b int64
	_, _ = fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b)
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, len(data)))
	w.Header().Set("Content-Length", fmt.Sprint(b-a+1))
	w.WriteHeader(http.StatusPartialContent)
	w.(http.Flusher).Flush()
	select {
	case <-r.Context().Done():
	case <-time.After(20 * time.Second):
	}
}

// buildManifest returns data's manifest.
func buildManifest(t testing.TB, data []byte) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Build(t.Context(), bytes.NewReader(data), int64(len(data)), 0)
	require.NoError(t, err)
	return m
}

// TestMirrorsAndSeeds mixes two seeds and two HTTP mirrors of different
// speeds: the file is exact, every source carries a share, and the mirrors
// have entries of the same shape as the seeds, after them.
func TestMirrorsAndSeeds(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 12<<20+333, 31)
	_, urls := startSeeds(t, dir, 8e6, 4e6)
	m1 := startMirror(t, "f.bin", data, 8e6, nil, false)
	m2 := startMirror(t, "f.bin", data, 4e6, nil, false)
	out := filepath.Join(t.TempDir(), "f.bin")
	var l testkit.Logs
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{
		Seeds: urls, Mirrors: []string{m1.URL(), m2.URL()}, Name: "f.bin", Out: out, Logf: l.Logf,
	})
	require.NoError(t, err, l.String())
	requireFile(t, out, data)
	require.Len(t, res.Seeds, 4)
	require.Equal(t, []string{urls[0], urls[1], m1.URL(), m2.URL()}, []string{res.Seeds[0].URL, res.Seeds[1].URL, res.Seeds[2].URL, res.Seeds[3].URL})
	var sum int64
	for _, s := range res.Seeds {
		require.Positive(t, s.Bytes, "every source carried a share: %+v", res.Seeds)
		require.Positive(t, s.Blocks)
		require.Zero(t, s.BadBlocks)
		require.GreaterOrEqual(t, s.Received, s.Bytes)
		sum += s.Bytes
	}
	require.Equal(t, int64(len(data)), sum, "every byte accepted once")
	require.Positive(t, m1.requests.Load())
	t.Logf("shares: %+v", res.Seeds)
}

// TestMirrorsOnly downloads from HTTP mirrors alone, the manifest given,
// without a NAME: the result is named after the URL. One mirror is https,
// checked against its CA.
func TestMirrorsOnly(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 3<<20+5, 32)
	m := buildManifest(t, data)
	plain := startMirror(t, "disk.img", data, 0, nil, false)
	secure := startMirror(t, "disk.img", data, 0, nil, true)
	roots := x509.NewCertPool()
	roots.AddCert(secure.srv.Certificate())
	out := filepath.Join(t.TempDir(), "disk.img")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{
		Mirrors: []string{plain.URL(), secure.URL()}, Manifest: m, Out: out,
		Auth: quicxfer.ClientOptions{RootCAs: roots},
	})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Equal(t, "disk.img", res.Name)
	require.Equal(t, m.ID(), res.ID)
	require.Equal(t, int64(len(data)), res.Seeds[0].Bytes+res.Seeds[1].Bytes)
	require.Zero(t, res.FetchedBytes-int64(len(data))-extraFetched(res), "nothing but duplicates beyond the file")

	// Again into another OUT, trusting nothing: the https mirror fails
	// (certificate), the http one carries the file, and the failure is named.
	plain = startMirror(t, "disk.img", data, 8e6, nil, false)
	out2 := filepath.Join(t.TempDir(), "disk.img")
	res, err = quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{plain.URL(), secure.URL()}, Manifest: m, Out: out2})
	require.NoError(t, err)
	requireFile(t, out2, data)
	require.Zero(t, res.Seeds[1].Bytes)
	require.Contains(t, res.Seeds[1].Note, "certificate")

	// --insecure accepts it.
	out3 := filepath.Join(t.TempDir(), "disk.img")
	res, err = quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{secure.URL()}, Manifest: m, Out: out3, Auth: quicxfer.ClientOptions{Insecure: true}})
	require.NoError(t, err)
	requireFile(t, out3, data)
	require.Equal(t, int64(len(data)), res.Seeds[0].Bytes)
}

// extraFetched is what a result fetched beyond the bytes it accepted.
func extraFetched(res *quicxfer.Result) int64 {
	var accepted int64
	for _, s := range res.Seeds {
		accepted += s.Bytes
	}
	return res.FetchedBytes - accepted
}

// TestHostileMirrors downloads from one honest seed and one mirror that
// misbehaves: every time the file is exact, nothing of the mirror's is
// kept, and the mirror is named in its result and in the log.
func TestHostileMirrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    mirrorBehaviour
		bad  bool    // its blocks are refused: dropped at the third
		why  string  // in the log (bad) or in its note
		rate float64 // the honest seed's, bytes/s (default 4e6: about 1.6 s for the file)
	}{
		{"another file", otherFile, true, "hash mismatch", 0},
		{"error page with 200", errorPage, true, "an error page?", 0},
		// Not bad blocks: failures (a retry later), and the note says why.
		{"ignores Range", ignoresRange, false, "ignores Range requests", 0},
		{"truncated ranges", truncatesRanges, false, "cut short", 0},
		{"shifted ranges", shiftedRanges, true, "asked for", 0},
		{"wrong Content-Range", liesAboutRange, true, "another file", 0},
		{"404", notFound, false, "404", 0},
		{"500", serverError, false, "500", 0},
		{"stalls", stalls, false, "no data", 0},
		// The download outlasts the stall timeout: the mirror is caught
		// stalling, not only found idle at the end.
		{"stalls, long download", stalls, false, "stalled: no data", 1.5e6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			data := writeFile(t, dir, "f.bin", 48*manifest.MinBlockSize+1000, 33)
			honest := seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: cmp.Or(tc.rate, 4e6)})
			liar := startMirror(t, "f.bin", data, 0, tc.b, false)
			out := filepath.Join(t.TempDir(), "f.bin")
			var l testkit.Logs
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{
				Seeds: []string{honest.URL()}, Mirrors: []string{liar.URL()}, Name: "f.bin", Out: out, Logf: l.Logf,
			})
			require.NoError(t, err, l.String())
			lr := res.Seeds[1]
			t.Logf("mirror: %+v\nlog:\n%s", lr, l.String())
			requireFile(t, out, data)
			require.Positive(t, liar.requests.Load(), "the mirror was asked")
			require.Equal(t, liar.URL(), lr.URL)
			require.Zero(t, lr.Bytes, "nothing from the mirror was kept")
			require.Zero(t, lr.Blocks)
			require.Equal(t, int64(len(data)), res.Seeds[0].Bytes)
			require.NotEmpty(t, lr.Note, "the mirror is named in the result")
			require.Contains(t, l.String(), liar.URL(), "and in the log")
			if tc.bad {
				require.GreaterOrEqual(t, lr.BadBlocks, int64(3), "dropped at the third bad block")
				require.Contains(t, lr.Note, "dropped")
				require.Contains(t, l.String(), tc.why)
			} else {
				require.Zero(t, lr.BadBlocks)
				require.Contains(t, lr.Note, tc.why)
			}
			if tc.name == "ignores Range" {
				require.Zero(t, lr.Received, "a whole-file answer is not read")
			}
		})
	}
}

// TestManifestWithSeeds: with a manifest, seeds are asked for its content
// ID, not for the name, so a seed serving another file under the name is
// left out (and one serving it under another name is used), and the mirror
// carries the rest.
func TestManifestWithSeeds(t *testing.T) {
	good, bad := t.TempDir(), t.TempDir()
	data := writeFile(t, good, "renamed.bin", 2<<20+17, 34)
	writeFile(t, bad, "f.bin", len(data), 35)
	m := buildManifest(t, data)
	liar := seedtest.Start(t, seed.Options{Paths: []string{bad}})
	other := seedtest.Start(t, seed.Options{Paths: []string{good}, RateLimit: 4e6})
	mir := startMirror(t, "f.bin", data, 4e6, nil, false)
	out := filepath.Join(t.TempDir(), "f.bin")
	var l testkit.Logs
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{
		Seeds: []string{liar.URL(), other.URL()}, Mirrors: []string{mir.URL()}, Manifest: m, Name: "f.bin", Out: out, Logf: l.Logf,
	})
	require.NoError(t, err, l.String())
	requireFile(t, out, data)
	require.Zero(t, res.Seeds[0].Bytes)
	require.Contains(t, res.Seeds[0].Note, "does not serve content ID "+m.ID().String())
	require.Positive(t, res.Seeds[1].Bytes)
	require.Positive(t, res.Seeds[2].Bytes)

	// Only the liar and a mirror that is down: the download fails.
	_, err = quicxfer.Download(t.Context(), quicxfer.Options{
		Seeds: []string{liar.URL()}, Manifest: m, Out: filepath.Join(t.TempDir(), "f.bin"),
	})
	require.ErrorIs(t, err, quicxfer.ErrNotFound)
}

func TestMirrorOptionErrors(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 1000, 36)
	m := buildManifest(t, data)
	mir := startMirror(t, "f.bin", data, 0, nil, false)
	out := filepath.Join(t.TempDir(), "f.bin")
	other := manifest.ID{1}
	for _, tc := range []struct {
		name string
		opts quicxfer.Options
		want string
		is   error // the sentinel it is, if any (its words, with the CLI's flags, are cmd's: TestCLIWords)
	}{
		{"mirrors alone, shared", quicxfer.Options{Mirrors: []string{mir.URL()}, Name: "f.bin", Out: out, Share: nopSharer{}}, "content ID", quicxfer.ErrShareLearnt},
		{"no source", quicxfer.Options{Manifest: m, Out: out}, "no seed", quicxfer.ErrNoSources},
		{"not http", quicxfer.Options{Mirrors: []string{"ftp://x/f"}, Manifest: m, Out: out}, "mirror URL", nil},
		{"no host", quicxfer.Options{Mirrors: []string{"http:///f"}, Manifest: m, Out: out}, "mirror URL", nil},
		{"manifest and another ID", quicxfer.Options{Mirrors: []string{mir.URL()}, Manifest: m, ID: other, Out: out}, other.String(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := quicxfer.Download(t.Context(), tc.opts)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			require.NotContains(t, err.Error(), "--", "the library names no flag")
			require.NotContains(t, err.Error(), "\n")
		})
	}
	require.Zero(t, mir.requests.Load(), "nothing was asked")

	// A mirror of a one-block file that ignores Range is right: the block
	// is the whole file.
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{
		Mirrors: []string{startMirror(t, "f.bin", data, 0, ignoresRange, false).URL()}, Manifest: m, Out: out,
	})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Equal(t, int64(len(data)), res.Seeds[0].Bytes)
	require.True(t, strings.HasSuffix(res.Seeds[0].URL, "/files/f.bin"))
}

// TestMirrorsInterruptAndResume: a download from mirrors alone, interrupted
// half way, resumes with what was verified.
func TestMirrorsInterruptAndResume(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 8<<20, 37)
	m := buildManifest(t, data)
	mir := startMirror(t, "f.bin", data, 16e6, nil, false)
	out := filepath.Join(t.TempDir(), "f.bin")
	opts := quicxfer.Options{Mirrors: []string{mir.URL()}, Manifest: m, Out: out}
	interruptAt(t, opts, 0.5)
	res, err := quicxfer.Download(t.Context(), opts)
	require.NoError(t, err)
	requireFile(t, out, data)
	size := int64(len(data))
	require.GreaterOrEqual(t, res.ResumedBytes, size/2, "what was verified is not fetched again")
	require.LessOrEqual(t, res.FetchedBytes, size-res.ResumedBytes+8*m.BlockSize)
}

// nopSharer shares nothing.
type nopSharer struct{}

func (nopSharer) Start(string, *manifest.Manifest, string, func(int) bool) error { return nil }
func (nopSharer) Add([]int)                                                      {}
func (nopSharer) Source(manifest.ID, string)                                     {}
