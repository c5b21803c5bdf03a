package scheduler

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const kib = 1 << 10

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// only returns the actions of one kind.
func only(kind ActionKind, acts []Action) []Action {
	var out []Action
	for _, a := range acts {
		if a.Kind == kind {
			out = append(out, a)
		}
	}
	return out
}

func blocksOf(acts []Action) []int {
	var out []int
	for _, a := range acts {
		out = append(out, a.Block)
	}
	return out
}

// measure gives src a known rate by reporting rate·d bytes over a busy
// period of d that started at start (when src's requests were issued).
func measure(t *testing.T, s *Scheduler, src SourceID, rate float64, start time.Time, d time.Duration) {
	t.Helper()
	require.Positive(t, s.Stats(src).InFlightReqs, "source %d must be busy to measure it", src)
	base := s.sources[src-1].raw
	s.Progress(src, base+int64(rate*d.Seconds()), start.Add(d))
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want func(c Config) bool
	}{
		{"zero gets defaults", Config{NumBlocks: 10, BlockSize: 100, Size: 1000}, func(c Config) bool {
			return c.MinWindow == 200 && c.MaxWindow == DefaultMaxWindow && c.MaxInFlight == DefaultMaxInFlight &&
				c.RTTMargin == DefaultRTTMargin && c.StallTimeout == DefaultStallTimeout && c.MaxStrikes == DefaultMaxStrikes &&
				c.MaxRetries == DefaultMaxRetries && c.BackoffBase == DefaultBackoffBase && c.BackoffMax == DefaultBackoffMax
		}},
		{"min window at least one block", Config{NumBlocks: 10, BlockSize: 100, Size: 1000, MinWindow: 10}, func(c Config) bool {
			return c.MinWindow == 100
		}},
		{"max window at least min window", Config{NumBlocks: 10, BlockSize: 100, Size: 1000, MinWindow: 500, MaxWindow: 300}, func(c Config) bool {
			return c.MaxWindow == 500
		}},
		{"max in flight at least one block", Config{NumBlocks: 10, BlockSize: 100, Size: 1000, MaxInFlight: 1}, func(c Config) bool {
			return c.MaxInFlight == 100
		}},
		{"empty file", Config{}, func(c Config) bool { return c.MaxInFlight == DefaultMaxInFlight }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.in.withDefaults()
			require.True(t, tt.want(c), "%+v", c)
		})
	}
}

func TestNewPanicsOnBadGeometry(t *testing.T) {
	for name, cfg := range map[string]Config{
		"size too small":   {NumBlocks: 3, BlockSize: 100, Size: 200},
		"size too large":   {NumBlocks: 3, BlockSize: 100, Size: 301},
		"zero block size":  {NumBlocks: 3, Size: 300},
		"negative blocks":  {NumBlocks: -1},
		"negative size":    {NumBlocks: 1, BlockSize: 10, Size: -1},
		"no room for last": {NumBlocks: 2, BlockSize: 10, Size: 10},
	} {
		t.Run(name, func(t *testing.T) {
			require.Panics(t, func() { New(cfg, nil) })
		})
	}
}

func TestBackoffDelays(t *testing.T) {
	c := Config{BackoffBase: ms(500), BackoffMax: 3 * time.Second}.withDefaults()
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, c.backoff(n))
	}
	require.Equal(t, []time.Duration{ms(500), ms(1000), ms(2000), ms(3000), ms(3000), ms(3000)}, got)
}

func TestSmallFiles(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantFetch []int
		wantLen   int64 // InFlight after the first Next
	}{
		{"zero blocks", Config{}, nil, 0},
		{"one short block", Config{NumBlocks: 1, BlockSize: 64 * kib, Size: 1000}, []int{0}, 1000},
		{"one full block", Config{NumBlocks: 1, BlockSize: 64 * kib, Size: 64 * kib}, []int{0}, 64 * kib},
		{"short last block", Config{NumBlocks: 2, BlockSize: 64 * kib, Size: 64*kib + 1}, []int{0, 1}, 64*kib + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.cfg, nil)
			require.Equal(t, tt.cfg.NumBlocks == 0, s.Done())
			require.Equal(t, tt.cfg.NumBlocks, s.Missing())
			src := s.AddSource(t0)
			acts := s.Next(t0)
			require.Equal(t, tt.wantFetch, blocksOf(only(Fetch, acts)))
			require.Equal(t, tt.wantLen, s.InFlight())
			require.Equal(t, tt.wantLen, s.Stats(src).InFlightBytes)
			for _, a := range acts {
				require.Empty(t, s.Finish(a, Delivered, 0, at(ms(10))))
			}
			require.True(t, s.Done())
			require.NoError(t, s.Err())
			require.Zero(t, s.InFlight())
			require.Equal(t, tt.cfg.Size, s.Stats(src).DeliveredBytes)
			require.Empty(t, s.Next(at(ms(20))))
			require.True(t, s.NextWake(at(ms(20))).IsZero())
		})
	}
}

