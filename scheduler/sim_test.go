package scheduler

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// This file is a small deterministic simulator: a fake clock advancing in
// fixed steps, and sources that move bytes at a fixed rate shared among their
// outstanding requests (as QUIC streams share a connection), each request's
// first byte arriving one RTT after it was issued. It drives a Scheduler the
// way the real downloader's event loop does and checks invariants at every
// step.

// simSpec describes one simulated source.
type simSpec struct {
	rate    float64       // bytes/s
	rtt     time.Duration // round trip; a request's bytes start one RTT after it is issued
	join    time.Duration // AddSource at this time
	dieAt   time.Duration // >0: connection lost at this time; later dials fail
	stallAt time.Duration // with stall: sends nothing from this time on
	stall   bool
	bad     map[int]bool // blocks served with bad data
	// busyUntil: every request issued before this time is refused (a seed
	// past its request rate, a mirror answering 503) one RTT after it was
	// issued, with retryAfter as the source's wish.
	busyUntil  time.Duration
	retryAfter time.Duration
	// has, if set, makes the source partial: it has block b from time
	// has(b) on (never if has(b) < 0). The simulation tells the scheduler
	// at join and as blocks are gained, the way HAVE updates would.
	has func(b int) time.Duration
}

type simReq struct {
	id     ReqID
	block  int
	length int64
	start  time.Duration
	got    float64
	refuse bool // refused when its first byte would be due (busyUntil)
}

type simSrc struct {
	spec     simSpec
	id       SourceID
	added    bool
	reqs     []*simReq
	total    float64
	dead     bool
	dialFail time.Duration // pending SourceDown of a failed dial; 0 if none

	known         []bool          // blocks the scheduler was told the source has
	rejected      map[int]int     // bad copies of each block it sent
	fetches       []time.Duration // when each Fetch to this source was issued
	refused       int
	lastDelivered time.Duration
	delivered     int
}

type simEvent struct {
	at     time.Duration
	src    SourceID
	action Action
}

type sim struct {
	t     testing.TB
	cfg   Config
	have  func(int) bool
	s     *Scheduler
	srcs  []*simSrc
	now   time.Duration
	step  time.Duration
	base  time.Time
	dial  time.Duration // how long a dial to a dead source takes to fail
	check bool          // run the per-step invariant checks

	outstanding map[int]int // block -> requests outstanding in the simulation
	delivered   []bool      // blocks accepted by Delivered
	fetches     int
	dups        int // fetches of a block already outstanding elsewhere
	cancels     int
	doneAt      time.Duration
	lastSrc     SourceID // source of the last accepted delivery
	maxInFlight int64
	events      []simEvent
}

func newSim(t testing.TB, cfg Config, have func(int) bool, specs ...simSpec) *sim {
	m := &sim{
		t:           t,
		cfg:         cfg,
		have:        have,
		s:           New(cfg, have),
		step:        time.Millisecond,
		base:        time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		dial:        50 * time.Millisecond,
		check:       true,
		outstanding: make(map[int]int),
		delivered:   make([]bool, cfg.NumBlocks),
		doneAt:      -1,
	}
	for _, sp := range specs {
		m.srcs = append(m.srcs, &simSrc{spec: sp})
	}
	return m
}

func (m *sim) at() time.Time { return m.base.Add(m.now) }

func (m *sim) src(id SourceID) *simSrc {
	for _, x := range m.srcs {
		if x.added && x.id == id {
			return x
		}
	}
	m.t.Fatalf("unknown source %d", id)
	return nil
}

