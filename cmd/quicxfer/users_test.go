package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
)

// statusOf runs `status --json OUT` and decodes it.
func statusOf(t *testing.T, out string) statusJSON {
	t.Helper()
	r := run(t, "status", "--json", out)
	require.Zero(t, r.code, r.stderr)
	var st statusJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), r.stdout)
	return st
}

// startGet starts args in dir and returns the process once
// OUT.qxstate records at least one verified block.
func startGet(t *testing.T, dir string, env []string, out string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		require.True(t, time.Now().Before(deadline), "no block recorded in %s", out+".qxstate")
		if r := run(t, "status", "--json", out); r.code == 0 {
			var st statusJSON
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &st))
			if st.State == "partial" && st.BlocksVerified > 0 {
				return cmd
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStatusOfPartialDownload interrupts a real download with SIGKILL and
// checks what status says about it, in both output modes, while it runs and
// after; then runs the command status names, which completes the file.
func TestStatusOfPartialDownload(t *testing.T) {
	src := t.TempDir()
	const size = 12 << 20
	data := writeRandom(t, filepath.Join(src, "isos", "big.bin"), size, 21)
	u := startSeed(t, "--rate-limit", "4MB/s", src)
	work := t.TempDir()
	const secret = "token-that-must-not-be-written"
	// The seed from the environment, the token too: status must show the
	// seed as a flag (the command works without that environment) and must
	// not write the token anywhere.
	env := []string{"QUICXFER_SEED=" + u, "QUICXFER_TOKEN=" + secret}
	cmd := startGet(t, work, env, filepath.Join(work, "big.bin"), "get", "-o", "big.bin", "--quiet", "isos/big.bin")

	running := statusOf(t, filepath.Join(work, "big.bin"))
	if _, err := os.Stat("/proc/locks"); err == nil {
		require.True(t, running.Running, "the download holds its lock")
		require.Equal(t, cmd.Process.Pid, running.PID)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	out := filepath.Join(work, "big.bin")
	st := statusOf(t, out)
	require.Equal(t, "partial", st.State)
	require.False(t, st.Running, "the killed download holds no lock")
	require.Equal(t, "isos/big.bin", st.Name)
	require.Equal(t, int64(size), st.Size)
	require.Equal(t, int64(128<<10), st.BlockSize)
	require.Equal(t, 96, st.Blocks)
	require.Positive(t, st.BlocksVerified)
	require.Less(t, st.BlocksVerified, st.Blocks)
	require.Equal(t, int64(st.BlocksVerified)*st.BlockSize, st.BytesVerified, "12 MiB is 96 whole blocks")
	require.InDelta(t, 100*float64(st.BytesVerified)/size, st.Percent, 1e-9)
	require.Len(t, st.Bitmap, 64)
	require.Regexp(t, `^[#+.]+$`, st.Bitmap)
	require.Contains(t, st.Bitmap, "#")
	require.Contains(t, st.Bitmap, ".")
	require.Equal(t, []string{"quicxfer", "get", "--seed", u, "--output", "big.bin", "--quiet", "isos/big.bin"}, st.ResumeArgs)
	require.True(t, st.TokenNeeded)
	require.Contains(t, st.ResumeCommand, "cd ", "status ran in another directory")
	rec, err := os.ReadFile(out + ".qxcmd")
	require.NoError(t, err)
	require.NotContains(t, string(rec), secret)

	// The same in lines.
	text := run(t, "status", out)
	require.Zero(t, text.code, text.stderr)
	require.Contains(t, text.stdout, `partial download of "isos/big.bin"`)
	require.Contains(t, text.stdout, st.ContentID)
	require.Contains(t, text.stdout, "of 96 blocks")
	require.Contains(t, text.stdout, "["+st.Bitmap+"]")
	require.Contains(t, text.stdout, "resume      "+st.ResumeCommand)
	require.Contains(t, text.stdout, "QUICXFER_TOKEN")

	// The command status names resumes the download.
	resumed := runEnv(t, st.ResumeDir, []string{"QUICXFER_TOKEN=" + secret}, append([]string{"get", "--json"}, st.ResumeArgs[2:]...)...)
	require.Zero(t, resumed.code, resumed.stderr)
	var j getJSON
	require.NoError(t, json.Unmarshal([]byte(resumed.stdout), &j))
	require.GreaterOrEqual(t, j.ResumedBytes, st.BytesVerified)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, data, got)
	_, err = os.Stat(out + ".qxcmd")
	require.ErrorIs(t, err, os.ErrNotExist, "the record goes with the partial files")

	// Complete: said so, without re-checking.
	done := statusOf(t, out)
	require.Equal(t, "complete", done.State)
	require.Equal(t, int64(size), done.Size)
	text = run(t, "status", out)
	require.Zero(t, text.code)
	require.Contains(t, text.stdout, "complete")

	// Nothing there: one line, non-zero.
	none := run(t, "status", filepath.Join(work, "nothing.bin"))
	require.Equal(t, 1, none.code)
	require.Contains(t, none.stderr, "no download at")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(none.stderr), "\n")+1, "one line: %q", none.stderr)
}

