package lsd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

// The tests that multicast run in network namespaces they make and remove,
// never on the host's interfaces. A test that needs one re-runs itself,
// under `ip netns exec`, with envChild set; TestMain runs the role envRole
// names instead of the tests.
const (
	envChild = "QUICXFER_LSD_TEST_CHILD" // set: this run is inside a test's namespace
	envRole  = "QUICXFER_LSD_TEST_ROLE"  // "announce": run an Announcer (runAnnounceRole)
	envID    = "QUICXFER_LSD_TEST_ID"    // the content ID, hex
	envPort  = "QUICXFER_LSD_TEST_PORT"  // the announced port
	envWant  = "QUICXFER_LSD_TEST_WANT"  // the peers a finder must find, comma-separated
)

// deadline bounds every wait for something to happen on the network.
const deadline = 30 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(envRole) == "announce" {
		os.Exit(runAnnounceRole())
	}
	goleak.VerifyTestMain(m)
}

// runAnnounceRole announces envID on envPort with a single announce and
// no other for an hour, so that a finder started after it can only find it
// by a query and its answer. It prints "sent" once the announce is out,
// then, when its standard input ends, its Stats as JSON, and exits.
func runAnnounceRole() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "announce role:", err); return 1 }
	id, err := manifest.ParseID(os.Getenv(envID))
	if err != nil {
		return fail(err)
	}
	port, err := strconv.ParseUint(os.Getenv(envPort), 10, 16)
	if err != nil {
		return fail(err)
	}
	a, err := NewAnnouncer(Config{Interval: time.Hour, Burst: 1, ReplyGap: time.Second,
		Logf: func(f string, args ...any) { fmt.Fprintf(os.Stderr, f+"\n", args...) }}, uint16(port), id)
	if err != nil {
		return fail(err)
	}
	defer a.Close()
	stdin := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdin) }() // ends with the process
	for a.Stats().Sent == 0 {
		select {
		case <-stdin:
			return fail(fmt.Errorf("stopped before the first announce was sent"))
		case <-time.After(10 * time.Millisecond):
		}
	}
	fmt.Println("sent")
	select {
	case <-stdin:
	case <-time.After(2 * deadline): // the test is gone
		return fail(fmt.Errorf("no end of input"))
	}
	a.Close()
	b, _ := json.Marshal(a.Stats())
	fmt.Printf("stats %s\n", b)
	return 0
}

// needNamespaces skips the test unless it can make network namespaces.
func needNamespaces(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: making network namespaces needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: making network namespaces needs the ip command (iproute2)")
	}
}

// newNamespace makes a network namespace with its loopback up and removes
// it when the test ends.
func newNamespace(t *testing.T, suffix string) string {
	t.Helper()
	needNamespaces(t)
	name := fmt.Sprintf("qxlsd-%d-%s", os.Getpid(), suffix)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot make a network namespace (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("removing network namespace %s: %v: %s", name, err, out)
		}
	})
	inNamespace(t, name, "ip", "link", "set", "lo", "up")
	return name
}

// inNamespace runs a command in namespace ns.
func inNamespace(t *testing.T, ns string, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	require.NoError(t, err, "in %s: %s: %s", ns, strings.Join(args, " "), out)
}

// testInNamespace runs the test named name again, inside ns, with envChild
// and env set, and requires it to pass.
func testInNamespace(t *testing.T, ns, name string, env ...string) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command("ip", "netns", "exec", ns, exe,
		"-test.run=^"+name+"$", "-test.count=1", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), append([]string{envChild + "=1"}, env...)...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s, inside namespace %s:\n%s", name, ns, out)
	require.NoError(t, err)
	require.Contains(t, string(out), "--- PASS: "+name+" ", "the test ran and passed inside the namespace")
}

// startAnnounceRole starts runAnnounceRole in ns and waits for its first
// announce. The returned function stops it and returns its Stats.
func startAnnounceRole(t *testing.T, ns string, id manifest.ID, port uint16) (stop func() Stats) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command("ip", "netns", "exec", ns, exe)
	cmd.Env = append(os.Environ(), envRole+"=announce", envID+"="+id.String(), envPort+"="+strconv.Itoa(int(port)))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	lines := make(chan string)
	go func() { // ends when the process's output does
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	stopped := false
	halt := func() {
		if stopped {
			return
		}
		stopped = true
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			require.NoError(t, err, "announcer: %s", stderr.String())
		case <-time.After(deadline):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("the announcer did not stop; killed it: %s", stderr.String())
		}
	}
	t.Cleanup(func() {
		halt()
		for range lines { // drain, so the reader ends
		}
	})
	select {
	case l := <-lines:
		require.Equal(t, "sent", l, "announcer: %s", stderr.String())
	case <-time.After(deadline):
		t.Fatalf("the announcer sent nothing: %s", stderr.String())
	}
	return func() Stats {
		stdin.Close()
		var st Stats
		for l := range lines {
			if j, ok := strings.CutPrefix(l, "stats "); ok {
				require.NoError(t, json.Unmarshal([]byte(j), &st))
			}
		}
		halt()
		return st
	}
}

// waitPeers waits until f has every peer of want for id, and returns them
// all.
func waitPeers(t *testing.T, f *Finder, id manifest.ID, want ...netip.AddrPort) []netip.AddrPort {
	t.Helper()
	timeout := time.After(deadline)
	for {
		got := f.Peers(id)
		missing := 0
		for _, w := range want {
			if !containsAddr(got, w) {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		select {
		case <-f.Changed():
		case <-time.After(100 * time.Millisecond): // Changed covers it; this is a safety net
		case <-timeout:
			t.Fatalf("after %v, peers of %s: %v; want %v (stats %+v)", deadline, id, got, want, f.Stats())
		}
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(deadline)
	for !cond() {
		select {
		case <-timeout:
			t.Fatalf("after %v: %s", deadline, what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func containsAddr(list []netip.AddrPort, a netip.AddrPort) bool {
	for _, l := range list {
		if l == a {
			return true
		}
	}
	return false
}
