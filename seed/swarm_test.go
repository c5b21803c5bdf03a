package seed

import (
	"bytes"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

func TestSharedFileServesOnlyAvailableBlocks(t *testing.T) {
	tmp := t.TempDir()
	data := randBytes(5*bs+100, 7) // six blocks
	path := filepath.Join(tmp, "src.bin")
	writeFile(t, path, data)
	m := buildManifest(t, path)
	require.Equal(t, 6, m.NumBlocks())

	s := startForTest(t, Options{NoPaths: true})
	sh, err := s.Share("dir/part.bin", m, bytes.NewReader(data), func(i int) bool { return i == 1 })
	require.NoError(t, err)
	require.Equal(t, 1, sh.Count())
	_, err = s.Share("dir/part.bin", m, bytes.NewReader(data), nil)
	require.Error(t, err, "the same name twice")
	_, err = s.Share("other", m, bytes.NewReader(data), nil)
	require.Error(t, err, "the same content ID twice")

	conn := dial(t, s)
	id := m.ID()
	require.Equal(t, []wire.FileEntry{{Name: "dir/part.bin", Size: m.Size, ID: id}}, list(t, conn))
	resp, err := getManifest(t, conn, &wire.ManifestRequest{Name: "dir/part.bin"})
	require.NoError(t, err)
	require.Equal(t, id, resp.Manifest.ID())

	got, err := getBlock(t, conn, id, 1, bs)
	require.NoError(t, err)
	require.Equal(t, data[bs:2*bs], got)
	_, err = getBlock(t, conn, id, 2, bs)
	requireCode(t, err, wire.ErrCodeNotAvailable)
	_, err = getBlock(t, conn, id, 6, bs)
	requireCode(t, err, wire.ErrCodeBadRequest)

	// The HAVE stream: block 1 now, then what is added, then FIN at the end.
	_, r := send(t, conn, (&wire.HaveRequest{ID: id}).Append(nil))
	h, err := wire.ReadHave(r)
	require.NoError(t, err)
	require.Equal(t, 6, h.N)
	require.Equal(t, 1, h.Count())
	require.True(t, h.Has(1))

	sh.Add(2, 3, 99, -1)
	adds, err := wire.ReadHaveAdd(r)
	require.NoError(t, err)
	require.Equal(t, []uint64{2, 3}, adds)
	got, err = getBlock(t, conn, id, 2, bs)
	require.NoError(t, err)
	require.Equal(t, data[2*bs:3*bs], got)

	sh.Add(0, 4, 5)
	require.True(t, sh.Complete())
	var rest []uint64
	for {
		adds, err := wire.ReadHaveAdd(r)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		rest = append(rest, adds...)
	}
	require.Equal(t, []uint64{0, 4, 5}, rest)

	// Complete: a new HAVE says ALL.
	_, r = send(t, conn, (&wire.HaveRequest{ID: id}).Append(nil))
	h, err = wire.ReadHave(r)
	require.NoError(t, err)
	require.True(t, h.All)
	require.NoError(t, wire.ReadEnd(r))

	_, r = send(t, conn, (&wire.HaveRequest{ID: manifest.ID{1}}).Append(nil))
	_, err = wire.ReadHave(r)
	requireCode(t, err, wire.ErrCodeNotFound)
}

func TestFullSeedHaveAll(t *testing.T) {
	tmp := t.TempDir()
	path := filepath.Join(tmp, "f")
	writeFile(t, path, randBytes(3*bs, 3))
	s := startForTest(t, Options{Paths: []string{path}})
	conn := dial(t, s)
	_, r := send(t, conn, (&wire.HaveRequest{ID: fileByName(t, s, "f").ID}).Append(nil))
	h, err := wire.ReadHave(r)
	require.NoError(t, err)
	require.True(t, h.All)
	require.NoError(t, wire.ReadEnd(r))
}

func TestHaveStreamEndsAtShutdown(t *testing.T) {
	data := randBytes(2*bs, 4)
	m, err := manifest.Build(t.Context(), bytes.NewReader(data), int64(len(data)), 1)
	require.NoError(t, err)
	s := startForTest(t, Options{NoPaths: true, ShutdownGrace: 10 * time.Second})
	_, err = s.Share("x", m, bytes.NewReader(data), nil)
	require.NoError(t, err)
	conn := dial(t, s)
	_, r := send(t, conn, (&wire.HaveRequest{ID: m.ID()}).Append(nil))
	h, err := wire.ReadHave(r)
	require.NoError(t, err)
	require.Zero(t, h.Count())
	start := time.Now()
	require.NoError(t, s.Close())
	_, err = wire.ReadHaveAdd(r)
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second, "an open HAVE stream does not hold up shutdown")
}

