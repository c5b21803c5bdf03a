package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quicxfer/quicxfer/internal/digest"
)

// # Scenario 12: HTTP mirrors
//
// The downloader's mirrors-only mode (no seed, no manifest) against aria2,
// on real nginx mirrors behind kernel tbf links (kernel.go, nginx.go):
//
//	root namespace: quicxfer get / aria2c        namespace i: nginx on 10.199.i.2:80 (i = 0, 1, 2)
//	  ◀── veth ── tbf 40, 20, 10 MB/s             namespace 3: the liar (net/http, every byte XORed), tbf 20 MB/s
//
//   - (a) the three honest mirrors: `quicxfer get --checksum sha-256=HEX
//     URL1 URL2 URL3 --json` (no tuning flag), then aria2c with each of
//     Aria2Variants, each with --checksum and --check-integrity (both
//     downloaders verify the whole file). Ideal: size ÷ 70 MB/s.
//   - (b) the same plus the liar, given through a Metalink 4 file the bench
//     writes (sha-256 of the whole file, sha-256 pieces of PieceLength, the
//     liar at priority 1, the honest ones 2 to 4): `quicxfer get
//     --json-progress FILE.meta4` (its last event is --json's object; its
//     block_rejected events say which blocks were refused), then aria2c
//     -M FILE with its defaults and with (a)'s best settings. The liar must
//     have nothing accepted. Ideal: as (a), the liar counts for nothing.
//   - (c) one https mirror on 127.0.0.1, no shaping (H3Mirror: HTTP/1.1
//     over TLS with Alt-Svc, HTTP/3 on the same port): `quicxfer get
//     --insecure --http3 always URL` and `--http3 never URL`, interleaved,
//     H3Rounds each; --json's "protocol" must say HTTP/3.0 and HTTP/1.1.
//
// In (a) and (b), aria2c runs each setting once, then quicxfer runs
// Rounds times, each round but the last followed by another run of
// aria2c's fastest setting; each side's figures are its median run's (a
// best of six single runs would flatter aria2c on a noisy machine).
// Every output is compared with the source's SHA-256. Times are wall
// clock, launch to exit, for both downloaders (quicxfer's own elapsed_s is
// kept beside). CPU seconds and peak RSS are the downloader child's own.
// What each mirror sent is nginx's access log ($body_bytes_sent) and the
// liar's counter (HTTPSeed.Sent); the plots are the bytes each link's veth
// carried (its root end's rx_bytes, whole frames), sampled.
//
// The links' rates are the LinkConfig rates, i.e. QUIC datagram payload:
// tbf gets Rate × kernelRateScale in Ethernet frames. A full TCP segment
// carries tcpSegmentPayload bytes in a tcpSegmentFrame-byte frame, so TCP
// (HTTP/1.1 for both downloaders) tops out at TCPCeiling × the nominal
// rate: no TCP client can do better than 1 ÷ TCPCeiling ≈ 1.016 × ideal.
// tbf's queue is mirrorQueueBytes, not the Link default: a TCP sender's
// GSO bursts (up to 64 KiB at once) overflow the default 64 KiB queue, and
// then one connection gets 0.7 MB/s of a 40 MB/s link (measured here;
// 38 MB/s with 256 KiB).
//
// Parts (a) and (b) need kernel links (root) and nginx; where either is
// missing they are skipped with the reason (MirrorsResult.Skipped), and
// (c), which needs neither, still runs.

// MB is one megabyte per second (10^6 bytes) in bytes per second.
const MB = 1e6

// TCP segment sizes through a veth of MTU 1500: 1448 bytes of payload
// (1460 MSS less 12 of timestamps) in a 1514-byte frame.
const (
	tcpSegmentPayload = 1448
	tcpSegmentFrame   = 1514
)

// TCPCeiling is the most TCP payload a kernel link carries per byte of its
// nominal rate (see the comment at the top of mirrors.go).
const TCPCeiling = kernelRateScale * tcpSegmentPayload / tcpSegmentFrame

// mirrorQueueBytes is a mirror link's tbf queue: 10 ms of its rate, at
// least 256 KiB.
func mirrorQueueBytes(rate float64) int { return max(256<<10, int(rate*0.010)) }

// DefaultPieceLength is scenario 12's Metalink piece length.
const DefaultPieceLength = 256 << 10

// liarXOR is what the lying mirror XORs every byte of the file with.
const liarXOR = 0xA5

// mirrorPort is where each nginx and the liar listen in their namespace.
const mirrorPort = 80

// MirrorsConfig sets up ModeMirrors (scenario 12). The scenario's Seeds are
// the links: one per entry of Rates, then the liar's.
type MirrorsConfig struct {
	// Rates are the honest nginx mirrors' links, bytes/s.
	Rates []float64
	// LiarRate is part (b)'s lying mirror's link, bytes/s.
	LiarRate float64
	// PieceLength is the Metalink's piece length in bytes.
	PieceLength int64
	// Rounds is how many times parts (a) and (b) run quicxfer, and
	// aria2c's best setting (after one run of each setting); their figures
	// are the median run's.
	Rounds int
	// H3Rounds is how many downloads part (c) makes over each protocol.
	H3Rounds int
	// NoAria2 leaves out aria2c.
	NoAria2 bool
}

