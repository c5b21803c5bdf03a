package seed

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/attack"
	"github.com/quicxfer/quicxfer/quicxfer"
)

// A connection whose responses hold every shared send buffer (its client
// does not read) does not stop another connection: that one takes a buffer
// from its own reserve. The first connection's next response waits for its
// own reserve, and gets it once one of its responses ends.
func TestConnSendReserve(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(4*bs, 41)
	writeFile(t, filepath.Join(dir, "f"), data)
	// One shared buffer, one of its own per connection.
	s := startForTest(t, Options{Paths: []string{dir}, MaxSendBuffers: chunkSize, ConnSendReserve: chunkSize})
	id := fileByName(t, s, "f").ID

	slow := dialWith(t, s, smallWindows())
	var held []*quic.Stream
	for i := range 3 {
		held = append(held, requestBlock(t, slow, id, uint64(i)))
	}
	require.Eventually(t, func() bool { return s.Stats().BufferWaits == 1 }, 5*time.Second, 5*time.Millisecond,
		"the third response waits: its connection's reserve and the shared buffer are in use")
	require.EqualValues(t, 2*chunkSize, s.Stats().SendBufferBytes)

	// Another client is served from its own reserve meanwhile.
	readBlock(t, requestBlock(t, dial(t, s), id, 3), data[3*bs:])
	require.EqualValues(t, 1, s.Stats().BufferWaits, "it did not wait")

	// The slow client reads at last: all three complete.
	var wg sync.WaitGroup
	for i, str := range held {
		wg.Go(func() { readBlock(t, str, data[i*bs:(i+1)*bs]) })
	}
	wg.Wait()
	require.Eventually(t, func() bool { return s.Stats().SendBufferBytes == 0 }, 5*time.Second, 5*time.Millisecond)
}

// Clients that ask for many blocks and never read them hold every shared
// send buffer; a well-behaved client still downloads the whole file, from
// its connection's reserve. Without the reserve it would get nothing until
// the idle timeout freed a buffer.
func TestSlowReadersCannotStarveOthers(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(4<<20, 42)
	writeFile(t, filepath.Join(dir, "big.bin"), data)
	writeFile(t, filepath.Join(dir, "small.bin"), randBytes(3*bs, 43))
	s := startForTest(t, Options{Paths: []string{dir}, MaxSendBuffers: 16 * chunkSize})
	big, small := fileByName(t, s, "big.bin"), fileByName(t, s, "small.bin")

	ctx, stop := context.WithCancel(context.Background())
	var counts attack.Counts
	var attackErr error
	var wg sync.WaitGroup
	target := attack.Target{Addr: s.Addr().(*net.UDPAddr), Big: big.ID, BigSize: big.Size, Small: small.ID, SmallSize: small.Size}
	wg.Go(func() { attackErr = attack.Run(ctx, target, attack.Mix{SlowReaders: 2}, &counts) })
	defer func() {
		stop()
		wg.Wait()
		require.NoError(t, attackErr)
	}()
	// Two slow readers ask for up to 200 blocks: far more than the 16
	// shared buffers.
	require.Eventually(t, func() bool {
		st := s.Stats()
		return st.SendBufferBytes >= 16*chunkSize && st.BufferWaits > 0
	}, 10*time.Second, 5*time.Millisecond, "the slow readers hold every shared buffer")

	dctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	out := filepath.Join(t.TempDir(), "big.bin")
	_, err := quicxfer.Download(dctx, quicxfer.Options{Seeds: []string{s.URL()}, Name: "big.bin", Out: out})
	require.NoError(t, err)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
}
