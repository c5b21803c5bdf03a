package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"github.com/quicxfer/quicxfer/seed"
)

// Mbit is one megabit per second in bytes per second.
const Mbit = 1e6 / 8

// Scenario is one download: a file of FileSize bytes served by one seed per
// entry of Seeds, each behind a Link with that configuration.
type Scenario struct {
	Name     string
	Note     string // what it shows, for the report
	FileSize int64
	Seeds    []LinkConfig
	// NoLink dials the seeds directly on loopback, without a Link; the
	// LinkConfigs then only count the seeds and must be zero.
	NoLink bool
	// Raw, if set, also measures the raw quic-go ceiling for the same size
	// on the same path (a Link like Seeds[0], or none with NoLink), for
	// scenario 1's throughput ÷ raw.
	Raw bool
}

// SeedShare is one seed's part of a Result.
type SeedShare struct {
	Rate     float64   `json:"link_rate_bytes_per_s"` // 0 = unlimited
	RTT      float64   `json:"link_rtt_s"`
	Loss     float64   `json:"link_loss"`
	Bytes    int64     `json:"bytes"` // accepted from it
	Share    float64   `json:"share"` // Bytes ÷ file size
	Received int64     `json:"received_bytes"`
	Note     string    `json:"note,omitempty"`
	Link     LinkStats `json:"link"`
}

// Sample is the progress at one instant of a download.
type Sample struct {
	T     float64 `json:"t_s"`
	Bytes []int64 `json:"bytes"` // accepted from each seed so far
}

// Result is the outcome of one scenario.
type Result struct {
	Name          string      `json:"name"`
	Note          string      `json:"note,omitempty"`
	Size          int64       `json:"size"`
	Elapsed       float64     `json:"elapsed_s"`
	Throughput    float64     `json:"throughput_bytes_per_s"`
	Ideal         float64     `json:"ideal_s,omitempty"`         // size ÷ sum of rates; 0 when a seed is unlimited
	TimeOverIdeal float64     `json:"time_over_ideal,omitempty"` // 0 when Ideal is
	FetchedOver   float64     `json:"fetched_over_size"`         // bytes received ÷ size
	CPUSeconds    float64     `json:"cpu_s"`                     // user+system of this whole process during the download
	Verified      bool        `json:"verified"`                  // output is byte-identical to the source
	Seeds         []SeedShare `json:"seeds"`
	Raw           *RawResult  `json:"raw,omitempty"`
	OverRaw       float64     `json:"throughput_over_raw,omitempty"`
	Samples       []Sample    `json:"samples,omitempty"`
}

// Ideal returns the time the file would take at the sum of the seeds' rates,
// or 0 if a seed is unlimited.
func (sc Scenario) Ideal() float64 {
	var sum float64
	for _, c := range sc.Seeds {
		if c.Rate <= 0 {
			return 0
		}
		sum += c.Rate
	}
	if sum == 0 {
		return 0
	}
	return float64(sc.FileSize) / sum
}

// Scenario1 is one unlimited seed on loopback, compared with the raw quic-go
// ceiling.
func Scenario1(size int64) Scenario {
	return Scenario{
		Name:     "1-loopback",
		Note:     "one unlimited seed on loopback; throughput ÷ raw quic-go",
		FileSize: size,
		Seeds:    []LinkConfig{{}},
		NoLink:   true,
		Raw:      true,
	}
}

// Scenario2 is three seeds with rates 4:2:1 of unit bytes/s (the issue's
// figures are unit = 50 Mbit/s).
func Scenario2(size int64, unit float64) Scenario {
	return Scenario{
		Name:     "2-ratio-4:2:1",
		Note:     "three seeds, rates 4:2:1; time ÷ ideal",
		FileSize: size,
		Seeds: []LinkConfig{
			{Rate: 4 * unit, RTT: 2 * time.Millisecond, Seed: 21},
			{Rate: 2 * unit, RTT: 2 * time.Millisecond, Seed: 22},
			{Rate: 1 * unit, RTT: 2 * time.Millisecond, Seed: 23},
		},
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
		Name:     "5-wan-80ms-1%",
		Note:     "three seeds, 80 ms RTT, 1 % loss; throughput ÷ total link rate (1 ÷ time÷ideal)",
		FileSize: size,
		Seeds:    seeds,
	}
}

