package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quicxfer/quicxfer/internal/attack"
)

// AttackConfig is the "seed under attack" scenario's set-up (ModeAttack).
type AttackConfig struct {
	// Rounds is how many groups of rounds: each group is one download of
	// each kind (alone, attacked and, with Control, control), in an order
	// that turns from one group to the next (alone, attacked / attacked,
	// alone / ...), so that a drift in the machine's load weighs on every
	// kind alike.
	Rounds int
	// Mix is the attackers (attack.Mix), all in one child process.
	Mix attack.Mix
	// Nice is the attackers' process's nice value (nice(1)); 0 runs it as
	// the seed and the good client run. See ScenarioAttack.
	Nice int
	// Control adds a round to each group in which the same attackers hit a
	// second seed process (serving the same files) while the good client
	// downloads from the first: what the attack costs the good client
	// through the machine's shared CPU alone. Beside it, the attacked
	// rounds show what the seed's own handling of the attack adds.
	Control bool
}

// Kinds of AttackRound.
const (
	RoundAlone    = "alone"
	RoundAttacked = "attacked"
	RoundControl  = "control" // the attack aimed at another seed process
)

// ScenarioAttack is the seed under attack: `quicxfer seed` and `quicxfer
// get` as child processes, the attackers of internal/attack in a third:
// attack.DefaultMix with 48 slow readers, enough to hold every shared send
// buffer of a seed with the defaults (48 × 100 streams × 64 KiB > 256 MiB),
// the worst case for its memory and what each connection's reserve of send
// buffers (seed.Options.ConnSendReserve) is for.
// The good client downloads alone, under attack, and beside an attack on
// another seed process (the control), rounds times each, each download with
// a fresh seed process so that its peak RSS is that round's.
//
// The attackers run at nice 19. A remote attacker's CPU would cost this
// machine nothing; here the attackers' own QUIC and TLS work (a tenth to a
// sixth of a core) shares the two cores with the seed and the good client,
// and at nice 0 their threads, waking every millisecond, also delay the
// seed's and the client's. At nice 19 they take mostly CPU the two leave
// idle; on a loaded machine the attack then runs slower than its pace, so
// the report gives the rates it reached during each download (on this
// machine, loaded by other work, 50 to 85 % of the rates at nice 0).
// AttackConfig.Nice = 0 is the pessimistic set-up. The control rounds
// measure what the attack costs the good client through the machine alone,
// when the seed it hits is another process.
func ScenarioAttack(size int64, rounds int) Scenario {
	mix := attack.DefaultMix()
	mix.SlowReaders = 48
	return Scenario{
		Number:   10,
		Name:     "10-seed-under-attack",
		Note:     "`quicxfer seed` and `quicxfer get` as child processes on loopback, misbehaving clients (internal/attack: garbage, wrong ALPN, stream floods, bad requests, 48 slow readers holding every shared send buffer) in a third process at nice 19; the good client's throughput under attack ÷ alone, and with the attack aimed at another seed process (control); rounds interleaved, a fresh seed each round",
		Target:   "under attack ≥ 80 % of alone; the seed's peak RSS bounded",
		FileSize: size,
		Seeds:    []LinkConfig{{}},
		NoLink:   true,
		Mode:     ModeAttack,
		Attack:   &AttackConfig{Rounds: rounds, Mix: mix, Nice: 19, Control: true},
	}
}

// needsExe says whether sc runs the quicxfer binary (RunOptions.Exe).
func needsExe(sc Scenario) bool {
	return sc.Mode == ModeResume || sc.Mode == ModeMemory || sc.Mode == ModeAttack || sc.Mode == ModeSwarm || sc.Mode == ModeMirrors
}

