package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
)

// TestArrange: a command's flags, wherever they are, come out before its
// arguments, each with its value; "--" ends the flags; an unknown flag is a
// usage error that echoes it as typed.
func TestArrange(t *testing.T) {
	app := newApp(new(bytes.Buffer), new(bytes.Buffer)).App
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"flags first", []string{"get", "--seed", "U", "-o", "x", "f.bin"}, []string{"get", "--seed", "U", "-o", "x", "--", "f.bin"}},
		{"flags after", []string{"get", "f.bin", "--seed", "U", "-o", "x"}, []string{"get", "--seed", "U", "-o", "x", "--", "f.bin"}},
		{"around", []string{"get", "--seed", "U", "f.bin", "--seed=V", "--quiet", "-o=x"}, []string{"get", "--seed", "U", "--seed=V", "--quiet", "-o=x", "--", "f.bin"}},
		{"bool takes no value", []string{"get", "--json", "f.bin", "--seed", "U"}, []string{"get", "--json", "--seed", "U", "--", "f.bin"}},
		{"value that looks like a flag", []string{"demo", "--size-mib", "-1"}, []string{"demo", "--size-mib", "-1"}},
		{"-- ends the flags", []string{"get", "--seed", "U", "--", "-f.bin", "--json"}, []string{"get", "--seed", "U", "--", "-f.bin", "--json"}},
		{"- is an argument", []string{"manifest", "-", "--out", "m"}, []string{"manifest", "--out", "m", "--", "-"}},
		{"seed paths", []string{"seed", "a", "--listen", "127.0.0.1:0", "b"}, []string{"seed", "--listen", "127.0.0.1:0", "--", "a", "b"}},
		{"help", []string{"get", "f.bin", "--help"}, []string{"get", "--help", "--", "f.bin"}},
		{"value missing at the end", []string{"get", "f.bin", "-o"}, []string{"get", "-o", "--", "f.bin"}},
		{"no arguments", []string{"ls", "--seed", "U"}, []string{"ls", "--seed", "U"}},
		{"root flag", []string{"--version"}, []string{"--version"}},
		{"unknown command", []string{"nosuch", "--x", "y"}, []string{"nosuch", "--x", "y"}},
		{"completion request", []string{"get", "f.bin", "--se", "--generate-bash-completion"}, []string{"get", "f.bin", "--se", "--generate-bash-completion"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := arrange(app, append([]string{"quicxfer"}, tc.args...))
			require.NoError(t, err)
			require.Equal(t, append([]string{"quicxfer"}, tc.want...), got)
		})
	}

	_, given, err := arrange(app, []string{"quicxfer", "get", "f.bin", "-o", "x", "--seed=U"})
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"output": true, "o": true, "seed": true}, given)

	for args, want := range map[string][]string{
		"get --sed":     {"quicxfer", "get", "f.bin", "--sed", "U"},
		"get --sed=":    {"quicxfer", "get", "--sed=U", "f.bin"},
		"get -x":        {"quicxfer", "get", "-x", "f.bin"},
		"root --nosuch": {"quicxfer", "--nosuch", "get"},
	} {
		_, _, err := arrange(app, want)
		var ue usageError
		require.ErrorAs(t, err, &ue, args)
		require.Contains(t, ue.msg, "flag provided but not defined: "+flagWord(want[len(want)-2]), args)
	}
}

// TestFlagsAnywhere: every command takes its flags before and after its
// arguments, with --flag=value, short aliases and repeated flags, and "--"
// before an argument that starts with '-'.
func TestFlagsAnywhere(t *testing.T) {
	src := t.TempDir()
	want := writeRandom(t, filepath.Join(src, "f.bin"), 300<<10, 41)
	dashed := writeRandom(t, filepath.Join(src, "-d.bin"), 2000, 42)
	p := startProc(t, "seed", src, "--state-dir", t.TempDir(), "--listen", "127.0.0.1:0")
	t.Cleanup(func() { p.terminate(t) })
	u := p.url(t)
	u2 := startSeed(t, src)
	work := t.TempDir()

	for out, args := range map[string][]string{
		"a.bin": {"get", "f.bin", "--seed", u, "-o", "a.bin", "--quiet"},
		"b.bin": {"get", "--seed", u, "f.bin", "-o", "b.bin", "--max-peers=0"},
		"c.bin": {"get", "--quiet", "f.bin", "--seed=" + u, "--seed", u2, "--output=c.bin"},
	} {
		r := runGuarded(t, work, nil, args...)
		require.Zero(t, r.code, "%v: %s", args, r.stderr)
		requireFile(t, filepath.Join(work, out), want)
	}
	r := runGuarded(t, work, nil, "get", "--seed", u, "-o", "d.bin", "--quiet", "--", "-d.bin")
	require.Zero(t, r.code, r.stderr)
	requireFile(t, filepath.Join(work, "d.bin"), dashed)

	mfile := filepath.Join(work, "f.qxm")
	before := runGuarded(t, work, nil, "manifest", "--out", mfile+".1", filepath.Join(src, "f.bin"))
	require.Zero(t, before.code, before.stderr)
	after := runGuarded(t, work, nil, "manifest", filepath.Join(src, "f.bin"), "--out", mfile)
	require.Zero(t, after.code, after.stderr)
	require.Equal(t, before.stdout, after.stdout)
	require.FileExists(t, mfile)

	r = runGuarded(t, work, nil, "status", "a.bin", "--json")
	require.Zero(t, r.code, r.stderr)
	require.True(t, json.Valid([]byte(r.stdout)), r.stdout)

	r = runGuarded(t, work, nil, "ls", "--json", "--seed="+u)
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, `"f.bin"`)
	r = runGuarded(t, work, nil, "ls", "--seed", u, "--json")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, `"-d.bin"`)
}

