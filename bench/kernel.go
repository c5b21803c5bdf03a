package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quicxfer/quicxfer/seed"
)

// # Kernel links: each seed in its own namespace behind a veth with tbf
//
// Where the process is root, RunOptions.Kernel replaces the user-space Link
// with real kernel shaping for the scenarios it can express (KernelUnsupported):
//
//	root namespace (downloader)                    namespace qxk-<pid>-<i> (seed i)
//	10.199.i.1/30 on qxk<pid>v<i> ◀── veth ── qxk0, 10.199.i.2/30, root qdisc tbf (seed → downloader)
//
// The seed's UDP socket is made inside its namespace (seed.New on a thread
// switched there with setns, see inNetns), bound to 10.199.i.2; the
// downloader, in the root namespace, reaches it through the veth, and every
// datagram the seed sends leaves through the tbf qdisc on qxk0. An UpRate
// puts a second tbf on the root end (downloader → seed).
//
// What the kernel mode does not do: this kernel has no netem, so there is no
// delay, jitter or loss, and no DownBudget (stalling seed). Scenarios that
// need them keep the user-space links; a configured RTT up to KernelMaxRTT
// is dropped (the veth's own round trip is tens of microseconds), and the
// result's note says so.
//
// Rates: a LinkConfig rate counts UDP payload bytes, tbf counts whole
// Ethernet frames (14 + 20 + 8 bytes more per datagram). The tbf rate is
// Rate × kernelRateScale, so a full-size quic-go datagram (1452 bytes of
// payload) takes as long as it would behind a Link of that Rate; small
// packets are charged a little more. The queue (tbf limit) is the Link's:
// LinkConfig.QueueBytes, or one bandwidth-delay product plus
// DefaultQueueSlack.
//
// Everything is made by `ip` and `tc` and lives in the namespaces, except
// the root ends of the veths, which go with their namespaces: Close deletes
// each veth (both ends at once) and then the namespace. Leftovers of a
// process that died before Close (namespaces qxk-<pid>-*, veths
// qxk<pid>v*) are deleted when the next KernelLinks starts.

// KernelMaxRTT is the largest link RTT a kernel link drops silently (with a
// note): it has no netem to add delay. Larger RTTs make a scenario
// unsupported in kernel mode.
const KernelMaxRTT = 5 * time.Millisecond

// kernelNSPrefix starts the name of every namespace KernelLinks make.
const kernelNSPrefix = "qxk-"

// kernelVethPrefix starts the name of the root-namespace end of each veth.
const kernelVethPrefix = "qxk"

// kernelNSDev is the seed's end of the veth, inside its namespace.
const kernelNSDev = "qxk0"

// kernelQUICPayload is the UDP payload of a full-size quic-go datagram.
const kernelQUICPayload = 1452

// kernelRateScale turns a Link rate (UDP payload bytes/s) into a tbf rate
// (Ethernet frame bytes/s) for full-size datagrams.
const kernelRateScale = (kernelQUICPayload + 14 + 20 + 8) / float64(kernelQUICPayload)

// kernelMaxLinks is how many seeds the addressing 10.199.i.0/30 allows.
const kernelMaxLinks = 256

var kernelCheck = sync.OnceValue(func() string {
	if os.Geteuid() != 0 {
		return "kernel links need root (network namespaces, veth, tc)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "iproute2's ip is not installed (apt-get install iproute2)"
	}
	if _, err := exec.LookPath("tc"); err != nil {
		return "iproute2's tc is not installed (apt-get install iproute2)"
	}
	// Probe every feature inside a throwaway namespace: nothing in this
	// process's namespace changes.
	name := fmt.Sprintf("%sprobe-%d", kernelNSPrefix, os.Getpid())
	if err := ipCmd("netns", "add", name); err != nil {
		return err.Error()
	}
	defer func() { _ = ipCmd("netns", "del", name) }()
	if err := ipCmd("-n", name, "link", "add", "qxka", "type", "veth", "peer", "name", "qxkb"); err != nil {
		return "veth: " + err.Error()
	}
	if err := tcCmd("-n", name, "qdisc", "add", "dev", "qxka", "root", "tbf", "rate", "8000000bit", "burst", "16384", "limit", "65536"); err != nil {
		return "tbf: " + err.Error()
	}
	return ""
})

