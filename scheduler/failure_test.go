package scheduler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Failures, backoff, busy and slow sources, connecting after a backoff:
// the policy of "a flaky source costs time, not the download", with a fake
// clock.

func TestBackoffPolicy(t *testing.T) {
	var got []time.Duration
	for n := 0; n <= 8; n++ {
		got = append(got, DefaultBackoff().Delay(n))
	}
	require.Equal(t, []time.Duration{ms(500), ms(500), ms(1000), ms(2000), ms(4000), ms(8000), ms(15000), ms(15000), ms(15000)}, got)
	require.Equal(t, ms(1000), BackoffPolicy{}.Delay(2), "zero fields are the defaults")
	s := New(Config{NumBlocks: 1, BlockSize: kib, Size: kib, BackoffBase: ms(100), BackoffMax: ms(300)}, nil)
	require.Equal(t, BackoffPolicy{Base: ms(100), Max: ms(300)}, s.BackoffPolicy())
}

// The policy says its waits in words, for help texts.
func TestBackoffPolicyString(t *testing.T) {
	require.Equal(t, "0.5 s, 1 s, 2 s, ... up to 15 s", DefaultBackoff().String())
	require.Equal(t, "0.1 s, 0.2 s, 0.3 s, then 0.3 s each", BackoffPolicy{Base: ms(100), Max: ms(300)}.String())
	require.Equal(t, "1 s, then 1 s each", BackoffPolicy{Base: ms(1000), Max: ms(1000)}.String())
}

// TestFailuresTogetherCountOnce: a source whose requests in flight all fail
// at once (a seed past its request rate answers each BUSY, a mirror each
// 503) has one failure, not one per request: it waits 0.5 s and is not
// dropped.
func TestFailuresTogetherCountOnce(t *testing.T) {
	s := New(Config{NumBlocks: 100, BlockSize: kib, Size: 100 * kib, MinWindow: 6 * kib}, nil)
	src := s.AddSource(t0)
	acts := s.Next(t0)
	require.Len(t, acts, 6)
	now := at(ms(20))
	for _, a := range acts {
		require.Empty(t, s.Finish(fetchOf(a.Req, src, a.Block), Busy, 0, now))
	}
	st := s.Stats(src)
	require.Equal(t, Backoff, st.State)
	require.Equal(t, 1, st.Failures)
	require.Equal(t, FailRequest, st.LastFailure)
	require.Equal(t, now.Add(DefaultBackoffBase), st.BackoffUntil)
	require.Zero(t, s.InFlight())
	require.Empty(t, s.Next(now), "it waits")
	require.Equal(t, now.Add(DefaultBackoffBase), s.NextWake(now))
	require.Len(t, s.Next(now.Add(DefaultBackoffBase)), 6, "then a probe window")
}

// TestFailedLeavesOthersRunning: one request error sends the source into
// backoff but does not cancel its other requests, which may still arrive; a
// delivery resets its failures, and its wait still runs. A request of the
// earlier period that stalls gives its block back without another failure.
func TestFailedLeavesOthersRunning(t *testing.T) {
	s := New(Config{NumBlocks: 10, BlockSize: kib, Size: 10 * kib, MinWindow: 3 * kib}, nil)
	src := s.AddSource(t0)
	acts := s.Next(t0)
	require.Len(t, acts, 3)
	require.Empty(t, s.Finish(fetchOf(acts[0].Req, src, acts[0].Block), Failed, 0, at(ms(10))))
	st := s.Stats(src)
	require.Equal(t, Backoff, st.State)
	require.Equal(t, 2, st.InFlightReqs)
	s.Progress(src, kib, at(ms(20)))
	require.Empty(t, s.Finish(fetchOf(acts[1].Req, src, acts[1].Block), Delivered, 0, at(ms(20))))
	st = s.Stats(src)
	require.Zero(t, st.Failures)
	require.Equal(t, Backoff, st.State)
	require.Equal(t, at(ms(510)), st.BackoffUntil)

	// The third request hangs: its stall deadline is 3 s after the last
	// progress, and it is cancelled then, quietly.
	require.Equal(t, at(ms(510)), s.NextWake(at(ms(20))))
	require.Empty(t, only(Fetch, s.Next(at(ms(400)))))
	back := s.Next(at(ms(510)))
	require.Len(t, only(Fetch, back), 2, "back with a probe window of three, one still out")
	require.Equal(t, at(ms(3020)), s.NextWake(at(ms(510))))
	cancels := only(Cancel, s.Next(at(ms(3020))))
	require.Contains(t, cancels, Action{Kind: Cancel, Req: acts[2].Req, Source: src, Block: acts[2].Block, Why: FailStall})
}

