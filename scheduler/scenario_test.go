package scheduler

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Scenarios run the simulator of sim_test.go. Every step checks that the
// scheduler's bytes in flight match the simulation's and never exceed
// MaxInFlight, that no block is requested more than twice at once, that no
// block is fetched after delivery, and that no source is asked again for a
// block it served badly.

const (
	simBlock = 128 * kib
	rtt20    = 20 * time.Millisecond
	// startup allows for the first round trips and the windows' slow start.
	startup = 150 * time.Millisecond
)

func simConfig(blocks int) Config {
	return Config{NumBlocks: blocks, BlockSize: simBlock, Size: int64(blocks) * simBlock}
}

func TestSimOneSource(t *testing.T) {
	cfg := simConfig(200)
	cfg.Size -= 1000 // a short last block
	cfg.MaxInFlight = 6 * simBlock
	m := newSim(t, cfg, nil, simSpec{rate: 50e6, rtt: rtt20})
	m.run(10 * time.Second)
	m.requireComplete()
	require.Equal(t, cfg.NumBlocks, m.fetches, "every block fetched exactly once")
	require.Zero(t, m.dups)
	require.Zero(t, m.cancels)
	require.Equal(t, cfg.Size, m.s.Stats(1).DeliveredBytes)

	// The first decision is the probe window, MinWindow = 2 blocks.
	var first int
	for _, e := range m.events {
		if e.at == 0 {
			first++
		}
	}
	require.Equal(t, 2, first)
	// The window then grows until the global cap binds: 50 MB/s · 80 ms is
	// well over 6 blocks.
	require.Equal(t, cfg.MaxInFlight, m.maxInFlight)
}

func TestSimRatesFourTwoOne(t *testing.T) {
	cfg := simConfig(1000)
	rates := []float64{40e6, 20e6, 10e6}
	m := newSim(t, cfg, nil,
		simSpec{rate: rates[0], rtt: rtt20},
		simSpec{rate: rates[1], rtt: rtt20},
		simSpec{rate: rates[2], rtt: rtt20},
	)
	m.run(20 * time.Second)
	m.requireComplete()
	best := ideal(cfg.Size, rates...)
	require.LessOrEqual(t, m.doneAt, best*105/100+startup, "%v\nideal %v", m, best)
	require.LessOrEqual(t, m.dups, cfg.NumBlocks/50, "duplicates must stay under 2%%: %v", m)

	// Byte shares follow the rates: 4/7, 2/7, 1/7.
	for i, x := range m.srcs {
		share := float64(m.s.Stats(x.id).DeliveredBytes) / float64(cfg.Size)
		require.InDelta(t, rates[i]/70e6, share, 0.03, "source %d: %v", x.id, m)
	}
}

func TestSimTwelveSourcesOneSlow(t *testing.T) {
	cfg := simConfig(1500)
	var specs []simSpec
	var rates []float64
	for i := range 12 {
		r := 10e6
		if i == 4 {
			r = 1e6 // ten times slower
		}
		rates = append(rates, r)
		specs = append(specs, simSpec{rate: r, rtt: rtt20 + time.Duration(i)*time.Millisecond})
	}
	m := newSim(t, cfg, nil, specs...)
	m.run(20 * time.Second)
	m.requireComplete()
	best := ideal(cfg.Size, rates...)
	require.LessOrEqual(t, m.doneAt, best*105/100+startup, "%v\nideal %v", m, best)
	slow := m.srcs[4]
	require.NotEqual(t, slow.id, m.lastSrc, "the slow source delivered the last block: %v", m)
	require.Positive(t, slow.delivered, "the slow source still contributes")
	require.LessOrEqual(t, m.dups, cfg.NumBlocks/50, "%v", m)
}

