package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/quicxfer/quicxfer/scheduler"
)

// backoffHelp says the waits of the scheduler's default backoff as the help
// text does: "0.5 s, 1 s, 2 s, ... up to 15 s".
func backoffHelp() string {
	b := scheduler.DefaultBackoff()
	return fmt.Sprintf("%s, %s, %s, ... up to %s", seconds(b.Delay(1)), seconds(b.Delay(2)), seconds(b.Delay(3)), seconds(b.Max))
}

// seconds writes d in seconds, as few digits as it needs ("0.5 s", "15 s").
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}
