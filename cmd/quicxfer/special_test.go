package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/internal/testpki"
)

// sparse makes a sparse regular file of size bytes: as large as one likes,
// without the disk.
func sparse(t *testing.T, p string, size int64) {
	t.Helper()
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(size))
	require.NoError(t, f.Close())
}

// mknull makes a character device like /dev/null in the test's own
// directory (never a real device node); false if it cannot.
func mknull(t *testing.T, p string) bool {
	t.Helper()
	err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
	if err != nil {
		t.Logf("mknod: %v", err)
	}
	return err == nil
}

func nlink(t *testing.T, p string) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(p, &st))
	return uint64(st.Nlink)
}

// TestGetRefusesHardLinkedFiles: a hard link to someone's file where one of
// get's working files belongs is refused in one line, before anything is
// written (the state missing: nothing is "re-checked" or "resized"); the
// file keeps its content and its other name, and no OUT appears.
func TestGetRefusesHardLinkedFiles(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "f.bin"), 300000, 50)
	u := startSeed(t, dir)
	for _, suffix := range []string{".qxpart", ".qxstate", ".qxstate.tmp", ".qxcmd", ".qxcmd.tmp"} {
		t.Run(suffix, func(t *testing.T) {
			work := t.TempDir()
			victim := filepath.Join(work, "victim")
			require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o600))
			out := filepath.Join(work, "f.bin")
			require.NoError(t, os.Link(victim, out+suffix))
			r := runGuarded(t, "", nil, "get", "--seed", u, "-o", out, "--quiet", "f.bin")
			requireOneLine(t, r, out+suffix+" has 2 hard links")
			require.NotContains(t, r.stderr, "re-checking")
			got, err := os.ReadFile(victim)
			require.NoError(t, err)
			require.Equal(t, "precious", string(got))
			require.Equal(t, uint64(2), nlink(t, victim), "the link is left as it is")
			require.NoFileExists(t, out)
			ents, err := os.ReadDir(work)
			require.NoError(t, err)
			require.Len(t, ents, 2, "nothing created beside them")

			if suffix == ".qxpart" || suffix == ".qxstate" {
				st := statusOf(t, out)
				require.Contains(t, st.Note, "the next get refuses to start: "+out+suffix+" has 2 hard links")
			}
		})
	}
}

// TestGetRefusesSpecialWorkingFiles: a FIFO or a device where one of get's
// working files belongs is refused in one line at once (no hang), and left
// where it is; status on such a download does not hang either.
func TestGetRefusesSpecialWorkingFiles(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "f.bin"), 300000, 51)
	u := startSeed(t, dir)
	for _, kind := range []string{"fifo", "device"} {
		for _, suffix := range []string{".qxpart", ".qxstate", ".qxstate.tmp", ".qxcmd", ".qxcmd.tmp"} {
			t.Run(kind+suffix, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "f.bin")
				p := out + suffix
				if kind == "fifo" {
					require.NoError(t, unix.Mkfifo(p, 0o644))
				} else if !mknull(t, p) {
					t.Skip("no device nodes here")
				}
				r := runGuarded(t, "", nil, "get", "--seed", u, "-o", out, "--quiet", "f.bin")
				requireOneLine(t, r, p+" is not a regular file")
				fi, err := os.Lstat(p)
				require.NoError(t, err)
				require.False(t, fi.Mode().IsRegular(), "left where it is")
				require.NoFileExists(t, out)

				switch s := runGuarded(t, "", nil, "status", out); suffix {
				case ".qxstate":
					requireOneLine(t, s, p+" is not a regular file")
				case ".qxpart":
					require.Zero(t, s.code, s.stderr)
					require.Contains(t, s.stdout, "the next get refuses to start: "+p+" is not a regular file")
				}
			})
		}
	}
}

