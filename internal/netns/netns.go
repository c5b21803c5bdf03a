// Package netns runs code inside a named network namespace (one that
// `ip netns add` made, under /var/run/netns): the sockets it opens stay
// there. The benchmark's kernel links and the tests that need a network of
// their own use it.
package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Dir is where `ip netns` keeps the named namespaces.
const Dir = "/var/run/netns"

// Run runs fn on a locked OS thread switched into namespace ns, and returns
// its error. If the thread cannot be switched back, its goroutine ends
// still locked, which makes the runtime discard the thread.
func Run(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(filepath.Join(Dir, ns))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// RemoveStale deletes the namespaces named prefix+PID+"-..." whose process
// PID no longer exists: those a process killed before its cleanup left
// behind. It is best-effort: what cannot be read or deleted stays.
func RemoveStale(prefix string) {
	ents, err := os.ReadDir(Dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = exec.Command("ip", "netns", "del", e.Name()).Run()
		}
	}
}