func TestProbeWindowLowestFirst(t *testing.T) {
	s := New(Config{NumBlocks: 100, BlockSize: 10 * kib, Size: 1000 * kib, MinWindow: 30 * kib}, nil)
	a := s.AddSource(t0)
	b := s.AddSource(t0)
	acts := s.Next(t0)
	require.Len(t, acts, 6, "two probe windows of 3 blocks")
	require.Equal(t, []int{0, 1, 2, 3, 4, 5}, blocksOf(acts))
	for _, src := range []SourceID{a, b} {
		st := s.Stats(src)
		require.Equal(t, Probing, st.State)
		require.Equal(t, int64(30*kib), st.InFlightBytes)
		require.Equal(t, int64(30*kib), st.Window)
	}
	require.Empty(t, s.Next(t0), "windows are full")

	// A delivered block frees room; the lowest free block goes next.
	require.Empty(t, s.Finish(acts[0], Delivered, 0, at(ms(5))))
	next := s.Next(at(ms(5)))
	require.Equal(t, []Action{{Kind: Fetch, Req: 7, Source: acts[0].Source, Block: 6}}, next)

	// A failed request returns its block to the pool, ahead of higher
	// ones, and its source waits: the other takes the block when it has
	// room.
	require.Empty(t, s.Finish(acts[1], Failed, 0, at(ms(6))))
	require.Equal(t, 1, s.Stats(acts[1].Source).Failures)
	require.Equal(t, Backoff, s.Stats(acts[1].Source).State)
	require.Empty(t, s.Next(at(ms(6))))
	var other Action
	for _, x := range acts[2:] {
		if x.Source != acts[1].Source {
			other = x
			break
		}
	}
	require.Empty(t, s.Finish(other, Delivered, 0, at(ms(7))))
	next = s.Next(at(ms(7)))
	require.Equal(t, []Action{{Kind: Fetch, Req: 8, Source: other.Source, Block: acts[1].Block}}, next)
}

func TestResumeNeverFetchesHave(t *testing.T) {
	have := func(i int) bool { return i%2 == 0 }
	s := New(Config{NumBlocks: 10, BlockSize: kib, Size: 10 * kib, MinWindow: 100 * kib}, have)
	require.Equal(t, 5, s.Missing())
	s.AddSource(t0)
	acts := s.Next(t0)
	require.Equal(t, []int{1, 3, 5, 7, 9}, blocksOf(acts))

	all := New(Config{NumBlocks: 10, BlockSize: kib, Size: 10 * kib}, func(int) bool { return true })
	require.True(t, all.Done())
	all.AddSource(t0)
	require.Empty(t, all.Next(t0))
}

func TestWindowFollowsRate(t *testing.T) {
	cfg := Config{NumBlocks: 1000, BlockSize: 64 * kib, Size: 64000 * kib, MaxWindow: 4 << 20}
	s := New(cfg, nil)
	src := s.AddSource(t0)
	s.SetRTT(src, ms(30))
	s.Next(t0)
	measure(t, s, src, 5e6, t0, ms(20))
	st := s.Stats(src)
	require.Equal(t, Active, st.State)
	require.InDelta(t, 5e6, st.Rate, 1)
	require.InDelta(t, 2*5e6*0.05, float64(st.Window), 2) // 2 · rate · (RTT + 20ms margin)

	// The window is now filled, counting bytes not received yet.
	acts := s.Next(at(ms(20)))
	require.NotEmpty(t, acts)
	st = s.Stats(src)
	require.LessOrEqual(t, st.UnreceivedBytes, st.Window)
	require.Greater(t, st.UnreceivedBytes+cfg.BlockSize, st.Window)

	// A very fast source is capped at MaxWindow.
	measure(t, s, src, 1e9, at(ms(20)), ms(1))
	require.Equal(t, int64(4<<20), s.Stats(src).Window)
}