// AttackResult is the seed-under-attack scenario's figures.
type AttackResult struct {
	Mix  attack.Mix `json:"mix"`
	Nice int        `json:"attacker_nice"`
	// Alone, Attacked and Control are the good client's throughput over
	// its rounds of each kind: the bytes of all of them ÷ the sum of their
	// times (as `get --json` measured them); Control is 0 without control
	// rounds.
	Alone             float64 `json:"alone_bytes_per_s"`
	Attacked          float64 `json:"attacked_bytes_per_s"`
	Control           float64 `json:"control_bytes_per_s,omitempty"`
	AttackedOverAlone float64 `json:"attacked_over_alone"`
	ControlOverAlone  float64 `json:"control_over_alone,omitempty"`
	// The medians of the rounds' throughputs, less sensitive to one round
	// that other load on the machine slowed down.
	MedianAlone             float64 `json:"median_alone_bytes_per_s"`
	MedianAttacked          float64 `json:"median_attacked_bytes_per_s"`
	MedianControl           float64 `json:"median_control_bytes_per_s,omitempty"`
	MedianAttackedOverAlone float64 `json:"median_attacked_over_alone"`
	MedianControlOverAlone  float64 `json:"median_control_over_alone,omitempty"`
	// The seed process's peak RSS (VmHWM), the highest over the rounds of
	// each kind; DecoyPeakRSS is the attacked seed's in the control rounds
	// (attacked, serving no download).
	SeedPeakRSSAlone    int64         `json:"seed_peak_rss_alone_bytes"`
	SeedPeakRSSAttacked int64         `json:"seed_peak_rss_attacked_bytes"`
	DecoyPeakRSS        int64         `json:"decoy_peak_rss_bytes,omitempty"`
	Rounds              []AttackRound `json:"rounds"`
}

// AttackRound is one download, with a fresh seed process.
type AttackRound struct {
	Group       int     `json:"group"`     // from 1
	Kind        string  `json:"kind"`      // RoundAlone, RoundAttacked or RoundControl
	Elapsed     float64 `json:"elapsed_s"` // the good client's, from get --json
	Throughput  float64 `json:"throughput_bytes_per_s"`
	ClientCPU   float64 `json:"client_cpu_s"`
	ClientRSS   int64   `json:"client_peak_rss_bytes"`
	SeedCPU     float64 `json:"seed_cpu_s"` // over the seed process's life: start, attack build-up, download, stop
	SeedPeakRSS int64   `json:"seed_peak_rss_bytes"`
	// In a control round, the attacked seed's (it serves no download).
	DecoyCPU     float64 `json:"decoy_cpu_s,omitempty"`
	DecoyPeakRSS int64   `json:"decoy_peak_rss_bytes,omitempty"`
	// Attacked and control rounds: the attackers' process's CPU seconds
	// over its life, what they did while the good client downloaded, and
	// in all.
	AttackerCPU    float64        `json:"attacker_cpu_s,omitempty"`
	DuringDownload *attack.Totals `json:"attack_during_download,omitempty"`
	AttackTotal    *attack.Totals `json:"attack_total,omitempty"`
	AttackSeconds  float64        `json:"attack_s,omitempty"`
}

