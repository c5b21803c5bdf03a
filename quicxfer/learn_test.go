package quicxfer_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/internal/testkit"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/metalink"
	"github.com/quicxfer/quicxfer/quicxfer/verify"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/seed"
)

// sha256Of is data's SHA-256 as a checksum.
func sha256Of(data []byte) *verify.Hash {
	s := sha256.Sum256(data)
	return &verify.Hash{Algo: verify.SHA256, Sum: s[:]}
}

// badBlocks serves ranges honestly when they are short (the samples a
// download compares the mirrors by) and with a byte flipped in every range
// of a block's length or more: a mirror that lies only where it counts.
func badBlocks(w http.ResponseWriter, r *http.Request, data []byte) {
	var a, b int64
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b); err == nil && b-a+1 > 64<<10 {
		bad := bytes.Clone(data)
		for off := a; off <= b; off += 32 << 10 {
			bad[off] ^= 1
		}
		honestRanges(w, r, bad)
		return
	}
	honestRanges(w, r, data)
}

// truncated serves the first half of the file only: a mirror with a file
// cut short.
func truncated(w http.ResponseWriter, r *http.Request, data []byte) {
	honestRanges(w, r, data[:len(data)/2])
}

// redirects sends every request to another mirror.
func redirects(to string) mirrorBehaviour {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		http.Redirect(w, r, to, http.StatusFound)
	}
}

// TestLearntMirrors downloads from HTTP mirrors alone, no manifest: with a
// checksum the file is checked (Checked), without one it is not, and the
// result says so; either way it is byte for byte the mirrors' file.
func TestLearntMirrors(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 3<<20+77, 41)
	a := startMirror(t, "f.iso", data, 0, nil, false)
	b := startMirror(t, "f.iso", data, 0, nil, true)
	c := startMirror(t, "f.iso", data, 0, redirects(a.URL()), false)
	for _, tc := range []struct {
		name     string
		checksum *verify.Hash
	}{
		{"checksum", sha256Of(data)},
		{"no checksum", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "f.iso")
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{
				Mirrors: []string{a.URL(), b.URL(), c.URL()}, Out: out, Checksum: tc.checksum,
				Auth: quicxfer.ClientOptions{Insecure: true},
			})
			require.NoError(t, err)
			requireFile(t, out, data)
			require.Equal(t, "f.iso", res.Name)
			require.Equal(t, int64(len(data)), res.Size)
			require.Equal(t, tc.checksum != nil, res.Checked)
			require.True(t, res.ID.IsZero(), "no manifest, no content ID")
			require.Len(t, res.Seeds, 3)
			require.Contains(t, res.Seeds[2].Note, "redirected to")
			_, err = os.Stat(partial.StatePath(out))
			require.ErrorIs(t, err, os.ErrNotExist)

			// Again: with a checksum the file there is checked and kept; without one
			// nothing can tell it is the file, and it is not touched.
			_, err = quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{a.URL()}, Out: out, Checksum: tc.checksum})
			if tc.checksum != nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, quicxfer.ErrOutExists)
				require.Contains(t, err.Error(), "no checksum")
			}
			requireFile(t, out, data)
		})
	}
}

// TestLearntWrongChecksum: mirrors that agree, and a checksum that is not
// their file's: the download fails, saying so, and OUT never appears.
func TestLearntWrongChecksum(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 1<<20, 42)
	a := startMirror(t, "f", data, 0, nil, false)
	b := startMirror(t, "f", data, 0, nil, false)
	out := filepath.Join(t.TempDir(), "f")
	wrong := sha256Of(append(bytes.Clone(data), 1))
	_, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{a.URL(), b.URL()}, Out: out, Checksum: wrong})
	require.ErrorIs(t, err, quicxfer.ErrWholeMismatch)
	_, serr := os.Stat(out)
	require.ErrorIs(t, serr, os.ErrNotExist)
}

// TestLearntHostileMirrors: beside honest mirrors, one that serves another
// file of the same size, one whose file is shorter, and one that ignores
// Range: each is left out before it writes anything, with a note that says
// why, and the file is exact.
func TestLearntHostileMirrors(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 2<<20, 43)
	honest1 := startMirror(t, "f", data, 0, nil, false)
	honest2 := startMirror(t, "f", data, 0, nil, false)
	for _, tc := range []struct {
		name string
		b    mirrorBehaviour
		note string
	}{
		{"another file of the same size", otherFile, "differ from 2 other mirrors"},
		{"truncated", truncated, "bytes, not the other mirrors'"},
		{"ignores Range", ignoresRange, "ignores Range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := startMirror(t, "f", data, 0, tc.b, false)
			out := filepath.Join(t.TempDir(), "f")
			var l testkit.Logs
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{bad.URL(), honest1.URL(), honest2.URL()}, Out: out, Logf: l.Logf})
			require.NoError(t, err)
			requireFile(t, out, data)
			require.Zero(t, res.Seeds[0].Bytes)
			require.Contains(t, res.Seeds[0].Note, tc.note)
			require.Contains(t, l.String(), tc.note)
		})
	}
}

