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
// behind its Link, downloads with quicxfer.Download through the links,
// checks the output byte for byte and returns a Result. The numbered
// scenarios of the benchmark issue are built by Scenario1, Scenario2 and
// Scenario5; RunSuite runs them with the raw ceiling and WriteReport writes
// the Markdown table and the JSON file.
//
// # Running
//
//	go test ./bench/                                 # smoke: scenarios 2 and 5 on a few MiB
//	go test -run '^$' -bench . -benchtime 1x ./bench/ -bench.size 256MiB
//
// CPU figures include everything in the process: the seeds and the link
// emulator run beside the downloader.
package bench