// ScenarioHTTPMirrors is scenario 12: three nginx mirrors behind kernel
// links of 40, 20 and 10 MB/s serving a file of size bytes, with quicxfer's
// mirrors-only download and aria2c; the same plus a lying mirror through a
// Metalink; and one mirror over HTTP/3 against HTTP/1.1 on loopback.
func ScenarioHTTPMirrors(size int64) Scenario {
	cfg := &MirrorsConfig{Rates: []float64{40 * MB, 20 * MB, 10 * MB}, LiarRate: 20 * MB, PieceLength: DefaultPieceLength, Rounds: 3, H3Rounds: 3}
	var seeds []LinkConfig
	for i, rate := range append(slices.Clone(cfg.Rates), cfg.LiarRate) {
		seeds = append(seeds, LinkConfig{Rate: rate, QueueBytes: mirrorQueueBytes(rate), Seed: uint64(121 + i)})
	}
	return Scenario{
		Number: 12,
		Name:   "12-http-mirrors",
		Note: "HTTP mirrors alone: (a) three nginx mirrors, each in its own network namespace behind a kernel tbf link of 40, 20 and 10 MB/s, " +
			"`quicxfer get --checksum sha-256=HEX URL1 URL2 URL3` against aria2c (each of its settings, with --checksum); " +
			"(b) the same plus a lying mirror (every byte XORed, 20 MB/s) through a Metalink with 256 KiB sha-256 pieces, the liar at priority 1; " +
			"(c) one https mirror on loopback over HTTP/3 against HTTP/1.1; times are launch to exit, ideal = size ÷ 70 MB/s",
		Target:   "every output byte-identical, nothing accepted from the liar; time ÷ ideal near the TCP ceiling and below aria2's",
		FileSize: size,
		Seeds:    seeds,
		Mode:     ModeMirrors,
		Mirrors:  cfg,
	}
}

// MirrorsResult is scenario 12's figures.
type MirrorsResult struct {
	// Skipped says why parts (a) and (b) did not run (no root, no nginx).
	Skipped string `json:"skipped,omitempty"`
	// Links describes the links of (a) and (b).
	Links string `json:"links,omitempty"`
	// TCPCeiling is TCPCeiling: the most TCP payload per byte of the
	// links' nominal rate.
	TCPCeiling float64 `json:"tcp_ceiling"`
	// Aria2Skipped says why aria2c did not run.
	Aria2Skipped string         `json:"aria2_skipped,omitempty"`
	Mirrors      *MirrorsPart   `json:"mirrors,omitempty"`  // (a)
	Metalink     *MirrorsPart   `json:"metalink,omitempty"` // (b)
	HTTP3        *HTTP3Compared `json:"http3,omitempty"`    // (c)
	// Plots are the extra plots' file names, next to the report, by what
	// they show.
	Plots map[string]string `json:"plots,omitempty"`
}

// MirrorsPart is part (a) or (b): quicxfer's downloads and aria2c's.
type MirrorsPart struct {
	Ideal float64 `json:"ideal_s"`
	// Quicxfer is the median of QuicxferRuns (by wall time).
	Quicxfer     MirrorGet   `json:"quicxfer"`
	QuicxferRuns []MirrorGet `json:"quicxfer_runs"`
	// Aria2 is one run of each aria2c setting tried.
	Aria2 []MirrorRun `json:"aria2,omitempty"`
	// Aria2Best is the index in Aria2 of the fastest byte-identical run,
	// -1 if none.
	Aria2Best int `json:"aria2_best"`
	// Aria2BestRuns are the best setting's runs: its run in Aria2, then
	// one after each quicxfer round but the last.
	Aria2BestRuns []MirrorRun `json:"aria2_best_runs,omitempty"`
	// Aria2BestMedian is the median of Aria2BestRuns' byte-identical runs
	// (by time), nil if none.
	Aria2BestMedian *MirrorRun `json:"aria2_best_median,omitempty"`
	// PieceLength is (b)'s Metalink piece length.
	PieceLength int64 `json:"piece_length,omitempty"`
}

// MirrorSource is one mirror in a download: its link and what quicxfer's
// --json says of it (zero for aria2c).
type MirrorSource struct {
	URL       string  `json:"url"`
	Rate      float64 `json:"link_rate_bytes_per_s"`
	Liar      bool    `json:"liar,omitempty"`
	Bytes     int64   `json:"bytes"` // accepted
	Blocks    int64   `json:"blocks"`
	BadBlocks int64   `json:"bad_blocks"`
	Received  int64   `json:"received_bytes"`
	Protocol  string  `json:"protocol,omitempty"`
	Note      string  `json:"note,omitempty"`
	// Sent is the body bytes the mirror sent during the download (nginx's
	// access log, the liar's counter).
	Sent int64 `json:"sent_bytes"`
}

// MirrorGet is one `quicxfer get` of scenario 12.
type MirrorGet struct {
	Args          []string `json:"args"` // after the binary, the output path as OUT
	Wall          float64  `json:"wall_s"`
	Elapsed       float64  `json:"elapsed_s"` // --json's own
	TimeOverIdeal float64  `json:"time_over_ideal,omitempty"`
	Throughput    float64  `json:"throughput_bytes_per_s"` // size ÷ wall
	Fetched       int64    `json:"fetched_bytes"`
	FetchedOver   float64  `json:"fetched_over_size"`
	CPUSeconds    float64  `json:"cpu_s"`
	PeakRSS       int64    `json:"peak_rss_bytes"`
	// Verified is --json's: checked against a published hash.
	Verified bool `json:"verified"`
	// Identical: the output's SHA-256 is the source's.
	Identical bool           `json:"byte_identical"`
	Sources   []MirrorSource `json:"sources"`
	// Rejected are the blocks of block_rejected events (with
	// --json-progress), by source URL as in Sources, in order.
	Rejected map[string][]int `json:"rejected_blocks,omitempty"`
	Err      string           `json:"error,omitempty"`
	Samples  []Sample         `json:"-"`
}

