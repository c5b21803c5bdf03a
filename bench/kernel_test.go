package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestKernelUnsupported(t *testing.T) {
	const size = 1 << 20
	for _, tc := range []struct {
		sc   Scenario
		want string // "" = kernel links apply; else a word of the reason
	}{
		{Scenario1(size), "loopback"},
		{Scenario2(size, 50*Mbit), ""},
		{Scenario3(size, 50*Mbit), ""},
		{Scenario4(size, 50*Mbit), "stalling"},
		{Scenario5(size, 100*Mbit), "netem"},
		{Scenario6(size, 50*Mbit), "RTT"},
		{Scenario7(size, 200*Mbit, 32), "RTT"},
		{Scenario8(size, 50*Mbit), ""},
		{Scenario9(size), "loopback"},
	} {
		got := KernelUnsupported(tc.sc)
		if tc.want == "" {
			require.Empty(t, got, tc.sc.Name)
			require.Contains(t, kernelNote(tc.sc, true), "kernel links", tc.sc.Name)
		} else {
			require.Contains(t, got, tc.want, tc.sc.Name)
			require.Contains(t, kernelNote(tc.sc, true), "user-space links", tc.sc.Name)
		}
		require.Empty(t, kernelNote(tc.sc, false))
	}
}

func TestKernelOwner(t *testing.T) {
	for name, want := range map[string]int{
		"qxk-1234-0":       1234,
		"qxk-1234-12":      1234,
		"qxk1234v0":        1234,
		"qxk4194304v255":   4194304,
		"qxk0":             0,
		"qxk-probe-1234":   0,
		"qxb-1234-1-c":     0,
		"eth0":             0,
		"qxk-1234":         0,
		"qxkv0":            0,
		"qxk-notapid-0":    0,
		"qxk12x4v0":        0,
		"qxk-0-0":          0,
		"something-qxk-12": 0,
	} {
		require.Equal(t, want, kernelOwner(name), name)
	}
}

func TestKernelTBFArgs(t *testing.T) {
	rate := 40.0 * Mbit
	args := tbfArgs(LinkConfig{Rate: rate, RTT: 2 * time.Millisecond}, rate)
	require.Equal(t, "tbf", args[0])
	// 40 Mbit/s of UDP payload is a little more in Ethernet frames.
	require.Equal(t, fmt.Sprintf("%dbit", int64(rate*kernelRateScale*8)), args[2])
	require.Greater(t, kernelRateScale, 1.02)
	require.Less(t, kernelRateScale, 1.03)
}

// requireKernelAvailable skips the test where kernel links cannot be made.
func requireKernelAvailable(t *testing.T) {
	t.Helper()
	if why := KernelUnavailable(); why != "" {
		t.Skip("no kernel links here: " + why)
	}
}

// requireNoKernelLeftovers checks that no namespace or veth of this process
// is left.
func requireNoKernelLeftovers(t *testing.T) {
	t.Helper()
	ents, err := os.ReadDir(netnsDir)
	require.NoError(t, err)
	for _, e := range ents {
		require.NotEqual(t, os.Getpid(), kernelOwner(e.Name()), "namespace %s left behind", e.Name())
	}
	ifs, err := net.Interfaces()
	require.NoError(t, err)
	for _, ifc := range ifs {
		require.NotEqual(t, os.Getpid(), kernelOwner(ifc.Name), "veth %s left behind", ifc.Name)
	}
}

// TestKernelLinkRate downloads through one kernel link: the bytes are
// exact, the tbf qdisc carried them, the transfer takes at least about
// size ÷ rate, and nothing is left behind.
func TestKernelLinkRate(t *testing.T) {
	requireKernelAvailable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const size = 6 << 20
	const rate = 40 * Mbit
	sc := Scenario{Name: "kernel-40mbit", FileSize: size, Seeds: []LinkConfig{{Rate: rate}}}
	r, err := Run(ctx, sc, t.TempDir(), RunOptions{Kernel: true, SampleInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	requireWhole(t, r, size)
	require.Contains(t, r.Note, "kernel links")
	ideal := float64(size) / rate
	require.InDelta(t, ideal, r.Ideal, 1e-9)
	t.Logf("%d bytes in %.3f s at %.1f Mbit/s (ideal %.3f s, time ÷ ideal %.3f); tbf: %+v",
		size, r.Elapsed, r.Throughput*8/1e6, ideal, r.TimeOverIdeal, r.Seeds[0].Link.Down)
	// A lower bound only, generous: the bucket's first burst and the
	// handshake's timing are small next to 1.3 s.
	require.GreaterOrEqual(t, r.Elapsed, 0.85*ideal, "faster than the link's rate: the tbf qdisc did not shape")
	down := r.Seeds[0].Link.Down
	require.Positive(t, down.Packets)
	require.GreaterOrEqual(t, down.Bytes, int64(size), "the file went through the tbf qdisc")
	requireNoKernelLeftovers(t)
}

// TestKernelStaleRemoved: a namespace and a veth named for a process that
// no longer exists are deleted when kernel links start.
func TestKernelStaleRemoved(t *testing.T) {
	requireKernelAvailable(t)
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	dead := cmd.ProcessState.Pid()
	require.True(t, processGone(dead))
	ns := fmt.Sprintf("%s%d-0", kernelNSPrefix, dead)
	veth := fmt.Sprintf("%s%dv0", kernelVethPrefix, dead)
	require.NoError(t, ipCmd("netns", "add", ns))
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
			_ = ipCmd("netns", "del", ns)
		}
	})
	require.NoError(t, ipCmd("link", "add", veth, "type", "veth", "peer", "name", "qxkstale"))
	t.Cleanup(func() {
		if _, err := net.InterfaceByName(veth); err == nil {
			_ = ipCmd("link", "del", veth)
		}
	})

	k, err := NewKernelLinks([]LinkConfig{{Rate: 10 * Mbit}})
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("%s%d-0", kernelNSPrefix, os.Getpid()), k.Namespace(0))
	require.NoError(t, k.Close())
	require.NoError(t, k.Close(), "idempotent")

	_, err = os.Stat(filepath.Join(netnsDir, ns))
	require.ErrorIs(t, err, os.ErrNotExist, "stale namespace left")
	_, err = net.InterfaceByName(veth)
	require.Error(t, err, "stale veth left")
	_, err = net.InterfaceByName("qxkstale")
	require.Error(t, err, "stale veth's peer left")
	requireNoKernelLeftovers(t)

	// One set at a time per process; the next starts once it is closed.
	k, err = NewKernelLinks([]LinkConfig{{}})
	require.NoError(t, err)
	_, err = NewKernelLinks([]LinkConfig{{}})
	require.ErrorContains(t, err, "one at a time")
	require.NoError(t, k.Close())
	requireNoKernelLeftovers(t)
}