func TestMaxInFlightIsGlobal(t *testing.T) {
	cfg := Config{NumBlocks: 100, BlockSize: 10 * kib, Size: 1000 * kib, MinWindow: 50 * kib, MaxInFlight: 35 * kib}
	s := New(cfg, nil)
	for range 3 {
		s.AddSource(t0)
	}
	acts := s.Next(t0)
	require.Len(t, acts, 3, "35 KiB allows three 10 KiB blocks")
	require.Equal(t, int64(30*kib), s.InFlight())
	require.Empty(t, s.Next(t0))
}

// twoSources sets up a fast (10 MB/s) and a slow (1 MB/s) source, each with
// one block outstanding and a known rate.
func twoSources(t *testing.T, cfg Config) (s *Scheduler, fast, slow SourceID, acts []Action) {
	s = New(cfg, nil)
	fast = s.AddSource(t0)
	slow = s.AddSource(t0)
	s.SetRTT(fast, ms(10))
	s.SetRTT(slow, ms(10))
	acts = s.Next(t0)
	measure(t, s, fast, 10e6, t0, ms(10))
	measure(t, s, slow, 1e6, t0, ms(100))
	return s, fast, slow, acts
}

func TestEndgameDuplicatesSlowHolder(t *testing.T) {
	// Four blocks, probe windows of two: everything is in flight at once.
	const bs = 100 * kib
	s, fast, slow, acts := twoSources(t, Config{NumBlocks: 4, BlockSize: bs, Size: 4 * bs})
	require.Equal(t, []int{0, 1, 2, 3}, blocksOf(acts))
	now := at(time.Second)

	// The fast source delivers its blocks.
	for _, a := range acts {
		if a.Source == fast {
			require.Empty(t, s.Finish(a, Delivered, 0, now))
		}
	}
	// It is idle; the slow source still holds two blocks, so the fast one
	// duplicates them, the most recently issued first.
	dup := s.Next(now)
	var slowBlocks []int
	for _, a := range acts {
		if a.Source == slow {
			slowBlocks = append([]int{a.Block}, slowBlocks...)
		}
	}
	require.Equal(t, slowBlocks, blocksOf(dup))
	for _, d := range dup {
		require.Equal(t, Fetch, d.Kind)
		require.Equal(t, fast, d.Source)
	}
	require.Empty(t, s.Next(now), "at most two requests per block")

	// The duplicate wins: the slow source's copy comes back as a Cancel.
	cancels := s.Finish(fetchOf(dup[0].Req, fast, dup[0].Block), Delivered, 0, now.Add(ms(20)))
	require.Len(t, cancels, 1)
	require.Equal(t, Cancel, cancels[0].Kind)
	require.Equal(t, slow, cancels[0].Source)
	require.Equal(t, dup[0].Block, cancels[0].Block)

	// The loser's late delivery is ignored.
	require.Empty(t, s.Finish(fetchOf(cancels[0].Req, slow, cancels[0].Block), Delivered, 0, now.Add(ms(30))))
	require.Zero(t, s.Stats(slow).DeliveredBlocks)
	require.Equal(t, 1, s.Missing())

	// The original wins the other race: the duplicate is cancelled.
	var orig Action
	for _, a := range acts {
		if a.Source == slow && a.Block == dup[1].Block {
			orig = a
		}
	}
	cancels = s.Finish(fetchOf(orig.Req, slow, orig.Block), Delivered, 0, now.Add(ms(40)))
	require.Equal(t, []Action{{Kind: Cancel, Req: dup[1].Req, Source: fast, Block: dup[1].Block}}, cancels)
	require.True(t, s.Done())
	require.Zero(t, s.InFlight())
}

func TestEndgameLeavesComparableHolders(t *testing.T) {
	// Two equally fast sources: neither duplicates the other.
	const bs = 100 * kib
	s := New(Config{NumBlocks: 4, BlockSize: bs, Size: 4 * bs}, nil)
	a := s.AddSource(t0)
	b := s.AddSource(t0)
	acts := s.Next(t0)
	measure(t, s, a, 10e6, t0, ms(10))
	measure(t, s, b, 10e6, t0, ms(10))
	now := at(time.Second)
	require.Empty(t, s.Finish(acts[0], Delivered, 0, now))
	require.Empty(t, s.Next(now))
}