// TestFlagFilesBounded: every file a flag names (a token file, a CA file, a
// client certificate or key, the seed's certificate, key and client CA,
// a manifest file, the input of manifest) that is a FIFO, a device or far
// larger than any such file is refused in one line, at once, without
// reading it into memory.
func TestFlagFilesBounded(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandom(t, filepath.Join(src, "f.bin"), 1000, 52)
	u := startSeed(t, src)
	ca := testpki.NewCA(t, "flags")
	_, certPEM, keyPEM := ca.Issue(t, false)
	cert, key := testpki.WritePEM(t, certPEM), testpki.WritePEM(t, keyPEM)

	bad := map[string]string{"fifo": filepath.Join(dir, "fifo"), "big": filepath.Join(dir, "big"), "link to big": filepath.Join(dir, "link")}
	require.NoError(t, unix.Mkfifo(bad["fifo"], 0o644))
	sparse(t, bad["big"], 64<<20) // /dev/zero, but with an end
	require.NoError(t, os.Symlink(bad["big"], bad["link to big"]))
	if p := filepath.Join(dir, "null"); mknull(t, p) {
		bad["device"] = p
	}
	want := map[string]string{"fifo": "is not a regular file (a FIFO)", "device": "is not a regular file (a character device)", "big": "is larger than", "link to big": "is larger than"}

	out := filepath.Join(t.TempDir(), "o")
	for _, tc := range []struct {
		name string
		args func(f string) []string
	}{
		{"get --token-file", func(f string) []string { return []string{"get", "--seed", u, "--token-file", f, "-o", out, "f.bin"} }},
		{"get --ca", func(f string) []string { return []string{"get", "--seed", u, "--ca", f, "-o", out, "f.bin"} }},
		{"get --manifest", func(f string) []string { return []string{"get", "--seed", u, "--manifest", f, "-o", out, "f.bin"} }},
		{"ls --client-cert", func(f string) []string { return []string{"ls", "--seed", u, "--client-cert", f, "--client-key", key} }},
		{"ls --client-key", func(f string) []string { return []string{"ls", "--seed", u, "--client-cert", cert, "--client-key", f} }},
		{"seed --check --cert", func(f string) []string {
			return []string{"seed", "--check", "--state-dir", t.TempDir(), "--cert", f, "--key", key, src}
		}},
		{"seed --check --key", func(f string) []string {
			return []string{"seed", "--check", "--state-dir", t.TempDir(), "--cert", cert, "--key", f, src}
		}},
		{"seed --check --client-ca", func(f string) []string {
			return []string{"seed", "--check", "--state-dir", t.TempDir(), "--client-ca", f, src}
		}},
		{"seed --check --token-file", func(f string) []string {
			return []string{"seed", "--check", "--state-dir", t.TempDir(), "--token-file", f, src}
		}},
		{"seed --token-file", func(f string) []string {
			return []string{"seed", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--token-file", f, src}
		}},
		{"seed --client-ca", func(f string) []string {
			return []string{"seed", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--client-ca", f, src}
		}},
		{"manifest FILE", func(f string) []string { return []string{"manifest", f} }},
	} {
		for kind, f := range bad {
			if tc.name == "manifest FILE" && strings.Contains(kind, "big") {
				continue // any size is hashed
			}
			t.Run(tc.name+" "+kind, func(t *testing.T) {
				r := runGuarded(t, "", nil, tc.args(f)...)
				w := want[kind]
				if tc.name == "get --manifest" && strings.Contains(kind, "big") {
					w = "larger than any manifest"
				}
				requireOneLine(t, r, w)
				require.NoFileExists(t, out)
			})
		}
	}
}

// TestStatusBoundedRecord: an OUT.qxcmd that is huge, a symbolic link (to
// a huge file) or a FIFO is not read (beyond its bound) nor waited on:
// status says in a note why no command is shown.
func TestStatusBoundedRecord(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big")
	sparse(t, big, 1<<30)
	for _, tc := range []struct {
		name, want string
		plant      func(p string)
	}{
		{"huge", "is larger than", func(p string) { sparse(t, p, 1<<30) }},
		{"symlink", "is a symbolic link", func(p string) { require.NoError(t, os.Symlink(big, p)) }},
		{"fifo", "is not a regular file (a FIFO)", func(p string) { require.NoError(t, unix.Mkfifo(p, 0o644)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "f.bin")
			plantPartial(t, out, nil)
			tc.plant(out + ".qxcmd")
			r := runGuarded(t, "", nil, "status", out)
			require.Zero(t, r.code, r.stderr)
			require.Contains(t, r.stdout, out+".qxcmd is not shown: ")
			require.Contains(t, r.stdout, tc.want)
			require.Contains(t, r.stdout, "(no recorded get to show: give its seeds and NAME)")
		})
	}
}

// TestSecondSignal: after a first SIGINT or SIGTERM has cancelled the
// command, a second one ends the process at once with exit code 130, even
// when the command does not stop (the helper process never returns).
func TestSecondSignal(t *testing.T) {
	if os.Getenv("QUICXFER_SECOND_SIGNAL_HELPER") == "1" {
		ctx, _ := interrupts(os.Stderr, os.Exit)
		os.Stdout.WriteString("ready\n")
		<-ctx.Done()
		os.Stdout.WriteString("cancelled\n")
		select {} // a command stuck where the context does not reach
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSecondSignal$")
			cmd.Env = append(os.Environ(), "QUICXFER_SECOND_SIGNAL_HELPER=1")
			p := startCmd(t, cmd)
			require.Equal(t, "ready", p.line(t))
			require.NoError(t, cmd.Process.Signal(sig))
			require.Equal(t, "cancelled", p.line(t), "the first signal cancels the context")
			require.Equal(t, 130, p.stop(t, sig), "the second %v ends the process", sig)
			require.Contains(t, p.stderr.String(), "again: exiting at once")
		})
	}
}

