package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// The help text says the library's defaults, which the flags take from its
// constants, in the words it always had.
func TestHelpSaysTheDefaults(t *testing.T) {
	for cmd, want := range map[string][]string{
		"get": {
			"it is retried after 0.5 s, 1 s, 2 s, ... up to 15 s between;",
			"--retries value ", "(default: 6)",
			"add more while they raise the seed's rate and its path has no queue, up to 64),", "(default: \"auto\")",
		},
		"seed": {
			`(default: ":4433")`, "(default: 256)", "(default: 64)", "(default: 100)", "(default: 30s)",
			`more wait (default: "64MiB")`, `0 for none (default: "256KiB")`,
		},
	} {
		var out bytes.Buffer
		require.NoError(t, newApp(&out, &out).Run([]string{"quicxfer", cmd, "--help"}))
		for _, w := range want {
			require.Contains(t, out.String(), w, "quicxfer %s --help", cmd)
		}
	}
}