func TestCancelledDeliveryStillCounts(t *testing.T) {
	s := New(Config{NumBlocks: 2, BlockSize: kib, Size: 2 * kib}, nil)
	src := s.AddSource(t0)
	acts := s.Next(t0)
	require.Len(t, acts, 2)
	cancels := s.SourceDown(src, at(ms(10)))
	require.Len(t, only(Cancel, cancels), 2)
	// Good data is good data: the block is still missing, so it counts.
	require.Empty(t, s.Finish(fetchOf(acts[0].Req, src, acts[0].Block), Delivered, 0, at(ms(11))))
	require.Equal(t, 1, s.Missing())
	require.Equal(t, 1, s.Stats(src).DeliveredBlocks)
	require.Zero(t, s.Stats(src).Failures, "a delivery resets the failure count")
	// Delivered again: ignored.
	require.Empty(t, s.Finish(fetchOf(acts[0].Req, src, acts[0].Block), Delivered, 0, at(ms(12))))
	require.Equal(t, 1, s.Missing())
	// Failed for a request the scheduler forgot: ignored.
	require.Empty(t, s.Finish(fetchOf(acts[1].Req, src, acts[1].Block), Failed, 0, at(ms(13))))
	require.Zero(t, s.Stats(src).Failures)
}

func TestLateDeliveryCancelsReissued(t *testing.T) {
	s := New(Config{NumBlocks: 1, BlockSize: kib, Size: kib}, nil)
	a := s.AddSource(t0)
	b := s.AddSource(t0)
	first := s.Next(t0)
	require.Len(t, first, 1)
	require.Equal(t, a, first[0].Source)
	s.SourceDown(a, at(ms(1)))
	second := s.Next(at(ms(1)))
	require.Equal(t, []int{0}, blocksOf(second))
	require.Equal(t, b, second[0].Source)
	// a's cancelled request delivers after all: b's request is cancelled.
	acts := s.Finish(fetchOf(first[0].Req, a, 0), Delivered, 0, at(ms(2)))
	require.Equal(t, []Action{{Kind: Cancel, Req: second[0].Req, Source: b, Block: 0}}, acts)
	require.True(t, s.Done())
}

func TestRejectedStrikes(t *testing.T) {
	s := New(Config{NumBlocks: 10, BlockSize: kib, Size: 10 * kib, MinWindow: 4 * kib, MaxStrikes: 2}, nil)
	bad := s.AddSource(t0)
	acts := s.Next(t0)
	require.Equal(t, []int{0, 1, 2, 3}, blocksOf(acts))
	good := s.AddSource(t0)
	goods := s.Next(t0)
	require.Equal(t, []int{4, 5, 6, 7}, blocksOf(goods), "a probe window of four")

	require.Empty(t, s.Finish(fetchOf(acts[0].Req, bad, 0), Rejected, 0, at(ms(1))))
	require.Equal(t, 1, s.Stats(bad).Strikes)
	require.Equal(t, []int{0}, s.Stats(bad).RejectedBlocks)
	// Block 0 is back in the pool, but not for bad while good may serve it.
	next := s.Next(at(ms(1)))
	require.Equal(t, []Action{{Kind: Fetch, Req: 9, Source: bad, Block: 8}}, next)
	require.Empty(t, s.Finish(fetchOf(goods[0].Req, good, 4), Delivered, 0, at(ms(2))))
	next = s.Next(at(ms(2)))
	require.Equal(t, []Action{{Kind: Fetch, Req: 10, Source: good, Block: 0}}, next)

	// The second strike drops the source; its requests come back.
	cancels := s.Finish(fetchOf(acts[1].Req, bad, 1), Rejected, 0, at(ms(3)))
	require.Equal(t, []int{2, 3, 8}, blocksOf(cancels))
	require.Len(t, only(Cancel, cancels), 3)
	st := s.Stats(bad)
	require.Equal(t, Dropped, st.State)
	require.Equal(t, "2 blocks failed verification", st.DropReason)
	require.Zero(t, st.InFlightBytes)
	require.NoError(t, s.Err())
	for _, a := range s.Next(at(ms(4))) {
		require.Equal(t, good, a.Source)
	}
}

