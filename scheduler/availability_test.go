package scheduler

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// bitsOf makes a SetAvailable bitfield of the given blocks.
func bitsOf(n int, blocks ...int) []uint64 {
	w := make([]uint64, (n+63)/64)
	for _, b := range blocks {
		w[b/64] |= 1 << (b % 64)
	}
	return w
}

// fetchesBySource groups the blocks of the Fetches by source.
func fetchesBySource(acts []Action) map[SourceID][]int {
	out := map[SourceID][]int{}
	for _, a := range only(Fetch, acts) {
		out[a.Source] = append(out[a.Source], a.Block)
	}
	return out
}

// threeSpread: A has every block, B has 0..4, C has 0..2, so blocks 0..2 are
// at three sources, 3..4 at two, 5..9 at A only.
func threeSpread(t *testing.T, order Order) (*Scheduler, SourceID, SourceID, SourceID) {
	t.Helper()
	s := New(Config{NumBlocks: 10, BlockSize: kib, Size: 10 * kib, MinWindow: 2 * kib, Order: order}, nil)
	a := s.AddSource(t0)
	b := s.AddSource(t0)
	c := s.AddSource(t0)
	s.SetAvailable(b, bitsOf(10, 0, 1, 2, 3, 4))
	s.SetAvailable(c, bitsOf(10, 0, 1, 2))
	require.Equal(t, 10, s.Stats(a).HaveBlocks)
	require.Equal(t, 5, s.Stats(b).HaveBlocks)
	require.Equal(t, 3, s.Stats(c).HaveBlocks)
	return s, a, b, c
}

func TestRarestFirst(t *testing.T) {
	s, a, b, c := threeSpread(t, RarestFirst)
	got := fetchesBySource(s.Next(t0))
	require.Equal(t, map[SourceID][]int{a: {5, 6}, b: {3, 4}, c: {0, 1}}, got,
		"each source takes the rarest blocks it has, lowest index first")
}

func TestLowestFirstOption(t *testing.T) {
	s, a, b, c := threeSpread(t, LowestFirst)
	got := fetchesBySource(s.Next(t0))
	require.Equal(t, map[SourceID][]int{a: {0, 3}, b: {1, 4}, c: {2}}, got,
		"lowest block each source has; C has nothing free left")
}

func TestRarityFollowsSourceState(t *testing.T) {
	// When the full seed goes into backoff, blocks only it had drop to
	// rarity 0 and the partial source is not asked for them.
	s := New(Config{NumBlocks: 4, BlockSize: kib, Size: 4 * kib, MinWindow: 4 * kib}, nil)
	a := s.AddSource(t0)
	p := s.AddSource(t0)
	s.SetAvailable(p, bitsOf(4, 2))
	s.SourceDown(a, t0)
	acts := s.Next(t0)
	require.Equal(t, map[SourceID][]int{p: {2}}, fetchesBySource(acts))
	// A comes back: it has rarity-1 blocks 0, 1, 3.
	acts = s.Next(t0.Add(time.Second))
	require.Equal(t, map[SourceID][]int{a: {0, 1, 3}}, fetchesBySource(acts))
	for i := range s.rarity {
		want := int32(1)
		if i == 2 {
			want = 2
		}
		require.Equal(t, want, s.rarity[i], "block %d", i)
	}
	s.Remove(a)
	s.Remove(p)
	require.Equal(t, []int32{0, 0, 0, 0}, s.rarity)
}

func TestAvailabilityBitfieldEdges(t *testing.T) {
	s := New(Config{NumBlocks: 70, BlockSize: kib, Size: 70 * kib}, nil)
	p := s.AddSource(t0)
	s.SetAvailable(p, nil)
	require.Equal(t, 0, s.Stats(p).HaveBlocks)
	require.Empty(t, s.Next(t0), "a source with nothing gets nothing")
	// Bits past NumBlocks are ignored, words past the end too.
	s.SetAvailable(p, []uint64{1, ^uint64(0), 7})
	require.Equal(t, 1+6, s.Stats(p).HaveBlocks)
	s.AddAvailable(p, 70) // out of range: ignored
	s.AddAvailable(p, -1) // out of range: ignored
	s.AddAvailable(p, 0)  // already had
	s.AddAvailable(99, 3) // unknown source
	require.Equal(t, 7, s.Stats(p).HaveBlocks)
	for b := range 70 {
		s.AddAvailable(p, b)
	}
	require.Equal(t, 70, s.Stats(p).HaveBlocks)
	require.Nil(t, s.sources[p-1].avail, "a complete partial source becomes a full one")
	require.Zero(t, s.partials)
	s.SetAvailable(p, bitsOf(70, 5))
	s.SetAvailableAll(p)
	require.Equal(t, 70, s.Stats(p).HaveBlocks)
	require.Zero(t, s.partials)
}

