package ui

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// TestETA: the time left is rounded as a person reads it, and there is
// none without a meaningful estimate: no rate, a rate of about nothing,
// or a time past a week (where a rate that decayed once the sources
// stopped overflowed to "ETA -2562047h47m16.854775808s").
func TestETA(t *testing.T) {
	for _, tc := range []struct {
		name      string
		remaining int64
		rate      float64
		want      string
	}{
		{"nothing left", 0, 0, "ETA 0s"},
		{"less than a second", 100, 1e6, "ETA 0s"},
		{"seconds", 45e6, 1e6, "ETA 45s"},
		{"rounded to the second", 44_600_000, 1e6, "ETA 45s"},
		{"a minute up", 59_600_000, 1e6, "ETA 1m00s"},
		{"minutes and seconds", 250e6, 1e6, "ETA 4m10s"},
		{"hours and minutes", 7500e6, 1e6, "ETA 2h05m"},
		{"rounded to the minute", 7529e6, 1e6, "ETA 2h05m"},
		{"almost a week", 6*24*3600 + 3600, 1, "ETA 145h00m"},
		{"past a week", 8 * 24 * 3600, 1, "ETA —"},
		{"no rate", 1e6, 0, "ETA —"},
		{"a rate of about nothing", 1e6, 1e-300, "ETA —"},
		{"a rate that overflowed", math.MaxInt64, 1e-3, "ETA —"},
		{"a huge file at a decent rate", math.MaxInt64, 1e9, "ETA —"},
		{"a negative rate", 1e6, -5, "ETA —"},
		{"not a number", 1e6, math.NaN(), "ETA —"},
		{"an infinite rate", 1e6, math.Inf(1), "ETA —"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, etaText(tc.remaining, tc.rate))
			body, err := json.Marshal(totalsJSONOf(tc.remaining, 0, 0, time.Second, tc.rate, true))
			require.NoError(t, err)
			if strings.HasSuffix(tc.want, noETA) {
				require.Contains(t, string(body), `"eta_s":null`)
			} else {
				require.NotContains(t, string(body), `"eta_s":null`)
				require.NotContains(t, string(body), `"eta_s":-`)
			}
		})
	}
}

// TestETAWhenSourcesStop drives one file's view as a download whose
// sources stopped: the measured rate decays snapshot after snapshot, and
// the line never shows an estimate that means nothing, nor the JSON a
// negative eta_s; once every source left there is no estimate at all.
func TestETAWhenSourcesStop(t *testing.T) {
	const u = "quic://10.0.0.1:4433?pin=x"
	var out bytes.Buffer
	v := NewProgressView(ViewOptions{Stdout: &out, Stderr: io.Discard, Mode: ModeJSON, JSONEvery: time.Nanosecond})
	const size = 1 << 40
	v.Event(quicxfer.Event{Kind: quicxfer.EventStart, Time: time.Now(), Name: "big.iso", Size: size})
	snap := func(verified int64, at time.Duration, state quicxfer.SourceState, rate float64) {
		time.Sleep(time.Microsecond) // past JSONEvery
		v.Progress(quicxfer.Progress{Name: "big.iso", Size: size, Verified: verified, Elapsed: at,
			Seeds: []quicxfer.SeedProgress{{URL: u, State: state, Rate: rate, Accepted: verified}}})
	}
	for k := range 5 {
		snap(int64(k)*(100<<20), time.Duration(k)*time.Second, quicxfer.StateActive, 100<<20)
	}
	line := func() string {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.plainLineLocked()
	}
	require.Regexp(t, `now 104\.9 MB/s, ETA 2h5\dm;`, line(), "an estimate while the source delivers")

	// The source stops sending: the rate decays towards nothing.
	for k := 5; k < 200; k++ {
		snap(4*(100<<20), time.Duration(k)*time.Second, quicxfer.StateActive, 0)
		l := line()
		require.NotContains(t, l, "ETA -", l)
		require.Regexp(t, `, ETA (\d+h\d\dm|—);`, l)
	}
	require.Contains(t, line(), "ETA —;", "no estimate past a week")

	// It went down: no estimate whatever the rate.
	v.Event(quicxfer.Event{Kind: quicxfer.EventSourceDown, Time: time.Now(), Source: u, Reason: "connection lost"})
	require.Contains(t, line(), "ETA —;")
	v.Finish(nil, io.ErrUnexpectedEOF)
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev struct {
			Type string
			ETA  *float64 `json:"eta_s"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &ev))
		if ev.Type == "progress" && ev.ETA != nil {
			require.GreaterOrEqual(t, *ev.ETA, 0.0, l)
			require.LessOrEqual(t, *ev.ETA, maxETA.Seconds(), l)
		}
	}
	require.Contains(t, out.String(), `"eta_s":null`)
}

// TestCounts: one thing is said in the singular.
func TestCounts(t *testing.T) {
	require.Equal(t, "1 seed", Count(1, "seed"))
	require.Equal(t, "0 seeds", Count(0, "seed"))
	require.Equal(t, "3 seeds", Count(int64(3), "seed"))
	require.Equal(t, "block", Plural(int64(1), "block"))

	var b bytes.Buffer
	Summary(&b, "f.bin", &quicxfer.Result{Name: "f.bin", Size: 10, FetchedBytes: 10, Elapsed: time.Second,
		Seeds: []quicxfer.SeedResult{{URL: "quic://a:1", Bytes: 10, Blocks: 1}, {URL: "quic://b:1", Blocks: 0}}})
	require.Regexp(t, `quic://a:1 .* 1 block\n`, b.String())
	require.Regexp(t, `quic://b:1 .* 0 blocks\n`, b.String())
	b.Reset()
	DirSummary(&b, "out", []File{{Name: "d/a", Rel: "a", Size: 10}}, []*quicxfer.Result{{Size: 10, Elapsed: time.Second,
		Seeds: []quicxfer.SeedResult{{URL: "quic://a:1", Bytes: 10, Blocks: 1}}}}, time.Second)
	require.Contains(t, b.String(), "out: 1 file, 10 B verified in 1s, 10 B/s average\n")
	require.Regexp(t, `quic://a:1 .* 1 block\n`, b.String())
	b.Reset()
	(&Status{Out: "f", State: "partial", Size: 1, ContentID: "x", BlockSize: 1, Blocks: 1, BlocksVerified: 1, BytesVerified: 1, Percent: 100, ResumeCommand: "x"}).Print(&b)
	require.Contains(t, b.String(), "1 B (1 byte), 1 block of 1 byte")
	require.Contains(t, b.String(), "verified    1 of 1 block,")
}