// TestLearntMirrorsDisagree: two mirrors that serve different files of one
// size and no checksum: nothing says which is right, so nothing is written.
func TestLearntMirrorsDisagree(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 1<<20, 44)
	a := startMirror(t, "f", data, 0, nil, false)
	b := startMirror(t, "f", data, 0, otherFile, false)
	out := filepath.Join(t.TempDir(), "f")
	_, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{a.URL(), b.URL()}, Out: out})
	require.ErrorIs(t, err, quicxfer.ErrMirrorsDisagree)
	_, serr := os.Stat(partial.PartPath(out))
	require.ErrorIs(t, serr, os.ErrNotExist)
}

// TestLearntRepair: a mirror that serves the samples right and bad blocks
// otherwise; the honest mirrors are slow, so it carries much of the file.
// The whole file fails its checksum; the download finds the liar by
// fetching its blocks again from the others, fetches only its blocks again,
// and ends with the exact file. With two mirrors, no third to settle it,
// it still ends right, whichever it suspects first.
func TestLearntRepair(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 4<<20, 45)
	for _, n := range []int{3, 2} {
		t.Run(fmt.Sprint(n, " mirrors"), func(t *testing.T) {
			urls := []string{startMirror(t, "f", data, 0, badBlocks, false).URL()}
			for range n - 1 {
				urls = append(urls, startMirror(t, "f", data, 2e6, nil, false).URL())
			}
			out := filepath.Join(t.TempDir(), "f")
			var l testkit.Logs
			var mu sync.Mutex
			var rejected []quicxfer.Event
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{
				Mirrors: urls, Out: out, Checksum: sha256Of(data), Logf: l.Logf,
				OnEvent: func(e quicxfer.Event) {
					if e.Kind == quicxfer.EventBlockRejected {
						mu.Lock()
						rejected = append(rejected, e)
						mu.Unlock()
					}
				},
			})
			require.NoError(t, err, l.String())
			requireFile(t, out, data)
			require.True(t, res.Checked)
			require.Positive(t, res.RepairedBytes)
			require.Zero(t, res.Seeds[0].Bytes, "nothing of the liar's is kept")
			require.Contains(t, res.Seeds[0].Note, "differs from the")
			if n == 3 {
				// A third mirror settles who lied: only its blocks are
				// fetched again. With two, the first guess may be wrong,
				// and costs the other's blocks too.
				require.Less(t, res.RepairedBytes, int64(len(data)), "only the liar's blocks are fetched again")
				require.NotContains(t, res.Seeds[1].Note+res.Seeds[2].Note, "differs")
			}
			require.Contains(t, l.String(), "does not match its sha-256 checksum")
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, rejected)
			require.Equal(t, urls[0], rejected[len(rejected)-1].Source)
		})
	}
}

// TestLearntInterruptAndResume: mirrors alone with a checksum, interrupted
// half way, resume with what was written (each block's xxh64 checked), and
// a state bound to another checksum is another download's.
func TestLearntInterruptAndResume(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 8<<20, 46)
	mir := startMirror(t, "f.bin", data, 16e6, nil, false)
	out := filepath.Join(t.TempDir(), "f.bin")
	opts := quicxfer.Options{Mirrors: []string{mir.URL()}, Out: out, Checksum: sha256Of(data)}
	interruptAt(t, opts, 0.5)

	other := opts
	other.Checksum = sha256Of(data[1:])
	_, err := quicxfer.Download(t.Context(), other)
	require.ErrorIs(t, err, quicxfer.ErrOtherPartial)

	res, err := quicxfer.Download(t.Context(), opts)
	require.NoError(t, err)
	requireFile(t, out, data)
	size := int64(len(data))
	require.GreaterOrEqual(t, res.ResumedBytes, size/2)
	require.LessOrEqual(t, res.FetchedBytes, size-res.ResumedBytes+16<<20/8)
}