// TestStatusDamagedState: a state file whose checksum fails is reported as
// unreadable, with what the next get does, and no picture.
func TestStatusDamagedState(t *testing.T) {
	out := filepath.Join(t.TempDir(), "f.bin")
	require.NoError(t, os.WriteFile(out+".qxpart", make([]byte, 1000), 0o644))
	require.NoError(t, os.WriteFile(out+".qxstate", []byte("QXSTATE\nnot a state"), 0o644))
	st := statusOf(t, out)
	require.Equal(t, "unreadable", st.State)
	require.Empty(t, st.Bitmap)
	require.Contains(t, st.Note, "re-checks the data")
	text := run(t, "status", out)
	require.Zero(t, text.code)
	require.Contains(t, text.stdout, "state unreadable")
	require.Contains(t, text.stdout, "quicxfer get --seed URL", "the generic command when none is recorded")
	require.Equal(t, out, statusOf(t, out+".qxpart").Out, "the part file's name stands for the download")
}

type dirResult struct {
	Dir          string `json:"dir"`
	FilesDone    int    `json:"files_done"`
	FilesTotal   int    `json:"files_total"`
	Size         int64  `json:"size"`
	FetchedBytes int64  `json:"fetched_bytes"`
	ResumedBytes int64  `json:"resumed_bytes"`
	OK           bool   `json:"ok"`
	Error        string `json:"error"`
	Seeds        []struct {
		URL   string `json:"url"`
		Bytes int64  `json:"bytes"`
	} `json:"seeds"`
	Files []struct {
		Out          string `json:"out"`
		Name         string `json:"name"`
		Size         int64  `json:"size"`
		ResumedBytes int64  `json:"resumed_bytes"`
		OK           bool   `json:"ok"`
	} `json:"files"`
}

// requireTree checks that dir holds exactly want (relative path to bytes)
// and no partial files.
func requireTree(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	got := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			got[filepath.ToSlash(rel)] = b
		}
		return nil
	}))
	require.Equal(t, len(want), len(got), "files: %v", keys(got))
	for k, v := range want {
		require.Equal(t, v, got[k], k)
	}
}

func keys[V any](m map[string]V) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	return k
}

// TestGetDirectory downloads a directory of nested files (one empty) from
// two seeds, by its name and with --all, and checks the tree and the JSON.
func TestGetDirectory(t *testing.T) {
	src := t.TempDir()
	want := map[string][]byte{
		"a.bin":      writeRandom(t, filepath.Join(src, "docs", "a.bin"), 1<<20+3, 31),
		"sub/b.txt":  writeRandom(t, filepath.Join(src, "docs", "sub", "b.txt"), 5000, 32),
		"sub/deep/c": writeRandom(t, filepath.Join(src, "docs", "sub", "deep", "c"), 128<<10, 33),
		"sub/empty":  writeRandom(t, filepath.Join(src, "docs", "sub", "empty"), 0, 34),
	}
	// Not under docs/: a name that only starts like it.
	other := writeRandom(t, filepath.Join(src, "docsfile.txt"), 10, 35)
	u1, u2 := startSeed(t, src), startSeed(t, src)

	work := t.TempDir()
	r := runEnv(t, work, nil, "get", "--seed", u1, "--seed", u2, "--json", "docs")
	require.Zero(t, r.code, r.stderr)
	var j dirResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j), r.stdout)
	require.True(t, j.OK)
	require.Equal(t, "docs", j.Dir, "the default OUTDIR is the directory's base name")
	require.Equal(t, 4, j.FilesTotal)
	require.Equal(t, 4, j.FilesDone)
	require.Equal(t, int64(1<<20+3+5000+128<<10), j.Size)
	require.Len(t, j.Seeds, 2)
	require.Equal(t, j.Size, j.Seeds[0].Bytes+j.Seeds[1].Bytes)
	require.Len(t, j.Files, 4)
	require.Equal(t, "docs/a.bin", j.Files[0].Name)
	require.Equal(t, filepath.Join("docs", "a.bin"), j.Files[0].Out)
	requireTree(t, filepath.Join(work, "docs"), want)

	// Again: every file is already there, checked and kept, nothing fetched.
	r = runEnv(t, work, nil, "get", "--seed", u1, "--json", "-o", "docs", "docs/")
	require.Zero(t, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j))
	require.Zero(t, j.FetchedBytes)
	require.Equal(t, j.Size, j.ResumedBytes)

	// --all: every file, full names, into -o.
	all := filepath.Join(t.TempDir(), "mirror")
	r = run(t, "get", "--seed", u1, "--all", "-o", all, "--quiet")
	require.Zero(t, r.code, r.stderr)
	wantAll := map[string][]byte{"docsfile.txt": other}
	for k, v := range want {
		wantAll["docs/"+k] = v
	}
	requireTree(t, all, wantAll)

	// A directory no seed has: the single file's one-line error.
	r = run(t, "get", "--seed", u1, "-o", filepath.Join(t.TempDir(), "x"), "nodir")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "not found")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, r.stderr)
	r = run(t, "get", "--seed", u1, "--all", "--id", strings.Repeat("ab", 32))
	require.Equal(t, 2, r.code, r.stderr)
}

