package bench

import (
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// Mbit is one megabit per second in bytes per second.
const Mbit = 1e6 / 8

// Mode says how a scenario runs.
type Mode int

const (
	// ModeDownload: one download (or Downloaders at once) from in-process
	// seeds behind their links.
	ModeDownload Mode = iota
	// ModeResume: the real binary as a child, SIGKILLed once half the file
	// was sent, then run again (scenario 8). Needs RunOptions.Exe.
	ModeResume
	// ModeMemory: seed and downloader are both child processes of the
	// binary, on loopback without a link, for their peak RSS (scenario 9).
	// Needs RunOptions.Exe.
	ModeMemory
	// ModeAttack: seed, good client and misbehaving clients each in a
	// child process (scenario 10, attack.go). Needs RunOptions.Exe.
	ModeAttack
	// ModeSwarm: an origin seed and many sharing downloaders, each a child
	// process (scenario 11, SwarmConfig in swarm.go). Needs RunOptions.Exe.
	ModeSwarm
	// ModeMirrors: HTTP mirrors alone, nginx behind kernel links, with a
	// lying mirror and a Metalink, and HTTP/3 against HTTP/1.1 (scenario
	// 12, MirrorsConfig in mirrors.go). Needs RunOptions.Exe.
	ModeMirrors
)

// Scenario is one download: a file of FileSize bytes served by one seed per
// entry of Seeds, each behind a Link with that configuration.
type Scenario struct {
	Number   int // the scenario's number in the benchmark issue, 0 if none
	Name     string
	Note     string // what it shows, for the report
	Target   string // the target, for the report
	FileSize int64
	Seeds    []LinkConfig
	Mode     Mode
	// NoLink dials the seeds directly on loopback, without a Link; the
	// LinkConfigs then only count the seeds and must be zero.
	NoLink bool
	// Raw, if set, also measures the raw quic-go ceiling for the same size
	// on the same path (a Link like Seeds[0], or none with NoLink), for
	// scenario 1's throughput ÷ raw, once with each of RawConns
	// connections (nil: one).
	Raw      bool
	RawConns []int
	// KillSeed, if not 0, is the 1-based index of a seed that is closed
	// (seed.Server.Close) once the seeds together have sent KillAt of the
	// file (scenario 3).
	KillSeed int
	KillAt   float64
	// Downloaders, if above 1, downloads the file that many times at once
	// (after one download alone, the reference), for aggregate throughput
	// and Jain's fairness index (scenario 7).
	Downloaders int
	// ConnsPerSeed is quicxfer get --conns-per-seed (0: get's default,
	// auto).
	ConnsPerSeed int
	// ChildSeeds runs each seed as `quicxfer seed` in a child process
	// behind its Link, where RunOptions.Exe is set, so that its CPU time is
	// its own (scenario 7's Result.SeedCPU); the seeds' bytes sent are then
	// their links' (testbed.sent). Not with NoLink or kernel links: the
	// seeds run in this process there.
	ChildSeeds bool
	// Attack sets up ModeAttack (attack.go).
	Attack *AttackConfig
	// Swarm sets up ModeSwarm (swarm.go); its origin is behind Seeds[0]'s
	// link.
	Swarm *SwarmConfig
	// Mirrors sets up ModeMirrors (mirrors.go); Seeds are its links.
	Mirrors *MirrorsConfig
	// Nginx, if set, also downloads the file from nginx on 127.0.0.1,
	// with aria2c and with `quicxfer get --manifest` (scenario 1,
	// nginxbaseline.go).
	Nginx *NginxConfig
}

// Ideal returns the time the file would take at the sum of the rates of the
// seeds that work (a seed with a DownBudget stalls and counts for nothing),
// or 0 if a seed is unlimited. With Downloaders, the time for all of them.
// A killed seed is accounted for in Run, which knows when it died.
func (sc Scenario) Ideal() float64 {
	sum := sc.workingRate()
	if sum <= 0 {
		return 0
	}
	n := max(sc.Downloaders, 1)
	if sc.Swarm != nil {
		n = max(sc.Swarm.Downloaders, 1) // every copy from the origin
	}
	return float64(sc.FileSize) * float64(n) / sum
}

// workingRate is the sum of the rates of the seeds that do not stall, or 0
// if one of them is unlimited.
func (sc Scenario) workingRate() float64 {
	var sum float64
	for _, c := range sc.Seeds {
		if c.DownBudget > 0 {
			continue
		}
		if c.Rate <= 0 {
			return 0
		}
		sum += c.Rate
	}
	return sum
}

// idealWithKill is the ideal time when seed k (0-based) leaves after a
// fraction f of the file: f at the full rate, the rest without it.
func (sc Scenario) idealWithKill(k int, f float64) float64 {
	sum := sc.workingRate()
	rest := sum - sc.Seeds[k].Rate
	if sum <= 0 || rest <= 0 {
		return 0
	}
	size := float64(sc.FileSize)
	return f*size/sum + (1-f)*size/rest
}

// Scenario1 is one unlimited seed on loopback, compared with the raw quic-go
// ceiling over one and over four connections, and with aria2c and
// quicxfer's HTTP path from nginx on 127.0.0.1.
func Scenario1(size int64) Scenario {
	return Scenario{
		Number: 1,
		Name:   "1-loopback",
		Note: "one unlimited seed on loopback; throughput ÷ raw quic-go with 1 and with 4 connections (one stream each); " +
			"aria2c (each of its settings) and `quicxfer get --manifest MFILE --mirror URL` from nginx on 127.0.0.1 (the aria2 columns are aria2c against the bench's Go net/http mirror, kept beside); " +
			"CPU seconds per GiB of each process",
		Target:   "≥ 0.9 × raw quic-go with the same number of connections",
		FileSize: size,
		Seeds:    []LinkConfig{{}},
		NoLink:   true,
		Raw:      true,
		RawConns: []int{1, 4},
		Nginx:    &NginxConfig{},
	}
}

// ratioSeeds are scenario 2's links: rates 4:2:1 of unit bytes/s.
func ratioSeeds(unit float64) []LinkConfig {
	return []LinkConfig{
		{Rate: 4 * unit, RTT: 2 * time.Millisecond, Seed: 21},
		{Rate: 2 * unit, RTT: 2 * time.Millisecond, Seed: 22},
		{Rate: 1 * unit, RTT: 2 * time.Millisecond, Seed: 23},
	}
}

// Scenario2 is three seeds with rates 4:2:1 of unit bytes/s (the issue's
// figures are unit = 50 Mbit/s).
func Scenario2(size int64, unit float64) Scenario {
	return Scenario{
		Number:   2,
		Name:     "2-ratio-4:2:1",
		Note:     "three seeds, rates 4:2:1; time ÷ ideal",
		Target:   "≤ 1.05 × ideal, ≥ 1.1 × faster than aria2 best, fetched ≤ 1.02",
		FileSize: size,
		Seeds:    ratioSeeds(unit),
	}
}

// Scenario3 is scenario 2 with the fastest seed closed once 40 % of the file
// was sent. Its ideal counts the capacity actually available: all three
// seeds until the kill, two after.
func Scenario3(size int64, unit float64) Scenario {
	return Scenario{
		Number:   3,
		Name:     "3-fastest-killed",
		Note:     "as 2, the fastest seed closed at 40 % of the file; ideal for the capacity available",
		Target:   "≤ 1.05 × ideal, ≥ 1.1 × faster than aria2 best, fetched ≤ 1.02",
		FileSize: size,
		Seeds:    ratioSeeds(unit),
		KillSeed: 1,
		KillAt:   0.4,
	}
}

// stallBudget is what a stalling seed's link lets through before it goes
// silent: the handshake and the manifest of a file of size bytes (with a
// margin for QUIC overhead and retransmissions), not one whole block.
func stallBudget(size int64) int64 {
	blocks := int64(manifest.NumBlocksFor(size, manifest.BlockSizeFor(size)))
	return 24<<10 + blocks*(8+32)*5/4
}

// Scenario4 is scenario 2 plus a fourth seed, as fast as the fastest, that
// answers the handshake and the manifest and then never sends again. The
// ideal counts the three that work.
func Scenario4(size int64, unit float64) Scenario {
	seeds := append(ratioSeeds(unit), LinkConfig{Rate: 4 * unit, RTT: 2 * time.Millisecond, Seed: 24, DownBudget: stallBudget(size)})
	return Scenario{
		Number:   4,
		Name:     "4-stalled-seed",
		Note:     "as 2 plus a seed that answers the manifest and then never sends; ideal = size ÷ the working seeds' rates",
		Target:   "≤ 1.05 × ideal, ≥ 1.1 × faster than aria2 best, fetched ≤ 1.02",
		FileSize: size,
		Seeds:    seeds,
	}
}

// Scenario5 is three seeds with 80 ms RTT and 1 % loss at rate bytes/s each
// (the figure is 100 Mbit/s).
func Scenario5(size int64, rate float64) Scenario {
	var seeds []LinkConfig
	for i := range 3 {
		seeds = append(seeds, LinkConfig{Rate: rate, RTT: 80 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 0.01, Seed: uint64(51 + i)})
	}
	return Scenario{
		Number: 5,
		// One quic-go connection (NewReno) gets about 2.4 Mbit/s through 1 %
		// random loss at 80 ms, whatever the link: get's default (auto)
		// must find that more connections pay, and how many.
		Name:     "5-wan-80ms-1%",
		Note:     "three seeds, 80 ms RTT, 1 % loss, quicxfer with its defaults; throughput ÷ total link rate (1 ÷ time÷ideal)",
		Target:   "≥ 80 % of the links' total rate (time÷ideal ≤ 1.25), fetched ≤ 1.02",
		FileSize: size,
		Seeds:    seeds,
	}
}

// Scenario6 is twelve seeds of mixed rates (20 to 50 Mbit/s times unit÷50
// Mbit/s) and round-trip times, and one ten times slower than the slowest
// of the others.
func Scenario6(size int64, unit float64) Scenario {
	mbit := []float64{50, 45, 40, 35, 30, 25, 20, 50, 40, 30, 20}
	var seeds []LinkConfig
	for i, m := range mbit {
		seeds = append(seeds, LinkConfig{
			Rate: m * unit / 50,
			RTT:  time.Duration(4+(i*7)%40) * time.Millisecond,
			Seed: uint64(61 + i),
		})
	}
	seeds = append(seeds, LinkConfig{Rate: 2 * unit / 50, RTT: 30 * time.Millisecond, Seed: 72})
	return Scenario{
		Number:   6,
		Name:     "6-twelve-mixed",
		Note:     "twelve seeds, 20–50 units of rate and 4–43 ms RTT, one at 2 (10× slower); the slow one must never be waited for",
		Target:   "≤ 1.05 × ideal, fetched ≤ 1.02",
		FileSize: size,
		Seeds:    seeds,
	}
}

// Scenario7 is one seed behind a link of rate bytes/s serving n downloaders
// of a file of size bytes at once.
func Scenario7(size int64, rate float64, n int) Scenario {
	return Scenario{
		Number:      7,
		Name:        "7-one-seed-many-downloaders",
		Note:        "one seed, downloaders at once, each its own process (with the binary); aggregate ÷ one alone and Jain's index; with the binary the seed is `quicxfer seed` in a child process behind the link, and its CPU seconds per GiB served over the concurrent phase are reported",
		Target:      "aggregate ≥ 0.85 × one downloader's throughput, Jain ≥ 0.95",
		FileSize:    size,
		Seeds:       []LinkConfig{{Rate: rate, RTT: 10 * time.Millisecond, Seed: 71}},
		Downloaders: n,
		ChildSeeds:  true,
	}
}

// Scenario8 is the resume scenario: scenario 2's links, the real binary
// SIGKILLed once half the file was sent, then the same command again.
func Scenario8(size int64, unit float64) Scenario {
	return Scenario{
		Number:   8,
		Name:     "8-resume-after-sigkill",
		Note:     "scenario 2's links; `quicxfer get` SIGKILLed at 50 % of the file sent, then run again",
		Target:   "fetched again ≤ the in-flight window and < 1 % of the file",
		FileSize: size,
		Seeds:    ratioSeeds(unit),
		Mode:     ModeResume,
	}
}

// Scenario9 is the memory scenario: a seed and a downloader, both child
// processes of the binary, on loopback.
func Scenario9(size int64) Scenario {
	return Scenario{
		Number:   9,
		Name:     "9-memory",
		Note:     "`quicxfer seed` and `quicxfer get` as child processes on loopback; peak RSS of each",
		Target:   "peak RSS < 128 MiB for each process",
		FileSize: size,
		Seeds:    []LinkConfig{{}},
		NoLink:   true,
		Mode:     ModeMemory,
	}
}
