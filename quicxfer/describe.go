package quicxfer

import (
	"context"
	"crypto/tls"
	"errors"

	"github.com/quic-go/quic-go"

	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// TLS alerts that quic-go reports as crypto errors (0x100 + alert).
const (
	alertNoApplicationProtocol = 0x100 + 120
)

// Describe turns an error from talking to a seed into a short phrase a user
// can act on.
func Describe(err error) string {
	var (
		hsErr   *quic.HandshakeTimeoutError
		idleErr *quic.IdleTimeoutError
		trErr   *quic.TransportError
		appErr  *quic.ApplicationError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrPinMismatch):
		return "pin mismatch: its certificate does not match the pin in the URL (wrong URL, or not the seed you think)"
	case errors.Is(err, ErrNotTrusted):
		why := ""
		if cve, ok := errors.AsType[*tls.CertificateVerificationError](err); ok && cve.Err != nil {
			why = " (" + cve.Err.Error() + ")"
		}
		return "certificate not trusted: it does not verify against the trusted CAs" + why
	case errors.As(err, &hsErr):
		return "no answer (is the seed running, and is its UDP port reachable?)"
	case errors.As(err, &idleErr):
		return "the connection timed out (no answer from the seed)"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &trErr) && trErr.ErrorCode == alertNoApplicationProtocol:
		return "it does not speak this version of the quicxfer protocol (" + wire.ALPN + ")"
	case closedHere(err) || errors.As(err, &appErr) && !appErr.Remote && appErr.ErrorCode == 0:
		return "this side closed the connection"
	}
	return err.Error()
}
