package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUsageErrors: a bad flag value is a usage error (exit 2) in one line,
// found before anything is built or run.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--only", "13"},
		{"--only", "x"},
		{"--smoke", "--size", "1GiB"},
		{"--size", "10Mbit"},
		{"--nosuch"},
		{"extra"},
		{"--quicxfer", "/nonexistent/quicxfer"},
	} {
		var out, errb bytes.Buffer
		err := newApp(&out, &errb).Run(append([]string{"quicxfer-bench"}, args...))
		require.Equal(t, 2, exitCode(err, &errb), "%v: %v", args, err)
		require.Contains(t, errb.String(), "quicxfer-bench: ", "%v", args)
	}
}