// TestLeftoverRequestStallsQuietly: while a source waits after a failure,
// its old requests still stall; that returns their blocks but is not a
// second failure of the same period.
func TestLeftoverRequestStallsQuietly(t *testing.T) {
	s := New(Config{NumBlocks: 10, BlockSize: kib, Size: 10 * kib, MinWindow: 2 * kib, BackoffBase: 10 * time.Second}, nil)
	src := s.AddSource(t0)
	acts := s.Next(t0)
	require.Empty(t, s.Finish(fetchOf(acts[0].Req, src, acts[0].Block), Failed, 0, at(ms(10))))
	require.Equal(t, at(3*time.Second), s.NextWake(at(ms(10))), "the other request's stall comes first")
	cancels := s.Next(at(3 * time.Second))
	require.Equal(t, []Action{{Kind: Cancel, Req: acts[1].Req, Source: src, Block: acts[1].Block, Why: NoFailure}}, cancels)
	st := s.Stats(src)
	require.Equal(t, 1, st.Failures)
	require.Equal(t, Backoff, st.State)
	require.Equal(t, at(ms(10)+10*time.Second), s.NextWake(at(3*time.Second)))
}

// TestRefusedRetryAfter: a source's Retry-After is honoured when longer
// than the backoff, up to MaxRetryAfter; a refusal of an older request may
// still lengthen the wait, never shorten it.
func TestRefusedRetryAfter(t *testing.T) {
	s := New(Config{NumBlocks: 10, BlockSize: kib, Size: 10 * kib, MinWindow: 3 * kib}, nil)
	src := s.AddSource(t0)
	acts := s.Next(t0)
	require.Empty(t, s.Finish(fetchOf(acts[0].Req, src, acts[0].Block), Busy, 7*time.Second, t0))
	require.Equal(t, at(7*time.Second), s.Stats(src).BackoffUntil)
	require.Empty(t, s.Finish(fetchOf(acts[1].Req, src, acts[1].Block), Busy, time.Second, t0))
	require.Equal(t, at(7*time.Second), s.Stats(src).BackoffUntil, "never shortened")
	require.Empty(t, s.Finish(fetchOf(acts[2].Req, src, acts[2].Block), Busy, 9*time.Second, at(ms(1))))
	require.Equal(t, at(ms(1)+9*time.Second), s.Stats(src).BackoffUntil)
	require.Equal(t, 1, s.Stats(src).Failures)

	now := at(10 * time.Second)
	acts = s.Next(now)
	require.NotEmpty(t, acts)
	require.Empty(t, s.Finish(fetchOf(acts[0].Req, src, acts[0].Block), Busy, 1000*time.Hour, now))
	require.Equal(t, now.Add(DefaultMaxRetryAfter), s.Stats(src).BackoffUntil, "a wish is capped")
}

// TestNeverDroppedSourceIsNotHammered: a source that refuses every request
// and is never dropped for it (MaxRetries as good as infinite, what get
// --retries 0 gives) is asked again once per backoff period, the periods
// growing to BackoffMax: a minute of refusals costs a few dozen requests,
// not thousands.
func TestNeverDroppedSourceIsNotHammered(t *testing.T) {
	cfg := simConfig(50)
	cfg.MaxRetries = 1 << 30
	m := newSim(t, cfg, nil, simSpec{rate: 10e6, rtt: rtt20, busyUntil: time.Minute})
	m.run(time.Minute)
	x := m.srcs[0]
	require.Positive(t, x.refused)
	// Rounds: 0, then after 0.5 s, 1, 2, 4, 8 and every 15 s: 0, 0.5, 1.5,
	// 3.5, 7.5, 15.5, 30.5, 45.5 (and one more RTT each): 8 rounds.
	var rounds []time.Duration
	for i, f := range x.fetches {
		if i == 0 || f-x.fetches[i-1] > 100*time.Millisecond {
			rounds = append(rounds, f)
		}
	}
	require.Len(t, rounds, 8, "%v", rounds)
	for i := 1; i < len(rounds); i++ {
		gap := rounds[i] - rounds[i-1]
		want := DefaultBackoff().Delay(i)
		require.GreaterOrEqual(t, gap, want, "round %d", i)
		require.Less(t, gap, want+100*time.Millisecond, "round %d", i)
	}
	require.LessOrEqual(t, len(x.fetches), 8*2, "a probe window per round")
	require.Equal(t, Backoff, m.s.Stats(x.id).State)

	// Then it serves: the download completes.
	m.run(2 * time.Minute)
	m.requireComplete()
}

