package bench

import (
	"context"
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

	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/internal/netns"
)

// # Packet-level links for TCP: a Fabric
//
// The UDP Link cannot carry TCP, and the kernel here has no netem, so the
// aria2 baseline's links are built from the very same pipes as Link (loss,
// serialising bottleneck with a drop-tail queue, FIFO delay line with
// jitter; see the package documentation), moved from UDP datagrams to IP
// packets:
//
//	client netns                     this process                     server netns
//	aria2c ─▶ qxb0 (TUN, 10.99.0.1) ─▶ up pipe of link i   ─▶ qxb0 (TUN) ─▶ 10.99.1.i+1 (HTTP seed i)
//	aria2c ◀─ qxb0                  ◀─ down pipe of link i ◀─ qxb0       ◀─
//
// Every packet, data and ACK, crosses the emulated link, so TCP really sees
// the RTT (slow start, window growth), the bottleneck queue and the random
// loss (retransmissions, window halving) — the same conditions quic-go sees
// behind a Link with the same LinkConfig. This is why the Fabric is
// preferred over a TCP relay, which would terminate TCP on loopback and hide
// loss and most of the RTT from the downloader's congestion control.
//
// Rates: a Link counts UDP payload bytes, the Fabric sees whole IP packets,
// which carry 28 bytes more (IPv4 + UDP header equivalent). The Fabric's
// pipes run at Rate × 1500/1472, so a full-MTU (1500 B) packet takes exactly
// as long as a Link datagram with the same payload would; only small packets
// (ACKs, requests) are charged slightly more. The TUN MTU is 1500, like the
// 1452-byte datagrams quic-go sends.
//
// A LinkConfig.DownBudget applies as in a Link: once that many bytes (here
// of IP packets) have gone from server i to the client, link i black-holes
// everything in that direction — data, SYN-ACKs, FINs and RSTs alike — so
// a server that answered the first request goes silent for good, and later
// connections to it never complete their handshake.
//
// It needs root (namespaces, /dev/net/tun) and iproute2's ip; NetnsAvailable
// says whether it works here. A Fabric makes two namespaces named
// qxb-<pid>-<n>-c and -s, deletes them in Close, and deletes leftovers of
// dead processes when the next Fabric starts. Nothing in the calling
// process's own namespace changes.

// fabricMTU is the TUN devices' MTU.
const fabricMTU = 1500

// fabricRateScale turns a Link rate (UDP payload bytes/s) into an IP packet
// rate for full-size packets: 1500 bytes of IP packet carry 1472 of UDP payload.
const fabricRateScale = 1500.0 / 1472.0

// fabricNSPrefix starts the name of every namespace a Fabric makes.
const fabricNSPrefix = "qxb-"

// netnsDir is where iproute2 keeps named namespaces.
const netnsDir = netns.Dir

var netnsCheck = sync.OnceValue(func() string {
	if os.Geteuid() != 0 {
		return "network namespaces need root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "iproute2's ip is not installed (apt-get install iproute2)"
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Sprintf("/dev/net/tun: %v", err)
	}
	unix.Close(fd)
	name := fmt.Sprintf("%sprobe-%d", fabricNSPrefix, os.Getpid())
	if err := ipCmd("netns", "add", name); err != nil {
		return err.Error()
	}
	if err := ipCmd("netns", "del", name); err != nil {
		return err.Error()
	}
	return ""
})

// NetnsUnavailable returns why a Fabric cannot be built here, or "" if it can.
// The check runs once per process.
func NetnsUnavailable() string { return netnsCheck() }

// NetnsAvailable reports whether NewFabric works here: root, /dev/net/tun
// and ip netns.
func NetnsAvailable() bool { return NetnsUnavailable() == "" }

// ipCmd runs ip with args.
func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

var fabricCount atomic.Int64

// Fabric is a set of emulated links between one client network namespace and
// one server network namespace, one link (and one server address) per
// LinkConfig. See the comment at the top of netns.go.
type Fabric struct {
	cfgs           []LinkConfig
	client, server string   // namespace names
	ctun, stun     *os.File // TUN devices, in the client and server namespace
	downs, ups     []*pipe
	done           chan struct{}
	wg             sync.WaitGroup
	stopCtx        func() bool
	closeOnce      sync.Once
	closeErr       error
	bad            atomic.Int64 // packets that matched no link
}