// TestUnknownFlagAsTyped: an unknown flag is a usage error that echoes it
// as typed (Go's flag package would say -sed for --sed), before or after
// the arguments, and nothing runs.
func TestUnknownFlagAsTyped(t *testing.T) {
	out := t.TempDir()
	for _, tc := range []struct{ args, want []string }{
		{[]string{"get", "--sed", "quic://127.0.0.1:9", "f.bin"}, []string{"get: flag provided but not defined: --sed"}},
		{[]string{"get", "f.bin", "--sed=quic://127.0.0.1:9"}, []string{"flag provided but not defined: --sed"}},
		{[]string{"seed", out, "-l", "127.0.0.1:0"}, []string{"seed: flag provided but not defined: -l"}},
		{[]string{"--nosuch", "get"}, []string{"flag provided but not defined: --nosuch"}},
	} {
		r := runRefused(t, tc.args...)
		requireUsage(t, r, tc.want...)
		require.NotContains(t, r.stderr, " -sed")
	}
	requireNothingIn(t, out)
}

// TestUnknownCommand: a word that is no command is a usage error (exit 2)
// of one line that lists the commands.
func TestUnknownCommand(t *testing.T) {
	r := runRefused(t, "nosuch")
	requireUsage(t, r, `unknown command "nosuch"`, "get", "seed")
	r = runRefused(t, "help", "nosuch")
	requireUsage(t, r, `unknown command "nosuch"`)
	r = runRefused(t, "help", "get")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "quicxfer get")
}

// TestDemoSizeRefused: demo --size-mib 0 or negative, from the flag or its
// variable, is a usage error before any seed starts (a seed prints its
// line on standard output).
func TestDemoSizeRefused(t *testing.T) {
	requireUsage(t, runRefused(t, "demo", "--size-mib", "0"), "--size-mib: want a positive number of MiB, got 0")
	requireUsage(t, runRefused(t, "demo", "--size-mib=-5"), "got -5")
	requireUsage(t, runBounded(t, []string{"QUICXFER_SIZE_MIB=-1"}, "demo"), "--size-mib (from QUICXFER_SIZE_MIB)", "got -1")
}

// TestFlagSources: onCommandLine tells a flag on the command line from one
// set only by its variable, which flagVariable and envNote name; the
// command line wins.
func TestFlagSources(t *testing.T) {
	t.Setenv("QUICXFER_LISTEN", "0.0.0.0:4433")
	type seen struct {
		cmdline bool
		env     string
		note    string
		value   string
	}
	runWith := func(args ...string) seen {
		var s seen
		app := application{&cli.App{
			Writer: new(bytes.Buffer), ErrWriter: new(bytes.Buffer),
			Commands: []*cli.Command{{
				Name:  "get",
				Flags: []cli.Flag{&cli.StringFlag{Name: "listen", Aliases: []string{"l"}, EnvVars: []string{"QUICXFER_LISTEN"}}, &cli.BoolFlag{Name: "serve", EnvVars: []string{"QUICXFER_SERVE"}}},
				Action: func(c *cli.Context) error {
					s.cmdline = onCommandLine(c, "listen")
					s.env, _ = flagVariable(c, "listen")
					s.note, s.value = envNote(c, "listen"), c.String("listen")
					return nil
				},
			}},
		}}
		require.NoError(t, app.Run(append([]string{"quicxfer", "get"}, args...)))
		return s
	}
	require.Equal(t, seen{false, "QUICXFER_LISTEN", " (from QUICXFER_LISTEN)", "0.0.0.0:4433"}, runWith("f.bin"))
	require.Equal(t, seen{true, "", "", "0.0.0.0:4433"}, runWith("f.bin", "--listen", "0.0.0.0:4433"), "the same value on the command line is the command line's")
	require.Equal(t, seen{true, "", "", "127.0.0.1:0"}, runWith("-l", "127.0.0.1:0", "f.bin"))
}

// TestVariableNeverFailsAGivenFlag: a bad value in a flag's variable does
// not fail a command that gives the flag on the command line (which wins);
// without the flag, it is a usage error that names the variable.
func TestVariableNeverFailsAGivenFlag(t *testing.T) {
	src := t.TempDir()
	writeRandom(t, filepath.Join(src, "f.bin"), 1000, 43)
	u := startSeed(t, src)
	env := []string{"QUICXFER_JSON=maybe"}
	r := runBounded(t, env, "ls", "--seed", u, "--json")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, `"f.bin"`)
	requireUsage(t, runBounded(t, env, "ls", "--seed", u), "QUICXFER_JSON")
}
