package dht

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

func TestSchedule(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSchedule(15 * time.Minute)
	a, b, c := manifest.ID{1}, manifest.ID{2}, manifest.ID{3}

	_, ok := s.wait(t0)
	require.False(t, ok, "nothing to wait for")

	s.add(a, t0)
	s.add(b, t0.Add(time.Second))
	s.add(c, t0.Add(2*time.Second))
	require.Equal(t, []manifest.ID{a, b}, s.due(t0.Add(2*time.Second), 2), "oldest first, at most max")
	require.Empty(t, s.due(t0.Add(2*time.Second), 0))
	require.Equal(t, []manifest.ID{c}, s.due(t0.Add(2*time.Second), 4), "running ones are not due again")
	_, ok = s.wait(t0)
	require.False(t, ok, "all running")

	now := t0.Add(10 * time.Second)
	s.done(a, now, true)
	s.done(b, now, false)
	s.done(c, now, false)
	s.add(a, now) // already there: keeps its schedule
	w, ok := s.wait(now)
	require.True(t, ok)
	require.Equal(t, time.Minute, w, "a failure is retried after a quarter interval, at most a minute")

	require.ElementsMatch(t, []manifest.ID{b, c}, s.due(now.Add(time.Minute), 4))
	s.remove(c)
	s.done(c, now.Add(time.Minute), true) // removed meanwhile: ignored
	s.done(b, now.Add(time.Minute), false)
	w, _ = s.wait(now.Add(time.Minute))
	require.Equal(t, 2*time.Minute, w, "then twice as long")
	require.Len(t, s.entries, 2)
	require.NotContains(t, s.entries, c)

	require.Equal(t, 15*time.Minute, s.retryDelay(10), "never longer than the interval")
	short := newSchedule(time.Second)
	require.Equal(t, 250*time.Millisecond, short.retryDelay(1))
	require.Equal(t, time.Second, short.retryDelay(5))

	require.Equal(t, []manifest.ID{b}, s.due(now.Add(14*time.Minute), 4), "only the retry")
	require.Equal(t, []manifest.ID{a}, s.due(now.Add(15*time.Minute), 4), "success: again after the interval")
}