// MirrorRun is one aria2c run of scenario 12.
type MirrorRun struct {
	Aria2Run
	TimeOverIdeal float64 `json:"time_over_ideal,omitempty"`
	// Sent is the body bytes each mirror sent, in Sources' order.
	Sent        []int64  `json:"sent_bytes"`
	FetchedOver float64  `json:"sent_over_size"`
	Identical   bool     `json:"byte_identical"`
	Samples     []Sample `json:"-"`
}

// HTTP3Compared is part (c).
type HTTP3Compared struct {
	URL   string       `json:"url"`
	Runs  []HTTP3Run   `json:"runs"`
	HTTP3 HTTP3Summary `json:"http3"`  // --http3 always
	HTTP1 HTTP3Summary `json:"http11"` // --http3 never
}

// HTTP3Run is one download of part (c).
type HTTP3Run struct {
	Mode       string  `json:"http3_mode"` // always or never
	Protocol   string  `json:"protocol"`   // --json's
	Wall       float64 `json:"wall_s"`
	Elapsed    float64 `json:"elapsed_s"`
	Throughput float64 `json:"throughput_bytes_per_s"` // size ÷ elapsed_s
	CPUSeconds float64 `json:"cpu_s"`
	PeakRSS    int64   `json:"peak_rss_bytes"`
	// ServerCPU is this process's CPU seconds during the download: the
	// servers', mostly.
	ServerCPU float64 `json:"server_cpu_s"`
	Identical bool    `json:"byte_identical"`
	Err       string  `json:"error,omitempty"`
}

// HTTP3Summary is the median over one mode's runs.
type HTTP3Summary struct {
	Protocol   string  `json:"protocol"`
	Throughput float64 `json:"throughput_bytes_per_s"`
	CPUSeconds float64 `json:"cpu_s"`
	ServerCPU  float64 `json:"server_cpu_s"`
	Runs       int     `json:"runs"`
}

// MirrorsUnavailable returns why parts (a) and (b) of scenario 12 cannot
// run here (kernel links, nginx), or "".
func MirrorsUnavailable() string {
	if why := KernelUnavailable(); why != "" {
		return "kernel links: " + why
	}
	if _, ok := NginxPath(); !ok {
		return NginxMissing
	}
	return ""
}

// mirrorTimeout bounds one download of scenario 12: far beyond its ideal.
func mirrorTimeout(ideal float64) time.Duration {
	return max(2*time.Minute, time.Duration(20*ideal*float64(time.Second)))
}

// runMirrors runs ModeMirrors: parts (a) and (b) on kernel links where
// they can be made, then (c).
func runMirrors(ctx context.Context, sc Scenario, workDir string, o RunOptions, want [32]byte, r *Result) error {
	cfg := sc.Mirrors
	if cfg == nil || len(cfg.Rates) == 0 || len(sc.Seeds) != len(cfg.Rates)+1 {
		return errors.New("bench: mirrors scenario without its mirrors")
	}
	if o.Exe == "" {
		return errors.New("bench: the mirrors scenario runs the quicxfer binary: give RunOptions.Exe")
	}
	m := &MirrorsResult{TCPCeiling: TCPCeiling}
	r.Mirrors = m
	r.DownloaderInChild = true
	var sum float64
	for _, rate := range cfg.Rates {
		sum += rate
	}
	r.Ideal = float64(sc.FileSize) / sum
	var aria2 string
	switch p, err := exec.LookPath("aria2c"); {
	case cfg.NoAria2:
		m.Aria2Skipped = "left out (--no-aria2)"
	case err != nil:
		m.Aria2Skipped = Aria2Missing
	default:
		aria2 = p
	}
	var errs []error
	if why := MirrorsUnavailable(); why != "" {
		m.Skipped = why
	} else if err := runMirrorsKernel(ctx, sc, workDir, o, want, aria2, r); err != nil {
		errs = append(errs, fmt.Errorf("(a), (b): %w", err))
	}
	if ctx.Err() == nil {
		if err := runMirrorsHTTP3(ctx, sc, workDir, o, want, m); err != nil {
			errs = append(errs, fmt.Errorf("(c): %w", err))
		}
	}
	err := errors.Join(errs...)
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = errors.Join(err, ctx.Err())
	}
	return err
}

// mirrorBed is parts (a) and (b)'s mirrors: nginx behind each honest link
// and the liar behind the last.
type mirrorBed struct {
	k     *KernelLinks
	nginx []*Nginx
	liar  *HTTPSeed
	urls  []string // honest mirrors', then the liar's
	rates []float64
}

// liarIndex is the liar's index in mirrorBed's mirrors.
func (b *mirrorBed) liarIndex() int { return len(b.nginx) }