func TestErrWaitsForPartialSources(t *testing.T) {
	s := New(Config{NumBlocks: 3, BlockSize: kib, Size: 3 * kib, MinWindow: 3 * kib}, nil)
	seed := s.AddSource(t0)
	peer := s.AddSource(t0)
	s.SetAvailable(peer, bitsOf(3, 0))
	s.Remove(seed)
	require.NoError(t, s.Err(), "blocks 1 and 2 are at no source, but the peer may still gain them")
	acts := s.Next(t0)
	require.Equal(t, map[SourceID][]int{peer: {0}}, fetchesBySource(acts))
	s.Finish(fetchOf(acts[0].Req, peer, 0), Delivered, 0, t0)
	require.Empty(t, s.Next(t0), "nobody has blocks 1 and 2 yet: wait")
	require.NoError(t, s.Err())
	s.AddAvailable(peer, 2)
	acts = s.Next(t0)
	require.Equal(t, map[SourceID][]int{peer: {2}}, fetchesBySource(acts))

	// A peer that served block 2 badly twice will never be asked for it
	// again: if it is the only live source, block 2 can never come.
	s.Finish(fetchOf(acts[0].Req, peer, 2), Rejected, 0, t0)
	require.NoError(t, s.Err(), "asked again: nobody else has it")
	acts = s.Next(t0)
	require.Equal(t, map[SourceID][]int{peer: {2}}, fetchesBySource(acts))
	s.Finish(fetchOf(acts[0].Req, peer, 2), Rejected, 0, t0)
	require.ErrorIs(t, s.Err(), ErrNoValidSource)
	s.Remove(peer)
	require.ErrorIs(t, s.Err(), ErrNoSources)
}

func TestEndgameOnlyDuplicatesBlocksTheSourceHas(t *testing.T) {
	s := New(Config{NumBlocks: 2, BlockSize: kib, Size: 2 * kib, MinWindow: 2 * kib}, nil)
	slow := s.AddSource(t0)
	acts := s.Next(t0) // slow takes both
	require.Len(t, acts, 2)
	fast := s.AddSource(t0)
	s.SetAvailable(fast, bitsOf(2, 1))
	// Measure both: slow 1 kB/s, fast 1 MB/s (fast needs something in flight).
	measure(t, s, slow, 1e3, t0, 100*time.Millisecond)
	s.sources[fast-1].bytesW, s.sources[fast-1].secsW = 1e6, 1
	got := only(Fetch, s.Next(t0.Add(100*time.Millisecond)))
	require.Equal(t, []Action{{Kind: Fetch, Req: 3, Source: fast, Block: 1}}, got,
		"fast duplicates only block 1, which it has")
}

// The uneven spread of the swarm: an origin at 5 MB/s has every block; four
// peers at 10 MB/s each have a different third of the first 650 blocks; a
// sixth of those and the last 150 are at the origin only. The origin alone must move those, so the
// download cannot end before uniqueBytes/5 MB/s; rarest-first gets there by
// giving the origin its unique blocks from the start, and leaves nothing at
// the end waiting on it.
func unevenSpread() (specs []simSpec, unique []bool) {
	const blocks = 800
	at := func(b, peer int) bool { return b < 650 && (b*7+peer*2)%12 < 4 }
	unique = make([]bool, blocks)
	for b := range blocks {
		unique[b] = true
		for p := range 4 {
			if at(b, p) {
				unique[b] = false
			}
		}
	}
	specs = append(specs, simSpec{rate: 5e6, rtt: rtt20})
	for p := range 4 {
		specs = append(specs, simSpec{rate: 10e6, rtt: rtt20, has: func(b int) time.Duration {
			if at(b, p) {
				return 0
			}
			return -1
		}})
	}
	return specs, unique
}

func runUneven(t *testing.T, order Order) (*sim, []bool) {
	specs, unique := unevenSpread()
	cfg := simConfig(len(unique))
	cfg.Order = order
	m := newSim(t, cfg, nil, specs...)
	m.run(60 * time.Second)
	m.requireComplete()
	return m, unique
}

