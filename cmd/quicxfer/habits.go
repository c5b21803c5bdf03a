package main

import (
	_ "embed"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/urfave/cli/v2"
)

// envName is the environment variable that sets a flag: QUICXFER_ and the
// flag's name in capitals, '-' as '_' (--conns-per-seed is
// QUICXFER_CONNS_PER_SEED).
func envName(flag string) string {
	return "QUICXFER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// addEnvVars gives every flag that has none its environment variable
// (envName). A flag given on the command line wins over the variable; a
// list flag (--seed) takes a comma-separated list from it. Every urfave
// flag type has an EnvVars field, and flags added later get theirs without
// a line here, so the field is set by reflection rather than a switch over
// the types.
func addEnvVars(flags []cli.Flag) {
	for _, f := range flags {
		if ev, ok := envVarsField(f); ok && ev.Len() == 0 {
			ev.Set(reflect.ValueOf([]string{envName(f.Names()[0])}))
		}
	}
}

// dropEnvVars takes the variables away from the flags given on the command
// line: the command line wins, so a bad value in a variable (QUICXFER_RETRIES
// exported for other runs) does not fail a command that gives the flag.
func dropEnvVars(flags []cli.Flag, given map[string]bool) {
	for _, f := range flags {
		if ev, ok := envVarsField(f); ok && given[f.Names()[0]] {
			ev.Set(reflect.Zero(ev.Type()))
		}
	}
}

// envVarsField is the EnvVars field of a flag, which every urfave flag type
// has.
func envVarsField(f cli.Flag) (reflect.Value, bool) {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	ev := v.Elem().FieldByName("EnvVars")
	if !ev.IsValid() || !ev.CanSet() || ev.Type() != reflect.TypeFor[[]string]() {
		return reflect.Value{}, false
	}
	return ev, true
}

// checkRequired makes a missing required flag a usage error (exit 2, one
// line that names the flag and its variable) instead of urfave's own check,
// which prints the whole help and cannot be told from a failure. The
// flags' Required fields are cleared (by reflection, for every flag type, as
// in addEnvVars) and the command's action checks them first.
func checkRequired(cmd *cli.Command) {
	var names []string
	for _, f := range cmd.Flags {
		rf, ok := f.(cli.RequiredFlag)
		if !ok || !rf.IsRequired() {
			continue
		}
		req := reflect.ValueOf(f).Elem().FieldByName("Required")
		if !req.IsValid() || !req.CanSet() || req.Kind() != reflect.Bool {
			continue
		}
		req.SetBool(false)
		names = append(names, f.Names()[0])
	}
	if len(names) == 0 || cmd.Action == nil {
		return
	}
	action := cmd.Action
	cmd.Action = func(c *cli.Context) error {
		for _, n := range names {
			if !c.IsSet(n) {
				return usagef("%s: --%s is required (or %s)", cmd.Name, n, envName(n))
			}
		}
		return action(c)
	}
}

// completeFlags is a command's shell completion: its flags after a '-',
// else nothing, so that the shell completes file names (NAME, OUT, PATH).
func completeFlags(cmd *cli.Command) cli.BashCompleteFunc {
	return func(c *cli.Context) {
		// The word being completed comes just before
		// --generate-bash-completion (urfave's own default does the same).
		if n := len(os.Args); n > 2 && strings.HasPrefix(os.Args[n-2], "-") {
			cur := strings.TrimLeft(os.Args[n-2], "-")
			for _, f := range cmd.Flags {
				for _, name := range f.Names() {
					if strings.HasPrefix(name, cur) && (len(name) > 1 || cur != "") {
						prefix := "--"
						if len(name) == 1 {
							prefix = "-"
						}
						fmt.Fprintln(c.App.Writer, prefix+name)
					}
				}
			}
		}
	}
}

// The completion scripts of urfave/cli v2 (its autocomplete/ directory, MIT
// licence), with the program name filled in: each asks the binary for the
// words with --generate-bash-completion.
var (
	//go:embed completion/bash
	bashCompletion string
	//go:embed completion/zsh
	zshCompletion string
)

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		Description: `Prints a script that makes the shell complete quicxfer's commands and flags.
Load it from your shell's start-up file.

Examples:
   source <(quicxfer completion bash)                 # in ~/.bashrc
   quicxfer completion zsh > "${fpath[1]}/_quicxfer"  # zsh, then restart it
   quicxfer completion fish > ~/.config/fish/completions/quicxfer.fish`,
		BashComplete: func(c *cli.Context) {
			fmt.Fprintln(c.App.Writer, "bash\nzsh\nfish")
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("completion: give one shell: bash, zsh or fish")
			}
			switch sh := c.Args().First(); sh {
			case "bash":
				_, err := fmt.Fprint(c.App.Writer, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(c.App.Writer, zshCompletion)
				return err
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("making the fish completion: %w", err)
				}
				_, err = fmt.Fprint(c.App.Writer, s)
				return err
			default:
				return usagef("completion: unknown shell %q: want bash, zsh or fish", sh)
			}
		},
	}
}
