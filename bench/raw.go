package bench

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// rawALPN is the raw ceiling's protocol; its client runs with
// quicxfer.QUICConfig(), the downloader's own settings.
const rawALPN = "quicxfer-bench-raw"

// childEnv names the role a self-executed child plays; see RunChild.
const childEnv = "QUICXFER_BENCH_CHILD"

// RawOptions configures a raw quic-go transfer.
type RawOptions struct {
	Size int64 // bytes to transfer in all
	// Conns is how many connections transfer Size together, each on one
	// stream of its share (Size ÷ Conns, the first takes the remainder), all
	// at once through one quic.Transport on one UDP socket, as the
	// downloader dials a seed; 0 is 1.
	Conns int
	// InProcess runs the server in this process. By default it runs in a
	// child process (this executable, re-run with RunChild's environment),
	// as a real seed and downloader would.
	InProcess bool
	// Link, if set, puts an emulated link between client and server.
	Link *LinkConfig
	// ChildArgs are the arguments with which this executable reaches
	// RunChild: nil for a test binary (TestMain calls it) and for
	// quicxfer-bench, whose main calls it first.
	ChildArgs []string
}

// RawResult is the outcome of a raw transfer.
type RawResult struct {
	Bytes      int64         `json:"bytes"`
	Conns      int           `json:"conns"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	Throughput float64       `json:"throughput_bytes_per_s"`
	Child      bool          `json:"server_in_child_process"`
	// ClientCPU is this process's user+system CPU seconds over the
	// transfer (getrusage): the client's, and the link's with
	// RawOptions.Link, the server's with RawOptions.InProcess.
	ClientCPU       float64 `json:"client_cpu_s"`
	ClientCPUPerGiB float64 `json:"client_cpu_s_per_gib"`
	// ServerCPU is the server child's CPU seconds over the transfer
	// (procCPU before and after); 0 with the server in
	// this process.
	ServerCPU       float64 `json:"server_cpu_s,omitempty"`
	ServerCPUPerGiB float64 `json:"server_cpu_s_per_gib,omitempty"`
}

// RawQUIC transfers o.Size bytes over o.Conns quic-go connections, one
// stream each, from a server to a client with the downloader's
// flow-control windows, and returns the rate: the ceiling a quicxfer
// download with as many connections on the same path can approach. The
// clock runs from opening the streams (once every handshake is done) to the
// end of the last one.
//
// Unless o.InProcess, the executable must call RunChild at the start of
// main (or TestMain).
func RawQUIC(ctx context.Context, o RawOptions) (RawResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		addr *net.UDPAddr
		wait func() error
		pid  int // the server child's
	)
	if o.InProcess {
		ln, closeAll, err := rawListen()
		if err != nil {
			return RawResult{}, err
		}
		var wg sync.WaitGroup
		wg.Go(func() { rawServe(ctx, ln) })
		addr = ln.Addr().(*net.UDPAddr)
		wait = func() error { cancel(); wg.Wait(); closeAll(); return nil }
	} else {
		a, p, w, err := startRawChild(ctx, o.ChildArgs)
		if err != nil {
			return RawResult{}, err
		}
		addr, pid, wait = a, p, w
	}
	res, err := rawFetch(ctx, addr, pid, o)
	if werr := wait(); err == nil && werr != nil {
		err = werr
	}
	res.Child = !o.InProcess
	return res, err
}

// rawFetch dials o.Conns connections to addr and transfers o.Size bytes
// over them; pid, if not 0, is the server process, whose CPU it measures.
func rawFetch(ctx context.Context, addr *net.UDPAddr, pid int, o RawOptions) (RawResult, error) {
	if o.Link != nil {
		l, err := NewLink(ctx, addr, *o.Link)
		if err != nil {
			return RawResult{}, err
		}
		defer l.Close()
		addr = l.Addr()
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return RawResult{}, err
	}
	tr := &quic.Transport{Conn: udp}
	defer udp.Close()
	defer tr.Close()
	nconns := max(o.Conns, 1)
	conns := make([]*quic.Conn, 0, nconns)
	defer func() {
		for _, c := range conns {
			c.CloseWithError(0, "")
		}
	}()
	for range nconns {
		conn, err := tr.Dial(ctx, addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{rawALPN}}, quicxfer.QUICConfig())
		if err != nil {
			return RawResult{}, fmt.Errorf("raw: dialling %s: %w", addr, err)
		}
		conns = append(conns, conn)
	}
	var server0 float64
	if pid != 0 {
		if server0, err = procCPU(pid); err != nil {
			return RawResult{}, fmt.Errorf("raw: the server's CPU: %w", err)
		}
	}
	client0 := cpuSeconds()
	start := time.Now()
	got := make([]int64, nconns)
	errs := make([]error, nconns)
	var wg sync.WaitGroup
	for i, conn := range conns {
		share := o.Size / int64(nconns)
		if i == 0 {
			share += o.Size % int64(nconns)
		}
		wg.Go(func() { got[i], errs[i] = rawStream(ctx, conn, share) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := RawResult{Conns: nconns, Elapsed: elapsed, ClientCPU: cpuSeconds() - client0}
	if err := errors.Join(errs...); err != nil {
		return RawResult{}, fmt.Errorf("raw: %w", err)
	}
	if pid != 0 {
		server1, err := procCPU(pid)
		if err != nil {
			return RawResult{}, fmt.Errorf("raw: the server's CPU: %w", err)
		}
		res.ServerCPU = server1 - server0
	}
	for _, n := range got {
		res.Bytes += n
	}
	res.Throughput = float64(res.Bytes) / elapsed.Seconds()
	res.ClientCPUPerGiB, res.ServerCPUPerGiB = perGiB(res.ClientCPU, res.Bytes), perGiB(res.ServerCPU, res.Bytes)
	return res, nil
}

// rawStream asks conn's server for size bytes on a new stream and reads
// them.
func rawStream(ctx context.Context, conn *quic.Conn, size int64) (int64, error) {
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() { str.CancelRead(1) })
	defer stop()
	if _, err := str.Write(binary.BigEndian.AppendUint64(nil, uint64(size))); err != nil {
		return 0, err
	}
	str.Close()
	n, err := io.CopyBuffer(io.Discard, str, make([]byte, 256<<10))
	if err == nil && n != size {
		err = fmt.Errorf("received %d bytes, want %d", n, size)
	}
	return n, err
}

// rawListen starts a raw server's listener; closeAll closes it, its
// transport and its socket.
func rawListen() (ln *quic.Listener, closeAll func(), err error) {
	cert, err := selfSignedCert()
	if err != nil {
		return nil, nil, err
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, err
	}
	setBuffers(udp)
	tr := &quic.Transport{Conn: udp}
	ln, err = tr.Listen(&tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{rawALPN}},
		&quic.Config{MaxIdleTimeout: 30 * time.Second})
	if err != nil {
		udp.Close()
		return nil, nil, err
	}
	return ln, func() { ln.Close(); tr.Close(); udp.Close() }, nil
}

// rawServe answers every stream of every connection with the number of
// bytes the stream asks for, until ctx is done.
func rawServe(ctx context.Context, ln *quic.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	payload := make([]byte, 1<<20)
	_, _ = rand.Read(payload)
	for {
		conn, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		wg.Go(func() {
			defer conn.CloseWithError(0, "")
			stop := context.AfterFunc(ctx, func() { conn.CloseWithError(0, "server stopping") })
			defer stop()
			for {
				str, err := conn.AcceptStream(ctx)
				if err != nil {
					return
				}
				var hdr [8]byte
				if _, err := io.ReadFull(str, hdr[:]); err != nil {
					str.CancelWrite(1)
					continue
				}
				for left := int64(binary.BigEndian.Uint64(hdr[:])); left > 0; {
					n := min(left, int64(len(payload)))
					if _, err := str.Write(payload[:n]); err != nil {
						break
					}
					left -= n
				}
				str.Close()
			}
		})
	}
}

func selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// startRawChild runs this executable as a raw server and returns its
// address and process ID. The child prints its address, then serves until
// its standard input closes; wait closes it and waits for the child to
// exit.
func startRawChild(ctx context.Context, args []string) (*net.UDPAddr, int, func() error, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, 0, nil, err
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(cleanEnv(), childEnv+"=raw-server")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, 0, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, 0, nil, fmt.Errorf("raw: starting server process: %w", err)
	}
	wait := func() error {
		stdin.Close()
		return cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = wait()
		return nil, 0, nil, fmt.Errorf("raw: server process did not start (is RunChild called first in main/TestMain?): %w", err)
	}
	addr, err := net.ResolveUDPAddr("udp4", strings.TrimSpace(line))
	if err != nil {
		_ = wait()
		return nil, 0, nil, fmt.Errorf("raw: server process said %q: %w", line, err)
	}
	return addr, cmd.Process.Pid, wait, nil
}

// RunChild plays the role this process was started for by the bench package
// (the raw quic-go server, or scenario 10's attackers), if any, and then exits; otherwise it returns at
// once. Call it first in TestMain of any test that calls RawQUIC, or where
// RawOptions.ChildArgs lead (quicxfer-bench calls it first).
func RunChild() {
	role := os.Getenv(childEnv)
	if role == "" {
		return
	}
	if err := runChild(role); err != nil {
		fmt.Fprintf(os.Stderr, "bench child %s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runChild(role string) error {
	if role == "attack" {
		return runAttackChild()
	}
	if role != "raw-server" {
		return errors.New("unknown role")
	}
	ln, closeAll, err := rawListen()
	if err != nil {
		return err
	}
	defer closeAll()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fmt.Println(ln.Addr().String())
	go func() {
		// The parent closes standard input when it is done (or dies).
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	rawServe(ctx, ln)
	return nil
}