// TestLearntDamagedPartial: a block of the part file damaged on disk
// between runs is caught on resume (its recorded xxh64) and fetched again.
func TestLearntDamagedPartial(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 8<<20, 47)
	mir := startMirror(t, "f.bin", data, 16e6, nil, false)
	out := filepath.Join(t.TempDir(), "f.bin")
	opts := quicxfer.Options{Mirrors: []string{mir.URL()}, Out: out}
	interruptAt(t, opts, 0.5)
	f, err := os.OpenFile(partial.PartPath(out), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("damage"), 1000)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	var l testkit.Logs
	opts.Logf = l.Logf
	_, err = quicxfer.Download(t.Context(), opts)
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Contains(t, l.String(), " recovered, 1 damaged", "the damaged block is caught by its recorded xxh64")
}

// describedOf parses testkit.Meta4's Metalink of files and returns what it
// says of its first file.
func describedOf(t *testing.T, pieceLen int, files ...testkit.Meta4File) quicxfer.DescribedFile {
	t.Helper()
	ml, err := metalink.Parse(bytes.NewReader(testkit.Meta4(pieceLen, files...)))
	require.NoError(t, err)
	return quicxfer.DescribedFileOf(&ml.Files[0])
}

// TestLearntMetalinkPieces: a Metalink's pieces (of an odd length) are the
// blocks, each verified before it is kept: a lying mirror's are rejected
// as they come and it is dropped; an interrupted download resumes.
func TestLearntMetalinkPieces(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 4<<20+17, 48)
	liar := startMirror(t, "f.iso", data, 0, otherFile, false)
	honest := startMirror(t, "f.iso", data, 8e6, nil, false)
	var opts quicxfer.Options
	opts.Describe(describedOf(t, 300_000, testkit.Meta4File{Name: "f.iso", Data: data, URLs: []string{liar.URL(), honest.URL()}}))
	require.Equal(t, int64(300_000), opts.Pieces.Length)
	opts.Out = filepath.Join(t.TempDir(), "f.iso")
	interruptAt(t, opts, 0.3)
	res, err := quicxfer.Download(t.Context(), opts)
	require.NoError(t, err)
	requireFile(t, opts.Out, data)
	require.True(t, res.Checked)
	require.Positive(t, res.ResumedBytes)
	require.Zero(t, res.Seeds[0].Bytes)
	require.Positive(t, res.Seeds[0].BadBlocks)
	require.Contains(t, res.Seeds[0].Note, "dropped")
}

// TestLearntRedirector: one URL, of a redirector as MirrorBrain answers:
// a redirect to a mirror, Link headers naming two others (rel=duplicate)
// and a Digest of the whole file. The download uses the three, and checks
// the file against the Digest; a Digest that is wrong fails it.
func TestLearntRedirector(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 3<<20, 49)
	a := startMirror(t, "f.iso", data, 0, nil, false)
	b := startMirror(t, "f.iso", data, 0, nil, false)
	c := startMirror(t, "f.iso", data, 0, nil, false)
	for _, tc := range []struct {
		name   string
		digest []byte
	}{
		{"right digest", data},
		{"wrong digest", data[1:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum := sha256.Sum256(tc.digest)
			r := startMirror(t, "f.iso", data, 0, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				w.Header().Add("Link", fmt.Sprintf("<%s>; rel=duplicate; pri=1; geo=de", b.URL()))
				w.Header().Add("Link", fmt.Sprintf("<%s>; rel=duplicate; pri=2; geo=us, <%s.meta4>; rel=describedby; type=\"application/metalink4+xml\"", c.URL(), a.URL()))
				w.Header().Set("Digest", "SHA-256="+base64.StdEncoding.EncodeToString(sum[:]))
				http.Redirect(w, r, a.URL(), http.StatusFound)
			}, false)
			out := filepath.Join(t.TempDir(), "f.iso")
			var l testkit.Logs
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{r.URL()}, Out: out, Logf: l.Logf})
			t.Log(l.String())
			require.Contains(t, l.String(), "names 2 other mirrors")
			require.Contains(t, l.String(), "Digest")
			if tc.name == "wrong digest" {
				require.ErrorIs(t, err, quicxfer.ErrWholeMismatch)
				return
			}
			require.NoError(t, err)
			requireFile(t, out, data)
			require.True(t, res.Checked)
			require.Len(t, res.Seeds, 3)
			require.Equal(t, b.URL(), res.Seeds[1].URL)
			for _, s := range res.Seeds {
				require.Positive(t, s.Bytes, "%+v", res.Seeds)
			}
		})
	}
}