// startMirrorBed makes the kernel links, starts nginx in each honest one
// serving served, and the liar, serving the source XORed, in the last.
func startMirrorBed(ctx context.Context, sc Scenario, workDir string) (_ *mirrorBed, err error) {
	b := &mirrorBed{}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.k, err = NewKernelLinks(sc.Seeds); err != nil {
		return nil, err
	}
	served := filepath.Join(workDir, "served")
	for i, rate := range sc.Mirrors.Rates {
		dir := filepath.Join(workDir, fmt.Sprintf("nginx%d", i+1))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		n, err := StartNginx(ctx, b.k.Namespace(i), netip.AddrPortFrom(b.k.SeedAddr(i), mirrorPort), served, dir)
		if err != nil {
			return nil, fmt.Errorf("mirror %d: %w", i+1, err)
		}
		b.nginx = append(b.nginx, n)
		b.urls = append(b.urls, n.URL("/"+fileName))
		b.rates = append(b.rates, rate)
	}
	li := b.liarIndex()
	liarFile := filepath.Join(workDir, "liar", fileName)
	if err := writeLiar(filepath.Join(served, fileName), liarFile); err != nil {
		return nil, fmt.Errorf("writing the liar's file: %w", err)
	}
	var ln net.Listener
	if err := b.k.InSeed(li, func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(b.k.SeedAddr(li), mirrorPort).String())
		return err
	}); err != nil {
		return nil, fmt.Errorf("the liar's listener: %w", err)
	}
	if b.liar, err = StartHTTPSeed(ln, liarFile); err != nil {
		ln.Close()
		return nil, err
	}
	b.urls = append(b.urls, httpURL(netip.AddrPortFrom(b.k.SeedAddr(li), mirrorPort), "/"+fileName))
	b.rates = append(b.rates, sc.Mirrors.LiarRate)
	return b, nil
}

// close stops the mirrors, then deletes the links.
func (b *mirrorBed) close() {
	for _, n := range b.nginx {
		_ = n.Close()
	}
	if b.liar != nil {
		_ = b.liar.Close()
	}
	if b.k != nil {
		_ = b.k.Close()
	}
}

