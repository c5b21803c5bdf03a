package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

func lsCommand() *cli.Command {
	return &cli.Command{
		Name:  "ls",
		Usage: "list the files a seed serves: name, size in bytes, content ID",
		Description: `Prints one line per file: name, size in bytes, content ID (tab-separated).
A name that is not all printable characters is printed quoted, with Go's
escapes ("a\u00a0b"); --json prints every name as it is, in JSON.

Examples:
   quicxfer ls --seed 'quic://seed.example:4433?pin=...'
   quicxfer ls --seed 'quic://seed.example:4433?pin=...' --json | jq -r '.[].name'
   quicxfer ls --seed quic://seed.example:4433 --ca our-ca.pem --token-file ~/.seed-token
   QUICXFER_SEED='quic://seed.example:4433?pin=...' quicxfer ls`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "seed", Required: true, Usage: "the seed's `URL`"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array instead of lines"},
		}, clientAccessFlags()...),
		Action: func(c *cli.Context) error {
			u, err := wire.ParseURL(c.String("seed"))
			if err != nil {
				return usagef("%v", err)
			}
			auth, err := clientAccess(c, c.App.ErrWriter)
			if err != nil {
				return err
			}
			client, err := quicxfer.NewClientWith(auth)
			if err != nil {
				return err
			}
			defer client.Close()
			ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
			defer cancel()
			conn, err := client.Dial(ctx, u)
			if err != nil {
				return fmt.Errorf("seed %s: %s", c.String("seed"), describe(err, clientFlags))
			}
			defer conn.Close()
			entries, err := conn.List(ctx)
			if err != nil {
				return fmt.Errorf("seed %s: listing files: %s", c.String("seed"), describe(err, clientFlags))
			}
			if c.Bool("json") {
				type entry struct {
					Name string `json:"name"`
					Size int64  `json:"size"`
					ID   string `json:"content_id"`
				}
				out := make([]entry, 0, len(entries))
				for _, e := range entries {
					out = append(out, entry{e.Name, e.Size, e.ID.String()})
				}
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			for _, e := range entries {
				fmt.Fprintf(c.App.Writer, "%s\t%d\t%s\n", showName(e.Name), e.Size, e.ID)
			}
			return nil
		},
	}
}