// TestBadCopyAskedAgainWhenAlone: one bad copy of a block from the only
// source is not the end of the download (a byte flipped on the way, once):
// the block is asked of it again. A second bad copy of the same block bars
// the source from it for good, and if no other source may serve it, Err
// says so.
func TestBadCopyAskedAgainWhenAlone(t *testing.T) {
	s := New(Config{NumBlocks: 3, BlockSize: kib, Size: 3 * kib, MinWindow: kib, MaxStrikes: 4}, nil)
	src := s.AddSource(t0)
	acts := s.Next(t0)
	require.Equal(t, []int{0}, blocksOf(acts))
	require.Empty(t, s.Finish(fetchOf(acts[0].Req, src, 0), Rejected, 0, at(ms(1))))
	require.NoError(t, s.Err())
	acts = s.Next(at(ms(1)))
	require.Equal(t, []int{0}, blocksOf(acts), "asked again: nobody else has it")
	require.Empty(t, s.Finish(fetchOf(acts[0].Req, src, 0), Delivered, 0, at(ms(2))))

	acts = s.Next(at(ms(2)))
	require.Equal(t, []int{1}, blocksOf(acts))
	s.Finish(fetchOf(acts[0].Req, src, 1), Rejected, 0, at(ms(3)))
	acts = s.Next(at(ms(3)))
	require.Equal(t, []int{1}, blocksOf(acts))
	s.Finish(fetchOf(acts[0].Req, src, 1), Rejected, 0, at(ms(4)))
	err := s.Err()
	require.ErrorIs(t, err, ErrNoValidSource)
	require.EqualError(t, err, "block 1: "+ErrNoValidSource.Error())
	require.Equal(t, Probing, s.Stats(src).State, "three strikes of four: not dropped")
	acts = s.Next(at(ms(5)))
	require.Equal(t, []int{2}, blocksOf(acts), "never block 1 again")

	// A new source can serve it.
	other := s.AddSource(at(ms(6)))
	require.NoError(t, s.Err())
	acts = s.Next(at(ms(6)))
	require.Equal(t, map[SourceID][]int{other: {1}}, fetchesBySource(acts))
}

func TestErrNoValidSource(t *testing.T) {
	s := New(Config{NumBlocks: 3, BlockSize: kib, Size: 3 * kib, MinWindow: kib}, nil)
	a := s.AddSource(t0)
	b := s.AddSource(t0)
	acts := s.Next(t0) // a: 0, b: 1
	require.Equal(t, []int{0, 1}, blocksOf(acts))
	s.Finish(fetchOf(acts[1].Req, b, 1), Rejected, 0, at(ms(1)))
	require.NoError(t, s.Err(), "a may still serve block 1")
	s.Finish(fetchOf(acts[0].Req, a, 0), Delivered, 0, at(ms(1)))
	acts = s.Next(at(ms(1)))
	require.Equal(t, []Action{{Kind: Fetch, Req: 3, Source: a, Block: 1}, {Kind: Fetch, Req: 4, Source: b, Block: 2}}, acts)
	s.Finish(fetchOf(acts[0].Req, a, 1), Rejected, 0, at(ms(2)))
	require.NoError(t, s.Err(), "each may try block 1 once more")
	s.Finish(fetchOf(acts[1].Req, b, 2), Delivered, 0, at(ms(2)))
	acts = s.Next(at(ms(2)))
	require.Equal(t, []Action{{Kind: Fetch, Req: 5, Source: a, Block: 1}}, acts)
	s.Finish(fetchOf(acts[0].Req, a, 1), Rejected, 0, at(ms(3)))
	acts = s.Next(at(ms(3)))
	require.Equal(t, []Action{{Kind: Fetch, Req: 6, Source: b, Block: 1}}, acts)
	s.Finish(fetchOf(acts[0].Req, b, 1), Rejected, 0, at(ms(4)))
	err := s.Err()
	require.ErrorIs(t, err, ErrNoValidSource)
	require.EqualError(t, err, "block 1: "+ErrNoValidSource.Error())
	require.Empty(t, only(Fetch, s.Next(at(ms(5)))), "nobody may serve block 1")

	// A new source can serve it.
	s.AddSource(at(ms(6)))
	require.NoError(t, s.Err())
}