func TestSimSourceDies(t *testing.T) {
	cfg := simConfig(1000)
	cfg.MaxRetries = 4
	cfg.BackoffBase = 100 * time.Millisecond
	const dieAt = 500 * time.Millisecond
	m := newSim(t, cfg, nil,
		simSpec{rate: 20e6, rtt: rtt20},
		simSpec{rate: 20e6, rtt: rtt20, dieAt: dieAt},
		simSpec{rate: 20e6, rtt: rtt20},
	)
	m.run(20 * time.Second)
	m.requireComplete()

	// After the loss the source is probed when each backoff expires; every
	// dial fails after m.dial; the fourth failure drops it.
	dead := m.srcs[1]
	var probes []time.Duration
	for _, f := range dead.fetches {
		if f >= dieAt && (len(probes) == 0 || probes[len(probes)-1] != f) {
			probes = append(probes, f)
		}
	}
	first := dieAt + 100*time.Millisecond
	second := first + m.dial + 200*time.Millisecond
	third := second + m.dial + 400*time.Millisecond
	require.Equal(t, []time.Duration{first, second, third}, probes)
	st := m.s.Stats(dead.id)
	require.Equal(t, Dropped, st.State)
	require.Equal(t, "4 consecutive failures", st.DropReason)

	// The survivors carry the rest: before the loss 60 MB/s, after it 40.
	movedBefore := 60e6 * dieAt.Seconds()
	best := dieAt + time.Duration((float64(cfg.Size)-movedBefore)/40e6*float64(time.Second))
	require.LessOrEqual(t, m.doneAt, best*105/100+startup, "%v\nideal %v", m, best)
}

func TestSimStallFromStart(t *testing.T) {
	cfg := simConfig(1000)
	m := newSim(t, cfg, nil,
		simSpec{rate: 20e6, rtt: rtt20},
		simSpec{rate: 20e6, rtt: rtt20, stall: true},
		simSpec{rate: 20e6, rtt: rtt20},
	)
	m.run(20 * time.Second)
	m.requireComplete()
	stalled := m.srcs[1]
	require.Zero(t, stalled.delivered)

	// Its probe requests are cancelled exactly StallTimeout after issue.
	var cancelledAt []time.Duration
	for _, e := range m.events {
		if e.src == stalled.id && e.action.Kind == Cancel {
			cancelledAt = append(cancelledAt, e.at)
		}
	}
	require.NotEmpty(t, cancelledAt)
	require.Equal(t, DefaultStallTimeout, cancelledAt[0])

	// The others move everything; the stall costs at most its timeout.
	best := ideal(cfg.Size, 20e6, 20e6)
	require.LessOrEqual(t, m.doneAt, best*105/100+startup+DefaultStallTimeout, "%v\nideal %v", m, best)
	// In fact it costs almost nothing: the others never waited for it.
	require.LessOrEqual(t, m.doneAt, best*105/100+startup, "%v\nideal %v", m, best)
}

func TestSimBadBlocks(t *testing.T) {
	cfg := simConfig(600)
	everyOther := make(map[int]bool)
	for i := 0; i < cfg.NumBlocks; i += 2 {
		everyOther[i] = true
	}
	m := newSim(t, cfg, nil,
		simSpec{rate: 20e6, rtt: rtt20},
		simSpec{rate: 20e6, rtt: rtt20, bad: map[int]bool{1: true}},
		simSpec{rate: 20e6, rtt: rtt20, bad: everyOther},
	)
	m.run(20 * time.Second)
	m.requireComplete()
	liar := m.s.Stats(m.srcs[2].id)
	require.Equal(t, Dropped, liar.State, "%v", m)
	require.Equal(t, "3 blocks failed verification", liar.DropReason)
	require.Equal(t, 3, liar.Strikes)
	once := m.s.Stats(m.srcs[1].id)
	require.Equal(t, Active, once.State)
	require.Equal(t, 1, once.Strikes)
	require.Positive(t, once.DeliveredBlocks)
}

