// Package bench measures quicxfer against the limits it should reach: a
// user-space link emulator that puts each seed behind its own rate, delay,
// jitter and loss, the raw quic-go ceiling on the same machine, and
// scenarios that run a real download (in-process seeds, real QUIC over
// 127.0.0.1, real files) and report time, throughput, time ÷ ideal, bytes
// fetched ÷ file size, CPU seconds and each seed's share.
//
// # Link emulator
//
// A Link listens on 127.0.0.1 and relays datagrams between its clients and
// one upstream address (a seed). Each client address gets its own upstream
// socket, so the seed sees one peer per client. Each direction is a pipe
// with a virtual clock:
//
//	arrival t  ──loss?──▶ departure d = max(t, d_prev) + len/Rate     (serialisation)
//	                     drop if (d_prev - t)·Rate + len > QueueBytes (drop-tail)
//	           ──▶ delivery  = max(deliver_prev, d + RTT/2 ± Jitter)  (FIFO)
//
// One goroutine per pipe sleeps until the head packet's delivery time and
// sends every packet that is due. Times are computed from the virtual clock,
// not from sleeps, so timer overshoot batches packets but does not lower the
// rate. Loss and jitter draw from a PCG seeded by LinkConfig.Seed and the
// direction: for the same sequence of packets a Link makes the same
// decisions.
//
// # Scenarios
//
// Run writes a deterministic file, starts one seed.Server per LinkConfig
// behind its Link, downloads through the links, checks the output byte for
// byte and returns a Result. The numbered scenarios of the benchmark issue
// are built by Scenario1 to Scenario9 (scenarios.go), ScenarioAttack,
// ScenarioSwarm and ScenarioHTTPMirrors:
//
//  1. one unlimited seed on loopback, with the raw quic-go ceiling over one
//     connection and over four at once (one stream each, the same total),
//     quicxfer's ratio taken against the run with its own number of
//     connections (its --json "conns"), or the nearer; the same file from
//     nginx on 127.0.0.1, downloaded by aria2c with each of Aria2Variants
//     ("aria2 from nginx": the fastest) and by `quicxfer get --manifest
//     MFILE --mirror URL` (every block verified), beside the suite's aria2c
//     against the bench's Go net/http mirror; and CPU seconds per GiB of
//     each process: the downloader, the seed (this process over the
//     download, with the binary: the seed runs here without a link),
//     aria2c, nginx (procCPU) and the raw client and server
//     (nginxbaseline.go);
//  2. three seeds at 4:2:1;
//  3. as 2, the fastest seed closed (seed.Server.Close) once the seeds
//     have sent 40 % of the file; the ideal counts three seeds until then
//     and two after;
//  4. as 2 plus a seed whose link black-holes everything after the
//     handshake and the manifest (LinkConfig.DownBudget); the ideal counts
//     the three that work;
//  5. three seeds at 80 ms RTT and 1 % loss;
//  6. twelve seeds of mixed rates and RTTs, one ten times slower;
//  7. one seed, N downloaders at once (after one alone): aggregate ÷ one
//     alone, and Jain's index over their throughputs; with the binary the
//     seed is `quicxfer seed` in a child process behind the link
//     (Scenario.ChildSeeds), and its CPU seconds per GiB served over the
//     concurrent phase are reported (its bytes sent are then its link's);
//  8. the binary SIGKILLed once half the file was sent, then run again:
//     bytes fetched again ÷ size, from the seeds' counters and the second
//     run's --json;
//  9. `quicxfer seed` and `quicxfer get` as child processes on loopback:
//     the peak RSS of each;
//  10. the seed under attack: `quicxfer seed` and `quicxfer get` as child
//     processes, internal/attack's misbehaving clients in a third (this
//     executable, RunChild) at nice 19; the good client's throughput under
//     attack ÷ alone, and with the same attack aimed at another seed
//     process (the control), over interleaved rounds, each with a fresh
//     seed process, and the seed's peak RSS alone and under attack
//     (attack.go);
//  11. the swarm: `quicxfer seed` (the origin) as a child process behind
//     a link, and 16 `quicxfer get` child processes started together,
//     first each on its own, then each with --serve and an upload limit;
//     the time until the last is done, the origin's bytes sent (its
//     metrics) ÷ the file size, and the bytes the downloaders took from
//     each other (swarm.go);
//  12. HTTP mirrors alone (no seed, no manifest), on real nginx mirrors
//     each in its own network namespace behind a kernel tbf link of 40, 20
//     and 10 MB/s, and the `quicxfer get` binary in a child process: (a)
//     `get --checksum sha-256=HEX URL1 URL2 URL3` against aria2c with each
//     of Aria2Variants (and --checksum): time ÷ ideal (size ÷ 70 MB/s),
//     bytes sent ÷ size, CPU seconds, both outputs byte-identical; (b) the
//     same plus a lying mirror (every byte XORed, 20 MB/s) through a
//     Metalink 4 file with sha-256 pieces, the liar at priority 1: time ÷
//     ideal, the liar's bad blocks and accepted bytes (must be 0), the
//     blocks rejected, and aria2c -M on the same file; (c) one https mirror
//     on loopback over HTTP/3 against HTTP/1.1 (`--http3 always|never`):
//     MB/s and CPU seconds. Parts (a) and (b) need root and nginx, and are
//     skipped with the reason where either is missing (mirrors.go,
//     nginx.go, h3server.go).
//
// With RunOptions.Exe (the quicxfer binary) every downloader is `quicxfer
// get --json` in a child process, so its CPU seconds and peak RSS are its
// own; without it, downloads run in this process (tests) and the CPU figure
// is the whole process's. Scenarios 8 to 12 need the binary. Peak RSS is
// the child's VmHWM, sampled while it runs: a child's ru_maxrss includes the
// parent's peak (see usage in process.go).
//
// Throughput over time comes from each seed's count of block bytes written
// (seed.Server.Stats), or for a seed in a child process from its link's
// count of bytes delivered, sampled every 100 ms; WritePlot draws it per
// seed. A child's CPU time over part of its life is procCPU's: the sum of
// its threads' run times in /proc/PID/task/*/schedstat, read before and
// after.
// RunSuite runs the scenarios with the aria2c baseline (aria2.go) where it
// applies, and WriteReport writes report.md (the table, each scenario's
// details), report.json (every figure) and the plots.
//
// # Kernel links
//
// Where the process is root (with iproute2's ip and tc), RunOptions.Kernel
// (`quicxfer-bench --kernel`) shapes the rate-only scenarios (2, 3 and 8;
// KernelUnsupported says why the others cannot be) in the kernel instead:
// each seed in its own network namespace behind a veth whose seed end has a
// tbf qdisc, the downloader in this namespace (kernel.go). This kernel has
// no netem, so kernel links add no delay, jitter or loss; the result's note
// says which links a scenario ran on. Scenario 12's nginx mirrors are on
// kernel links whatever RunOptions.Kernel says (they have no user-space
// form), wherever those can be made.
//
// # Running
//
//	quicxfer-bench                          # the whole suite, 1 GiB (scenario 9: 4 GiB, 12: 256 MiB); report in bench/results/DATE
//	go run ./cmd/quicxfer-bench --smoke     # every scenario on a few MiB, in seconds
//	quicxfer-bench --size 64MiB --only 2,3  # some scenarios, another size
//	sudo quicxfer-bench --kernel --only 2   # scenario 2 behind kernel tbf links
//	sudo quicxfer-bench --kernel --only 12  # HTTP mirrors (nginx, kernel links), 256 MiB
//	go test ./bench/                        # the tests: scenarios 1 to 12 on small files
//	go test -run '^$' -bench Scenario -benchtime 1x ./bench/ -bench.size 268435456
package bench
