package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

func manifestCommand() *cli.Command {
	return &cli.Command{
		Name:      "manifest",
		Usage:     "print the content ID of a local file (the ID a seed serving it reports); --out writes its manifest",
		ArgsUsage: "FILE",
		Description: `Hashes FILE the way a seed does (all cores) and prints its content ID: the
SHA-256 of its manifest, the ID that 'quicxfer ls' shows for the same bytes
under any name. Compare them, or pass it to 'get --id'.

With --out, the file's manifest (size, block size, every block's hashes) is
written to MFILE as well: give it to "get --manifest MFILE" to download the
file from HTTP mirrors alone, every block verified against it. The manifest
file checks itself: a damaged or truncated one is refused.

Examples:
   quicxfer manifest debian.iso
   quicxfer get --seed URL --id "$(quicxfer manifest ~/known-good/debian.iso)" debian.iso
   quicxfer manifest --out debian.iso.qxm debian.iso`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "also write the file's manifest to `MFILE`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("manifest: give exactly one FILE")
			}
			m, err := manifest.BuildFile(c.Context, c.Args().First(), 0)
			if err != nil {
				return fmt.Errorf("hashing %s: %w", c.Args().First(), err)
			}
			if out := c.String("out"); out != "" {
				if err := m.WriteFile(out); err != nil {
					return fmt.Errorf("writing the manifest: %w", err)
				}
			}
			fmt.Fprintln(c.App.Writer, m.ID())
			return nil
		},
	}
}