// runAttack runs ModeAttack: rounds of one download of each kind, each
// with a fresh `quicxfer seed` process.
func runAttack(ctx context.Context, sc Scenario, workDir string, o RunOptions, want [32]byte, r *Result) error {
	cfg := sc.Attack
	if cfg == nil {
		cfg = ScenarioAttack(sc.FileSize, 1).Attack
	}
	served := filepath.Join(workDir, "served")
	// A second, small file: the slow readers ask for its blocks too.
	if _, err := writeFile(filepath.Join(served, "small.bin"), 3<<17); err != nil {
		return err
	}
	kinds := []string{RoundAlone, RoundAttacked}
	if cfg.Control {
		kinds = append(kinds, RoundControl)
	}
	res := &AttackResult{Mix: cfg.Mix, Nice: cfg.Nice}
	rounds := max(cfg.Rounds, 1)
	var fetched, downloaded int64
	times := map[string]float64{}
	rates := map[string][]float64{}
	var seedCPU float64
	for g := range rounds {
		for j := range kinds {
			kind := kinds[(j+g)%len(kinds)]
			d, round, err := attackRound(ctx, sc, workDir, o, cfg, kind, want)
			if err != nil {
				return fmt.Errorf("round %d (%s): %w", g+1, kind, err)
			}
			round.Group = g + 1
			res.Rounds = append(res.Rounds, round)
			times[kind] += d.Elapsed
			rates[kind] = append(rates[kind], round.Throughput)
			switch kind {
			case RoundAlone:
				res.SeedPeakRSSAlone = max(res.SeedPeakRSSAlone, round.SeedPeakRSS)
			case RoundAttacked:
				res.SeedPeakRSSAttacked = max(res.SeedPeakRSSAttacked, round.SeedPeakRSS)
				seedCPU += round.SeedCPU / float64(rounds)
				fetched += d.Fetched
				downloaded += d.Size - d.Resumed
				r.CPUSeconds += d.CPU / float64(rounds)
				r.PeakRSS = max(r.PeakRSS, d.RSS)
			case RoundControl:
				res.DecoyPeakRSS = max(res.DecoyPeakRSS, round.DecoyPeakRSS)
			}
		}
	}
	rate := func(kind string) float64 {
		if times[kind] <= 0 {
			return 0
		}
		return float64(sc.FileSize) * float64(len(rates[kind])) / times[kind]
	}
	ratio := func(a, b float64) float64 {
		if b <= 0 {
			return 0
		}
		return a / b
	}
	res.Alone, res.Attacked, res.Control = rate(RoundAlone), rate(RoundAttacked), rate(RoundControl)
	res.AttackedOverAlone, res.ControlOverAlone = ratio(res.Attacked, res.Alone), ratio(res.Control, res.Alone)
	res.MedianAlone, res.MedianAttacked, res.MedianControl = median(rates[RoundAlone]), median(rates[RoundAttacked]), median(rates[RoundControl])
	res.MedianAttackedOverAlone = ratio(res.MedianAttacked, res.MedianAlone)
	res.MedianControlOverAlone = ratio(res.MedianControl, res.MedianAlone)
	r.Attack = res
	r.Verified = true
	r.Elapsed = times[RoundAttacked] / float64(rounds)
	r.Throughput = res.Attacked
	r.SeedProcess = &Process{CPUSeconds: seedCPU, PeakRSS: res.SeedPeakRSSAttacked}
	if downloaded > 0 {
		r.FetchedOver = float64(fetched) / float64(downloaded)
	}
	r.Seeds = []SeedShare{{Bytes: sc.FileSize, Share: 1}}
	return nil
}

// attackRound starts a seed process; for an attacked round the attackers'
// process aimed at it, for a control round a second seed process and the
// attackers aimed at that one; it waits for the attack to build up, then
// downloads once from the first seed and stops them all.
func attackRound(ctx context.Context, sc Scenario, workDir string, o RunOptions, cfg *AttackConfig, kind string, want [32]byte) (download, AttackRound, error) {
	round := AttackRound{Kind: kind}
	served := filepath.Join(workDir, "served")
	// QUICXFER_BENCH_SEED_CPUPROFILE=FILE: a CPU profile of the seed of
	// each attacked round, in FILE.N.
	var env []string
	if p := os.Getenv("QUICXFER_BENCH_SEED_CPUPROFILE"); p != "" && kind == RoundAttacked {
		env = append(env, "QUICXFER_CPUPROFILE="+fmt.Sprintf("%s.%d", p, time.Now().UnixNano()))
	}
	sp, err := startSeedProcess(ctx, o.Exe, served, filepath.Join(workDir, "seed1"), env...)
	if err != nil {
		return download{}, round, err
	}
	var decoy *seedProcess
	target := sp.URL
	if kind == RoundControl {
		if decoy, err = startSeedProcess(ctx, o.Exe, served, filepath.Join(workDir, "seed2")); err != nil {
			_, _, _ = sp.stop()
			return download{}, round, err
		}
		target = decoy.URL
	}
	var ap *attackProcess
	if kind != RoundAlone {
		ap, err = startAttackProcess(ctx, target, cfg, o.ChildArgs)
		if err != nil {
			if decoy != nil {
				_, _, _ = decoy.stop()
			}
			_, _, _ = sp.stop()
			return download{}, round, err
		}
	}
	out := filepath.Join(workDir, "out.bin")
	d, derr := func() (download, error) {
		if err := clearOut(out); err != nil {
			return download{}, err
		}
		var before attack.Totals
		if ap != nil {
			var err error
			if before, err = ap.snapshot(); err != nil {
				return download{}, err
			}
		}
		d, err := runDownload(ctx, o.Exe, []string{sp.URL}, out, sc.ConnsPerSeed)
		if ap != nil && err == nil {
			after, serr := ap.snapshot()
			if serr != nil {
				return d, serr
			}
			during := diffTotals(after, before)
			round.DuringDownload = &during
		}
		return d, err
	}()
	var aerr, decoyErr error
	if ap != nil {
		var total attack.Totals
		total, round.AttackerCPU, round.AttackSeconds, aerr = ap.stop()
		round.AttackTotal = &total
	}
	if decoy != nil {
		round.DecoyCPU, round.DecoyPeakRSS, decoyErr = decoy.stop()
	}
	round.SeedCPU, round.SeedPeakRSS, err = sp.stop()
	if derr != nil {
		return d, round, fmt.Errorf("download: %w", derr)
	}
	if err := errors.Join(aerr, decoyErr, err); err != nil {
		return d, round, err
	}
	if err := verify(out, want); err != nil {
		return d, round, err
	}
	round.Elapsed, round.ClientCPU, round.ClientRSS = d.Elapsed, d.CPU, d.RSS
	if d.Elapsed > 0 {
		round.Throughput = float64(sc.FileSize) / d.Elapsed
	}
	return d, round, nil
}