func TestSimBlockBadEverywhere(t *testing.T) {
	cfg := simConfig(100)
	bad := map[int]bool{7: true}
	m := newSim(t, cfg, nil,
		simSpec{rate: 20e6, rtt: rtt20, bad: bad},
		simSpec{rate: 10e6, rtt: rtt20, bad: bad},
	)
	m.run(5 * time.Second)
	err := m.s.Err()
	require.ErrorIs(t, err, ErrNoValidSource)
	require.EqualError(t, err, "block 7: no remaining source can serve it")
	// A caller would stop here; carrying on, every other block arrives.
	for range 5000 {
		m.now += m.step
		m.stepOnce()
	}
	require.Equal(t, 1, m.s.Missing())
	require.ErrorIs(t, m.s.Err(), ErrNoValidSource)
}

func TestSimAllSourcesDie(t *testing.T) {
	cfg := simConfig(100)
	cfg.MaxRetries = 2
	m := newSim(t, cfg, nil,
		simSpec{rate: 1e6, rtt: rtt20, dieAt: 100 * time.Millisecond},
		simSpec{rate: 1e6, rtt: rtt20, dieAt: 200 * time.Millisecond},
	)
	m.run(10 * time.Second)
	require.True(t, errors.Is(m.s.Err(), ErrNoSources), "%v", m.s.Err())
	for _, x := range m.srcs {
		require.Equal(t, "2 consecutive failures", m.s.Stats(x.id).DropReason)
	}
}

func TestSimResume(t *testing.T) {
	cfg := simConfig(300)
	have := func(i int) bool { return i%3 == 0 || i > 250 }
	m := newSim(t, cfg, have,
		simSpec{rate: 20e6, rtt: rtt20},
		simSpec{rate: 10e6, rtt: rtt20},
	)
	m.run(10 * time.Second)
	m.requireComplete() // and apply checked that no had block was fetched
	want := 0
	for i := range cfg.NumBlocks {
		if !have(i) {
			want++
		}
	}
	require.Equal(t, want, m.fetches-m.dups)
}

func TestSimEndgame(t *testing.T) {
	// A slow source takes its probe window at the start; the fast one does
	// everything else, then duplicates the slow one's blocks rather than wait.
	cfg := simConfig(30)
	m := newSim(t, cfg, nil,
		simSpec{rate: 40e6, rtt: rtt20},
		simSpec{rate: 0.5e6, rtt: rtt20},
	)
	m.run(10 * time.Second)
	m.requireComplete()
	slow := m.srcs[1]
	require.Equal(t, 2, m.dups, "%v", m)
	var lost int
	for _, e := range m.events {
		if e.action.Kind == Cancel {
			require.Equal(t, slow.id, e.src, "only the slow holder loses")
			lost++
		}
	}
	require.Equal(t, 2, lost)
	require.Zero(t, slow.delivered)
	// Done about when the fast source alone would be.
	best := ideal(cfg.Size, 40e6)
	require.LessOrEqual(t, m.doneAt, best*105/100+startup, "%v\nideal %v", m, best)
}

func TestSimLateJoiner(t *testing.T) {
	// A source that joins mid-way is probed and then carries its share.
	cfg := simConfig(1000)
	m := newSim(t, cfg, nil,
		simSpec{rate: 20e6, rtt: rtt20},
		simSpec{rate: 40e6, rtt: rtt20, join: time.Second},
	)
	m.run(20 * time.Second)
	m.requireComplete()
	best := time.Second + time.Duration((float64(cfg.Size)-20e6)/60e6*float64(time.Second))
	require.LessOrEqual(t, m.doneAt, best*105/100+startup, "%v\nideal %v", m, best)
	require.Greater(t, m.srcs[1].delivered, m.srcs[0].delivered-(1000*20/131))
}

func TestSimManySourcesTightMemory(t *testing.T) {
	cfg := simConfig(400)
	cfg.MaxInFlight = 8 * simBlock
	var specs []simSpec
	for i := range 12 {
		specs = append(specs, simSpec{rate: float64(5+i) * 1e6, rtt: rtt20})
	}
	m := newSim(t, cfg, nil, specs...)
	m.run(20 * time.Second)
	m.requireComplete()
	require.Equal(t, cfg.MaxInFlight, m.maxInFlight, "the cap is reached and never exceeded")
}