// TestSimBusySeedRecovers: with the default MaxRetries a source busy for a
// few seconds (its requests refused, all in flight at once) is not dropped
// and serves the file once it takes requests again; another source serves
// meanwhile.
func TestSimBusySeedRecovers(t *testing.T) {
	cfg := simConfig(400)
	m := newSim(t, cfg, nil,
		simSpec{rate: 20e6, rtt: rtt20, busyUntil: 5 * time.Second},
		simSpec{rate: 1e6, rtt: rtt20},
	)
	m.run(30 * time.Second)
	m.requireComplete()
	busy := m.s.Stats(m.srcs[0].id)
	require.NotEqual(t, Dropped, busy.State)
	require.Positive(t, m.srcs[0].delivered)
	require.Greater(t, m.srcs[0].delivered, m.srcs[1].delivered, "the fast source took over once it served")
}

// TestMinRate: a source that has requests outstanding and sends a byte a
// second is never stalled (data keeps arriving), but under a minimum rate
// it is failed as too slow once it has been measured for MinRateWindow; a
// source above the minimum is left alone.
func TestMinRate(t *testing.T) {
	const bs = 16 * kib
	cfg := Config{NumBlocks: 100, BlockSize: bs, Size: 100 * bs, MinWindow: bs, MinRate: 1000, MinRateWindow: 10 * time.Second}
	s := New(cfg, nil)
	slow := s.AddSource(t0)
	ok := s.AddSource(t0)
	acts := s.Next(t0)
	require.Len(t, acts, 2)
	require.Equal(t, at(3*time.Second), s.NextWake(t0))
	var okGot int64
	for sec := 1; sec <= 9; sec++ {
		now := at(time.Duration(sec) * time.Second)
		s.Progress(slow, int64(sec), now)
		okGot += 2000
		s.Progress(ok, okGot, now)
		require.Empty(t, only(Cancel, s.Next(now)), "second %d", sec)
	}
	require.Equal(t, at(10*time.Second), s.NextWake(at(9*time.Second)))
	now := at(10 * time.Second)
	s.Progress(slow, 10, now)
	okGot += 2000
	s.Progress(ok, okGot, now)
	cancels := only(Cancel, s.Next(now))
	require.Len(t, cancels, 1)
	require.Equal(t, Action{Kind: Cancel, Req: acts[0].Req, Source: slow, Block: acts[0].Block, Why: FailSlow}, cancels[0])
	st := s.Stats(slow)
	require.Equal(t, Backoff, st.State)
	require.Equal(t, FailSlow, st.LastFailure)
	require.Equal(t, 1, st.Failures)
	require.NotEqual(t, Backoff, s.Stats(ok).State)

	// The fast enough source is judged again every window.
	for sec := 11; sec <= 30; sec++ {
		now := at(time.Duration(sec) * time.Second)
		okGot += 2000
		s.Progress(ok, okGot, now)
		for _, a := range only(Cancel, s.Next(now)) {
			require.NotEqual(t, ok, a.Source, "second %d", sec)
		}
	}
	require.Zero(t, s.Stats(ok).Failures)

	// Without a minimum rate nothing happens to a trickle.
	s = New(Config{NumBlocks: 100, BlockSize: bs, Size: 100 * bs, MinWindow: bs}, nil)
	slow = s.AddSource(t0)
	s.Next(t0)
	for sec := 1; sec <= 120; sec++ {
		now := at(time.Duration(sec) * time.Second)
		s.Progress(slow, int64(sec), now)
		require.Empty(t, only(Cancel, s.Next(now)))
	}
}

