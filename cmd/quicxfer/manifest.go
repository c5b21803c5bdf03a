package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

func manifestCommand() *cli.Command {
	return &cli.Command{
		Name:      "manifest",
		Usage:     "print the content ID of a local file (the ID a seed serving it reports)",
		ArgsUsage: "FILE",
		Description: `Hashes FILE the way a seed does (all cores) and prints its content ID: the
SHA-256 of its manifest, the ID that 'quicxfer ls' shows for the same bytes
under any name. Compare them, or pass it to 'get --id'.

Examples:
   quicxfer manifest debian.iso
   quicxfer get --seed URL --id "$(quicxfer manifest ~/known-good/debian.iso)" debian.iso`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("manifest: give exactly one FILE")
			}
			m, err := manifest.BuildFile(c.Context, c.Args().First(), 0)
			if err != nil {
				return fmt.Errorf("hashing %s: %w", c.Args().First(), err)
			}
			fmt.Fprintln(c.App.Writer, m.ID())
			return nil
		},
	}
}