// sent returns the body bytes mirrors 0 to n-1 have sent so far (nginx's
// once its log has settled).
func (b *mirrorBed) sent(n int) ([]int64, error) {
	out := make([]int64, n)
	for i := range n {
		if i == b.liarIndex() {
			out[i] = b.liar.Sent()
			continue
		}
		v, err := b.nginx[i].settledBodySent()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// linkBytes returns the bytes the veth of each of links 0 to n-1 has
// carried towards this namespace (its root end's rx_bytes).
func (b *mirrorBed) linkBytes(n int) []int64 {
	out := make([]int64, n)
	for i := range n {
		raw, err := os.ReadFile(filepath.Join("/sys/class/net", b.k.veths[i], "statistics", "rx_bytes"))
		if err != nil {
			continue
		}
		out[i], _ = strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	}
	return out
}

// watch samples linkBytes(n) every interval, from zero at the call, until
// the returned function is called, which returns the samples.
func (b *mirrorBed) watch(n int, interval time.Duration) func() []Sample {
	start := time.Now()
	base := b.linkBytes(n)
	return sampleEvery(interval, func() Sample {
		cur := b.linkBytes(n)
		for i := range cur {
			cur[i] -= base[i]
		}
		return Sample{T: time.Since(start).Seconds(), Bytes: cur}
	})
}

// runMirrorsKernel runs parts (a) and (b).
func runMirrorsKernel(ctx context.Context, sc Scenario, workDir string, o RunOptions, want [32]byte, aria2 string, r *Result) error {
	m, cfg := r.Mirrors, sc.Mirrors
	b, err := startMirrorBed(ctx, sc, workDir)
	if err != nil {
		return err
	}
	defer b.close()
	m.Links = "kernel links: each mirror in its own network namespace behind a veth with a tbf qdisc (" + ratesList(b.rates[:b.liarIndex()]) +
		"; the liar " + fmt.Sprintf("%.0f MB/s", b.rates[b.liarIndex()]/MB) + "); nginx " + nginxVersion() + " for the honest mirrors, net/http for the liar"
	sum := hex.EncodeToString(want[:])
	honest := b.liarIndex()
	variants := Aria2Variants(Scenario{Seeds: sc.Seeds[:honest]})
	var errs []error

	// (a) the three honest mirrors.
	dir := filepath.Join(workDir, "a")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	out := filepath.Join(dir, "out.bin")
	a := &MirrorsPart{Ideal: r.Ideal, Aria2Best: -1}
	m.Mirrors = a
	get := func() MirrorGet {
		args := append([]string{"get", "--json", "--quiet", "--checksum", "sha-256=" + sum, "-o", out}, b.urls[:honest]...)
		return runMirrorGet(ctx, o, b, honest, args, out, want, sc.FileSize, r.Ideal)
	}
	runPart(ctx, cfg, a, get, aria2, variants, func(opt Aria2Options) MirrorRun {
		args := append(aria2Common(dir), "--out="+fileName, "--checksum=sha-256="+sum, "--check-integrity=true")
		args = append(append(args, opt.Args()...), b.urls[:honest]...)
		return runMirrorAria2(ctx, aria2, b, honest, dir, args, want, sc.FileSize, r.Ideal, o)
	})
	for i, q := range a.QuicxferRuns {
		if q.Err != "" {
			errs = append(errs, fmt.Errorf("(a) quicxfer, round %d: %s", i+1, q.Err))
		} else if !q.Identical {
			errs = append(errs, fmt.Errorf("(a) quicxfer, round %d: the output differs from the source", i+1))
		}
	}
	fillMirrorsResult(r, sc, a)
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// (b) the same plus the liar, through a Metalink.
	dir = filepath.Join(workDir, "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	meta4 := filepath.Join(dir, "bench.meta4")
	if err := writeBenchMeta4(meta4, filepath.Join(workDir, "served", fileName), sc.FileSize, want, cfg.PieceLength, b.urls, honest); err != nil {
		return fmt.Errorf("writing the Metalink: %w", err)
	}
	out = filepath.Join(dir, "out.bin")
	n := len(b.urls)
	p := &MirrorsPart{Ideal: r.Ideal, Aria2Best: -1, PieceLength: cfg.PieceLength}
	m.Metalink = p
	get = func() MirrorGet {
		g := runMirrorGet(ctx, o, b, n, []string{"get", "--json-progress", "-o", out, meta4}, out, want, sc.FileSize, r.Ideal)
		if len(g.Sources) == n {
			g.Sources[honest].Liar = true
		}
		return g
	}
	// aria2c's defaults, and (a)'s best settings.
	bVariants := []Aria2Options{{}}
	if a.Aria2Best >= 0 && variants[a.Aria2Best] != (Aria2Options{}) {
		bVariants = append(bVariants, variants[a.Aria2Best])
	}
	runPart(ctx, cfg, p, get, aria2, bVariants, func(opt Aria2Options) MirrorRun {
		args := append(aria2Common(dir), "--check-integrity=true")
		args = append(append(args, opt.Args()...), "--metalink-file="+meta4)
		return runMirrorAria2(ctx, aria2, b, n, dir, args, want, sc.FileSize, r.Ideal, o)
	})
	for i, q := range p.QuicxferRuns {
		switch {
		case q.Err != "":
			errs = append(errs, fmt.Errorf("(b) quicxfer, round %d: %s", i+1, q.Err))
		case !q.Identical:
			errs = append(errs, fmt.Errorf("(b) quicxfer, round %d: the output differs from the source", i+1))
		case len(q.Sources) == n && q.Sources[honest].Bytes != 0:
			errs = append(errs, fmt.Errorf("(b) quicxfer, round %d: accepted %d bytes from the lying mirror", i+1, q.Sources[honest].Bytes))
		}
	}
	return errors.Join(errs...)
}

// runPart runs one part's downloads: aria2c with each of variants once
// (if aria2 is set), then cfg.Rounds rounds of quicxfer (get), each but
// the last followed by another run of aria2c's best setting; the part's
// figures are the median runs'.
func runPart(ctx context.Context, cfg *MirrorsConfig, p *MirrorsPart, get func() MirrorGet, aria2 string, variants []Aria2Options, runAria2 func(Aria2Options) MirrorRun) {
	if aria2 != "" {
		for _, opt := range variants {
			run := runAria2(opt)
			run.Options = opt.String()
			p.Aria2 = append(p.Aria2, run)
			if ctx.Err() != nil {
				return
			}
		}
		p.Aria2Best = bestMirrorRun(p.Aria2)
		if p.Aria2Best >= 0 {
			p.Aria2BestRuns = []MirrorRun{p.Aria2[p.Aria2Best]}
		}
	}
	rounds := max(cfg.Rounds, 1)
	for i := range rounds {
		p.QuicxferRuns = append(p.QuicxferRuns, get())
		if ctx.Err() != nil {
			break
		}
		if i < rounds-1 && p.Aria2Best >= 0 {
			opt := variants[p.Aria2Best]
			run := runAria2(opt)
			run.Options = opt.String()
			p.Aria2BestRuns = append(p.Aria2BestRuns, run)
		}
	}
	p.Quicxfer = p.QuicxferRuns[medianIndex(len(p.QuicxferRuns), func(i int) float64 { return p.QuicxferRuns[i].Wall })]
	var ok []MirrorRun
	for _, run := range p.Aria2BestRuns {
		if run.Err == "" && run.Identical {
			ok = append(ok, run)
		}
	}
	if len(ok) > 0 {
		med := ok[medianIndex(len(ok), func(i int) float64 { return ok[i].Elapsed })]
		p.Aria2BestMedian = &med
	}
}

// medianIndex returns the index of the median of n values (the lower of
// the two middle ones for an even n), value(i) being the i-th; 0 for none.
func medianIndex(n int, value func(int) float64) int {
	if n == 0 {
		return 0
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		va, vb := value(a), value(b)
		switch {
		case va < vb:
			return -1
		case va > vb:
			return 1
		}
		return 0
	})
	return idx[(n-1)/2]
}

// fillMirrorsResult sets the table's figures of r from part (a): quicxfer's
// median download, the honest mirrors' shares in it, and aria2c's runs as
// the scenario's baseline (its best, the best setting's median run).
func fillMirrorsResult(r *Result, sc Scenario, a *MirrorsPart) {
	q := a.Quicxfer
	r.Elapsed, r.Throughput, r.FetchedOver = q.Wall, q.Throughput, q.FetchedOver
	r.CPUSeconds, r.PeakRSS, r.Samples = q.CPUSeconds, q.PeakRSS, q.Samples
	r.Verified = true
	for _, g := range a.QuicxferRuns {
		r.Verified = r.Verified && g.Err == "" && g.Identical
	}
	r.Seeds = nil
	for _, s := range q.Sources {
		sh := SeedShare{Rate: s.Rate, Bytes: s.Bytes, Received: s.Received, Sent: s.Sent, Note: s.Note}
		if sc.FileSize > 0 {
			sh.Share = float64(s.Bytes) / float64(sc.FileSize)
		}
		r.Seeds = append(r.Seeds, sh)
	}
	if len(a.Aria2) == 0 {
		if r.Mirrors.Aria2Skipped != "" {
			r.Aria2 = &Aria2{Runs: []Aria2Run{}, Skipped: r.Mirrors.Aria2Skipped}
		}
		return
	}
	ar := &Aria2{Runs: []Aria2Run{}, Links: "the same kernel links and nginx mirrors"}
	for _, run := range a.Aria2 {
		ar.Runs = append(ar.Runs, run.Aria2Run)
	}
	ar.Default = &ar.Runs[0]
	if med := a.Aria2BestMedian; med != nil {
		best := med.Aria2Run
		best.Options += fmt.Sprintf(", median of %d", len(a.Aria2BestRuns))
		ar.Best = &best
	}
	r.Aria2 = ar
}

// bestMirrorRun returns the index of the fastest byte-identical run, -1 if
// none.
func bestMirrorRun(runs []MirrorRun) int {
	best := -1
	for i, run := range runs {
		if run.Err == "" && run.Identical && (best < 0 || run.Elapsed < runs[best].Elapsed) {
			best = i
		}
	}
	return best
}

// getLine is a line of `quicxfer get --json` (the object) or of
// --json-progress (an event; the last, done or error, has the object's
// fields).
type getLine struct {
	Type         string  `json:"type"`
	Verified     bool    `json:"verified"`
	Size         int64   `json:"size"`
	FetchedBytes int64   `json:"fetched_bytes"`
	ElapsedS     float64 `json:"elapsed_s"`
	OK           bool    `json:"ok"`
	Error        string  `json:"error"`
	Seeds        []struct {
		URL       string `json:"url"`
		Bytes     int64  `json:"bytes"`
		Blocks    int64  `json:"blocks"`
		BadBlocks int64  `json:"bad_blocks"`
		Received  int64  `json:"received_bytes"`
		Note      string `json:"note"`
		Protocol  string `json:"protocol"`
	} `json:"seeds"`
	// A block_rejected event's.
	URL   string `json:"url"`
	Block *int   `json:"block"`
}

// getOutcome is what a `quicxfer get --json` or --json-progress child
// printed and cost.
type getOutcome struct {
	result   *getLine // the --json object, or the last event
	rejected map[string][]int
	wall     float64
	cpu      float64
	rss      int64
	err      error // it failed, or printed no result
}

// runGetChild runs `exe args...` and reads its --json object or its
// --json-progress events.
func runGetChild(ctx context.Context, exe string, args []string, timeout time.Duration) getOutcome {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var g getOutcome
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = cleanEnv()
	var stdout bytes.Buffer
	var stderr tailBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		g.err = fmt.Errorf("starting %s: %w", exe, err)
		return g
	}
	rss := watchRSS(cmd.Process.Pid)
	werr := cmd.Wait()
	g.wall = time.Since(start).Seconds()
	g.cpu, g.rss = usage(cmd.ProcessState, rss())
	s := bufio.NewScanner(&stdout)
	s.Buffer(make([]byte, 64<<10), 16<<20)
	for s.Scan() {
		var l getLine
		if json.Unmarshal(s.Bytes(), &l) != nil {
			continue
		}
		switch l.Type {
		case "block_rejected":
			if l.Block != nil {
				if g.rejected == nil {
					g.rejected = map[string][]int{}
				}
				g.rejected[l.URL] = append(g.rejected[l.URL], *l.Block)
			}
		case "", "done", "error":
			g.result = &l
		}
	}
	switch {
	case ctx.Err() != nil && werr != nil:
		g.err = fmt.Errorf("stopped after %.0f s: %w", g.wall, ctx.Err())
	case g.result == nil:
		g.err = fmt.Errorf("%v, no JSON result: %s", werr, lastLine(stderr.String()))
	case werr != nil || !g.result.OK:
		g.err = fmt.Errorf("%v: %s", werr, g.result.Error)
	}
	return g
}

// runMirrorGet runs `quicxfer args...` (which writes out) against the
// first n mirrors of b, sampling their links, and checks out against want.
func runMirrorGet(ctx context.Context, o RunOptions, b *mirrorBed, n int, args []string, out string, want [32]byte, size int64, ideal float64) MirrorGet {
	g := MirrorGet{Args: shownArgs(args, out)}
	if err := clearOut(out); err != nil {
		g.Err = err.Error()
		return g
	}
	sent0, err := b.sent(n)
	if err != nil {
		g.Err = err.Error()
		return g
	}
	stop := b.watch(n, o.SampleInterval)
	res := runGetChild(ctx, o.Exe, args, mirrorTimeout(ideal))
	g.Samples = stop()
	sent1, err := b.sent(n)
	if err != nil {
		g.Err = err.Error()
		return g
	}
	g.Wall, g.CPUSeconds, g.PeakRSS = res.wall, res.cpu, res.rss
	for u, blocks := range res.rejected {
		if g.Rejected == nil {
			g.Rejected = map[string][]int{}
		}
		if i := mirrorIndex(b.urls[:n], u); i >= 0 {
			u = b.urls[i] // as Sources has it
		}
		g.Rejected[u] = append(g.Rejected[u], blocks...)
	}
	g.Sources = make([]MirrorSource, n)
	for i := range n {
		g.Sources[i] = MirrorSource{URL: b.urls[i], Rate: b.rates[i], Sent: sent1[i] - sent0[i]}
	}
	if j := res.result; j != nil {
		g.Elapsed, g.Fetched, g.Verified = j.ElapsedS, j.FetchedBytes, j.Verified
		for _, s := range j.Seeds {
			i := mirrorIndex(b.urls[:n], s.URL)
			if i < 0 {
				continue
			}
			src := &g.Sources[i]
			src.Bytes, src.Blocks, src.BadBlocks, src.Received = s.Bytes, s.Blocks, s.BadBlocks, s.Received
			src.Protocol, src.Note = s.Protocol, s.Note
		}
	}
	if res.err != nil {
		g.Err = res.err.Error()
	}
	g.Identical = identical(out, want)
	if g.Wall > 0 {
		g.Throughput = float64(size) / g.Wall
		g.TimeOverIdeal = g.Wall / ideal
	}
	if size > 0 {
		g.FetchedOver = float64(g.Fetched) / float64(size)
	}
	_ = clearOut(out)
	return g
}

// mirrorIndex returns the index in urls of the mirror whose host is u's,
// -1 if none: each mirror has an address of its own, and quicxfer may
// write a URL another way than it was given (an explicit :80).
func mirrorIndex(urls []string, u string) int {
	host := func(s string) string {
		pu, err := url.Parse(s)
		if err != nil {
			return s
		}
		return pu.Hostname()
	}
	h := host(u)
	for i, v := range urls {
		if host(v) == h {
			return i
		}
	}
	return -1
}

// identical reports whether the file at path has SHA-256 want.
func identical(path string, want [32]byte) bool {
	got, err := digest.File(path)
	return err == nil && got == want
}

// shownArgs is args with out written OUT, for the report.
func shownArgs(args []string, out string) []string {
	s := slices.Clone(args)
	for i, a := range s {
		if a == out {
			s[i] = "OUT"
		}
		if v, ok := strings.CutPrefix(a, "sha-256="); ok && len(v) == 64 {
			s[i] = "sha-256=HEX"
		}
		if strings.HasSuffix(a, ".meta4") {
			s[i] = filepath.Base(a)
		}
	}
	return s
}

// aria2Common are the aria2c flags of every run against nginx (scenarios 1
// and 12), into dir.
func aria2Common(dir string) []string {
	return []string{
		"--no-conf=true",
		"--dir=" + dir,
		"--allow-overwrite=true",
		"--auto-file-renaming=false",
		"--file-allocation=none",
		"--console-log-level=warn",
		"--summary-interval=0",
		"--download-result=hide",
	}
}

// runMirrorAria2 runs aria2c with args (which write dir/fileName) against
// the first n mirrors of b, sampling their links, and checks the output.
func runMirrorAria2(ctx context.Context, aria2 string, b *mirrorBed, n int, dir string, args []string, want [32]byte, size int64, ideal float64, o RunOptions) MirrorRun {
	var run MirrorRun
	out := filepath.Join(dir, fileName)
	for _, p := range []string{out, out + ".aria2"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			run.Err = err.Error()
			return run
		}
	}
	sent0, err := b.sent(n)
	if err != nil {
		run.Err = err.Error()
		return run
	}
	stop := b.watch(n, o.SampleInterval)
	x := runAria2Child(ctx, aria2, args, mirrorTimeout(ideal))
	run.Samples = stop()
	run.Elapsed, run.CPUSeconds, run.PeakRSS = x.elapsed, x.cpu, x.rss
	if sent1, err := b.sent(n); err == nil {
		for i := range n {
			run.Sent = append(run.Sent, sent1[i]-sent0[i])
		}
	}
	var total int64
	for _, v := range run.Sent {
		total += v
	}
	if size > 0 {
		run.FetchedOver = float64(total) / float64(size)
	}
	if x.err != nil {
		run.Err = x.err.Error()
	}
	run.Identical = identical(out, want)
	if run.Err == "" && !run.Identical {
		run.Err = "aria2c exited 0, but its output differs from the source"
	}
	if run.Elapsed > 0 {
		run.Throughput = float64(size) / run.Elapsed
		run.TimeOverIdeal = run.Elapsed / ideal
	}
	_ = os.Remove(out)
	_ = os.Remove(out + ".aria2")
	return run
}