// NewFabric makes the namespaces, the TUN devices and one link per entry of
// links. Server i (from 0) has address ServerAddr(i). It runs until Close,
// or until ctx is done (Close must still be called to delete the
// namespaces).
func NewFabric(ctx context.Context, links []LinkConfig) (_ *Fabric, err error) {
	if why := NetnsUnavailable(); why != "" {
		return nil, errors.New("fabric: " + why)
	}
	if len(links) == 0 || len(links) > 250 {
		return nil, fmt.Errorf("fabric: %d links, want 1 to 250", len(links))
	}
	for _, c := range links {
		if err := c.validate(); err != nil {
			return nil, err
		}
	}
	netns.RemoveStale(fabricNSPrefix)
	n := fabricCount.Add(1)
	base := fmt.Sprintf("%s%d-%d", fabricNSPrefix, os.Getpid(), n)
	f := &Fabric{cfgs: links, client: base + "-c", server: base + "-s", done: make(chan struct{})}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	for _, ns := range []string{f.client, f.server} {
		if err := ipCmd("netns", "add", ns); err != nil {
			return nil, err
		}
	}
	if f.ctun, err = openTUN(f.client); err != nil {
		return nil, err
	}
	if f.stun, err = openTUN(f.server); err != nil {
		return nil, err
	}
	mtu := strconv.Itoa(fabricMTU)
	cmds := [][]string{
		{"-n", f.client, "link", "set", "lo", "up"},
		{"-n", f.client, "addr", "add", f.ClientAddr().String() + "/32", "dev", "qxb0"},
		{"-n", f.client, "link", "set", "qxb0", "mtu", mtu, "txqueuelen", "4096", "up"},
		{"-n", f.client, "route", "add", "10.99.1.0/24", "dev", "qxb0"},
		{"-n", f.server, "link", "set", "lo", "up"},
		{"-n", f.server, "link", "set", "qxb0", "mtu", mtu, "txqueuelen", "4096", "up"},
		{"-n", f.server, "route", "add", "10.99.0.0/24", "dev", "qxb0"},
	}
	for i := range links {
		cmds = append(cmds, []string{"-n", f.server, "addr", "add", f.ServerAddr(i).String() + "/32", "dev", "qxb0"})
	}
	for _, c := range cmds {
		if err := ipCmd(c...); err != nil {
			return nil, err
		}
	}
	for i, c := range links {
		// Directions 3 and 4, so the draws differ from a Link's with the
		// same seed while staying reproducible.
		f.downs = append(f.downs, newPipe(c, c.Rate*fabricRateScale, c.Seed, 3, f.done))
		f.downs[i].budget = c.DownBudget
		f.ups = append(f.ups, newPipe(c, c.UpRate*fabricRateScale, c.Seed, 4, f.done))
		for _, p := range []*pipe{f.downs[i], f.ups[i]} {
			f.wg.Go(p.run)
		}
	}
	f.wg.Go(func() { f.forward(f.ctun, f.stun, f.ups, 16) })   // by destination
	f.wg.Go(func() { f.forward(f.stun, f.ctun, f.downs, 12) }) // by source
	f.stopCtx = context.AfterFunc(ctx, f.shutdown)
	return f, nil
}

// ClientAddr is the client namespace's address.
func (f *Fabric) ClientAddr() netip.Addr { return netip.AddrFrom4([4]byte{10, 99, 0, 1}) }

// ServerAddr is server i's address in the server namespace, reached through
// link i.
func (f *Fabric) ServerAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 99, 1, byte(i + 1)})
}

// Namespaces returns the client's and the server's namespace names (for ip
// netns exec).
func (f *Fabric) Namespaces() (client, server string) { return f.client, f.server }

// Stats returns link i's counters (bytes are whole IP packets).
func (f *Fabric) Stats(i int) LinkStats {
	return LinkStats{Down: f.downs[i].stats(), Up: f.ups[i].stats()}
}

