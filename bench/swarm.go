package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/seed"
)

// SwarmScenario is the swarm benchmark: one origin seed behind a Link (its
// uplink), and Downloaders started together, first each on its own, then
// each sharing what it has (get --serve) with an upload limit of PeerUpload.
type SwarmScenario struct {
	FileSize    int64
	Downloaders int
	Origin      LinkConfig // the origin's link; its Rate is what sharing saves
	PeerUpload  float64    // each sharing downloader's --upload-limit, bytes/s (0: none)
}

// SwarmRun is one round of a SwarmScenario.
type SwarmRun struct {
	Share      bool
	Seconds    float64 // until the last downloader finished
	OriginSent int64   // block bytes the origin sent
	Ratio      float64 // OriginSent ÷ FileSize (16 downloaders alone: 16)
	FromPeers  float64 // bytes the downloaders took from each other ÷ FileSize
}

// SwarmResult is both rounds.
type SwarmResult struct {
	Scenario SwarmScenario
	Alone    SwarmRun
	Shared   SwarmRun
}

// RunSwarm runs both rounds of sc in workDir, in process, and checks every
// downloaded file.
func RunSwarm(ctx context.Context, sc SwarmScenario, workDir string) (SwarmResult, error) {
	res := SwarmResult{Scenario: sc}
	served := filepath.Join(workDir, "served")
	if err := os.MkdirAll(served, 0o755); err != nil {
		return res, err
	}
	want, err := writeFile(filepath.Join(served, "swarm.bin"), sc.FileSize)
	if err != nil {
		return res, err
	}
	quiet := slog.New(slog.DiscardHandler)
	origin, err := seed.New(ctx, seed.Options{Paths: []string{served}, Listen: "127.0.0.1:0", StateDir: filepath.Join(workDir, "origin"), Logger: quiet})
	if err != nil {
		return res, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer origin.Close()
	wg.Go(func() { _ = origin.Serve(sctx) })
	link, err := NewLink(sctx, origin.Addr().(*net.UDPAddr), sc.Origin)
	if err != nil {
		return res, err
	}
	defer link.Close()
	url, err := linkURL(origin, link)
	if err != nil {
		return res, err
	}

	for _, share := range []bool{false, true} {
		run, err := swarmRound(ctx, sc, workDir, url, origin, share, want)
		if err != nil {
			return res, err
		}
		if share {
			res.Shared = run
		} else {
			res.Alone = run
		}
	}
	return res, nil
}

func swarmRound(ctx context.Context, sc SwarmScenario, workDir, url string, origin *seed.Server, share bool, want [32]byte) (SwarmRun, error) {
	run := SwarmRun{Share: share}
	dir := filepath.Join(workDir, fmt.Sprintf("round-share-%v", share))
	if err := os.RemoveAll(dir); err != nil {
		return run, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return run, err
	}
	quiet := slog.New(slog.DiscardHandler)
	n := sc.Downloaders
	peers := make([]*seed.Server, n)
	sharers := make([]*seed.DownloadSharer, n)
	pctx, cancel := context.WithCancel(ctx)
	var serving sync.WaitGroup
	defer func() {
		cancel()
		for i := range peers {
			if peers[i] != nil {
				peers[i].Close()
				_ = sharers[i].Close()
			}
		}
		serving.Wait()
	}()
	if share {
		for i := range peers {
			p, err := seed.New(ctx, seed.Options{NoPaths: true, Listen: "127.0.0.1:0", RateLimit: sc.PeerUpload,
				StateDir: filepath.Join(dir, fmt.Sprintf("peer%d", i)), Logger: quiet})
			if err != nil {
				return run, err
			}
			peers[i], sharers[i] = p, p.NewDownloadSharer()
			serving.Go(func() { _ = p.Serve(pctx) })
		}
	}
	before := origin.Stats().BytesSent
	start := time.Now()
	results := make([]*quicxfer.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			o := quicxfer.Options{Seeds: []string{url}, Name: "swarm.bin", Out: filepath.Join(dir, fmt.Sprintf("out%d", i)), MaxPeers: -1}
			if share {
				o.MaxPeers, o.Share, o.SelfURLs = 0, sharers[i], peers[i].URLs()
				o.SyncInterval = 250 * time.Millisecond
			}
			results[i], errs[i] = quicxfer.Download(ctx, o)
		})
	}
	wg.Wait()
	run.Seconds = time.Since(start).Seconds()
	if err := errors.Join(errs...); err != nil {
		return run, err
	}
	for i := range n {
		if err := verify(filepath.Join(dir, fmt.Sprintf("out%d", i)), want); err != nil {
			return run, err
		}
		for _, s := range results[i].Seeds {
			if s.URL != url {
				run.FromPeers += float64(s.Bytes)
			}
		}
	}
	run.OriginSent = origin.Stats().BytesSent - before
	run.Ratio = float64(run.OriginSent) / float64(sc.FileSize)
	run.FromPeers /= float64(sc.FileSize)
	return run, nil
}