// apply carries out actions as the caller would.
func (m *sim) apply(acts []Action) {
	t := m.t
	for _, a := range acts {
		m.events = append(m.events, simEvent{at: m.now, src: a.Source, action: a})
		x := m.src(a.Source)
		switch a.Kind {
		case Fetch:
			require.True(t, x.spec.has == nil || x.known[a.Block], "source %d asked for block %d it does not have", a.Source, a.Block)
			require.False(t, m.delivered[a.Block], "fetch of delivered block %d", a.Block)
			require.False(t, m.have != nil && m.have(a.Block), "fetch of block %d we have", a.Block)
			require.Less(t, x.rejected[a.Block], maxBadCopies, "block %d asked again of source %d, which served it badly twice", a.Block, a.Source)
			if x.rejected[a.Block] > 0 {
				for _, y := range m.srcs {
					st := m.s.Stats(y.id)
					require.False(t, y != x && y.added && (st.State == Probing || st.State == Active) && y.rejected[a.Block] == 0 &&
						(y.spec.has == nil || y.known[a.Block]),
						"block %d asked again of source %d, which served it badly, while source %d may serve it", a.Block, a.Source, y.id)
				}
			}
			if m.outstanding[a.Block] > 0 {
				m.dups++
			}
			m.outstanding[a.Block]++
			require.LessOrEqual(t, m.outstanding[a.Block], maxCopies, "block %d requested %d times at once", a.Block, m.outstanding[a.Block])
			m.fetches++
			x.fetches = append(x.fetches, m.now)
			x.reqs = append(x.reqs, &simReq{id: a.Req, block: a.Block, length: m.cfg.blockLen(a.Block), start: m.now + x.spec.rtt,
				refuse: m.now < x.spec.busyUntil})
			if x.dead && x.dialFail == 0 {
				x.dialFail = m.now + m.dial
			}
		case Cancel:
			i := slices.IndexFunc(x.reqs, func(r *simReq) bool { return r.id == a.Req })
			require.GreaterOrEqual(t, i, 0, "cancel of unknown request %d", a.Req)
			require.Equal(t, a.Block, x.reqs[i].block)
			x.reqs = slices.Delete(x.reqs, i, i+1)
			m.outstanding[a.Block]--
			m.cancels++
		default:
			t.Fatalf("bad action %+v", a)
		}
	}
}

// transfer moves one step's bytes at x, water-filling the rate over the
// requests whose first byte is due.
func (m *sim) transfer(x *simSrc) {
	if x.dead || (x.spec.stall && m.now >= x.spec.stallAt) {
		return
	}
	budget := x.spec.rate * m.step.Seconds()
	var active []*simReq
	for _, r := range x.reqs {
		if r.start <= m.now && r.got < float64(r.length) && !r.refuse {
			active = append(active, r)
		}
	}
	for budget > 1e-9 && len(active) > 0 {
		share := budget / float64(len(active))
		kept := active[:0]
		for _, r := range active {
			take := min(share, float64(r.length)-r.got)
			r.got += take
			x.total += take
			budget -= take
			if float64(r.length)-r.got > 1e-6 {
				kept = append(kept, r)
			} else {
				r.got = float64(r.length)
			}
		}
		active = kept
	}
}