// TestLearntMetalinkAnswer: a URL that answers with a Metalink (its
// Content-Type) is the Metalink, not the file: its file is downloaded from
// its mirrors, its pieces checked; one that points to its Metalink (Link
// rel=describedby) gives its pieces, so that a lying mirror among those
// its Link headers add is caught block by block.
func TestLearntMetalinkAnswer(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 2<<20, 50)
	honest := startMirror(t, "f.iso", data, 0, nil, false)
	liar := startMirror(t, "f.iso", data, 0, otherFile, false)
	doc := testkit.Meta4(256<<10, testkit.Meta4File{Name: "dist/f.iso", Data: data, URLs: []string{liar.URL(), honest.URL()}})
	ml := startMirror(t, "f.iso.meta4", doc, 0, func(w http.ResponseWriter, r *http.Request, doc []byte) {
		w.Header().Set("Content-Type", "application/metalink4+xml")
		_, _ = w.Write(doc)
	}, false)

	out := filepath.Join(t.TempDir(), "f.iso")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{ml.URL()}, Out: out})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Equal(t, "dist/f.iso", res.Name)
	require.True(t, res.Checked)
	require.Len(t, res.Seeds, 2)
	require.Zero(t, res.Seeds[0].Bytes)

	pointing := startMirror(t, "f.iso", data, 4e6, func(w http.ResponseWriter, r *http.Request, data []byte) {
		w.Header().Add("Link", fmt.Sprintf("<%s>; rel=describedby; type=\"application/metalink4+xml\"", ml.URL()))
		honestRanges(w, r, data)
	}, false)
	out = filepath.Join(t.TempDir(), "f.iso")
	var l testkit.Logs
	res, err = quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{pointing.URL()}, Out: out, Logf: l.Logf})
	require.NoError(t, err, l.String())
	requireFile(t, out, data)
	require.Contains(t, l.String(), "its hashes are used")
	require.Len(t, res.Seeds, 3, "the mirror, then the Metalink's")
	require.Zero(t, res.Seeds[1].Bytes)
}

// TestLearntEveryMirrorLeftOut: when every mirror is left out (a
// Metalink's size that none serves), the download fails at once, naming
// each one's reason, rather than waiting for a source that cannot come.
func TestLearntEveryMirrorLeftOut(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 1<<20, 51)
	a := startMirror(t, "f", data, 0, nil, false)
	b := startMirror(t, "f", data, 0, ignoresRange, false)
	out := filepath.Join(t.TempDir(), "f")
	testkit.NoHang(t, "a download whose every mirror is left out", func() {
		_, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{a.URL(), b.URL()}, Out: out, Size: 1234})
		require.ErrorIs(t, err, quicxfer.ErrNoSeeds)
		require.ErrorContains(t, err, "not the 1234")
	})
}

// TestLearntStallingMirror: a mirror that stalls on every range does not
// hold the start (its samples are given up after the dial timeout) nor the
// download (its blocks go to the others).
func TestLearntStallingMirror(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 2<<20, 52)
	a := startMirror(t, "f", data, 0, nil, false)
	b := startMirror(t, "f", data, 0, nil, false)
	st := startMirror(t, "f", data, 0, func(w http.ResponseWriter, r *http.Request, data []byte) {
		if r.Header.Get("Range") == "bytes=0-0" {
			honestRanges(w, r, data) // it answers the probe
			return
		}
		stalls(w, r, data)
	}, false)
	out := filepath.Join(t.TempDir(), "f")
	var l testkit.Logs
	_, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{st.URL(), a.URL(), b.URL()}, Out: out,
		Checksum: sha256Of(data), DialTimeout: time.Second, Debugf: l.Logf})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Contains(t, l.String(), "not compared with the others")
}

// TestLearntMetalinkV3: a Metalink 3.0 as Fedora's MirrorManager writes
// it (preference, <verification> with sha-1 pieces numbered by piece=, of
// an odd length): its pieces are checked, its preferences order the
// mirrors.
func TestLearntMetalinkV3(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 1<<20+3, 53)
	liar := startMirror(t, "f", data, 0, otherFile, false)
	honest := startMirror(t, "f", data, 0, nil, false)
	const plen = 100_000
	var pieces strings.Builder
	for i, off := 0, 0; off < len(data); i, off = i+1, off+plen {
		fmt.Fprintf(&pieces, "<hash piece=\"%d\">%x</hash>\n", i, sha1.Sum(data[off:min(off+plen, len(data))]))
	}
	doc := fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" generator="mirrormanager" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="repomd.xml">
   <mm0:timestamp>1764843600</mm0:timestamp>
   <size>%d</size>
   <verification>
    <hash type="sha256">%x</hash>
    <pieces length="%d" type="sha1">