// TestMinRateIdleIsNotSlow: time without requests outstanding does not
// count against a source: it is measured from its next request.
func TestMinRateIdleIsNotSlow(t *testing.T) {
	const bs = 4 * kib
	cfg := Config{NumBlocks: 3, BlockSize: bs, Size: 3 * bs, MinWindow: bs, MinRate: 1000, MinRateWindow: 10 * time.Second}
	s := New(cfg, nil)
	src := s.AddSource(t0)
	acts := s.Next(t0)
	s.Progress(src, bs, at(ms(100)))
	s.Finish(fetchOf(acts[0].Req, src, acts[0].Block), Delivered, 0, at(ms(100)))
	// The caller does not call Next for 20 s.
	now := at(20 * time.Second)
	acts = s.Next(now)
	require.NotEmpty(t, only(Fetch, acts))
	require.Empty(t, only(Cancel, acts))
	require.Equal(t, now.Add(DefaultStallTimeout), s.NextWake(now))
}

// TestConnectAfterBackoff: a source the caller connects to itself comes out
// of backoff as a Connect, not as blocks; while the caller connects it gets
// nothing and cannot stall, however long that takes; a failed connect is
// one more failure, and Connected makes it usable.
func TestConnectAfterBackoff(t *testing.T) {
	s := New(Config{NumBlocks: 10, BlockSize: kib, Size: 10 * kib, MaxRetries: 3}, nil)
	src := s.AddSource(t0)
	s.SetConnects(src)
	acts := s.Next(t0)
	require.Len(t, acts, 2)
	cancels := s.SourceDown(src, at(ms(10)))
	require.Len(t, cancels, 2)
	for _, c := range cancels {
		require.Equal(t, FailDown, c.Why)
	}
	require.Empty(t, s.Next(at(ms(509))))
	require.Equal(t, []Action{{Kind: Connect, Source: src}}, s.Next(at(ms(510))))
	st := s.Stats(src)
	require.Equal(t, Connecting, st.State)
	require.Equal(t, "connecting", st.State.String())
	require.True(t, s.NextWake(at(ms(510))).IsZero(), "nothing to wake for: the caller reports")
	require.Empty(t, s.Next(at(time.Minute)), "no stall, no second Connect")

	// The connect fails: a second failure, 1 s.
	require.Empty(t, s.SourceDown(src, at(time.Minute)))
	st = s.Stats(src)
	require.Equal(t, Backoff, st.State)
	require.Equal(t, 2, st.Failures)
	require.Equal(t, at(time.Minute+time.Second), st.BackoffUntil)
	require.Equal(t, []Action{{Kind: Connect, Source: src}}, s.Next(at(time.Minute+time.Second)))
	s.Connected(src, at(time.Minute+time.Second))
	require.Equal(t, Probing, s.Stats(src).State)
	require.Len(t, only(Fetch, s.Next(at(time.Minute+time.Second))), 2)
	s.Connected(src, at(time.Minute+time.Second)) // ignored when usable
	require.Equal(t, Probing, s.Stats(src).State)

	// A third failure in a row drops it, at MaxRetries.
	require.Len(t, s.SourceDown(src, at(2*time.Minute)), 2)
	require.Equal(t, Dropped, s.Stats(src).State)
	require.ErrorIs(t, s.Err(), ErrNoSources)
}

// TestHeldIsNotSlowOrStalled: a source whose data the caller holds back (a
// speed limit of its own) is neither stalled while nothing arrives nor too
// slow under MinRate; once the caller stops holding it, both rules apply
// again.
func TestHeldIsNotSlowOrStalled(t *testing.T) {
	const bs = 16 * kib
	cfg := Config{NumBlocks: 100, BlockSize: bs, Size: 100 * bs, MinWindow: bs, MinRate: 1000, MinRateWindow: 10 * time.Second}
	s := New(cfg, nil)
	held := s.AddSource(t0)
	require.Len(t, s.Next(t0), 1)
	for sec := 1; sec <= 40; sec++ {
		now := at(time.Duration(sec) * time.Second)
		if sec%5 == 0 {
			s.Progress(held, int64(sec), now) // a trickle, far below MinRate
		}
		s.Held(held, now)
		require.Empty(t, only(Cancel, s.Next(now)), "second %d", sec)
	}
	require.Zero(t, s.Stats(held).Failures)

	// No longer held, and nothing arrives: a stall.
	var cancels []Action
	for sec := 41; sec <= 45 && len(cancels) == 0; sec++ {
		cancels = only(Cancel, s.Next(at(time.Duration(sec)*time.Second)))
	}
	require.Len(t, cancels, 1)
	require.Equal(t, FailStall, cancels[0].Why)
}