// stepOnce advances the clock by one step and runs one turn of the event loop.
func (m *sim) stepOnce() {
	now := m.at()
	for _, x := range m.srcs {
		if !x.added && m.now >= x.spec.join {
			x.added = true
			x.id = m.s.AddSource(now)
			m.s.SetRTT(x.id, x.spec.rtt)
			if x.spec.has != nil {
				x.known = make([]bool, m.cfg.NumBlocks)
				words := make([]uint64, (m.cfg.NumBlocks+63)/64)
				for b := range x.known {
					if d := x.spec.has(b); d >= 0 && d <= m.now {
						x.known[b] = true
						words[b/64] |= 1 << (b % 64)
					}
				}
				m.s.SetAvailable(x.id, words)
			}
		} else if x.added && x.spec.has != nil && m.now%(10*time.Millisecond) == 0 {
			for b, k := range x.known {
				if d := x.spec.has(b); !k && d >= 0 && d <= m.now {
					x.known[b] = true
					m.s.AddAvailable(x.id, b)
				}
			}
		}
	}
	for _, x := range m.srcs {
		if !x.added {
			continue
		}
		if x.spec.dieAt > 0 && !x.dead && m.now >= x.spec.dieAt {
			x.dead = true
			m.apply(m.s.SourceDown(x.id, now))
		}
		if x.dialFail > 0 && m.now >= x.dialFail {
			x.dialFail = 0
			m.apply(m.s.SourceDown(x.id, now))
		}
	}
	for _, x := range m.srcs {
		if !x.added {
			continue
		}
		for i := 0; i < len(x.reqs); {
			r := x.reqs[i]
			if !r.refuse || r.start > m.now {
				i++
				continue
			}
			x.reqs = slices.Delete(x.reqs, i, i+1)
			m.outstanding[r.block]--
			x.refused++
			m.apply(m.s.Finish(fetchOf(r.id, x.id, r.block), Busy, x.spec.retryAfter, now))
		}
	}
	var completed []*simReq
	var from []*simSrc
	for _, x := range m.srcs {
		if !x.added {
			continue
		}
		m.transfer(x)
		m.s.Progress(x.id, int64(x.total), now)
		for _, r := range x.reqs {
			if r.got >= float64(r.length) {
				completed = append(completed, r)
				from = append(from, x)
			}
		}
	}
	for i, r := range completed {
		x := from[i]
		j := slices.Index(x.reqs, r)
		if j < 0 {
			continue // cancelled meanwhile
		}
		x.reqs = slices.Delete(x.reqs, j, j+1)
		m.outstanding[r.block]--
		if x.spec.bad[r.block] {
			if x.rejected == nil {
				x.rejected = make(map[int]int)
			}
			x.rejected[r.block]++
			m.apply(m.s.Finish(fetchOf(r.id, x.id, r.block), Rejected, 0, now))
			continue
		}
		if !m.delivered[r.block] {
			m.delivered[r.block] = true
			m.lastSrc = x.id
			x.lastDelivered = m.now
			x.delivered++
		}
		m.apply(m.s.Finish(fetchOf(r.id, x.id, r.block), Delivered, 0, now))
	}
	m.apply(m.s.Next(now))
	if m.check {
		m.invariants()
	}
}

func (m *sim) invariants() {
	t := m.t
	var sum int64
	for _, x := range m.srcs {
		for _, r := range x.reqs {
			sum += r.length
		}
	}
	require.Equal(t, sum, m.s.InFlight(), "scheduler and simulation disagree on bytes in flight at %v", m.now)
	require.LessOrEqual(t, sum, m.s.cfg.MaxInFlight, "MaxInFlight exceeded at %v", m.now)
	m.maxInFlight = max(m.maxInFlight, sum)
}

// run steps until the download is done, fails, or limit passes.
func (m *sim) run(limit time.Duration) {
	for ; m.now <= limit; m.now += m.step {
		m.stepOnce()
		if m.s.Done() {
			m.doneAt = m.now
			return
		}
		if m.s.Err() != nil {
			return
		}
	}
}

// requireComplete checks that every block was delivered exactly once.
func (m *sim) requireComplete() {
	m.t.Log(m)
	t := m.t
	require.True(t, m.s.Done(), "not done after %v: missing %d, err %v", m.now, m.s.Missing(), m.s.Err())
	require.NoError(t, m.s.Err())
	for b, ok := range m.delivered {
		require.True(t, ok || (m.have != nil && m.have(b)), "block %d never delivered", b)
	}
	require.Zero(t, m.s.Missing())
}

func (m *sim) String() string {
	s := fmt.Sprintf("done at %v, fetches %d, dups %d, cancels %d, max in flight %d\n", m.doneAt, m.fetches, m.dups, m.cancels, m.maxInFlight)
	for _, x := range m.srcs {
		st := m.s.Stats(x.id)
		s += fmt.Sprintf("  src %d rate %.1f MB/s (est %.1f) delivered %d blocks, last at %v, state %v %s\n",
			x.id, x.spec.rate/1e6, st.Rate/1e6, x.delivered, x.lastDelivered, st.State, st.DropReason)
	}
	return s
}

// ideal is the completion time if every byte moved at the sum of the rates.
func ideal(size int64, rates ...float64) time.Duration {
	var sum float64
	for _, r := range rates {
		sum += r
	}
	return time.Duration(float64(size) / sum * float64(time.Second))
}
