package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// version is what `quicxfer --version` and `quicxfer version` print: the
// module version ("(devel)" for a build from a checkout without a version
// stamped), the VCS commit it was built from, "modified" when the work
// tree had changes, and the Go version.
func version(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "quicxfer (unknown version: built without module information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	var details []string
	if rev != "" {
		c := "commit " + rev
		if modified == "true" {
			c += ", modified"
		}
		details = append(details, c)
	}
	if info.GoVersion != "" {
		details = append(details, info.GoVersion)
	}
	if len(details) == 0 {
		return "quicxfer " + v
	}
	return fmt.Sprintf("quicxfer %s (%s)", v, strings.Join(details, "; "))
}

// versionFlag is the app's --version (urfave's own one is a package
// variable, with -v, which a command's flags may want).
func versionFlag() cli.Flag {
	return &cli.BoolFlag{Name: "version", Usage: "print the version and the commit it was built from, and exit"}
}

func printVersion(c *cli.Context) error {
	_, err := fmt.Fprintln(c.App.Writer, version(debug.ReadBuildInfo()))
	return err
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version and the commit it was built from (as --version does)",
		Description: `Prints one line: quicxfer, the module version ("(devel)" when built from a
checkout), the VCS commit ("modified" when the work tree had changes) and the
Go version it was built with.

Examples:
   quicxfer version
   quicxfer --version`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usagef("version: takes no arguments")
			}
			return printVersion(c)
		},
	}
}