// KernelUnavailable returns why kernel links cannot be made here, or "" if
// they can. The check runs once per process.
func KernelUnavailable() string { return kernelCheck() }

// KernelUnsupported returns why scenario sc cannot run on kernel links (its
// links need what only the user-space Link does), or "" if it can.
func KernelUnsupported(sc Scenario) string {
	if sc.NoLink || sc.Mode == ModeMemory {
		return "no links to shape (loopback)"
	}
	if len(sc.Seeds) > kernelMaxLinks {
		return fmt.Sprintf("%d seeds, kernel links address at most %d", len(sc.Seeds), kernelMaxLinks)
	}
	for _, c := range sc.Seeds {
		switch {
		case c.Loss > 0:
			return "loss needs netem, which this kernel lacks"
		case c.Jitter > 0:
			return "jitter needs netem, which this kernel lacks"
		case c.RTT > KernelMaxRTT:
			return fmt.Sprintf("an RTT of %v needs netem, which this kernel lacks", c.RTT)
		case c.DownBudget > 0:
			return "a stalling seed needs the user-space link's DownBudget"
		}
	}
	return ""
}

// kernelNote is what a result's note says about its links in kernel mode.
func kernelNote(sc Scenario, kernel bool) string {
	if !kernel {
		return ""
	}
	if why := KernelUnsupported(sc); why != "" {
		return "user-space links (kernel mode: " + why + ")"
	}
	note := "kernel links: each seed in its own network namespace behind a veth with a tbf qdisc"
	for _, c := range sc.Seeds {
		if c.RTT > 0 {
			return note + "; no delay (no netem here): the links' " + c.RTT.String() + " RTT is left out"
		}
	}
	return note
}

// kernelInUse makes KernelLinks one at a time per process: their names and
// addresses depend only on the process and the seed's index.
var kernelInUse atomic.Bool

// KernelLinks are one network namespace per seed, each joined to this
// process's namespace by a veth whose seed end carries a tbf qdisc. See the
// comment at the top of kernel.go.
type KernelLinks struct {
	cfgs      []LinkConfig
	ns, veths []string // namespace and root-end veth per link, as made so far
	closeOnce sync.Once
	closeErr  error
}

