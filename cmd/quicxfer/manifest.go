package main

import (
	"errors"
	"fmt"
	"os"

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
file checks itself: a damaged or truncated one is refused. --out replaces
only a manifest file, never FILE itself or any other file, and never writes
through a symbolic link.

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
			in, out := c.Args().First(), c.String("out")
			if out != "" {
				// Refuse before hashing, which can take minutes.
				if err := checkManifestOut(in, out); err != nil {
					return err
				}
			}
			m, err := manifest.BuildFile(c.Context, in, 0)
			if err != nil {
				return fmt.Errorf("hashing %s: %w", in, err)
			}
			if out != "" {
				if err := m.WriteFile(out); err != nil {
					return manifestOutErr(out, err)
				}
			}
			fmt.Fprintln(c.App.Writer, m.ID())
			return nil
		},
	}
}

// checkManifestOut refuses an --out that is the input file itself (by
// inode: another name for it, a hard link or a symbolic link to it, counts)
// or an existing file that is not a manifest file.
func checkManifestOut(in, out string) error {
	ii, err := os.Stat(in)
	if err != nil {
		return fmt.Errorf("hashing %s: %w", in, err)
	}
	if oi, err := os.Stat(out); err == nil && os.SameFile(ii, oi) {
		return fmt.Errorf("manifest: --out %s is FILE itself; it would be replaced by its own manifest: give another MFILE", out)
	}
	return manifestOutErr(out, manifest.CheckReplaceable(out))
}

// manifestOutErr says why --out MFILE was not written.
func manifestOutErr(out string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, manifest.ErrNotReplaceable):
		return fmt.Errorf("manifest --out: %w: remove it or give another MFILE", err)
	}
	return fmt.Errorf("writing the manifest: %w", err)
}
