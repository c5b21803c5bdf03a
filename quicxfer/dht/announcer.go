package dht

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

const (
	// announceParallel bounds an Announcer's announces in flight.
	announceParallel = 4
	// maxRetryDelay caps the first retry of a failed announce.
	maxRetryDelay = time.Minute
)

// Announcer keeps a set of content IDs announced with one port: each ID is
// announced when it is added and again every Config.AnnounceInterval; a
// failed announce is retried sooner, backing off to the interval. Removing
// an ID stops its announces; other nodes forget it when their entry expires
// (BEP 5 has no withdrawal). Its methods are safe for concurrent use.
type Announcer struct {
	n    *Node
	port int

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	wake   chan struct{} // capacity 1: the set changed

	mu    sync.Mutex
	sched schedule

	closeOnce sync.Once
}

// NewAnnouncer starts an Announcer for port (the QUIC port to announce),
// with no IDs yet. The node owns it: Close of the node closes it.
func (n *Node) NewAnnouncer(port int) (*Announcer, error) {
	if _, ok := fromWirePort(port); !ok {
		return nil, errors.New("announcer: port must be from 1 to 65535")
	}
	a := &Announcer{
		n:     n,
		port:  port,
		done:  make(chan struct{}),
		wake:  make(chan struct{}, 1),
		sched: newSchedule(n.cfg.AnnounceInterval),
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		a.cancel()
		return nil, ErrClosed
	}
	n.announcers[a] = struct{}{}
	go a.run()
	return a, nil
}

// Set replaces the announced IDs with ids; those already announced keep
// their schedule.
func (a *Announcer) Set(ids ...manifest.ID) {
	a.mu.Lock()
	keep := make(map[manifest.ID]bool, len(ids))
	for _, id := range ids {
		keep[id] = true
	}
	for id := range a.sched.entries {
		if !keep[id] {
			a.sched.remove(id)
		}
	}
	now := time.Now()
	for _, id := range ids {
		a.sched.add(id, now)
	}
	a.mu.Unlock()
	a.poke()
}

// Add adds ids to the announced set; new ones are announced at once.
func (a *Announcer) Add(ids ...manifest.ID) {
	a.mu.Lock()
	now := time.Now()
	for _, id := range ids {
		a.sched.add(id, now)
	}
	a.mu.Unlock()
	a.poke()
}

// Remove stops announcing ids.
func (a *Announcer) Remove(ids ...manifest.ID) {
	a.mu.Lock()
	for _, id := range ids {
		a.sched.remove(id)
	}
	a.mu.Unlock()
	a.poke()
}

// IDs returns the announced IDs, sorted.
func (a *Announcer) IDs() []manifest.ID {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := slices.Collect(maps.Keys(a.sched.entries))
	slices.SortFunc(ids, func(x, y manifest.ID) int { return slices.Compare(x[:], y[:]) })
	return ids
}

// Close stops the announcer and waits for its announces in flight to end.
// It is idempotent.
func (a *Announcer) Close() {
	a.closeOnce.Do(func() {
		a.cancel()
		<-a.done
		a.n.mu.Lock()
		delete(a.n.announcers, a)
		a.n.mu.Unlock()
	})
}

func (a *Announcer) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

type announceResult struct {
	id  manifest.ID
	err error
}

// run announces what the schedule says is due, at most announceParallel
// at once, until Close.
func (a *Announcer) run() {
	defer close(a.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	// Every announce in flight sends once: with room for all of them, none
	// blocks after run stops reading.
	results := make(chan announceResult, announceParallel)
	running := 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		a.mu.Lock()
		now := time.Now()
		due := a.sched.due(now, announceParallel-running)
		wait, ok := a.sched.wait(now)
		a.mu.Unlock()
		for _, id := range due {
			running++
			wg.Go(func() {
				results <- announceResult{id, a.n.Announce(a.ctx, id, a.port)}
			})
		}
		var tick <-chan time.Time
		if ok && running < announceParallel {
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-a.ctx.Done():
			return
		case r := <-results:
			running--
			a.mu.Lock()
			a.sched.done(r.id, time.Now(), r.err == nil)
			a.mu.Unlock()
			if r.err != nil && a.ctx.Err() == nil && !errors.Is(r.err, ErrClosed) {
				a.n.logf("DHT: %v", r.err)
			}
		case <-a.wake:
		case <-tick:
		}
	}
}

// schedule says when each ID of an Announcer is due. It has no clock of its
// own: every call is given the time.
type schedule struct {
	interval time.Duration
	entries  map[manifest.ID]*scheduleEntry
}

type scheduleEntry struct {
	next    time.Time
	fails   int
	running bool
}

func newSchedule(interval time.Duration) schedule {
	return schedule{interval: interval, entries: make(map[manifest.ID]*scheduleEntry)}
}

// add schedules id at now, unless it is scheduled already.
func (s *schedule) add(id manifest.ID, now time.Time) {
	if _, ok := s.entries[id]; !ok {
		s.entries[id] = &scheduleEntry{next: now}
	}
}

func (s *schedule) remove(id manifest.ID) { delete(s.entries, id) }

// due returns up to max IDs whose time has come and that are not being
// announced, oldest first, and marks them running.
func (s *schedule) due(now time.Time, max int) []manifest.ID {
	var out []manifest.ID
	for id, e := range s.entries {
		if !e.running && !e.next.After(now) {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(x, y manifest.ID) int { return s.entries[x].next.Compare(s.entries[y].next) })
	if len(out) > max {
		out = out[:max]
	}
	for _, id := range out {
		s.entries[id].running = true
	}
	return out
}

// done records the end of id's announce: the next is an interval later, or
// sooner after a failure (retryDelay).
func (s *schedule) done(id manifest.ID, now time.Time, ok bool) {
	e := s.entries[id]
	if e == nil {
		return // removed meanwhile
	}
	e.running = false
	if ok {
		e.fails = 0
		e.next = now.Add(s.interval)
		return
	}
	e.fails++
	e.next = now.Add(s.retryDelay(e.fails))
}

// retryDelay is the wait after the fails-th failure in a row: a quarter of
// the interval (at most maxRetryDelay), doubling, up to the interval.
func (s *schedule) retryDelay(fails int) time.Duration {
	d := min(s.interval/4, maxRetryDelay)
	for i := 1; i < fails && d < s.interval; i++ {
		d *= 2
	}
	return min(d, s.interval)
}

// wait returns how long until the next ID not being announced is due, and
// false if there is none.
func (s *schedule) wait(now time.Time) (time.Duration, bool) {
	var next time.Time
	found := false
	for _, e := range s.entries {
		if !e.running && (!found || e.next.Before(next)) {
			next, found = e.next, true
		}
	}
	return max(next.Sub(now), 0), found
}