// median returns the median of xs, 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func diffTotals(a, b attack.Totals) attack.Totals {
	d := attack.Totals{
		Datagrams: a.Datagrams - b.Datagrams, ALPN: a.ALPN - b.ALPN, Flood: a.Flood - b.Flood,
		Bad: a.Bad - b.Bad, SlowStreams: a.SlowStreams - b.SlowStreams, Conns: a.Conns - b.Conns,
		Refused: map[string]int64{},
	}
	for k, v := range a.Refused {
		if n := v - b.Refused[k]; n > 0 {
			d.Refused[k] = n
		}
	}
	return d
}

// The attackers' child process: this executable with childEnv=attack and
// its configuration in attackEnv. It attacks the seed, says when the slow
// readers hold their streams, answers each line on its standard input with
// a snapshot of its counts, and stops when its standard input closes.
const attackEnv = "QUICXFER_BENCH_ATTACK"

type attackChildConfig struct {
	Addr string     `json:"addr"`
	Mix  attack.Mix `json:"mix"`
	// Ready is how many streams the slow readers must have opened before
	// the child says it is ready.
	Ready int64 `json:"ready"`
}

// attackMsg is one line the child prints.
type attackMsg struct {
	Ready   bool          `json:"ready,omitempty"`
	Done    bool          `json:"done,omitempty"`
	Seconds float64       `json:"seconds,omitempty"` // since the attack started
	Totals  attack.Totals `json:"totals"`
	Error   string        `json:"error,omitempty"`
}

// attackBuildUp bounds the wait for the slow readers to fill their streams.
const attackBuildUp = 20 * time.Second

func runAttackChild() error {
	var cfg attackChildConfig
	if err := json.Unmarshal([]byte(os.Getenv(attackEnv)), &cfg); err != nil {
		return fmt.Errorf("%s: %w", attackEnv, err)
	}
	addr, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t, err := attack.Discover(ctx, addr)
	if err != nil {
		return err
	}
	if addr.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		// The good client comes from 127.0.0.1: the attack from another
		// address, as from another host, so that the seed's limits per
		// address (MaxConnsPerIP) tell them apart.
		t.Local = net.IPv4(127, 0, 0, 2)
	}
	var c attack.Counts
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- attack.Run(ctx, t, cfg.Mix, &c) }()
	enc := json.NewEncoder(os.Stdout)
	for c.SlowStreams.Load() < cfg.Ready && time.Since(start) < attackBuildUp {
		time.Sleep(10 * time.Millisecond)
	}
	msg := func() attackMsg { return attackMsg{Totals: c.Totals(), Seconds: time.Since(start).Seconds()} }
	m := msg()
	m.Ready = c.SlowStreams.Load() >= cfg.Ready
	if err := enc.Encode(m); err != nil {
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if err := enc.Encode(msg()); err != nil {
			return err
		}
	}
	// Standard input closed: the parent is done (or gone).
	cancel()
	rerr := <-done
	m = msg()
	m.Done = true
	if rerr != nil {
		m.Error = rerr.Error()
	}
	return enc.Encode(m)
}