// TestGetEmptyOutput: an empty -o (or QUICXFER_OUTPUT) is a usage error,
// not the default name.
func TestGetEmptyOutput(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "f.bin"), 1000, 53)
	u := startSeed(t, dir)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"-o ''", nil, []string{"get", "--seed", u, "-o", "", "f.bin"}},
		{"--output=", nil, []string{"get", "--seed", u, "--output=", "f.bin"}},
		{"QUICXFER_OUTPUT=", []string{"QUICXFER_OUTPUT="}, []string{"get", "--seed", u, "f.bin"}},
		{"--all -o ''", nil, []string{"get", "--seed", u, "--all", "-o", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			r := runGuarded(t, work, tc.env, tc.args...)
			require.Equal(t, 2, r.code, r.stderr)
			requireOneLine(t, r, "--output")
			require.Contains(t, r.stderr, "is empty")
			ents, err := os.ReadDir(work)
			require.NoError(t, err)
			require.Empty(t, ents, "nothing created")
		})
	}
}

// TestGetLongOut: an OUT the OS takes but whose working files' names would
// be longer than NAME_MAX is refused in one line before anything is created
// (or asked of a seed); the longest OUT that fits downloads.
func TestGetLongOut(t *testing.T) {
	dir := t.TempDir()
	data := writeRandom(t, filepath.Join(dir, "f.bin"), 300000, 54)
	u := startSeed(t, dir)
	work := t.TempDir()
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(work, &st))
	max := int(st.Namelen)
	longest := len(".qxstate.tmp")
	for _, n := range []int{max - longest + 1, max - len(".qxpart"), max} {
		out := filepath.Join(work, strings.Repeat("x", n))
		r := runGuarded(t, "", nil, "get", "--seed", u, "-o", out, "--quiet", "f.bin")
		requireOneLine(t, r, "longer than the 255 its file system allows")
		require.NotContains(t, r.stderr, "file name too long")
		ents, err := os.ReadDir(work)
		require.NoError(t, err)
		require.Empty(t, ents, "nothing created for a %d-byte OUT", n)
	}
	out := filepath.Join(work, strings.Repeat("x", max-longest))
	r := runGuarded(t, "", nil, "get", "--seed", u, "-o", out, "--quiet", "f.bin")
	require.Zero(t, r.code, r.stderr)
	requireFile(t, out, data)
}