func TestSimRarestFirstUnevenSpread(t *testing.T) {
	m, unique := runUneven(t, RarestFirst)
	var uniqueBytes int64
	for b, u := range unique {
		if u {
			uniqueBytes += m.cfg.blockLen(b)
		}
	}
	require.Positive(t, uniqueBytes)
	floor := time.Duration(float64(uniqueBytes) / 5e6 * float64(time.Second))
	require.LessOrEqual(t, m.doneAt, floor*105/100+startup, "%v\norigin-only floor %v", m, floor)

	// The origin spent its time on the blocks only it has; the peers took
	// everything else.
	origin := m.srcs[0]
	var originCommon int
	for _, e := range m.events {
		if e.action.Kind == Fetch && e.src == origin.id && !unique[e.action.Block] {
			originCommon++
		}
	}
	require.LessOrEqual(t, originCommon, len(unique)/50, "origin asked for blocks peers have: %v", m)

	// Lowest-first, same swarm: the tail rule already steers the origin away
	// from blocks the faster peers would finish sooner, so it ends only a
	// little later.
	lm, _ := runUneven(t, LowestFirst)
	t.Logf("rarest-first %v, lowest-first %v, origin-only floor %v", m.doneAt, lm.doneAt, floor)
	require.Less(t, m.doneAt, lm.doneAt)
}

func TestSimAvailabilityGrows(t *testing.T) {
	// The only full seed dies early; a peer that has nothing at the start
	// gains a block every 4 ms (as it downloads elsewhere). The download
	// waits for blocks rather than failing, and never asks the peer for a
	// block before it has it.
	cfg := simConfig(300)
	cfg.MaxRetries = 2
	cfg.BackoffBase = 50 * time.Millisecond
	m := newSim(t, cfg, nil,
		simSpec{rate: 10e6, rtt: rtt20, dieAt: 200 * time.Millisecond},
		simSpec{rate: 40e6, rtt: rtt20, has: func(b int) time.Duration { return time.Duration(b) * 4 * time.Millisecond }},
	)
	m.run(10 * time.Second)
	m.requireComplete()
	require.Equal(t, Dropped, m.s.Stats(m.srcs[0].id).State)
	require.Positive(t, m.srcs[1].delivered)
	// The last block is had at 1196 ms, so the peer could not finish sooner.
	require.GreaterOrEqual(t, m.doneAt, 1196*time.Millisecond)
	require.LessOrEqual(t, m.doneAt, 1196*time.Millisecond+startup, "%v", m)
	last := slices.Index(m.delivered, false)
	require.Equal(t, -1, last)
}

func TestUnavailable(t *testing.T) {
	s := New(Config{NumBlocks: 3, BlockSize: kib, Size: 3 * kib, MinWindow: kib}, nil)
	p := s.AddSource(t0)
	acts := s.Next(t0)
	require.Equal(t, []int{0}, blocksOf(acts))
	s.Finish(fetchOf(acts[0].Req, p, 0), Unavailable, 0, at(ms(1)))
	st := s.Stats(p)
	require.Equal(t, 2, st.HaveBlocks)
	require.Zero(t, st.Failures, "not having a block is no failure")
	require.Equal(t, []int{1}, blocksOf(s.Next(at(ms(1)))), "not asked for block 0 again")
	s.AddAvailable(p, 0)
	require.Equal(t, 3, s.Stats(p).HaveBlocks)
	s.Finish(fetchOf(99, p, 5), Unavailable, 0, at(ms(2))) // out of range: ignored
	require.Equal(t, 3, s.Stats(p).HaveBlocks)
}

func TestTieStart(t *testing.T) {
	s := New(Config{NumBlocks: 10, BlockSize: kib, Size: 10 * kib, MinWindow: 3 * kib, TieStart: 8}, nil)
	a := s.AddSource(t0)
	require.Equal(t, map[SourceID][]int{a: {8, 9, 0}}, fetchesBySource(s.Next(t0)), "from 8 on, wrapping")
	p := s.AddSource(t0)
	s.SetAvailable(p, bitsOf(10, 1, 9))
	// p has blocks 1 and 9; 9 is in flight at a, so p gets 1.
	require.Equal(t, map[SourceID][]int{p: {1}}, fetchesBySource(s.Next(t0)))
	require.Equal(t, 0, New(Config{NumBlocks: 3, BlockSize: kib, Size: 3 * kib, TieStart: 5}, nil).cfg.TieStart)
}

func TestSetTieStart(t *testing.T) {
	s := New(Config{NumBlocks: 10, BlockSize: kib, Size: 10 * kib, MinWindow: kib}, nil)
	s.AddSource(t0)
	s.SetTieStart(6)
	require.Equal(t, []int{6}, blocksOf(s.Next(t0)))
	s.SetTieStart(42) // out of range: 0
	require.Zero(t, s.cfg.TieStart)
	s.AddSource(t0)
	require.Equal(t, []int{0}, blocksOf(s.Next(t0)), "the lowest free block again")
}
