package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// getLog is what get logs, from -v/--verbose and --log-level (the levels
// seed takes): debug adds the download's decisions (each source's joins,
// outages, drops and backoffs, the manifest vote) as "quicxfer: debug:"
// lines on standard error; info and warn are the usual messages; error
// leaves only the error a failed get ends with.
type getLog struct {
	debug      bool
	errorsOnly bool
}

func getLogging(c *cli.Context) (getLog, error) {
	// seed's logger reads the level; get prints its lines itself.
	lg, err := seedLogger(io.Discard, "text", c.String("log-level"))
	if err != nil {
		return getLog{}, usagef("--log-level%s: %q: want debug, info, warn or error", fromEnv(c, "log-level"), c.String("log-level"))
	}
	ctx := context.Background()
	return getLog{
		debug:      c.Bool("verbose") || lg.Enabled(ctx, slog.LevelDebug),
		errorsOnly: !c.Bool("verbose") && !lg.Enabled(ctx, slog.LevelWarn),
	}, nil
}

// debugf is the debug log that goes to logf ("debug: " in front), or nil
// without debug.
func (g getLog) debugf(logf func(string, ...any)) func(string, ...any) {
	if !g.debug {
		return nil
	}
	return func(format string, args ...any) { logf("debug: "+format, args...) }
}

// messages is logf, or nothing with --log-level error.
func (g getLog) messages(logf func(string, ...any)) func(string, ...any) {
	if g.errorsOnly {
		return func(string, ...any) {}
	}
	return logf
}

// debugEvents is onEvent that also says each source's event in the debug
// log: why it joined, went down (it is tried again after a backoff), was
// dropped or stalled, or sent a bad block.
func debugEvents(debugf func(string, ...any), onEvent func(quicxfer.Event)) func(quicxfer.Event) {
	if debugf == nil {
		return onEvent
	}
	return func(e quicxfer.Event) {
		switch e.Kind {
		case quicxfer.EventStart:
			debugf("start: %s, content ID %s, %d bytes in blocks of %d, %d bytes already verified", showName(e.Name), e.ID, e.Size, e.BlockSize, e.Resumed)
		case quicxfer.EventSourceJoined:
			debugf("source %s joined", e.Source)
		case quicxfer.EventSourceDown:
			debugf("source %s down (%s): tried again after a backoff", e.Source, e.Reason)
		case quicxfer.EventStalled:
			debugf("source %s stalled (%s): its blocks go to other sources, it is tried again after a backoff", e.Source, e.Reason)
		case quicxfer.EventSourceDropped:
			debugf("source %s dropped: %s", e.Source, e.Reason)
		case quicxfer.EventBlockRejected:
			debugf("block %d from %s rejected: %s", e.Block, e.Source, e.Reason)
		}
		if onEvent != nil {
			onEvent(e)
		}
	}
}

// debugRun says in the debug log what a get is about to do: where to, from
// how many sources, with which limits.
func debugRun(debugf func(string, ...any), opts quicxfer.Options, bps float64) {
	if debugf == nil {
		return
	}
	limit := "no rate limit"
	if bps > 0 {
		limit = "rate limit " + formatBytes(bps) + "/s, all sources together"
	}
	retries := fmt.Sprintf("a source is dropped after %d failures in a row", opts.MaxRetries)
	if opts.MaxRetries < 0 {
		retries = "a source is never dropped for failing"
	}
	debugf("OUT %s; seeds: %d, mirrors: %d; %s; %s", showName(opts.Out), len(opts.Seeds), len(opts.Mirrors), limit, retries)
}
