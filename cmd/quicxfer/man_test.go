package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

//go:generate go test -run ^TestManPage$ -count=1 . -args -update-man

var updateMan = flag.Bool("update-man", false, "write docs/quicxfer.1 from the commands")

// TestManPage: docs/quicxfer.1 is the man page the commands generate, so
// that it never goes stale: after a change to a command, its flags or its
// help, regenerate it with `go generate ./cmd/quicxfer` (which runs this
// test with -update-man).
func TestManPage(t *testing.T) {
	page, err := manPage()
	require.NoError(t, err)
	path := filepath.Join("..", "..", "docs", "quicxfer.1")
	if *updateMan {
		require.NoError(t, os.WriteFile(path, []byte(page), 0o644))
	}
	committed, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, page, string(committed), "docs/quicxfer.1 is stale: run go generate ./cmd/quicxfer")
}

// manPage is quicxfer(1), generated from the commands.
func manPage() (string, error) {
	return newApp(new(bytes.Buffer), new(bytes.Buffer)).ToManWithSection(1)
}