// NewKernelLinks makes one namespace, veth and qdisc per entry of links.
// Seed i listens on SeedAddr(i) inside namespace Namespace(i) (see NewSeed);
// the downloader dials it from this namespace. Close deletes them all.
func NewKernelLinks(links []LinkConfig) (_ *KernelLinks, err error) {
	if why := KernelUnavailable(); why != "" {
		return nil, errors.New("kernel links: " + why)
	}
	if len(links) == 0 || len(links) > kernelMaxLinks {
		return nil, fmt.Errorf("kernel links: %d links, want 1 to %d", len(links), kernelMaxLinks)
	}
	for _, c := range links {
		if err := c.validate(); err != nil {
			return nil, err
		}
	}
	if !kernelInUse.CompareAndSwap(false, true) {
		return nil, errors.New("kernel links: this process already has a set up (one at a time)")
	}
	removeStaleKernelLinks()
	if err := kernelAddressesFree(); err != nil {
		kernelInUse.Store(false)
		return nil, err
	}
	k := &KernelLinks{cfgs: links}
	defer func() {
		if err != nil {
			k.Close()
		}
	}()
	pid := os.Getpid()
	for i, c := range links {
		ns := fmt.Sprintf("%s%d-%d", kernelNSPrefix, pid, i)
		veth := fmt.Sprintf("%s%dv%d", kernelVethPrefix, pid, i)
		if err := ipCmd("netns", "add", ns); err != nil {
			return nil, err
		}
		k.ns = append(k.ns, ns)
		if err := ipCmd("link", "add", veth, "type", "veth", "peer", "name", kernelNSDev, "netns", ns); err != nil {
			return nil, err
		}
		k.veths = append(k.veths, veth)
		host, seedAddr := k.HostAddr(i).String()+"/30", k.SeedAddr(i).String()+"/30"
		cmds := [][]string{
			{"addr", "add", host, "dev", veth},
			{"link", "set", veth, "up"},
			{"-n", ns, "link", "set", "lo", "up"},
			{"-n", ns, "addr", "add", seedAddr, "dev", kernelNSDev},
			{"-n", ns, "link", "set", kernelNSDev, "up"},
		}
		for _, cmd := range cmds {
			if err := ipCmd(cmd...); err != nil {
				return nil, err
			}
		}
		if c.Rate > 0 {
			if err := tcCmd(append([]string{"-n", ns, "qdisc", "add", "dev", kernelNSDev, "root"}, tbfArgs(c, c.Rate)...)...); err != nil {
				return nil, err
			}
		}
		if c.UpRate > 0 {
			if err := tcCmd(append([]string{"qdisc", "add", "dev", veth, "root"}, tbfArgs(c, c.UpRate)...)...); err != nil {
				return nil, err
			}
		}
	}
	return k, nil
}

// tbfArgs returns the tbf qdisc's arguments for a direction of link c
// limited to rate (UDP payload bytes/s).
func tbfArgs(c LinkConfig, rate float64) []string {
	bytesPerS := rate * kernelRateScale
	// A bucket of 2 ms of traffic (at least a few full frames): few timer
	// wake-ups, and a burst that is nothing next to a transfer.
	burst := max(16<<10, int(bytesPerS*0.002))
	limit := c.queueBytes(bytesPerS)
	return []string{"tbf",
		"rate", strconv.FormatInt(int64(bytesPerS*8), 10) + "bit",
		"burst", strconv.Itoa(burst),
		"limit", strconv.Itoa(limit),
	}
}

// HostAddr is this namespace's end of link i: 10.199.i.1.
func (k *KernelLinks) HostAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 199, byte(i), 1})
}

// SeedAddr is seed i's address in its namespace: 10.199.i.2.
func (k *KernelLinks) SeedAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 199, byte(i), 2})
}

// Namespace returns link i's namespace name (for ip netns exec).
func (k *KernelLinks) Namespace(i int) string { return k.ns[i] }

// InSeed runs fn on a thread in link i's namespace; sockets fn makes stay
// there (see Fabric.InClient).
func (k *KernelLinks) InSeed(i int, fn func() error) error { return inNetns(k.ns[i], fn) }

// NewSeed starts seed i: seed.New with opts, listening on SeedAddr(i) (any
// port) inside link i's namespace. Its URLs()[0] reaches it through the link.
func (k *KernelLinks) NewSeed(ctx context.Context, i int, opts seed.Options) (s *seed.Server, err error) {
	opts.Listen = netip.AddrPortFrom(k.SeedAddr(i), 0).String()
	err = k.InSeed(i, func() (err error) {
		s, err = seed.New(ctx, opts)
		return err
	})
	return s, err
}

// Stats returns link i's counters from its tbf qdiscs: Down is the seed's
// end, Up the root end (zero without an UpRate). Packets and Bytes are what
// the qdisc sent (Bytes: whole Ethernet frames), QueueDropped what it
// dropped for want of room.
func (k *KernelLinks) Stats(i int) LinkStats {
	var st LinkStats
	if k.cfgs[i].Rate > 0 {
		st.Down = tbfStats("-n", k.ns[i], "-s", "-j", "qdisc", "show", "dev", kernelNSDev)
	}
	if k.cfgs[i].UpRate > 0 {
		st.Up = tbfStats("-s", "-j", "qdisc", "show", "dev", k.veths[i])
	}
	return st
}

