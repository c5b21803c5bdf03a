package scheduler

import (
	"math/rand/v2"
	"testing"
	"time"
)

// benchScheduler returns a scheduler for 10 000 blocks of 256 KiB with twelve
// sources of known, different rates, in steady state.
func benchScheduler() (*Scheduler, time.Time) {
	const bs = 256 * kib
	s := New(Config{NumBlocks: 10000, BlockSize: bs, Size: 10000 * bs}, nil)
	for i := range 12 {
		src := s.AddSource(t0)
		s.SetRTT(src, time.Duration(10+i)*time.Millisecond)
	}
	s.Next(t0)
	now := t0.Add(100 * time.Millisecond)
	for i, x := range s.sources {
		s.Progress(x.id, int64(i+1)*1e6/10, now) // 1..12 MB/s
	}
	s.Next(now)
	return s, now
}

// BenchmarkNext10000Blocks12Sources measures one turn of the event loop: a
// block arrives and Next refills the window.
func BenchmarkNext10000Blocks12Sources(b *testing.B) {
	benchTurns(b, benchScheduler, 2000, nil)
}

// benchTurns runs event-loop turns on schedulers from mk, a fresh one
// whenever fewer than refillBelow blocks are missing: a source's oldest
// request is delivered and Next refills. before, if set, runs first in
// each turn.
func benchTurns(b *testing.B, mk func() (*Scheduler, time.Time), refillBelow int, before func(s *Scheduler, i int)) {
	s, now := mk()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if s.Missing() < refillBelow {
			b.StopTimer()
			s, now = mk()
			b.StartTimer()
		}
		x := s.sources[i%len(s.sources)]
		i++
		if before != nil {
			before(s, i)
		}
		if len(x.reqs) == 0 {
			continue
		}
		r := x.reqs[0]
		now = now.Add(time.Millisecond)
		s.Progress(x.id, x.raw+r.length, now)
		s.Finish(fetchOf(r.id, x.id, r.block), Delivered, 0, now)
		s.Next(now)
	}
}

func TestBenchSchedulerIsBusy(t *testing.T) {
	s, _ := benchScheduler()
	for _, x := range s.sources {
		if len(x.reqs) == 0 {
			t.Fatalf("source %d idle", x.id)
		}
	}
}

// BenchmarkNext16000Blocks30PartialSources is the swarm case: 16 000 blocks,
// one full seed and 29 peers that each have a different random half, rarest
// first. One turn: a block arrives, a peer gains one, Next refills.
func BenchmarkNext16000Blocks30PartialSources(b *testing.B) {
	const n, bs = 16000, 256 * kib
	mk := func() (*Scheduler, time.Time) {
		s := New(Config{NumBlocks: n, BlockSize: bs, Size: n * bs}, nil)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range 30 {
			src := s.AddSource(t0)
			s.SetRTT(src, time.Duration(10+i)*time.Millisecond)
			if i > 0 {
				words := make([]uint64, (n+63)/64)
				for w := range words {
					words[w] = r.Uint64()
				}
				s.SetAvailable(src, words)
			}
		}
		s.Next(t0)
		now := t0.Add(100 * time.Millisecond)
		for i, x := range s.sources {
			s.Progress(x.id, int64(i+1)*1e6/10, now)
		}
		s.Next(now)
		return s, now
	}
	benchTurns(b, mk, 4000, func(s *Scheduler, i int) { s.AddAvailable(s.sources[1+i%29].id, i%n) })
}
