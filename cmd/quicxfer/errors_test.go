package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// The library says what a seed needs in its words; the CLI says it with
// the command's flags, wherever the error is in a chain, and the chain
// still matches.
func TestCLIWords(t *testing.T) {
	needToken := &quicxfer.NotAuthorisedError{Need: quicxfer.NeedToken}
	needCert := &quicxfer.NotAuthorisedError{Need: quicxfer.NeedClientCert}
	for _, tc := range []struct {
		name     string
		err      error
		w        flagWords
		lib, cli string
	}{
		{"token", needToken, clientFlags, "not authorised: this seed needs a token", "not authorised: this seed needs --token"},
		{"certificate", needCert, clientFlags, "not authorised: this seed needs a client certificate",
			"not authorised: this seed needs a client certificate (--client-cert and --client-key)"},
		{"certificate, seed --from", fmt.Errorf("quic://a: %w", needCert), fromFlags, "quic://a: not authorised: this seed needs a client certificate",
			"quic://a: not authorised: this seed needs a client certificate (--from-client-cert and --from-client-key)"},
		{"refused token", &quicxfer.NotAuthorisedError{Need: quicxfer.NeedToken, Refused: true}, clientFlags,
			"not authorised: the seed refused the token", "not authorised: the seed refused the token"},
		{"refused certificate", &quicxfer.NotAuthorisedError{Need: quicxfer.NeedClientCert, Refused: true}, clientFlags,
			"not authorised: the seed refused the client certificate", "not authorised: the seed refused the client certificate"},
		{"no sources", quicxfer.ErrNoSources, clientFlags, "no seed or mirror given", "no seed or mirror given (use --seed URL, or the file's http(s) URL)"},
		{"mirrors alone, shared", quicxfer.ErrShareLearnt, clientFlags, quicxfer.ErrShareLearnt.Error(),
			"--serve: a file from mirrors alone has no content ID to share it by; give its --manifest FILE or a --seed"},
		{"out exists", fmt.Errorf("x.bin: %w", quicxfer.ErrOutExists), clientFlags, "x.bin: output file exists and is a different file",
			"x.bin: output file exists and is a different file; remove it or choose another -o"},
		{"other", errors.New("disk full"), clientFlags, "disk full", "disk full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.lib, tc.err.Error(), "the library's words")
			require.NotContains(t, tc.err.Error(), "--", "no flag in the library's words")
			e := cliError(tc.err, tc.w)
			require.Equal(t, tc.cli, e.Error())
			require.ErrorIs(t, e, tc.err)
			require.Equal(t, tc.cli, cliError(e, tc.w).Error(), "said once")
			require.Equal(t, tc.cli, cliError(fmt.Errorf("%w", e), tc.w).Error(), "said once, wrapped after")
			require.Equal(t, cliWords(tc.err, quicxfer.Describe(tc.err), tc.w), describe(tc.err, tc.w))
		})
	}
	require.ErrorIs(t, cliError(needToken, clientFlags), wire.ErrUnauthorized)
	require.NoError(t, cliError(nil, clientFlags))
}