// tbfStats runs tc with args (a JSON qdisc listing) and returns the tbf
// qdisc's counters, zero if there is none.
func tbfStats(args ...string) DirStats {
	out, err := exec.Command("tc", args...).Output()
	if err != nil {
		return DirStats{}
	}
	var qs []struct {
		Kind    string `json:"kind"`
		Bytes   int64  `json:"bytes"`
		Packets int64  `json:"packets"`
		Drops   int64  `json:"drops"`
	}
	if json.Unmarshal(out, &qs) != nil {
		return DirStats{}
	}
	for _, q := range qs {
		if q.Kind == "tbf" {
			return DirStats{Packets: q.Packets, Bytes: q.Bytes, QueueDropped: q.Drops}
		}
	}
	return DirStats{}
}

// Close deletes every veth (both ends go at once, whatever still holds the
// namespace) and namespace. Seeds should be closed first: a namespace lives
// on, unnamed, while a socket in it is open. It is idempotent.
func (k *KernelLinks) Close() error {
	k.closeOnce.Do(func() {
		var errs []error
		for _, v := range k.veths {
			if _, err := net.InterfaceByName(v); err != nil {
				continue
			}
			if err := ipCmd("link", "del", v); err != nil {
				errs = append(errs, err)
			}
		}
		for _, ns := range k.ns {
			if _, err := os.Stat(filepath.Join(netnsDir, ns)); err != nil {
				continue
			}
			if err := ipCmd("netns", "del", ns); err != nil {
				errs = append(errs, err)
			}
		}
		k.closeErr = errors.Join(errs...)
		kernelInUse.Store(false)
	})
	return k.closeErr
}

// tcCmd runs tc with args.
func tcCmd(args ...string) error {
	out, err := exec.Command("tc", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("tc %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// kernelOwner returns the pid in a name made by KernelLinks (namespace
// qxk-<pid>-<i> or veth qxk<pid>v<i>), or 0.
func kernelOwner(name string) int {
	rest, ok := strings.CutPrefix(name, kernelVethPrefix)
	if !ok {
		return 0
	}
	var pidStr string
	if r, ok := strings.CutPrefix(rest, "-"); ok {
		pidStr, _, ok = strings.Cut(r, "-")
		if !ok {
			return 0
		}
	} else {
		pidStr, _, ok = strings.Cut(rest, "v")
		if !ok {
			return 0
		}
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// processGone reports whether no process has this pid.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// removeStaleKernelLinks deletes the veths and namespaces KernelLinks of a
// process that no longer exists left behind (killed before Close), and
// those of this process (an earlier set whose Close failed).
func removeStaleKernelLinks() {
	stale := func(name string) bool {
		pid := kernelOwner(name)
		return pid > 0 && (pid == os.Getpid() || processGone(pid))
	}
	if ifs, err := net.Interfaces(); err == nil {
		for _, ifc := range ifs {
			if stale(ifc.Name) {
				_ = ipCmd("link", "del", ifc.Name)
			}
		}
	}
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), kernelNSPrefix) && stale(e.Name()) {
			_ = ipCmd("netns", "del", e.Name())
		}
	}
}

// kernelAddressesFree checks that nothing in this namespace already uses
// 10.199.0.0/16 (another live process's kernel links, or a real network),
// which the links' routes would clash with.
func kernelAddressesFree() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	block := netip.MustParsePrefix("10.199.0.0/16")
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if ok && block.Contains(ip.Unmap()) {
				who := "something else"
				if pid := kernelOwner(ifc.Name); pid > 0 {
					who = "process " + strconv.Itoa(pid) + "'s kernel links"
				}
				return fmt.Errorf("kernel links: %s already on %s (%s); they need 10.199.0.0/16 to themselves", ip, ifc.Name, who)
			}
		}
	}
	return nil
}