func TestErrNoSources(t *testing.T) {
	s := New(Config{NumBlocks: 3, BlockSize: kib, Size: 3 * kib}, nil)
	require.NoError(t, s.Err(), "no source added yet")
	a := s.AddSource(t0)
	b := s.AddSource(t0)
	acts := s.Next(t0)
	require.NotEmpty(t, acts)
	var cancels []Action
	cancels = append(cancels, s.Remove(a)...)
	require.NoError(t, s.Err())
	cancels = append(cancels, s.Remove(b)...)
	require.Len(t, cancels, len(acts))
	require.ErrorIs(t, s.Err(), ErrNoSources)
	require.Equal(t, "removed", s.Stats(a).DropReason)
	require.Empty(t, s.Next(at(ms(1))))
	require.Empty(t, s.Remove(a), "removing twice is harmless")
}

func TestBackoffProbeAndDrop(t *testing.T) {
	cfg := Config{NumBlocks: 100, BlockSize: kib, Size: 100 * kib, MaxRetries: 4, BackoffBase: ms(100)}
	s := New(cfg, nil)
	src := s.AddSource(t0)
	now := t0
	require.Len(t, s.Next(now), 2)

	for i, wait := range []time.Duration{ms(100), ms(200), ms(400)} {
		cancels := s.SourceDown(src, now)
		require.Len(t, only(Cancel, cancels), 2, "round %d", i)
		require.Zero(t, s.InFlight())
		st := s.Stats(src)
		require.Equal(t, Backoff, st.State)
		require.Equal(t, i+1, st.Failures)
		require.Equal(t, now.Add(wait), st.BackoffUntil)
		require.Equal(t, now.Add(wait), s.NextWake(now))
		require.Empty(t, s.SourceDown(src, now), "already down")

		require.Empty(t, s.Next(now.Add(wait-time.Nanosecond)))
		now = now.Add(wait)
		probe := s.Next(now)
		require.Equal(t, []int{0, 1}, blocksOf(probe), "probe window after round %d", i)
		require.Equal(t, Probing, s.Stats(src).State)
	}
	cancels := s.SourceDown(src, now)
	require.Len(t, cancels, 2)
	st := s.Stats(src)
	require.Equal(t, Dropped, st.State)
	require.Equal(t, "4 consecutive failures", st.DropReason)
	require.ErrorIs(t, s.Err(), ErrNoSources)
	require.True(t, s.NextWake(now).IsZero())
}

func TestDeliveryResetsFailures(t *testing.T) {
	s := New(Config{NumBlocks: 100, BlockSize: kib, Size: 100 * kib, MaxRetries: 3, BackoffBase: ms(100)}, nil)
	src := s.AddSource(t0)
	acts := s.Next(t0)
	s.Finish(fetchOf(acts[0].Req, src, acts[0].Block), Failed, 0, at(ms(1)))
	require.Equal(t, 1, s.Stats(src).Failures)
	// Its other request, in flight since before, arrives meanwhile.
	s.Finish(fetchOf(acts[1].Req, src, acts[1].Block), Delivered, 0, at(ms(3)))
	require.Zero(t, s.Stats(src).Failures)

	// Three request errors in a row, each after its backoff, drop it.
	now := at(ms(101))
	for i := range 3 {
		acts = only(Fetch, s.Next(now))
		require.Len(t, acts, 2, "round %d", i)
		cancels := s.Finish(fetchOf(acts[0].Req, src, acts[0].Block), Failed, 0, now)
		if i < 2 {
			require.Empty(t, cancels)
			require.Equal(t, Backoff, s.Stats(src).State)
			now = s.Stats(src).BackoffUntil
			// Its other request fails too: counted with the first.
			require.Empty(t, s.Finish(fetchOf(acts[1].Req, src, acts[1].Block), Failed, 0, now))
			require.Equal(t, i+1, s.Stats(src).Failures)
		} else {
			require.Equal(t, []Action{{Kind: Cancel, Req: acts[1].Req, Source: src, Block: acts[1].Block}}, cancels,
				"the other outstanding request is cancelled")
		}
	}
	require.Equal(t, "3 consecutive failures", s.Stats(src).DropReason)
}

