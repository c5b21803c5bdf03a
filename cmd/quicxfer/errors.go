package main

import (
	"crypto/tls"
	"errors"
	"net/url"
	"strings"

	"github.com/quic-go/quic-go"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// The library's errors for a seed's certificate that does not check out.
var (
	errPinMismatch = quicxfer.ErrPinMismatch
	errNotTrusted  = quicxfer.ErrNotTrusted
)

// The library's errors say what happened in its own words: what a private
// seed needs (quicxfer.NotAuthorisedError), that no source was given
// (quicxfer.ErrNoSources), ... This file says them in the CLI's: with the
// flags that give what is needed, and what to do about it. Every error the
// CLI prints, and every source's error in its messages, goes through
// cliWords.

// flagWords are the flags with which a command gives the client what a
// private seed may need. seed --from (replicate.go) gives them as
// --from-client-cert and --from-client-key.
type flagWords struct {
	token, clientCert, clientKey, ca string
}

var (
	clientFlags = flagWords{token: "--token", clientCert: "--client-cert", clientKey: "--client-key", ca: "--ca"}
	fromFlags   = flagWords{token: "--token", clientCert: "--from-client-cert", clientKey: "--from-client-key", ca: "--from-ca"}
)

// cliWords says text, the library's words for err (its Error, or
// quicxfer.Describe of it), in the CLI's: what the library's typed errors
// in err say is needed or to be done is said with the command's flags (w).
func cliWords(err error, text string, w flagWords) string {
	if err == nil {
		return text
	}
	if nae, ok := errors.AsType[*quicxfer.NotAuthorisedError](err); ok {
		var cli string
		switch {
		case nae.Need == quicxfer.NeedToken && !nae.Refused:
			cli = "not authorised: this seed needs " + w.token
		case nae.Need == quicxfer.NeedClientCert && !nae.Refused:
			cli = "not authorised: this seed needs a client certificate (" + w.clientCert + " and " + w.clientKey + ")"
		}
		if cli != "" {
			text = strings.Replace(text, nae.Error(), cli, 1)
		}
	}
	if lib, cli, ok := certWords(err, w); ok {
		for _, l := range lib {
			if strings.Contains(text, l) {
				text = strings.Replace(text, l, cli, 1)
				break
			}
		}
	}
	for _, s := range []struct {
		err error
		cli string
	}{
		{quicxfer.ErrNoSources, "no seed or mirror given (use --seed URL, or the file's http(s) URL)"},
		{quicxfer.ErrShareLearnt, "--serve: a file from mirrors alone has no content ID to share it by; give its --manifest FILE or a --seed"},
		{quicxfer.ErrOutExists, quicxfer.ErrOutExists.Error() + "; remove it or choose another -o"},
	} {
		if errors.Is(err, s.err) {
			text = strings.Replace(text, s.err.Error(), s.cli, 1)
		}
	}
	return text
}

// certWords says a seed's (or an https mirror's) certificate that did not
// check out in the CLI's words (cli): a pin that does not match, or a
// certificate that nothing trusts (the URL has no pin, and no CA given or
// the given one did not sign it), with what to add. lib are the library's
// words that cli replaces, from the innermost phrase out (the error's own
// text, the connection's that holds it, quicxfer.Describe's).
func certWords(err error, w flagWords) (lib []string, cli string, ok bool) {
	switch {
	case errors.Is(err, errPinMismatch):
		return []string{quicxfer.Describe(err), errPinMismatch.Error()},
			"pin mismatch: its certificate does not match the ?pin= in the URL (a wrong URL, or not the seed you think)", true
	case errors.Is(err, errNotTrusted):
		// The longest phrase first: Describe's, then the library's
		// "certificate not trusted: x509: ..." as a wrapped error has it.
		lib = []string{quicxfer.Describe(err)}
		if cve, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
			lib = append(lib, errNotTrusted.Error()+": "+cve.Error(), cve.Error())
		}
		lib = append(lib, errNotTrusted.Error())
	default:
		cve, isCert := errors.AsType[*tls.CertificateVerificationError](err)
		if !isCert {
			return nil, "", false
		}
		lib = []string{cve.Error()}
		if te, ok := errors.AsType[*quic.TransportError](err); ok {
			lib = append([]string{te.Error()}, lib...)
		}
		lib = append(lib, quicxfer.Describe(err))
	}
	if _, mirror := errors.AsType[*url.Error](err); mirror {
		return lib, "the mirror's certificate is not trusted: give its CA with " + w.ca, true
	}
	return lib, "this seed's certificate is not trusted: add its pin (?pin=...) or " + w.ca, true
}

// describe is quicxfer.Describe of a source's error in the CLI's words (w):
// the phrase of a note or a message, and the library's
// Options.DescribeError.
func describe(err error, w flagWords) string {
	return cliWords(err, quicxfer.Describe(err), w)
}

// cliError is err with its message in the CLI's words (w), still wrapping
// err. An error already said so (it holds a cliError) is returned as it is.
func cliError(err error, w flagWords) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*saidError](err); ok {
		return err
	}
	msg := cliWords(err, err.Error(), w)
	if msg == err.Error() {
		return err
	}
	return &saidError{msg: msg, err: err}
}

// saidError is an error whose message is in the CLI's words.
type saidError struct {
	msg string
	err error
}

func (e *saidError) Error() string { return e.msg }
func (e *saidError) Unwrap() error { return e.err }