// attackProcess is the attackers' child process, seen from the bench.
type attackProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	dec    *json.Decoder
	stderr *strings.Builder
}

// startAttackProcess starts the attackers against the seed at seedURL (a
// quic:// URL; only its address is used) and returns once they are ready:
// the slow readers hold nearly all the streams the seed allows them.
func startAttackProcess(ctx context.Context, seedURL string, cfg *AttackConfig, childArgs []string) (*attackProcess, error) {
	u, err := url.Parse(seedURL)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	conf, err := json.Marshal(attackChildConfig{Addr: u.Host, Mix: cfg.Mix, Ready: int64(cfg.Mix.SlowReaders) * 90})
	if err != nil {
		return nil, err
	}
	args := append([]string{exe}, childArgs...)
	if cfg.Nice != 0 {
		nice, err := exec.LookPath("nice")
		if err != nil {
			return nil, fmt.Errorf("attackers at nice %d: %w", cfg.Nice, err)
		}
		args = append([]string{nice, "-n", strconv.Itoa(cfg.Nice)}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(cleanEnv(), childEnv+"=attack", attackEnv+"="+string(conf))
	cmd.WaitDelay = 10 * time.Second
	ap := &attackProcess{cmd: cmd, stderr: new(strings.Builder)}
	cmd.Stderr = ap.stderr
	if ap.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the attackers: %w", err)
	}
	ap.dec = json.NewDecoder(stdout)
	var m attackMsg
	if err := ap.dec.Decode(&m); err != nil || !m.Ready {
		ap.stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if err == nil {
			err = fmt.Errorf("the slow readers opened %d streams in %.0f s, not the %d expected", m.Totals.SlowStreams, m.Seconds, cfg.Mix.SlowReaders*90)
		}
		return nil, fmt.Errorf("attackers: %w: %s", err, lastLine(ap.stderr.String()))
	}
	return ap, nil
}

// snapshot asks the attackers for their counts so far.
func (ap *attackProcess) snapshot() (attack.Totals, error) {
	if _, err := io.WriteString(ap.stdin, "snapshot\n"); err != nil {
		return attack.Totals{}, fmt.Errorf("attackers: %w", err)
	}
	var m attackMsg
	if err := ap.dec.Decode(&m); err != nil {
		return attack.Totals{}, fmt.Errorf("attackers: %w: %s", err, lastLine(ap.stderr.String()))
	}
	return m.Totals, nil
}

// stop ends the attack and returns the attackers' totals, CPU seconds and
// how long they attacked; an error if the seed did what it must not.
func (ap *attackProcess) stop() (attack.Totals, float64, float64, error) {
	ap.stdin.Close()
	var m attackMsg
	derr := ap.dec.Decode(&m)
	werr := ap.cmd.Wait()
	var cpu float64
	if ps := ap.cmd.ProcessState; ps != nil {
		cpu = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	switch {
	case derr != nil || !m.Done:
		return m.Totals, cpu, m.Seconds, fmt.Errorf("attackers: no final counts (%v, %v): %s", derr, werr, lastLine(ap.stderr.String()))
	case m.Error != "":
		return m.Totals, cpu, m.Seconds, fmt.Errorf("attackers: %s", m.Error)
	case werr != nil:
		return m.Totals, cpu, m.Seconds, fmt.Errorf("attackers: %w: %s", werr, lastLine(ap.stderr.String()))
	}
	return m.Totals, cpu, m.Seconds, nil
}

// attackCell is the report table's last cell for the scenario.
func attackCell(a *AttackResult) string {
	c := fmt.Sprintf("under attack ÷ alone %.2f", a.AttackedOverAlone)
	if a.Control > 0 {
		c += fmt.Sprintf(" (attack on another seed: %.2f)", a.ControlOverAlone)
	}
	return c + fmt.Sprintf("; seed peak RSS %s alone, %s attacked", formatMiB(a.SeedPeakRSSAlone), formatMiB(a.SeedPeakRSSAttacked))
}

// writeAttackDetails writes the scenario's rounds into the report.
func writeAttackDetails(w io.Writer, a *AttackResult) {
	m := a.Mix
	fmt.Fprintf(w, "\n- attackers (one process, nice %d): %d garbage sender, %d wrong-ALPN dialler, %d stream floods, %d bad requesters, %d slow readers\n",
		a.Nice, m.Garbage, m.WrongALPN, m.StreamFlood, m.BadRequests, m.SlowReaders)
	fmt.Fprintf(w, "- good client (all rounds: bytes ÷ time): alone %s, under attack %s: **%.1f %%** of alone", formatRate(a.Alone), formatRate(a.Attacked), 100*a.AttackedOverAlone)
	if a.Control > 0 {
		fmt.Fprintf(w, "; attack aimed at another seed process (control) %s: %.1f %% of alone", formatRate(a.Control), 100*a.ControlOverAlone)
	}
	fmt.Fprintf(w, "\n- good client (medians of the rounds): alone %s, under attack %s: %.1f %% of alone", formatRate(a.MedianAlone), formatRate(a.MedianAttacked), 100*a.MedianAttackedOverAlone)
	if a.Control > 0 {
		fmt.Fprintf(w, "; control %s: %.1f %% of alone", formatRate(a.MedianControl), 100*a.MedianControlOverAlone)
	}
	fmt.Fprintf(w, "\n- seed process peak RSS: alone %s, under attack **%s**", formatMiB(a.SeedPeakRSSAlone), formatMiB(a.SeedPeakRSSAttacked))
	if a.DecoyPeakRSS > 0 {
		fmt.Fprintf(w, "; the attacked seed of the control rounds (no download) %s", formatMiB(a.DecoyPeakRSS))
	}
	fmt.Fprintln(w, "\n\n| round | good client | client CPU s | seed CPU s | seed peak RSS | attackers CPU s | attack during the download |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|")
	for _, rd := range a.Rounds {
		atk, acpu := "", ""
		if rd.Kind != RoundAlone {
			acpu = fmt.Sprintf("%.2f", rd.AttackerCPU)
			if t := rd.DuringDownload; t != nil && rd.Elapsed > 0 {
				per := func(n int64) float64 { return float64(n) / rd.Elapsed }
				atk = fmt.Sprintf("%.0f garbage/s, %.0f wrong-ALPN/s, %.0f flood streams/s, %.0f bad requests/s (refused: %s), %d slow-reader streams opened",
					per(t.Datagrams), per(t.ALPN), per(t.Flood), per(t.Bad), refusedString(t.Refused), t.SlowStreams)
			}
			if rd.Kind == RoundControl {
				atk = fmt.Sprintf("aimed at another seed (its CPU %.2f s, peak RSS %s): %s", rd.DecoyCPU, formatMiB(rd.DecoyPeakRSS), atk)
			}
		}
		fmt.Fprintf(w, "| %d %s | %.2f s, %s | %.2f | %.2f | %s | %s | %s |\n",
			rd.Group, rd.Kind, rd.Elapsed, formatRate(rd.Throughput), rd.ClientCPU, rd.SeedCPU, formatMiB(rd.SeedPeakRSS), acpu, atk)
	}
}

func refusedString(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range []string{"bad request", "not found", "busy"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	var others []string
	for k := range m {
		if k != "bad request" && k != "not found" && k != "busy" {
			others = append(others, k)
		}
	}
	slices.Sort(others)
	for _, k := range others {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