func TestStallDetection(t *testing.T) {
	cfg := Config{NumBlocks: 10, BlockSize: kib, Size: 10 * kib, StallTimeout: 3 * time.Second}
	s := New(cfg, nil)
	src := s.AddSource(t0)
	require.True(t, s.NextWake(t0).IsZero(), "nothing outstanding")
	acts := s.Next(t0)
	require.Len(t, acts, 2)
	require.Equal(t, at(3*time.Second), s.NextWake(t0))

	// Progress moves the deadline; a report with no new bytes does not.
	s.Progress(src, 100, at(time.Second))
	s.Progress(src, 100, at(2*time.Second))
	require.Equal(t, at(4*time.Second), s.NextWake(at(2*time.Second)))
	require.Empty(t, s.Next(at(4*time.Second-time.Nanosecond)))

	cancels := s.Next(at(4 * time.Second))
	require.Equal(t, []int{0, 1}, blocksOf(only(Cancel, cancels)))
	require.Empty(t, only(Fetch, cancels), "the only source is backing off")
	st := s.Stats(src)
	require.Equal(t, Backoff, st.State)
	require.Equal(t, 1, st.Failures)
	require.Equal(t, at(4*time.Second+DefaultBackoffBase), s.NextWake(at(4*time.Second)))
}

func TestStallCountsFromIssue(t *testing.T) {
	// A source idle for long is not stalled by its first new request.
	cfg := Config{NumBlocks: 10, BlockSize: kib, Size: 10 * kib, MinWindow: kib}
	s := New(cfg, nil)
	src := s.AddSource(t0)
	acts := s.Next(t0)
	s.Progress(src, kib, at(ms(10)))
	s.Finish(fetchOf(acts[0].Req, src, acts[0].Block), Delivered, 0, at(ms(10)))
	// Idle for a minute (e.g. the caller did not call Next), then a request.
	later := at(time.Minute)
	require.NotEmpty(t, s.Next(later))
	require.Equal(t, later.Add(DefaultStallTimeout), s.NextWake(later))
}

func TestTailRuleSkipsSlowSource(t *testing.T) {
	// Plenty of work: the slow source gets blocks too.
	const bs = 100 * kib
	s, _, slow, acts := twoSources(t, Config{NumBlocks: 1000, BlockSize: bs, Size: 1000 * bs})
	for _, a := range acts {
		if a.Source == slow {
			s.Finish(a, Delivered, 0, at(time.Second))
		}
	}
	acts = s.Next(at(time.Second))
	require.NotEmpty(t, only(Fetch, acts))
	var slowGot bool
	for _, a := range acts {
		slowGot = slowGot || a.Source == slow
	}
	require.True(t, slowGot)

	// Near the end: three blocks left beyond the two outstanding. The slow
	// source (1 MB/s, 0.2 s for a block) would finish later than the fast one
	// (10 MB/s) finishes everything, so it gets nothing.
	s, fast, slow, acts := twoSources(t, Config{NumBlocks: 5, BlockSize: bs, Size: 5 * bs, MinWindow: bs})
	require.Len(t, acts, 2)
	now := at(time.Second)
	for _, a := range acts {
		if a.Source == slow {
			s.Finish(a, Delivered, 0, now)
		}
	}
	got := s.Next(now)
	require.NotEmpty(t, got)
	for _, a := range got {
		require.Equal(t, fast, a.Source, "the slow source must not take a tail block")
	}
}

func TestNewcomerIsProbed(t *testing.T) {
	const bs = 100 * kib
	s, fast, _, _ := twoSources(t, Config{NumBlocks: 1000, BlockSize: bs, Size: 1000 * bs, MaxInFlight: 12 * bs})
	newcomer := s.AddSource(at(time.Second))
	acts := s.Next(at(time.Second))
	// The idle newcomer gets one block first, so a tight MaxInFlight cannot
	// starve it; then the known sources fill their windows; the rest of the
	// newcomer's probe window comes last.
	require.Greater(t, len(acts), 3)
	require.Equal(t, newcomer, acts[0].Source)
	require.Equal(t, fast, acts[1].Source)
	require.Equal(t, newcomer, acts[len(acts)-1].Source)
	require.Equal(t, int64(2*bs), s.Stats(newcomer).InFlightBytes)
	require.LessOrEqual(t, s.InFlight(), int64(12*bs))
}

func TestSetRTTAndProgressOnUnknownSource(t *testing.T) {
	s := New(Config{NumBlocks: 1, BlockSize: kib, Size: kib}, nil)
	s.SetRTT(7, time.Second)
	s.Progress(7, 100, t0)
	require.Empty(t, s.Finish(fetchOf(1, 7, 0), Delivered, 0, t0))
	require.Empty(t, s.Finish(fetchOf(1, 7, 0), Rejected, 0, t0))
	require.Empty(t, s.Finish(fetchOf(1, 7, 0), Failed, 0, t0))
	require.Empty(t, s.SourceDown(7, t0))
	require.Empty(t, s.Remove(7))
	require.Equal(t, SourceStats{}, s.Stats(7))
	require.Empty(t, s.Finish(fetchOf(1, 7, 99), Delivered, 0, t0), "block out of range")
	require.Equal(t, 1, s.Missing())
}