func TestPeersRegistration(t *testing.T) {
	tmp := t.TempDir()
	path := filepath.Join(tmp, "f")
	writeFile(t, path, randBytes(bs, 5))
	other := "quic://192.0.2.7:4433"
	s := startForTest(t, Options{Paths: []string{path}, Peers: []string{other}})
	id := fileByName(t, s, "f").ID
	conn := dial(t, s)
	peers := func(self string) []string {
		_, r := send(t, conn, (&wire.PeersRequest{ID: id, Self: self}).Append(nil))
		urls, err := wire.ReadPeers(r)
		require.NoError(t, err)
		require.NoError(t, wire.ReadEnd(r))
		return urls
	}
	require.Equal(t, []string{other}, peers(""), "the operator's peer")

	// A URL of the asker's own address registers; the asker is not told
	// about itself, others are.
	mine := "quic://127.0.0.1:5555?pin=" + s.Pin().String()
	require.Equal(t, []string{other}, peers(mine))
	require.ElementsMatch(t, []string{other, mine}, s.Peers(id))
	// A URL of another address does not.
	peers("quic://198.51.100.1:5555")
	require.ElementsMatch(t, []string{other, mine}, s.Peers(id))

	_, r := send(t, conn, (&wire.PeersRequest{ID: manifest.ID{9}}).Append(nil))
	_, err := wire.ReadPeers(r)
	requireCode(t, err, wire.ErrCodeNotFound)

	require.Error(t, s.AddPeer(id, "http://x"))
	_, err = New(t.Context(), Options{Paths: []string{path}, Peers: []string{"nope"}, StateDir: t.TempDir(), Listen: "127.0.0.1:0"})
	require.Error(t, err)
}

// One client registering many URLs (other ports, extra query parameters)
// keeps two normalised entries, the operator's peer stays in every answer,
// and registrations are logged at debug level only.
func TestPeersRegistrationBounded(t *testing.T) {
	tmp := t.TempDir()
	path := filepath.Join(tmp, "f")
	writeFile(t, path, randBytes(bs, 5))
	other := "quic://192.0.2.7:4433"
	var logs syncbuf.Buffer
	s := startForTest(t, Options{Paths: []string{path}, Peers: []string{other},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	id := fileByName(t, s, "f").ID
	conn := dial(t, s)
	pin := s.Pin().String()
	for port := 1; port <= 100; port++ {
		self := "quic://127.0.0.1:" + strconv.Itoa(port) + "?pin=" + pin + "&junk=" + strings.Repeat("x", 500)
		_, r := send(t, conn, (&wire.PeersRequest{ID: id, Self: self}).Append(nil))
		urls, err := wire.ReadPeers(r)
		require.NoError(t, err)
		require.NoError(t, wire.ReadEnd(r))
		require.Contains(t, urls, other, "the operator's peer is always listed")
		require.Equal(t, other, urls[0], "permanent peers first")
	}
	require.ElementsMatch(t, []string{other, "quic://127.0.0.1:99?pin=" + pin, "quic://127.0.0.1:100?pin=" + pin}, s.Peers(id),
		"one address keeps its two newest URLs, without extra parameters")
	require.NotContains(t, logs.String(), "peer registered", "registrations are logged at debug level")
}

// A connection has at most maxHaveStreams HAVE streams open: the next one is
// refused busy, and one can be opened again once another ends.
func TestHaveStreamsPerConnectionBounded(t *testing.T) {
	var ids []manifest.ID
	s := startForTest(t, Options{NoPaths: true})
	for i := range maxHaveStreams + 1 {
		data := randBytes(2*bs, uint64(40+i))
		m, err := manifest.Build(t.Context(), bytes.NewReader(data), int64(len(data)), 1)
		require.NoError(t, err)
		_, err = s.Share("f"+strconv.Itoa(i), m, bytes.NewReader(data), nil)
		require.NoError(t, err)
		ids = append(ids, m.ID())
	}
	conn := dial(t, s)
	var open []*quic.Stream
	for i := range maxHaveStreams {
		str, r := send(t, conn, (&wire.HaveRequest{ID: ids[i]}).Append(nil))
		_, err := wire.ReadHave(r)
		require.NoError(t, err)
		open = append(open, str)
	}
	_, r := send(t, conn, (&wire.HaveRequest{ID: ids[maxHaveStreams]}).Append(nil))
	_, err := wire.ReadHave(r)
	requireCode(t, err, wire.ErrCodeBusy)

	// Another connection has its own.
	_, r = send(t, dial(t, s), (&wire.HaveRequest{ID: ids[maxHaveStreams]}).Append(nil))
	_, err = wire.ReadHave(r)
	require.NoError(t, err)

	open[0].CancelRead(quic.StreamErrorCode(wire.ErrCodeCancelled))
	open[0].CancelWrite(quic.StreamErrorCode(wire.ErrCodeCancelled))
	require.Eventually(t, func() bool {
		_, r := send(t, conn, (&wire.HaveRequest{ID: ids[maxHaveStreams]}).Append(nil))
		_, err := wire.ReadHave(r)
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "a HAVE stream that ended frees its place")
}
