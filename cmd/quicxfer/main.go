// Command quicxfer serves files from seed nodes and downloads them from many
// seeds at once over QUIC. Each command turns its flags into an options
// struct and calls a library function; errors become one line on standard
// error and an exit code here, in one place.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
)

// Exit codes (documented in the README).
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// usageError marks errors in how the command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func newApp(stdout, stderr io.Writer) application {
	app := &cli.App{
		Name:  "quicxfer",
		Usage: "download a file (or a directory) from many seeds, peers and HTTP mirrors at once over QUIC, verified and resumable",
		Description: `A command's flags may come before or after its arguments; "--" ends the
flags (a NAME that starts with '-' goes after it).

Every flag can also be set in the environment: QUICXFER_ and the flag's name
in capitals with '_' for '-' (QUICXFER_SEED, QUICXFER_CONNS_PER_SEED); a list
flag takes a comma-separated list; a flag on the command line wins, and a
variable is ignored where its flag does not apply (QUICXFER_LISTEN, set for
seed, by get without --serve). Shell completion: quicxfer completion
bash|zsh|fish. The reference: docs/cli.md and quicxfer(1) (docs/quicxfer.1).

Exit codes: 0 done (get: OUT complete and verified); 1 failed, the reason in
one line on standard error; 2 called wrongly (unknown flag, missing argument);
130 interrupted (SIGINT/SIGTERM; get: run the same command to resume); a
second SIGINT/SIGTERM exits 130 at once.

Examples:
   quicxfer seed /srv/isos
   quicxfer get --seed URL1 --seed URL2 -o debian.iso debian.iso
   quicxfer status debian.iso
   quicxfer --version
   quicxfer COMMAND --help`,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		HideVersion:          true, // versionFlag instead
		Flags:                []cli.Flag{versionFlag()},
		Action:               rootAction,
		Commands: []*cli.Command{
			seedCommand(),
			getCommand(),
			lsCommand(),
			manifestCommand(),
			statusCommand(),
			demoCommand(),
			completionCommand(),
			versionCommand(),
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
		// Errors are printed once, by main.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	for _, cmd := range app.Commands {
		// seed's flags name their variables in seed.go.
		if cmd.Name != "seed" {
			addEnvVars(cmd.Flags)
		}
		if cmd.BashComplete == nil {
			cmd.BashComplete = completeFlags(cmd)
		}
		// urfave asks the command, not the app, about a bad flag (or a bad
		// value in a flag's variable); without this it prints the whole
		// help to standard output and the exit code is 1, not 2.
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = app.OnUsageError
		}
		checkRequired(cmd)
	}
	return application{app}
}

// rootAction runs when no command is named: --version, "help [COMMAND]",
// the help, or a usage error for a word that is no command.
func rootAction(c *cli.Context) error {
	switch name := c.Args().First(); {
	case c.Bool("version"):
		return printVersion(c)
	case name == "help" && c.NArg() == 2 && c.App.Command(c.Args().Get(1)) != nil:
		return cli.ShowCommandHelp(c, c.Args().Get(1))
	case name == "help" && c.NArg() == 1, name == "":
		return cli.ShowAppHelp(c)
	case name == "help":
		return usagef("help: unknown command %q", c.Args().Get(1))
	default:
		return usagef("unknown command %q: the commands are %s", name, strings.Join(commandNames(c.App), ", "))
	}
}

// commandNames are the names of the app's visible commands.
func commandNames(app *cli.App) []string {
	var names []string
	for _, cmd := range app.VisibleCommands() {
		names = append(names, cmd.Name)
	}
	return names
}

// interrupts returns a context that the first SIGINT or SIGTERM cancels:
// each command then stops as it should (get saves its state and exits 130).
// A second signal means the user will not wait: it prints one line to
// stderr and calls exit(exitInterrupted) at once, whatever the command is
// doing (a read that does not return, a file system that hangs). stop ends
// the watch and waits for it.
func interrupts(stderr io.Writer, exit func(int)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-sigs:
			cancel()
		case <-quit:
			return
		}
		select {
		case sig := <-sigs:
			fmt.Fprintf(stderr, "quicxfer: %v again: exiting at once\n", sig)
			exit(exitInterrupted)
		case <-quit:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(quit)
		<-done
		cancel()
	}
}

// gcPercent is the garbage collector's target unless GOGC says otherwise:
// the heap of a download or a seed is mostly block and send buffers, which
// hold no pointers, so a collection costs little, and collecting at 50 %
// growth rather than Go's 100 % keeps the peak memory (4 GiB over
// loopback: 52 MB rather than 67 MB) at no cost in speed that we could
// measure.
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := interrupts(os.Stderr, os.Exit)
	// QUICXFER_CPUPROFILE=FILE writes a CPU profile of this process (for
	// `go tool pprof`), e.g. of one side of a benchmark.
	if path := os.Getenv("QUICXFER_CPUPROFILE"); path != "" {
		if f, err := atomicfile.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer f.Close()
				defer pprof.StopCPUProfile()
			}
		}
	}
	err := newApp(os.Stdout, os.Stderr).RunContext(ctx, os.Args)
	stop()
	code := exitCode(err, os.Stderr)
	pprof.StopCPUProfile()
	os.Exit(code)
}

// exitCode prints err as one line, the password of any URL in it redacted,
// and returns the exit code for it.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	msg := redactURLsIn(cliError(err, clientFlags).Error())
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "quicxfer: %s (see --help)\n", msg)
		return exitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "quicxfer: %s\n", msg)
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "quicxfer: %s\n", msg)
	return exitFailure
}
