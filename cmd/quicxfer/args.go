package main

import (
	"context"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// application is the command line: urfave's app, run with the arguments
// arranged first (arrange), so that every command takes its flags before
// and after its arguments.
type application struct{ *cli.App }

// Run is RunContext with a background context.
func (a application) Run(args []string) error { return a.RunContext(context.Background(), args) }

// RunContext arranges args and runs the command they name. The flags given
// on the command line travel in the context, for onCommandLine.
func (a application) RunContext(ctx context.Context, args []string) error {
	args, given, err := arrange(a.App, args)
	if err != nil {
		return err
	}
	return a.App.RunContext(context.WithValue(ctx, givenKey{}, given), args)
}

// givenKey is the context key of the flags given on the command line (a
// map from every name of each to true).
type givenKey struct{}

// arrange returns args with the command's flags before its arguments, as
// urfave wants them (its parser stops at the first argument): each flag
// with its value (the next word, unless it is a bool flag or is written
// --flag=value), then "--" and the arguments in their order. A "--" ends
// the flags: every word after it is an argument. A word that starts with
// '-' and is not one of the command's flags is a usage error, echoed as
// typed (Go's flag package says "-sed" for --sed). It also returns the
// names of the flags given, and takes their variables away (dropEnvVars):
// the command line wins. A shell-completion request is left as it is
// (urfave turns completion off after a "--"), and so is a command it does
// not know, for the app's Action to refuse.
func arrange(app *cli.App, args []string) (_ []string, given map[string]bool, _ error) {
	given = map[string]bool{}
	if len(args) == 0 || args[len(args)-1] == "--generate-bash-completion" {
		return args, given, nil
	}
	root := append(append([]cli.Flag{}, app.Flags...), cli.HelpFlag)
	i := 1
	for ; i < len(args) && isFlagWord(args[i]); i++ {
		if f := lookupFlag(root, args[i]); f == nil {
			return nil, nil, usagef("flag provided but not defined: %s", flagWord(args[i]))
		}
	}
	if i == len(args) {
		return args, given, nil
	}
	cmd := app.Command(args[i])
	if cmd == nil || cmd.SkipFlagParsing {
		return args, given, nil
	}
	known := cmd.Flags
	if !cmd.HideHelp {
		known = append(append([]cli.Flag{}, known...), cli.HelpFlag)
	}
	out := append([]string{}, args[:i+1]...)
	var positional []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		w := rest[j]
		switch {
		case w == "--":
			positional = append(positional, rest[j+1:]...)
			j = len(rest)
		case isFlagWord(w):
			f := lookupFlag(known, w)
			if f == nil {
				return nil, nil, usagef("%s: flag provided but not defined: %s", cmd.Name, flagWord(w))
			}
			for _, n := range f.Names() {
				given[n] = true
			}
			out = append(out, w)
			if takesValue(f) && !strings.Contains(w, "=") && j+1 < len(rest) {
				j++
				out = append(out, rest[j])
			}
		default:
			positional = append(positional, w)
		}
	}
	dropEnvVars(cmd.Flags, given)
	if len(positional) > 0 {
		out = append(append(out, "--"), positional...)
	}
	return out, given, nil
}

// isFlagWord tells a flag from an argument: a word that starts with '-',
// but not "-" alone (standard input, as for many tools) or "--".
func isFlagWord(w string) bool { return len(w) > 1 && w[0] == '-' && w != "--" }

// flagWord is a flag word without its "=value".
func flagWord(w string) string { name, _, _ := strings.Cut(w, "="); return name }

// lookupFlag returns the flag among flags that the word w (-o, --output,
// --output=x) names, or nil.
func lookupFlag(flags []cli.Flag, w string) cli.Flag {
	name := strings.TrimPrefix(strings.TrimPrefix(flagWord(w), "-"), "-")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// takesValue: a flag other than a bool one takes the next word as its value.
func takesValue(f cli.Flag) bool {
	df, ok := f.(cli.DocGenerationFlag)
	return !ok || df.TakesValue()
}

// onCommandLine reports whether the flag name was given on the command line,
// not only by its variable. A check that a flag goes with another (--listen
// with --serve) asks this rather than c.IsSet: a variable exported for
// another command's use of the same flag name (QUICXFER_LISTEN for seed,
// from contrib/systemd/seed.env) never makes a command fail; where the flag
// does not apply, the variable is ignored.
func onCommandLine(c *cli.Context, name string) bool {
	given, ok := c.Context.Value(givenKey{}).(map[string]bool)
	if !ok {
		// Not run through application: no variable is known to be the
		// only source.
		return c.IsSet(name)
	}
	return given[name]
}

// flagVariable returns the environment variable that set the flag name:
// one of its variables is set and the flag is not on the command line
// (which wins).
func flagVariable(c *cli.Context, name string) (env string, ok bool) {
	if onCommandLine(c, name) {
		return "", false
	}
	f := lookupFlag(c.Command.Flags, "--"+name)
	ef, isEnv := f.(interface{ GetEnvVars() []string })
	if !isEnv {
		return "", false
	}
	for _, v := range ef.GetEnvVars() {
		if _, set := os.LookupEnv(v); set {
			return v, true
		}
	}
	return "", false
}

// envNote is " (from QUICXFER_X)" when the variable QUICXFER_X set the
// flag name, else "": a message about a flag's value names where the value
// came from ("--listen (from QUICXFER_LISTEN): bad port").
func envNote(c *cli.Context, name string) string {
	if v, ok := flagVariable(c, name); ok {
		return " (from " + v + ")"
	}
	return ""
}
