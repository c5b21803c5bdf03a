package quicxfer_test

import (
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// A seed whose address swallows every packet makes its dial hang until the
// dial timeout. That must hold up only that seed: the download loop keeps
// running (progress keeps coming) and the other seed delivers everything.
func TestHangingDialDoesNotHoldUpOthers(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "f.bin", 12<<20, 11)
	_, urls := startSeeds(t, dir, 4e6)

	hole, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { hole.Close(); wg.Wait() })
	wg.Add(1)
	go func() { // read and drop
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			if _, _, err := hole.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	blackhole := "quic://" + hole.LocalAddr().String() + "?pin=" + pinOf(urls[0])

	var mu sync.Mutex
	var last time.Time
	var worst time.Duration
	out := filepath.Join(t.TempDir(), "f.bin")
	res, err := quicxfer.Download(t.Context(), quicxfer.Options{
		Seeds: []string{urls[0], blackhole}, Name: "f.bin", Out: out,
		DialTimeout: 8 * time.Second, ProgressInterval: 50 * time.Millisecond,
		OnProgress: func(quicxfer.Progress) {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			if !last.IsZero() && now.Sub(last) > worst {
				worst = now.Sub(last)
			}
			last = now
		},
	})
	require.NoError(t, err)
	requireFile(t, out, data)
	require.Equal(t, int64(len(data)), res.Seeds[0].Bytes)
	require.Less(t, worst, 2*time.Second, "the download loop was held up by a hanging dial")
}
