package dht_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/dht"
	"github.com/quicxfer/quicxfer/quicxfer/dht/dhttest"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// BenchmarkFirstPeer measures, on a private DHT of N nodes on loopback,
// the time from the start of a lookup to its first peer, and to its end
// (the traversal has asked the nodes closest to the key). Each iteration
// has a random node announce a new ID, then looks it up from a new node
// that knows one node of the network (cold: a `get --id` just started), and
// looks up a second new ID from that node again (warm: its table filled by
// the first lookup). Metrics are means over the lookups that found the
// seed, in ms, the worst cold first-peer time, and the lookups that missed
// it (a DHT may: the closed clients of earlier iterations are churn).
func BenchmarkFirstPeer(b *testing.B) {
	for _, n := range []int{20, 200} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			setup := time.Now()
			nw := dhttest.Start(b, n, dht.Config{})
			b.Logf("%v, built in %v", nw, time.Since(setup).Round(time.Millisecond))
			var coldFirst, coldAll, warmFirst, warmAll []time.Duration
			misses := 0
			port := 10000
			for b.Loop() {
				b.StopTimer()
				port++
				cold, warm := randomID(b), randomID(b)
				for _, id := range []manifest.ID{cold, warm} {
					seed := nw.Nodes[rand.IntN(n)]
					require.NoError(b, seed.Announce(context.Background(), id, port))
				}
				client, err := dht.Start(context.Background(), dht.Config{
					Listen: "127.0.0.1:0", AllowPrivate: true, Bootstrap: nw.Bootstrap(1), Logf: b.Logf,
				})
				require.NoError(b, err)
				b.Cleanup(func() { client.Close() })
				b.StartTimer()
				first, all, ok := timeLookup(b, client, cold, port)
				b.StopTimer()
				if ok {
					coldFirst, coldAll = append(coldFirst, first), append(coldAll, all)
				} else {
					misses++
				}
				if first, all, ok = timeLookup(b, client, warm, port); ok {
					warmFirst, warmAll = append(warmFirst, first), append(warmAll, all)
				} else {
					misses++
				}
				require.NoError(b, client.Close())
				b.StartTimer()
			}
			require.NotEmpty(b, coldFirst, "no cold lookup found its seed")
			b.ReportMetric(meanMS(coldFirst), "ms-first-peer-cold")
			b.ReportMetric(msOf(slices.Max(coldFirst)), "ms-first-peer-cold-max")
			b.ReportMetric(meanMS(coldAll), "ms-lookup-cold")
			b.ReportMetric(meanMS(warmFirst), "ms-first-peer-warm")
			b.ReportMetric(meanMS(warmAll), "ms-lookup-warm")
			b.ReportMetric(float64(misses), "misses")
		})
	}
}

// timeLookup looks id up from client and returns the time to the first
// peer and to the end, and whether it found the seed (and nothing else).
func timeLookup(b *testing.B, client *dht.Node, id manifest.ID, port int) (first, all time.Duration, ok bool) {
	start := time.Now()
	var found []netip.AddrPort
	err := client.LookupFunc(context.Background(), id, func(ap netip.AddrPort) bool {
		if len(found) == 0 {
			first = time.Since(start)
		}
		found = append(found, ap)
		return true
	})
	all = time.Since(start)
	require.NoError(b, err)
	if len(found) > 0 {
		require.Equal(b, []netip.AddrPort{loopback(uint16(port))}, found)
	}
	return first, all, len(found) > 0
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func meanMS(ds []time.Duration) float64 {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return msOf(sum) / float64(max(len(ds), 1))
}
