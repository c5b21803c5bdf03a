package scheduler

import (
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
	s, now := benchScheduler()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if s.Missing() < 2000 {
			b.StopTimer()
			s, now = benchScheduler()
			b.StartTimer()
		}
		x := s.sources[i%len(s.sources)]
		i++
		if len(x.reqs) == 0 {
			continue
		}
		r := x.reqs[0]
		now = now.Add(time.Millisecond)
		s.Progress(x.id, x.raw+r.length, now)
		s.Delivered(r.id, x.id, r.block, now)
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
