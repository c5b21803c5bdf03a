package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/quicxfer/quicxfer/internal/nginxconf"
)

// # nginx mirrors
//
// Scenario 12's HTTP mirrors are real nginx processes, one per kernel link,
// each started inside the link's namespace with
//
//	ip netns exec NS /usr/sbin/nginx -p DIR -c DIR/nginx.conf -e DIR/error.log
//
// and a configuration of its own in DIR (no daemon, no master process,
// one worker, every temporary path in DIR, as internal/nginxtest does for
// the CLI's tests), listening on the namespace's seed address. Its access
// log has one line per request, the body bytes it sent ($body_bytes_sent),
// which Nginx.BodySent sums: what a mirror sent to a downloader, whichever
// downloader it was. `ip netns exec` execs nginx in its own process, so the
// process started is nginx itself; Close kills it (and so does this
// process's death: Pdeathsig). Scenario 1's nginx (StartNginxLoopback)
// runs the same way in this namespace, on 127.0.0.1. Without a master
// process nginx is one process, its own worker, so Nginx.CPUSeconds is the
// worker's.

// NginxMissing is why nginx mirrors cannot run where nginx is not
// installed.
const NginxMissing = "nginx is not installed (apt-get install nginx-light)"

// NginxPath finds the nginx binary: nginx on PATH, or Debian's
// /usr/sbin/nginx; ok is false if there is none.
func NginxPath() (path string, ok bool) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, true
	}
	if fi, err := os.Stat("/usr/sbin/nginx"); err == nil && fi.Mode().IsRegular() {
		return "/usr/sbin/nginx", true
	}
	return "", false
}

// nginxStartTimeout bounds how long StartNginx waits for nginx to answer.
const nginxStartTimeout = 15 * time.Second

// Nginx is an nginx process serving a directory from inside a network
// namespace.
type Nginx struct {
	addr   netip.AddrPort
	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
}

// StartNginx runs nginx in network namespace ns (as `ip netns exec`
// names it; "" is this process's), listening on addr and serving root,
// with its configuration, logs and temporary files in dir (which must
// exist), and returns once it answers. Close stops it.
func StartNginx(ctx context.Context, ns string, addr netip.AddrPort, root, dir string) (*Nginx, error) {
	bin, ok := NginxPath()
	if !ok {
		return nil, errors.New("bench: " + NginxMissing)
	}
	if !addr.IsValid() || addr.Port() == 0 {
		return nil, fmt.Errorf("bench: nginx needs an address with a port, got %s", addr)
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConf(dir, addr, root)), 0o644); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own copy
	n := &Nginx{addr: addr, dir: dir, exited: make(chan struct{})}
	args := []string{"-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")}
	if ns == "" {
		n.cmd = exec.Command(bin, args...)
	} else {
		n.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	}
	n.cmd.Stdout, n.cmd.Stderr = out, out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting nginx in %q: %w", ns, err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.exited)
	}()
	if err := n.waitUp(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// nginxLoopbackTries is how many free ports StartNginxLoopback tries: the
// port it picks may be taken by another process before nginx binds it.
const nginxLoopbackTries = 3

// StartNginxLoopback runs nginx in this network namespace on a free port
// of 127.0.0.1, serving root, with its files in dir (which must exist); see
// StartNginx.
func StartNginxLoopback(ctx context.Context, root, dir string) (*Nginx, error) {
	var err error
	for range nginxLoopbackTries {
		var port int
		if port, err = freeTCPPort(); err != nil {
			return nil, err
		}
		var n *Nginx
		if n, err = StartNginx(ctx, "", netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port)), root, dir); err == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// freeTCPPort returns a TCP port of 127.0.0.1 that nothing listens on now.
func freeTCPPort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// CPUSeconds returns the CPU seconds nginx has used so far (procCPU).
func (n *Nginx) CPUSeconds() (float64, error) { return procCPU(n.cmd.Process.Pid) }

// nginxConf is the configuration of an nginx that keeps everything in
// dir, logs each request's body bytes, and serves root on addr.
func nginxConf(dir string, addr netip.AddrPort, root string) string {
	return nginxconf.Config{Dir: dir, Listen: addr.String(), Root: root, AccessLog: true}.String()
}

// waitUp waits until nginx answers on its address (any status), exits, or
// nginxStartTimeout passes.
func (n *Nginx) waitUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, nginxStartTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	for {
		select {
		case <-n.exited:
			return fmt.Errorf("nginx exited at start (%v): %s", n.err, n.log())
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, "http://"+n.addr.String()+"/", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nginx did not answer on %s: %s", n.addr, n.log())
		case <-n.exited:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// log returns the last lines nginx wrote to its error log and stderr.
func (n *Nginx) log() string {
	var s []string
	for _, f := range []string{"stderr", "error.log"} {
		if b, err := os.ReadFile(filepath.Join(n.dir, f)); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			s = append(s, lastLine(string(b)))
		}
	}
	if len(s) == 0 {
		return "no log"
	}
	return strings.Join(s, "; ")
}

// URL returns the URL of path (which starts with /) on this nginx.
func (n *Nginx) URL(path string) string { return httpURL(n.addr, path) }

// httpURL is the http URL of path at addr, without the port if it is 80.
func httpURL(addr netip.AddrPort, path string) string {
	if addr.Port() == 80 {
		return "http://" + addr.Addr().String() + path
	}
	return "http://" + addr.String() + path
}

// BodySent returns the body bytes nginx has sent, summed over every request
// in its access log so far. A request is logged when its response ends (or
// fails: a client that closes the connection mid-body), so a download's
// last requests may be logged a moment after the client exits; see
// settledBodySent.
func (n *Nginx) BodySent() (int64, error) {
	f, err := os.Open(filepath.Join(n.dir, "access.log"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var sum int64
	s := bufio.NewScanner(f)
	for s.Scan() {
		v, err := strconv.ParseInt(strings.TrimSpace(s.Text()), 10, 64)
		if err != nil {
			continue // a line being written
		}
		sum += v
	}
	return sum, s.Err()
}

// settledBodySent returns BodySent once it has stopped changing for
// settleFor (or after settleMax): the requests a client abandoned are
// logged when nginx notices.
func (n *Nginx) settledBodySent() (int64, error) {
	const settleFor, settleMax = 150 * time.Millisecond, 3 * time.Second
	last, err := n.BodySent()
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(settleMax)
	for time.Now().Before(deadline) {
		time.Sleep(settleFor)
		v, err := n.BodySent()
		if err != nil {
			return 0, err
		}
		if v == last {
			return v, nil
		}
		last = v
	}
	return last, nil
}

// Close kills nginx and waits for it. It is idempotent.
func (n *Nginx) Close() error {
	select {
	case <-n.exited:
		return nil
	default:
	}
	if err := n.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-n.exited
	return nil
}