// runMirrorsHTTP3 runs part (c): one mirror on loopback, H3Rounds
// downloads over HTTP/3 and as many over HTTP/1.1, interleaved (the first
// of each round alternates).
func runMirrorsHTTP3(ctx context.Context, sc Scenario, workDir string, o RunOptions, want [32]byte, m *MirrorsResult) error {
	srv, err := StartH3Mirror(filepath.Join(workDir, "served", fileName))
	if err != nil {
		return err
	}
	defer srv.Close()
	c := &HTTP3Compared{URL: srv.URL(), Runs: []HTTP3Run{}}
	m.HTTP3 = c
	dir := filepath.Join(workDir, "c")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	out := filepath.Join(dir, "out.bin")
	wantProto := map[string]string{"always": "HTTP/3.0", "never": "HTTP/1.1"}
	var errs []error
	for round := range max(sc.Mirrors.H3Rounds, 1) {
		modes := []string{"always", "never"}
		if round%2 == 1 {
			slices.Reverse(modes)
		}
		for _, mode := range modes {
			run := HTTP3Run{Mode: mode}
			if err := clearOut(out); err != nil {
				return err
			}
			cpu0 := cpuSeconds()
			g := runGetChild(ctx, o.Exe, []string{"get", "--json", "--quiet", "--insecure", "--http3", mode, "-o", out, srv.URL()}, mirrorTimeout(float64(sc.FileSize)/(50*MB)))
			run.ServerCPU = cpuSeconds() - cpu0
			run.Wall, run.CPUSeconds, run.PeakRSS = g.wall, g.cpu, g.rss
			if j := g.result; j != nil {
				run.Elapsed = j.ElapsedS
				if len(j.Seeds) > 0 {
					run.Protocol = j.Seeds[0].Protocol
				}
			}
			if run.Elapsed > 0 {
				run.Throughput = float64(sc.FileSize) / run.Elapsed
			}
			run.Identical = identical(out, want)
			switch {
			case g.err != nil:
				run.Err = g.err.Error()
			case !run.Identical:
				run.Err = "the output differs from the source"
			case run.Protocol != wantProto[mode]:
				run.Err = fmt.Sprintf("--http3 %s went over %q, want %s", mode, run.Protocol, wantProto[mode])
			}
			if run.Err != "" {
				errs = append(errs, fmt.Errorf("--http3 %s: %s", mode, run.Err))
			}
			c.Runs = append(c.Runs, run)
			_ = clearOut(out)
			if ctx.Err() != nil {
				return errors.Join(append(errs, ctx.Err())...)
			}
		}
	}
	c.HTTP3, c.HTTP1 = summarizeHTTP3(c.Runs, "always"), summarizeHTTP3(c.Runs, "never")
	return errors.Join(errs...)
}

