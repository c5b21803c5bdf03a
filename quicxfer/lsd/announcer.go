package lsd

import (
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// Announcer multicasts, for a seed, the IDs it serves and its QUIC port: a
// burst of announces for each ID added, then one every Interval, and one
// soon after a query for the ID (at most one per ReplyGap).
type Announcer struct {
	cfg  Config
	port uint16
	st   counters
	in   intake
	ep   *endpoint

	mu    sync.Mutex
	sched *schedule

	wake      chan struct{} // cap 1: the schedule changed
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewAnnouncer starts announcing ids on port, the seed's QUIC port, on the
// interfaces and groups of cfg. It fails if no group can be joined on any
// interface. Close stops it.
func NewAnnouncer(cfg Config, port uint16, ids ...manifest.ID) (*Announcer, error) {
	if port == 0 {
		return nil, errors.New("LSD: cannot announce port 0")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := newAnnouncer(c, port)
	if a.ep, err = openEndpoint(&c, &a.st); err != nil {
		return nil, err
	}
	a.Add(ids...)
	a.ep.start(&a.wg, a.done, a.handle)
	a.wg.Go(a.loop)
	return a, nil
}

// newAnnouncer returns an Announcer without sockets or goroutines: what
// NewAnnouncer starts, and what tests of its logic use. c has its defaults.
func newAnnouncer(c Config, port uint16) *Announcer {
	a := &Announcer{cfg: c, port: port, sched: newSchedule(&c), wake: make(chan struct{}, 1), done: make(chan struct{})}
	a.in = newIntake(&c, &a.st)
	return a
}

// Add announces more IDs (a new file served): at once, then as the
// schedule says. IDs announced already are left as they are.
func (a *Announcer) Add(ids ...manifest.ID) {
	a.mu.Lock()
	now := time.Now()
	for _, id := range ids {
		a.sched.add(InfohashOf(id), now)
	}
	a.mu.Unlock()
	poke(a.wake)
}

// Remove stops announcing IDs. BEP 14 has no withdrawal: finders forget
// the seed when its announces stop (Config.PeerTTL).
func (a *Announcer) Remove(ids ...manifest.ID) {
	a.mu.Lock()
	for _, id := range ids {
		a.sched.remove(InfohashOf(id))
	}
	a.mu.Unlock()
}

// Cookie returns the cookie the announces carry.
func (a *Announcer) Cookie() string { return a.cfg.Cookie }

// Stats returns the counters.
func (a *Announcer) Stats() Stats { return a.st.stats() }

// Close stops announcing and closes the sockets. It waits for the
// Announcer's goroutines and may be called more than once.
func (a *Announcer) Close() error {
	a.closeOnce.Do(func() {
		close(a.done)
		a.ep.close()
		a.wg.Wait()
	})
	return nil
}

// handle answers queries for the IDs announced.
func (a *Announcer) handle(b []byte, from netip.AddrPort) {
	now := time.Now()
	m, _, ok := a.in.take(b, from, now)
	if !ok || m.Port != 0 {
		return // an announce: nothing to do for a seed
	}
	a.st.queries.Add(1)
	moved := false
	a.mu.Lock()
	for _, h := range m.Infohashes {
		if a.sched.queried(h, now) {
			a.st.replies.Add(1)
			moved = true
		}
	}
	a.mu.Unlock()
	if moved {
		poke(a.wake)
	}
}

// loop sends what the schedule says when it says it.
func (a *Announcer) loop() {
	sendLoop(&a.mu, a.sched, a.wake, a.done, func(hs []Infohash) { a.ep.send(a.port, a.cfg.Cookie, hs) })
}

// sendLoop calls send with the infohashes sched says are due, whenever
// they are, until done is closed. mu guards sched; send is called without
// it.
func sendLoop(mu *sync.Mutex, sched *schedule, wake, done <-chan struct{}, send func([]Infohash)) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		mu.Lock()
		hs := sched.due(time.Now())
		at, ok := sched.wake()
		mu.Unlock()
		if len(hs) > 0 {
			send(hs)
		}
		var fire <-chan time.Time
		if ok {
			timer.Reset(time.Until(at))
			fire = timer.C
		}
		select {
		case <-done:
			return
		case <-wake:
		case <-fire:
		}
	}
}

// poke tells a loop to look again, without blocking.
func poke(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