// TestStatusOddPaths: only a regular file is a complete OUT (a device is
// not a download); leftovers beside a complete OUT are named; a directory
// status cannot read is skipped with a note, not the end of the walk.
func TestStatusOddPaths(t *testing.T) {
	t.Run("device", func(t *testing.T) {
		dev := filepath.Join(t.TempDir(), "null")
		if !mknull(t, dev) {
			t.Skip("no device nodes here")
		}
		r := runGuarded(t, "", nil, "status", dev)
		requireOneLine(t, r, "is not a regular file (a character device)")
		require.NotContains(t, r.stdout, "complete")
	})
	t.Run("fifo", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "fifo")
		require.NoError(t, unix.Mkfifo(p, 0o644))
		requireOneLine(t, runGuarded(t, "", nil, "status", p), "is not a regular file (a FIFO)")
	})
	t.Run("leftovers beside a complete OUT", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "f.bin")
		require.NoError(t, os.WriteFile(out, []byte("done"), 0o644))
		require.NoError(t, os.WriteFile(out+".qxstate", []byte("old"), 0o644))
		require.NoError(t, os.WriteFile(out+".qxcmd", []byte("{}"), 0o644))
		st := statusOf(t, out)
		require.Equal(t, "complete", st.State)
		require.Contains(t, st.Note, out+".qxstate and "+out+".qxcmd left over")
		require.NotContains(t, st.Note, "nothing partial left")
	})
	t.Run("unreadable directory", func(t *testing.T) {
		root := t.TempDir()
		require.NoError(t, os.Chmod(root, 0o755))
		for d := filepath.Dir(root); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			require.NoError(t, os.Chmod(d, 0o755)) // t.TempDir's parents, for another user
		}
		for _, d := range []string{"a", "m", "z"} {
			require.NoError(t, os.Mkdir(filepath.Join(root, d), 0o755))
		}
		plantPartial(t, filepath.Join(root, "a", "f.bin"), nil)
		plantPartial(t, filepath.Join(root, "z", "g.bin"), nil)
		closed := filepath.Join(root, "m")
		plantPartial(t, filepath.Join(closed, "h.bin"), nil)
		require.NoError(t, os.Chmod(closed, 0))
		t.Cleanup(func() { _ = os.Chmod(closed, 0o755) })

		cmd := exec.Command(bin, "status", "--json", root)
		if os.Geteuid() == 0 {
			// Root reads any directory: run status as nobody, from a copy
			// of the binary nobody may run.
			exe := filepath.Join(root, "quicxfer")
			b, err := os.ReadFile(bin)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(exe, b, 0o755))
			cmd = exec.Command(exe, "status", "--json", root)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), stderr.String())
		var ds struct {
			Files   []statusJSON `json:"files"`
			Skipped []string     `json:"skipped"`
		}
		require.NoError(t, json.Unmarshal([]byte(stdout.String()), &ds), stdout.String())
		require.Len(t, ds.Files, 2, "the readable ones are all shown")
		require.Len(t, ds.Skipped, 1)
		require.Contains(t, ds.Skipped[0], closed)
		require.Contains(t, ds.Skipped[0], "permission denied")
		require.Contains(t, stderr.String(), "status: skipped 1 it could not read: ")
	})
	t.Run("virtual file systems", func(t *testing.T) {
		if _, err := os.Stat("/proc/self"); err != nil {
			t.Skip("no /proc")
		}
		require.True(t, virtualFS("/proc"))
		require.False(t, virtualFS(t.TempDir()))
	})
}
