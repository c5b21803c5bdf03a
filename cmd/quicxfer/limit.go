package main

import (
	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// limitRate reads get's --limit-rate (aria2's --max-download-limit, curl's
// --limit-rate): the most bytes per second the download takes from all its
// sources together, in seed --rate-limit's units; 0 is no limit.
func limitRate(c *cli.Context) (float64, error) {
	bps, err := parseRate(c.String("limit-rate"))
	if err != nil {
		return 0, usagef("--limit-rate%s: %v", fromEnv(c, "limit-rate"), err)
	}
	return bps, nil
}

// setLimits gives the download its rate limit (bytes/s over all sources, 0
// none) and its debug log (nil: none).
func setLimits(opts *quicxfer.Options, bps float64, debugf func(string, ...any)) {
	opts.RateLimit = bps
	opts.Debugf = debugf
}