// TestGetDirectoryResume kills a directory download half way and runs it
// again: complete files are kept, the partial one resumes, status of the
// directory shows it in between.
func TestGetDirectoryResume(t *testing.T) {
	src := t.TempDir()
	want := map[string][]byte{
		"small":     writeRandom(t, filepath.Join(src, "set", "small"), 1000, 41),
		"z/big.bin": writeRandom(t, filepath.Join(src, "set", "z", "big.bin"), 12<<20, 42),
	}
	u := startSeed(t, "--rate-limit", "4MB/s", src)
	work := t.TempDir()
	args := []string{"get", "--seed", u, "--parallel", "1", "--quiet"}
	cmd := startGet(t, work, nil, filepath.Join(work, "set", "z", "big.bin"), append(args, "set")...)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	r := run(t, "status", "--json", filepath.Join(work, "set"))
	require.Zero(t, r.code, r.stderr)
	var ds struct {
		Files []statusJSON `json:"files"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ds))
	require.Len(t, ds.Files, 1, "only the big file is partial")
	require.Equal(t, "set/z/big.bin", ds.Files[0].Name)
	require.Equal(t, []string{"quicxfer", "get", "--seed", u, "--quiet", "--parallel", "1", "set"}, ds.Files[0].ResumeArgs)

	r = runEnv(t, work, nil, append(args, "--json", "set")...)
	require.Zero(t, r.code, r.stderr)
	var j dirResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j))
	require.Equal(t, 2, j.FilesDone)
	require.Greater(t, j.ResumedBytes, int64(1000), "the big file's verified blocks are kept")
	requireTree(t, filepath.Join(work, "set"), want)
}

// TestGetDirectoryRefusesToEscape: a directory in OUTDIR that is a symbolic
// link to elsewhere is not written through; the other files are fetched and
// the command fails with one line.
func TestGetDirectoryRefusesToEscape(t *testing.T) {
	src := t.TempDir()
	writeRandom(t, filepath.Join(src, "d", "ok"), 100, 51)
	writeRandom(t, filepath.Join(src, "d", "sub", "f"), 100, 52)
	u := startSeed(t, src)
	outdir, elsewhere := t.TempDir(), t.TempDir()
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(outdir, "sub")))
	r := run(t, "get", "--seed", u, "-o", outdir, "--quiet", "d")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "refusing to write through it")
	require.Contains(t, r.stderr, "1 of 2 files failed")
	entries, err := os.ReadDir(elsewhere)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing written outside OUTDIR")
	_, err = os.Stat(filepath.Join(outdir, "ok"))
	require.NoError(t, err)
}

// TestEnvironmentVariables: QUICXFER_SEED (a comma-separated list) and
// QUICXFER_OUTPUT stand in for --seed and -o; a flag wins over its variable.
func TestEnvironmentVariables(t *testing.T) {
	src := t.TempDir()
	data := writeRandom(t, filepath.Join(src, "f.bin"), 1<<20, 61)
	u1, u2 := startSeed(t, src), startSeed(t, src)
	work := t.TempDir()
	r := runEnv(t, work, []string{"QUICXFER_SEED=" + u1 + "," + u2, "QUICXFER_OUTPUT=from-env.bin", "QUICXFER_JSON=true"}, "get", "f.bin")
	require.Zero(t, r.code, r.stderr)
	var j getJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j), r.stdout)
	require.Len(t, j.Seeds, 2, "both seeds of the list")
	got, err := os.ReadFile(filepath.Join(work, "from-env.bin"))
	require.NoError(t, err)
	require.Equal(t, data, got)

	r = runEnv(t, work, []string{"QUICXFER_SEED=" + u1, "QUICXFER_OUTPUT=from-env.bin"}, "get", "-o", "flag.bin", "--quiet", "f.bin")
	require.Zero(t, r.code, r.stderr)
	_, err = os.Stat(filepath.Join(work, "flag.bin"))
	require.NoError(t, err, "-o wins over QUICXFER_OUTPUT")

	// A list on the command line replaces the variable's.
	r = runEnv(t, work, []string{"QUICXFER_SEED=quic://127.0.0.1:9," + u2}, "get", "--seed", u1, "-o", "list.bin", "--json", "f.bin")
	require.Zero(t, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j), r.stdout)
	require.Len(t, j.Seeds, 1)
	require.Equal(t, u1, j.Seeds[0].URL)

	r = runEnv(t, work, []string{"QUICXFER_SEED=" + u1}, "ls")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "f.bin")

	r = runEnv(t, work, []string{"QUICXFER_CONNS_PER_SEED=many"}, "get", "--seed", u1, "f.bin")
	require.Equal(t, 2, r.code, "a bad value in a variable is a usage error")
	require.Contains(t, r.stderr, "QUICXFER_CONNS_PER_SEED")
	require.Empty(t, r.stdout, "no help dumped")
}

// TestEveryFlagHasAVariable: every flag of the commands this file covers
// (seed's are named in seed.go) has its QUICXFER_ variable.
func TestEveryFlagHasAVariable(t *testing.T) {
	app := newApp(new(bytes.Buffer), new(bytes.Buffer))
	for _, cmd := range app.Commands {
		if cmd.Name == "seed" {
			continue
		}
		for _, f := range cmd.Flags {
			ef, ok := f.(interface{ GetEnvVars() []string })
			require.True(t, ok, "%s --%s", cmd.Name, f.Names()[0])
			require.Contains(t, ef.GetEnvVars(), envName(f.Names()[0]), "%s --%s", cmd.Name, f.Names()[0])
		}
	}
}

// TestHelpHasExamples: every command's --help shows examples.
func TestHelpHasExamples(t *testing.T) {
	for _, cmd := range newApp(new(bytes.Buffer), new(bytes.Buffer)).Commands {
		t.Run(cmd.Name, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, newApp(&out, &out).Run([]string{"quicxfer", cmd.Name, "--help"}))
			require.Contains(t, out.String(), "Example")
		})
	}
	var out bytes.Buffer
	require.NoError(t, newApp(&out, &out).Run([]string{"quicxfer", "--help"}))
	require.Contains(t, out.String(), "Exit codes")
}

// TestCompletion: the scripts print, bash accepts the bash one, and the
// binary answers the completion request they make.
func TestCompletion(t *testing.T) {
	r := run(t, "completion", "bash")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "complete ")
	if sh, err := exec.LookPath("bash"); err == nil {
		cmd := exec.Command(sh, "-n")
		cmd.Stdin = strings.NewReader(r.stdout)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "bash -n: %s", out)
	}
	for _, sh := range []string{"zsh", "fish"} {
		r := run(t, "completion", sh)
		require.Zero(t, r.code, r.stderr)
		require.Contains(t, r.stdout, "quicxfer")
	}
	r = run(t, "completion", "tcsh")
	require.Equal(t, 2, r.code)

	r = run(t, "get", "--con", "--generate-bash-completion")
	require.Equal(t, "--conns-per-seed\n", r.stdout)
	r = run(t, "--generate-bash-completion")
	for _, c := range []string{"get", "status", "completion"} {
		require.Contains(t, r.stdout, c+"\n")
	}
}

// TestCommandArgs: the command recorded for status holds the flags that
// were set, from the command line or the environment, and never the token.
func TestCommandArgs(t *testing.T) {
	t.Setenv("QUICXFER_SEED", "quic://a:1,quic://b:2")
	var got []string
	var token bool
	cmd := getCommand()
	addEnvVars(cmd.Flags)
	cmd.Action = func(c *cli.Context) error {
		got, token = commandArgs(c, c.Args().Slice()...)
		return nil
	}
	app := &cli.App{Commands: []*cli.Command{cmd}}
	require.NoError(t, app.Run([]string{"x", "get", "--token", "s3cret", "-o", "o", "--conns-per-seed", "2", "--json", "-q", "--", "-odd"}))
	require.Equal(t, []string{"quicxfer", "get", "--seed", "quic://a:1", "--seed", "quic://b:2", "--output", "o", "--json", "--quiet", "--conns-per-seed", "2", "--", "-odd"}, got)
	require.True(t, token)
	require.Equal(t, `quicxfer get --seed 'quic://a:1?pin=x' -o 'it'\''s' plain`, shellQuote([]string{"quicxfer", "get", "--seed", "quic://a:1?pin=x", "-o", "it's", "plain"}))
}