// TCPCongestionControl returns the server namespace's TCP congestion
// control (the senders' in the aria2 baseline). A new namespace inherits the
// machine's default, which is bbr on the benchmark machine: BBR does not
// back off on random loss, unlike quic-go's NewReno.
func (f *Fabric) TCPCongestionControl() string {
	var cc string
	_ = f.InServer(func() error {
		b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
		cc = strings.TrimSpace(string(b))
		return err
	})
	return cc
}

// Unrouted counts packets that matched no link (IPv6, stray addresses).
func (f *Fabric) Unrouted() int64 { return f.bad.Load() }

// InClient runs fn on a thread in the client namespace. Sockets fn creates
// itself, on its own goroutine, stay in that namespace (and work from any
// goroutine afterwards); goroutines fn starts run in the caller's namespace.
// quicxfer.NewClient, which makes its UDP socket at once, can be called
// this way.
func (f *Fabric) InClient(fn func() error) error { return inNetns(f.client, fn) }

// InServer runs fn on a thread in the server namespace; see InClient.
// seed.New, which makes its UDP socket at once, can be called this way with
// Listen set to ServerAddr(i).
func (f *Fabric) InServer(fn func() error) error { return inNetns(f.server, fn) }

// ListenTCP listens on server i's address, port 0 (any).
func (f *Fabric) ListenTCP(i int) (ln net.Listener, err error) {
	err = f.InServer(func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(f.ServerAddr(i), 0).String())
		return err
	})
	return ln, err
}

// ListenUDP opens a UDP socket on server i's address, port 0 (any).
func (f *Fabric) ListenUDP(i int) (c *net.UDPConn, err error) {
	err = f.InServer(func() (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(f.ServerAddr(i), 0)))
		return err
	})
	return c, err
}

// Command returns a command that runs name in the client namespace (through
// ip netns exec, which execs in place: the process's rusage is name's own).
func (f *Fabric) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", f.client, name}, args...)...)
}

// Close stops the links, closes the TUN devices and deletes the namespaces.
// It is idempotent.
func (f *Fabric) Close() error {
	f.closeOnce.Do(func() {
		if f.stopCtx != nil {
			f.stopCtx()
		}
		f.shutdown()
		f.wg.Wait()
		for _, ns := range []string{f.client, f.server} {
			if _, err := os.Stat(filepath.Join(netnsDir, ns)); err != nil {
				continue
			}
			if err := ipCmd("netns", "del", ns); err != nil && f.closeErr == nil {
				f.closeErr = err
			}
		}
	})
	return f.closeErr
}

func (f *Fabric) shutdown() {
	select {
	case <-f.done:
		return
	default:
	}
	close(f.done)
	for _, t := range []*os.File{f.ctun, f.stun} {
		if t != nil {
			t.Close()
		}
	}
}

// forward reads IP packets from in and pushes each into the pipe of the link
// named by the last byte of its IPv4 address at offset addrOff (16: the
// destination, 12: the source); the pipe writes it to out.
func (f *Fabric) forward(in, out *os.File, pipes []*pipe, addrOff int) {
	if in == nil || out == nil {
		return
	}
	send := func(b []byte) error { _, err := out.Write(b); return err }
	buf := make([]byte, 1<<16)
	for {
		n, err := in.Read(buf)
		if err != nil {
			if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EAGAIN) {
				continue
			}
			return // closed
		}
		b := buf[:n]
		if n < 20 || b[0]>>4 != 4 || b[addrOff] != 10 || b[addrOff+1] != 99 {
			f.bad.Add(1)
			continue
		}
		i := int(b[addrOff+3]) - 1
		if i < 0 || i >= len(pipes) {
			f.bad.Add(1)
			continue
		}
		pipes[i].push(b, send)
	}
}

// openTUN makes a TUN device named qxb0 (IP packets, no packet information
// header) in namespace ns and returns it, non-blocking, for the poller.
func openTUN(ns string) (*os.File, error) {
	var fd int
	err := inNetns(ns, func() error {
		var err error
		fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("/dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq("qxb0")
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fabric: TUN in %s: %w", ns, err)
	}
	return os.NewFile(uintptr(fd), "tun:"+ns), nil
}

// inNetns runs fn on a locked OS thread switched into namespace ns.
func inNetns(ns string, fn func() error) error { return netns.Run(ns, fn) }
