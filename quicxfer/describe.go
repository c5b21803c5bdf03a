package quicxfer

import (
	"context"
	"errors"
	"strings"

	"github.com/quic-go/quic-go"
)

// Describe turns an error from talking to a seed into a short phrase a user
// can act on.
func Describe(err error) string {
	var (
		hsErr   *quic.HandshakeTimeoutError
		idleErr *quic.IdleTimeoutError
		trErr   *quic.TransportError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &hsErr):
		return "no answer (is the seed running, and is its UDP port reachable?)"
	case errors.As(err, &idleErr):
		return "the connection timed out (no answer from the seed)"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &trErr) && strings.Contains(trErr.Error(), "pin mismatch"):
		return "its certificate does not match the pin in the URL (wrong URL, or not the seed you think)"
	case errors.As(err, &trErr) && strings.Contains(trErr.Error(), "no application protocol"):
		return "it does not speak this version of the quicxfer protocol"
	}
	return err.Error()
}