// SuiteOptions sizes a suite run.
type SuiteOptions struct {
	Size int64   // file size for every scenario (the issue: 1 GiB for scenario 1)
	Unit float64 // scenario 2's rate unit, bytes/s (default 50 Mbit/s)
	WAN  float64 // scenario 5's rate per seed, bytes/s (default 100 Mbit/s)
}

// Suite returns the scenarios implemented so far.
func Suite(o SuiteOptions) []Scenario {
	if o.Unit <= 0 {
		o.Unit = 50 * Mbit
	}
	if o.WAN <= 0 {
		o.WAN = 100 * Mbit
	}
	return []Scenario{Scenario1(o.Size), Scenario2(o.Size, o.Unit), Scenario5(o.Size, o.WAN)}
}

// RunSuite runs every scenario of Suite(o) in a fresh directory under
// workDir, one after the other, and writes the report into reportDir (if not
// empty). It stops at the first error.
func RunSuite(ctx context.Context, o SuiteOptions, workDir, reportDir string) ([]Result, error) {
	var results []Result
	for _, sc := range Suite(o) {
		dir := filepath.Join(workDir, sc.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return results, err
		}
		r, err := Run(ctx, sc, dir)
		if err != nil {
			return results, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		results = append(results, r)
	}
	if reportDir != "" {
		return results, WriteReport(reportDir, results)
	}
	return results, nil
}

// fileName is the served file's name.
const fileName = "bench.bin"

// Run runs one scenario in workDir (which must exist; Run fills it with the
// served file, the seeds' state and the output) and returns its figures. An
// output that differs from the source is an error.
func Run(ctx context.Context, sc Scenario, workDir string) (Result, error) {
	if len(sc.Seeds) == 0 {
		return Result{}, errors.New("bench: scenario without seeds")
	}
	served := filepath.Join(workDir, "served")
	if err := os.MkdirAll(served, 0o755); err != nil {
		return Result{}, err
	}
	want, err := writeFile(filepath.Join(served, fileName), sc.FileSize)
	if err != nil {
		return Result{}, fmt.Errorf("writing the source file: %w", err)
	}
	out := filepath.Join(workDir, "out.bin")
	for _, p := range []string{out, out + ".qxpart", out + ".qxstate"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Result{}, err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var links []*Link
	defer func() {
		cancel()
		for _, l := range links {
			if l != nil {
				l.Close()
			}
		}
		wg.Wait()
	}()

	var urls []string
	for i, cfg := range sc.Seeds {
		s, err := seed.New(ctx, seed.Options{
			Paths:    []string{served},
			Listen:   "127.0.0.1:0",
			StateDir: filepath.Join(workDir, fmt.Sprintf("seed%d", i+1)),
			Logger:   slog.New(slog.DiscardHandler),
		})
		if err != nil {
			return Result{}, fmt.Errorf("starting seed %d: %w", i+1, err)
		}
		wg.Go(func() { _ = s.Serve(ctx) })
		if sc.NoLink {
			links = append(links, nil)
			urls = append(urls, s.URLs()[0])
			continue
		}
		l, err := NewLink(ctx, s.Addr().(*net.UDPAddr), cfg)
		if err != nil {
			return Result{}, err
		}
		links = append(links, l)
		u, err := linkURL(s, l)
		if err != nil {
			return Result{}, err
		}
		urls = append(urls, u)
	}

	var samples []Sample
	start := time.Now()
	cpu0 := cpuSeconds()
	res, err := quicxfer.Download(ctx, quicxfer.Options{
		Seeds:            urls,
		Name:             fileName,
		Out:              out,
		ProgressInterval: 100 * time.Millisecond,
		OnProgress: func(p quicxfer.Progress) {
			s := Sample{T: time.Since(start).Seconds()}
			for _, sp := range p.Seeds {
				s.Bytes = append(s.Bytes, sp.Accepted)
			}
			samples = append(samples, s)
		},
	})
	cpu := cpuSeconds() - cpu0
	if err != nil {
		return Result{}, fmt.Errorf("download: %w", err)
	}
	got, err := sha256File(out)
	if err != nil {
		return Result{}, err
	}
	if got != want {
		return Result{}, fmt.Errorf("bench: %s differs from the source", out)
	}

	r := Result{
		Name:     sc.Name,
		Note:     sc.Note,
		Size:     sc.FileSize,
		Elapsed:  res.Elapsed.Seconds(),
		Ideal:    sc.Ideal(),
		Verified: true,
		Samples:  samples,
	}
	if r.Elapsed > 0 {
		r.Throughput = float64(sc.FileSize) / r.Elapsed
	}
	if r.Ideal > 0 {
		r.TimeOverIdeal = r.Elapsed / r.Ideal
	}
	for i, cfg := range sc.Seeds {
		sh := SeedShare{Rate: cfg.Rate, RTT: cfg.RTT.Seconds(), Loss: cfg.Loss}
		if links[i] != nil {
			sh.Link = links[i].Stats()
		}
		if i < len(res.Seeds) {
			sr := res.Seeds[i]
			sh.Bytes, sh.Received, sh.Note = sr.Bytes, sr.Received, sr.Note
		}
		if sc.FileSize > 0 {
			sh.Share = float64(sh.Bytes) / float64(sc.FileSize)
		}
		r.Seeds = append(r.Seeds, sh)
	}
	if sc.FileSize > 0 {
		r.FetchedOver = float64(res.FetchedBytes) / float64(sc.FileSize)
	}
	r.CPUSeconds = cpu

	if sc.Raw {
		ro := RawOptions{Size: max(sc.FileSize, 1)}
		if !sc.NoLink {
			cfg := sc.Seeds[0]
			ro.Link = &cfg
		}
		raw, err := RawQUIC(ctx, ro)
		if err != nil {
			return r, fmt.Errorf("raw ceiling: %w", err)
		}
		r.Raw = &raw
		if raw.Throughput > 0 {
			r.OverRaw = r.Throughput / raw.Throughput
		}
	}
	return r, nil
}

// linkURL returns the URL of seed s as reached through l: the link's port
// with the seed's pin.
func linkURL(s *seed.Server, l *Link) (string, error) {
	su, err := wire.ParseURL(s.URLs()[0])
	if err != nil {
		return "", err
	}
	u := wire.URL{Host: "127.0.0.1", Port: uint16(l.Addr().Port), Pin: su.Pin, HasPin: su.HasPin}
	if !u.HasPin {
		return "", errors.New("bench: seed URL without a pin")
	}
	return u.String(), nil
}

// writeFile writes size deterministic pseudo-random bytes to path (unless
// it already holds them) and returns their SHA-256.
func writeFile(path string, size int64) ([32]byte, error) {
	h := sha256.New()
	r := rand.NewChaCha8([32]byte{'q', 'x', 'b', 'e', 'n', 'c', 'h'})
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return [32]byte{}, err
	}
	// Same size: check the content instead of rewriting it, which would
	// change the modification time and make the seeds hash it again.
	same := fi.Size() == size
	buf := make([]byte, 1<<20)
	disk := make([]byte, 1<<20)
	if !same {
		if err := f.Truncate(0); err != nil {
			return [32]byte{}, err
		}
	}
	for off := int64(0); off < size; {
		n := int(min(int64(len(buf)), size-off))
		_, _ = r.Read(buf[:n])
		h.Write(buf[:n])
		if same {
			if _, err := io.ReadFull(f, disk[:n]); err != nil || !bytes.Equal(disk[:n], buf[:n]) {
				same = false
				if err := f.Truncate(off); err != nil {
					return [32]byte{}, err
				}
			}
		}
		if !same {
			if _, err := f.WriteAt(buf[:n], off); err != nil {
				return [32]byte{}, err
			}
		}
		off += int64(n)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, f.Close()
}

func sha256File(path string) ([32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return [32]byte{}, err
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}

// cpuSeconds returns the user and system CPU time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
