package partial

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/verify"
)

// Present sees a block that Prove proves as claimed or as had at every
// instant, never as neither; it is Has or Claimed otherwise.
func TestPresentWhileProving(t *testing.T) {
	d := newDownload(t, randomData(64*bs, 33))
	f, _, _ := d.open(t)
	all := make([]int, d.m.NumBlocks()-1) // all but the last
	for i := range all {
		all[i] = i
	}
	d.write(t, f, all...)
	require.NoError(t, f.Close())

	f, rep, err := Open(d.out, d.m, Options{Workers: 2, DeferProof: true})
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	require.Equal(t, len(all), rep.Claimed)
	last := d.m.NumBlocks() - 1
	require.False(t, f.Present(last))
	require.False(t, f.Present(-1))

	done := make(chan struct{})
	var wg sync.WaitGroup
	var absent []int
	wg.Go(func() {
		for {
			for _, i := range all {
				if !f.Present(i) {
					absent = append(absent, i)
				}
			}
			select {
			case <-done:
				return
			default:
			}
		}
	})
	prep, err := f.Prove(t.Context(), 2, verify.FromManifest(d.m), nil)
	close(done)
	wg.Wait()
	require.NoError(t, err)
	require.Equal(t, len(all), prep.Proven)
	require.Empty(t, absent, "blocks seen as neither had nor claimed while proven")
	for _, i := range all {
		require.True(t, f.Present(i))
		require.True(t, f.Has(i))
	}
	require.False(t, f.Present(last))
}
