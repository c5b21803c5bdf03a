package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBashCompletionAlone: the bash script completes commands and flags in
// a bash without the bash-completion package (no _init_completion, no
// _get_comp_words_by_ref), from COMP_WORDS and COMP_CWORD as bash sets
// them, and prints nothing on standard error.
func TestBashCompletionAlone(t *testing.T) {
	sh, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on this machine")
	}
	script := run(t, "completion", "bash")
	require.Zero(t, script.code, script.stderr)
	complete := func(words ...string) []string {
		t.Helper()
		var quoted []string
		for _, w := range append([]string{bin}, words...) {
			quoted = append(quoted, "'"+w+"'")
		}
		cmd := exec.Command(sh, "--norc", "--noprofile", "-c", `
unset -f _init_completion _get_comp_words_by_ref
eval "$QX_SCRIPT"
COMP_WORDS=(`+strings.Join(quoted, " ")+`)
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_quicxfer_bash_autocomplete
printf '%s\n' "${COMPREPLY[@]}"`)
		cmd.Env = append(cmd.Environ(), "QX_SCRIPT="+script.stdout)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, stderr.String())
		require.Empty(t, stderr.String())
		return strings.Fields(string(out))
	}
	require.Equal(t, []string{"--conns-per-seed"}, complete("get", "small.bin", "--con"))
	require.Subset(t, complete("g"), []string{"get"})
	require.Subset(t, complete(""), []string{"get", "seed", "status", "version"})
	require.Subset(t, complete("seed", "--li"), []string{"--listen"})
	require.Empty(t, complete("get", "--seed", "quic://127.0.0.1:4433", "sm"), "a NAME or OUT: left to the shell's file names")
}
