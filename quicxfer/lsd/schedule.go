package lsd

import (
	"bytes"
	"slices"
	"time"
)

// schedule decides when each infohash is sent: at once when it is added,
// then Burst-1 more times BurstGap apart, then every Interval; a query
// (queried) brings the next send forward to now, but never to less than
// ReplyGap after the last one. It is pure: the caller passes the time.
type schedule struct {
	interval, burstGap, replyGap time.Duration
	burst                        int
	slots                        map[Infohash]*slot
}

type slot struct {
	next time.Time // when it is due
	last time.Time // when it was last sent; zero if never
	left int       // sends of the first burst after the next one
}

func newSchedule(c *Config) *schedule {
	return &schedule{interval: c.Interval, burstGap: c.BurstGap, replyGap: c.ReplyGap, burst: c.Burst, slots: map[Infohash]*slot{}}
}

// add schedules h at once, unless it is scheduled already. It reports
// whether h is new.
func (s *schedule) add(h Infohash, now time.Time) bool {
	if _, ok := s.slots[h]; ok {
		return false
	}
	s.slots[h] = &slot{next: now, left: s.burst - 1}
	return true
}

func (s *schedule) remove(h Infohash) { delete(s.slots, h) }

func (s *schedule) has(h Infohash) bool { _, ok := s.slots[h]; return ok }

// queried brings h forward after a query for it. It reports whether h is
// scheduled and its next send moved.
func (s *schedule) queried(h Infohash, now time.Time) bool {
	sl, ok := s.slots[h]
	if !ok {
		return false
	}
	at := now
	if !sl.last.IsZero() {
		at = later(at, sl.last.Add(s.replyGap))
	}
	if !at.Before(sl.next) {
		return false
	}
	sl.next = at
	return true
}

// due returns the infohashes due at now, sorted, and schedules their next
// sends as if they were sent now.
func (s *schedule) due(now time.Time) []Infohash {
	var hs []Infohash
	for h, sl := range s.slots {
		if sl.next.After(now) {
			continue
		}
		hs = append(hs, h)
		sl.last = now
		if sl.left > 0 {
			sl.left--
			sl.next = now.Add(s.burstGap)
		} else {
			sl.next = now.Add(s.interval)
		}
	}
	slices.SortFunc(hs, func(a, b Infohash) int { return bytes.Compare(a[:], b[:]) })
	return hs
}

// wake returns when the next infohash is due; ok is false if none is
// scheduled.
func (s *schedule) wake() (at time.Time, ok bool) {
	for _, sl := range s.slots {
		if !ok || sl.next.Before(at) {
			at, ok = sl.next, true
		}
	}
	return at, ok
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