%s    </pieces>
   </verification>
   <resources maxconnections="1">
    <url protocol="http" type="http" location="US" preference="100">%s</url>
    <url protocol="http" type="http" location="DE" preference="99">%s</url>
    <url protocol="rsync" type="rsync" location="DE" preference="98">rsync://x/f</url>
   </resources>
  </file>
 </files>
</metalink>
`, len(data), sha256.Sum256(data), plen, pieces.String(), honest.URL(), liar.URL())
	ml, err := metalink.Parse(strings.NewReader(doc))
	require.NoError(t, err)
	require.Equal(t, 3, ml.Version)
	var opts quicxfer.Options
	opts.Describe(quicxfer.DescribedFileOf(&ml.Files[0]))
	require.Equal(t, []string{honest.URL(), liar.URL()}, opts.Mirrors, "by preference")
	opts.Out = filepath.Join(t.TempDir(), "repomd.xml")
	res, err := quicxfer.Download(t.Context(), opts)
	require.NoError(t, err)
	requireFile(t, opts.Out, data)
	require.True(t, res.Checked)
	require.Zero(t, res.Seeds[1].Bytes)
}

// TestLearntOnlyMirrorIgnoresRange: the one mirror there is answers every
// range with the whole file: it is read as one stream, every block still
// counted, and the checksum checks the file.
func TestLearntOnlyMirrorIgnoresRange(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 3<<20+5, 54)
	m := startMirror(t, "f", data, 0, ignoresRange, false)
	out := filepath.Join(t.TempDir(), "f")
	var l testkit.Logs
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{m.URL()}, Out: out, Checksum: sha256Of(data), Logf: l.Logf})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.True(t, res.Checked)
	require.Contains(t, l.String(), "ignores Range")
}

// TestLearntBusyMirror: the only mirror is busy at first (503 with
// Retry-After): it is asked again after the wait it asks for, and the
// download goes on; a mirror that does not have the file (404) is not
// asked again for ever.
func TestLearntBusyMirror(t *testing.T) {
	data := writeFile(t, t.TempDir(), "x", 1<<20, 55)
	var calls atomic.Int64
	busy := startMirror(t, "f", data, 0, func(w http.ResponseWriter, r *http.Request, data []byte) {
		if calls.Add(1) <= 2 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		honestRanges(w, r, data)
	}, false)
	out := filepath.Join(t.TempDir(), "f")
	var l testkit.Logs
	_, err := quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{busy.URL()}, Out: out, Checksum: sha256Of(data), Logf: l.Logf})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Contains(t, l.String(), "asking again")

	missing := startMirror(t, "f", data, 0, notFound, false)
	_, err = quicxfer.Download(t.Context(), quicxfer.Options{Mirrors: []string{missing.URL()}, Out: filepath.Join(t.TempDir(), "g")})
	require.ErrorIs(t, err, quicxfer.ErrNoSeeds)
	require.ErrorContains(t, err, "404")
	require.Equal(t, int64(1), missing.requests.Load(), "a missing file is not asked for again")
}

// TestBusySeedAtStart: a seed that refuses the download's first
// connection as busy (its connection limit taken by another client) is
// asked again after a pause, and the download completes once the other
// client is gone, rather than failing at once.
func TestBusySeedAtStart(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 1<<20, 56)
	srv := seedtest.Start(t, seed.Options{Paths: []string{dir}, MaxConns: 1})
	u := srv.URLs()[0]
	pu, err := wire.ParseURL(u)
	require.NoError(t, err)
	holder, err := quicxfer.NewClient()
	require.NoError(t, err)
	defer holder.Close()
	conn, err := holder.Dial(t.Context(), pu)
	require.NoError(t, err)
	var l testkit.Logs
	done := make(chan error, 1)
	out := filepath.Join(t.TempDir(), "f.bin")
	go func() {
		_, err := quicxfer.Download(t.Context(), quicxfer.Options{Seeds: []string{u}, Name: "f.bin", Out: out, Logf: l.Logf})
		done <- err
	}()
	waitUntil(t, func() bool { return strings.Contains(l.String(), "asking again after a pause") })
	require.NoError(t, conn.Close())
	require.NoError(t, <-done)
	requireFile(t, out, data)
}

// waitUntil waits for cond, failing the test after a minute.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "timed out")
		time.Sleep(10 * time.Millisecond)
	}
}