// summarizeHTTP3 is the median of mode's successful runs.
func summarizeHTTP3(runs []HTTP3Run, mode string) HTTP3Summary {
	var tp, cpu, scpu []float64
	s := HTTP3Summary{}
	for _, r := range runs {
		if r.Mode != mode || r.Err != "" {
			continue
		}
		s.Protocol = r.Protocol
		tp, cpu, scpu = append(tp, r.Throughput), append(cpu, r.CPUSeconds), append(scpu, r.ServerCPU)
	}
	s.Runs = len(tp)
	s.Throughput, s.CPUSeconds, s.ServerCPU = median(tp), median(cpu), median(scpu)
	return s
}

// writeLiar writes to dst a file of src's size with every byte XORed
// with liarXOR, and src's modification time, so that the liar's
// Last-Modified is the honest mirrors'.
func writeLiar(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for {
		n, rerr := in.Read(buf)
		for i := range buf[:n] {
			buf[i] ^= liarXOR
		}
		if _, err := out.Write(buf[:n]); err != nil {
			out.Close()
			return err
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			out.Close()
			return rerr
		}
	}
	if err := out.Close(); err != nil {
		return err
	}
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
}

// meta4URL is one url of a Metalink file.
type meta4URL struct {
	URL      string
	Priority int
}

