package quicxfer_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/seedtest"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/seed"
)

// eventsOf returns the events of kind about source u.
func eventsOf(evs []quicxfer.Event, kind quicxfer.EventKind, u string) []quicxfer.Event {
	var out []quicxfer.Event
	for _, e := range evs {
		if e.Kind == kind && e.Source == u {
			out = append(out, e)
		}
	}
	return out
}

// TestEvents: OnEvent hears the start first, with the file's figures, then
// what happened to each source: the honest one joins; a seed with another
// file under the name is dropped once, saying why; a liar's bad blocks are
// each reported (those in flight when it was dropped too), and it is
// dropped once; a seed that stops sending is
// reported stalled. Events come in time order.
func TestEvents(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    behaviour
		rate float64 // the honest seed's
		want quicxfer.EventKind
	}{
		{"liar", wrongBlocks, 4e6, quicxfer.EventBlockRejected},
		// The download outlasts the stall timeout.
		{"staller", stopMidBlock, 1.5e6, quicxfer.EventStalled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, other := t.TempDir(), t.TempDir()
			data := writeFile(t, dir, "f.bin", 48*manifest.MinBlockSize+1000, 30)
			writeFile(t, other, "f.bin", 1000, 31)
			honest := seedtest.Start(t, seed.Options{Paths: []string{dir}, RateLimit: tc.rate})
			odd := seedtest.Start(t, seed.Options{Paths: []string{other}})
			bad := startFakeSeed(t, dir, "f.bin", tc.b)
			out := filepath.Join(t.TempDir(), "f.bin")
			var evs []quicxfer.Event // OnEvent is called from the download loop only
			res, err := quicxfer.Download(t.Context(), quicxfer.Options{
				Seeds: []string{bad.URL(), honest.URL(), odd.URL()}, Name: "f.bin", Out: out,
				OnEvent: func(e quicxfer.Event) { evs = append(evs, e) },
			})
			require.NoError(t, err)
			requireFile(t, out, data)
			for _, e := range evs {
				t.Logf("%s %s %d %s", e.Kind, e.Source, e.Block, e.Reason)
			}

			require.NotEmpty(t, evs)
			start := evs[0]
			require.Equal(t, quicxfer.EventStart, start.Kind, "start comes first")
			require.Equal(t, "f.bin", start.Name)
			require.Equal(t, res.ID, start.ID)
			require.Equal(t, int64(len(data)), start.Size)
			require.Equal(t, int64(manifest.MinBlockSize), start.BlockSize)
			require.Zero(t, start.Resumed)
			for i, e := range evs {
				require.False(t, e.Time.IsZero())
				if i > 0 {
					require.NotEqual(t, quicxfer.EventStart, e.Kind, "one start")
					require.False(t, e.Time.Before(evs[i-1].Time), "in time order")
				}
			}

			require.Len(t, eventsOf(evs, quicxfer.EventSourceJoined, honest.URL()), 1)
			require.Empty(t, eventsOf(evs, quicxfer.EventSourceDropped, honest.URL()))
			require.Empty(t, eventsOf(evs, quicxfer.EventBlockRejected, honest.URL()))

			oddDrop := eventsOf(evs, quicxfer.EventSourceDropped, odd.URL())
			require.Len(t, oddDrop, 1)
			require.Contains(t, oddDrop[0].Reason, "serves a different")
			require.Empty(t, eventsOf(evs, quicxfer.EventSourceJoined, odd.URL()))

			got := eventsOf(evs, tc.want, bad.URL())
			require.NotEmpty(t, got)
			require.NotEmpty(t, got[0].Reason)
			if tc.want == quicxfer.EventBlockRejected {
				require.Len(t, got, int(res.Seeds[0].BadBlocks), "one event per bad block")
				drops := eventsOf(evs, quicxfer.EventSourceDropped, bad.URL())
				require.Len(t, drops, 1, "dropped once")
				require.Contains(t, drops[0].Reason, "failed verification")
				for _, e := range got {
					require.True(t, e.Block >= 0 && e.Block < 49)
				}
			}
		})
	}
}
