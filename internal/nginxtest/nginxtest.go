// Package nginxtest runs nginx for a test: a real HTTP mirror serving a
// directory on 127.0.0.1, started with a configuration of its own in the
// test's temporary directory, stopped when the test ends.
package nginxtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quicxfer/quicxfer/internal/nginxconf"
)

// Server is a running nginx.
type Server struct {
	// URL is where it serves Root: http://127.0.0.1:PORT.
	URL  string
	Root string
}

// Path finds the nginx binary: nginx on PATH, or Debian's /usr/sbin/nginx.
func Path() (string, bool) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, true
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", true
	}
	return "", false
}

// Start runs nginx serving root, with extra directives inside its server
// block (say "limit_rate 1m;"). Without nginx the test is skipped, but
// under CI (CI=true), which installs it, it fails.
func Start(t testing.TB, root, extra string) *Server {
	t.Helper()
	bin, ok := Path()
	if !ok {
		if os.Getenv("CI") != "" {
			t.Fatal("nginx is not installed (CI installs nginx-light: see .ci/run)")
		}
		t.Skip("nginx is not installed (apt-get install nginx-light)")
	}
	dir := t.TempDir()
	for try := 0; ; try++ {
		port := freePort(t)
		conf := nginxconf.Config{Dir: dir, Listen: fmt.Sprintf("127.0.0.1:%d", port), Root: root, Extra: extra}.String()
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
		out, err := os.Create(filepath.Join(dir, "stderr"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting nginx: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait(); out.Close() }()
		url := fmt.Sprintf("http://127.0.0.1:%d", port)
		if waitUp(url, exited) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return &Server{URL: url, Root: root}
		}
		_ = cmd.Process.Kill()
		<-exited
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		if try < 3 && strings.Contains(string(log), "Address already in use") {
			continue // another process took the port between freePort and nginx
		}
		msg, _ := os.ReadFile(filepath.Join(dir, "stderr"))
		t.Fatalf("nginx did not start: %s%s", msg, log)
	}
}

// waitUp waits until nginx answers at url, or exits.
func waitUp(url string, exited <-chan error) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		resp, err := http.Get(url + "/")
		if err == nil {
			resp.Body.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// freePort is a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