// writeBenchMeta4 writes scenario 12's Metalink to path: the file at src
// (size bytes, SHA-256 whole), with SHA-256 pieces of pieceLen, the liar
// (urls[liar]) at priority 1 and the others after it in their order.
func writeBenchMeta4(path, src string, size int64, whole [32]byte, pieceLen int64, urls []string, liar int) error {
	pieces, err := pieceHashes(src, pieceLen)
	if err != nil {
		return err
	}
	var us []meta4URL
	if liar >= 0 && liar < len(urls) {
		us = append(us, meta4URL{urls[liar], 1})
	}
	for i, u := range urls {
		if i != liar {
			us = append(us, meta4URL{u, len(us) + 1})
		}
	}
	return os.WriteFile(path, meta4Doc(fileName, size, whole, pieceLen, pieces, us), 0o644)
}

// pieceHashes returns the SHA-256 of each pieceLen piece of the file at
// path (the last may be shorter).
func pieceHashes(path string, pieceLen int64) ([][32]byte, error) {
	if pieceLen <= 0 {
		return nil, fmt.Errorf("bench: piece length %d", pieceLen)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][32]byte
	buf := make([]byte, pieceLen)
	for {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			out = append(out, sha256.Sum256(buf[:n]))
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// meta4Doc returns a Metalink 4 document (RFC 5854) of one file: its name,
// size, SHA-256, SHA-256 piece hashes of pieceLen (none if pieces is
// empty) and urls with their priorities.
func meta4Doc(name string, size int64, whole [32]byte, pieceLen int64, pieces [][32]byte, urls []meta4URL) []byte {
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">\n  <generator>quicxfer-bench</generator>\n")
	fmt.Fprintf(&b, "  <file name=\"%s\">\n    <size>%d</size>\n    <hash type=\"sha-256\">%x</hash>\n", esc(name), size, whole)
	if len(pieces) > 0 {
		fmt.Fprintf(&b, "    <pieces length=\"%d\" type=\"sha-256\">\n", pieceLen)
		for _, p := range pieces {
			fmt.Fprintf(&b, "      <hash>%x</hash>\n", p)
		}
		b.WriteString("    </pieces>\n")
	}
	for _, u := range urls {
		fmt.Fprintf(&b, "    <url priority=\"%d\">%s</url>\n", u.Priority, esc(u.URL))
	}
	b.WriteString("  </file>\n</metalink>\n")
	return []byte(b.String())
}

// ratesList is rates as "40, 20 and 10 MB/s".
func ratesList(rates []float64) string {
	s := make([]string, len(rates))
	for i, r := range rates {
		s[i] = strconv.FormatFloat(r/MB, 'f', -1, 64)
	}
	if len(s) > 1 {
		return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1] + " MB/s"
	}
	return strings.Join(s, "") + " MB/s"
}

// nginxVersion is `nginx -v`'s version, "" if unknown.
func nginxVersion() string {
	bin, ok := NginxPath()
	if !ok {
		return ""
	}
	out, _ := exec.Command(bin, "-v").CombinedOutput()
	_, v, ok := strings.Cut(strings.TrimSpace(string(out)), "nginx/")
	if !ok {
		return ""
	}
	return v
}