func TestRateFollowsChanges(t *testing.T) {
	s := New(Config{NumBlocks: 1, BlockSize: kib, Size: kib}, nil)
	src := s.AddSource(t0)
	s.Next(t0)
	var total int64
	// 10 MB/s for 5 s, then 2 MB/s for 5 s, reported every 10 ms.
	for i := 1; i <= 1000; i++ {
		rate := int64(10e6)
		if i > 500 {
			rate = 2e6
		}
		total += rate / 100
		s.Progress(src, total, at(ms(10*i)))
		if i == 500 {
			require.InEpsilon(t, 10e6, s.Stats(src).Rate, 0.01)
		}
	}
	require.InEpsilon(t, 2e6, s.Stats(src).Rate, 0.05, "5 s after the change")

	// Bunched progress (a block at a time) still gives the mean rate.
	s = New(Config{NumBlocks: 1, BlockSize: kib, Size: kib}, nil)
	src = s.AddSource(t0)
	s.Next(t0)
	total = 0
	for i := 1; i <= 100; i++ { // 1 MB every 100 ms = 10 MB/s
		total += 1e6
		s.Progress(src, total, at(ms(100*i)))
	}
	require.InEpsilon(t, 10e6, s.Stats(src).Rate, 0.01)

	// Idle time does not count: no requests outstanding, no progress.
	s.Finish(fetchOf(1, src, 0), Delivered, 0, at(ms(10000)))
	s.Progress(src, total, at(ms(20000)))
	require.InEpsilon(t, 10e6, s.Stats(src).Rate, 0.01)
}

func TestStrings(t *testing.T) {
	require.Equal(t, "probing", Probing.String())
	require.Equal(t, "active", Active.String())
	require.Equal(t, "backoff", Backoff.String())
	require.Equal(t, "dropped", Dropped.String())
	require.Equal(t, "unknown", State(0).String())
	require.Equal(t, "fetch", Fetch.String())
	require.Equal(t, "cancel", Cancel.String())
	require.Equal(t, "unknown", ActionKind(0).String())
	require.True(t, errors.Is(ErrNoSources, ErrNoSources))
}

func TestFreeSet(t *testing.T) {
	f := newFreeSet(200)
	for _, i := range []int{5, 64, 130, 199} {
		f.add(i, 10)
	}
	f.add(5, 10) // twice: no change
	require.Equal(t, 4, f.n)
	require.Equal(t, int64(40), f.bytes)
	require.Equal(t, 5, f.next(0))
	require.Equal(t, 64, f.next(6))
	require.Equal(t, 130, f.next(65))
	require.Equal(t, 199, f.next(131))
	require.Equal(t, -1, f.next(200))
	f.remove(5, 10)
	f.remove(5, 10)
	require.Equal(t, 64, f.next(0))
	f.add(3, 10)
	require.Equal(t, 3, f.next(0))
	for _, i := range []int{3, 64, 130, 199} {
		f.remove(i, 10)
	}
	require.Equal(t, -1, f.next(0))
	require.Zero(t, f.bytes)
}

// TestReturned: a returned request gives its block back to the pool and
// counts nothing against the source, however often it happens.
func TestReturned(t *testing.T) {
	now := time.Unix(0, 0)
	s := New(Config{NumBlocks: 4, BlockSize: 10, Size: 40, MaxRetries: 2}, nil)
	src := s.AddSource(now)
	for range 10 {
		acts := s.Next(now)
		require.NotEmpty(t, acts)
		for _, a := range acts {
			require.Equal(t, Fetch, a.Kind)
			s.Finish(fetchOf(a.Req, src, a.Block), Returned, 0, now)
		}
		require.Zero(t, s.InFlight())
		require.NotEqual(t, Dropped, s.Stats(src).State)
	}
	require.Equal(t, 4, s.Missing())
	require.NoError(t, s.Err())
}

// fetchOf is the Fetch of request req of block at src, as Next returned it.
func fetchOf(req ReqID, src SourceID, block int) Action {
	return Action{Kind: Fetch, Req: req, Source: src, Block: block}
}
