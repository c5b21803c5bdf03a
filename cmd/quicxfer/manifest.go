package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/quicxfer/link"
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

With --link, a second line is the file's link (qx:?id=...&name=...&size=...),
with the --seed and --mirror URLs given: "quicxfer get LINK" downloads it.

Examples:
   quicxfer manifest debian.iso
   quicxfer manifest --link --seed quic://10.0.0.5:4433?pin=... debian.iso
   quicxfer get --seed URL --id "$(quicxfer manifest ~/known-good/debian.iso)" debian.iso
   quicxfer manifest --out debian.iso.qxm debian.iso`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "also write the file's manifest to `MFILE`"},
			&cli.BoolFlag{Name: "link", Usage: "also print the file's link (a second line), for 'quicxfer get LINK'"},
			&cli.StringSliceFlag{Name: "seed", Usage: "with --link: a seed `URL` the link names (repeat for more)"},
			&cli.StringSliceFlag{Name: "mirror", Usage: "with --link: an http(s) mirror `URL` the link names (repeat for more)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("manifest: give exactly one FILE")
			}
			in, out := c.Args().First(), c.String("out")
			if !c.Bool("link") && (c.IsSet("seed") || c.IsSet("mirror")) {
				return usagef("manifest: --seed and --mirror are for --link")
			}
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
			if c.Bool("link") {
				l := link.Link{ID: m.ID(), Name: filepath.Base(in), Size: m.Size, HasSize: true, Seeds: c.StringSlice("seed"), Mirrors: c.StringSlice("mirror")}
				// Parse checks what was given (a seed URL, a mirror, the
				// name) and puts it in its canonical form.
				l, err := link.Parse(l.String())
				if err != nil {
					return usagef("manifest --link: %v", err)
				}
				fmt.Fprintln(c.App.Writer, l)
			}
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
