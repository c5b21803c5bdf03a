package wire

import (
	"errors"
	"fmt"

	"github.com/quic-go/quic-go"
)

// ErrCode is an error code sent when a stream is reset or a connection is
// closed.
type ErrCode quic.StreamErrorCode

// Error codes.
const (
	ErrCodeNoError      ErrCode = 0x0
	ErrCodeCancelled    ErrCode = 0x1 // the requester no longer wants the answer
	ErrCodeBadRequest   ErrCode = 0x2 // malformed or unknown request, out-of-range block or range
	ErrCodeNotFound     ErrCode = 0x3 // no such file or content ID
	ErrCodeInternal     ErrCode = 0x4 // the seed failed (e.g. cannot read its file)
	ErrCodeBusy         ErrCode = 0x5 // a limit was reached (connections, request rate); try later
	ErrCodeShuttingDown ErrCode = 0x6 // the seed is stopping
	ErrCodeUnauthorized ErrCode = 0x7 // a private seed: no valid token (AUTH) or client certificate
	ErrCodeFileChanged  ErrCode = 0x8 // the file on disk no longer matches its manifest
	ErrCodeNotAvailable ErrCode = 0x9 // a peer does not have this block (yet)
)

// String describes the code in a few words.
func (c ErrCode) String() string {
	switch c {
	case ErrCodeNoError:
		return "no error"
	case ErrCodeCancelled:
		return "cancelled"
	case ErrCodeBadRequest:
		return "bad request"
	case ErrCodeNotFound:
		return "not found"
	case ErrCodeInternal:
		return "internal error"
	case ErrCodeBusy:
		return "busy"
	case ErrCodeShuttingDown:
		return "shutting down"
	case ErrCodeUnauthorized:
		return "unauthorized"
	case ErrCodeFileChanged:
		return "file changed"
	case ErrCodeNotAvailable:
		return "block not available"
	}
	return fmt.Sprintf("unknown error code 0x%x", uint64(c))
}

// Sentinels for what callers branch on. An *Error matches the one of its
// code with errors.Is; a seed's own code may return them, and CodeOf turns
// them into the code to send.
var (
	ErrNotFound     = errors.New("not found")
	ErrBadRequest   = errors.New("bad request")
	ErrBusy         = errors.New("busy")
	ErrShuttingDown = errors.New("shutting down")
	ErrUnauthorized = errors.New("unauthorized")
	ErrCancelled    = errors.New("cancelled")
	ErrFileChanged  = errors.New("file changed")
	ErrInternal     = errors.New("internal error")
	ErrNotAvailable = errors.New("block not available")
)

// sentinels maps codes to sentinels. ErrCodeNoError has none.
var sentinels = [...]error{
	ErrCodeCancelled:    ErrCancelled,
	ErrCodeBadRequest:   ErrBadRequest,
	ErrCodeNotFound:     ErrNotFound,
	ErrCodeInternal:     ErrInternal,
	ErrCodeBusy:         ErrBusy,
	ErrCodeShuttingDown: ErrShuttingDown,
	ErrCodeUnauthorized: ErrUnauthorized,
	ErrCodeFileChanged:  ErrFileChanged,
	ErrCodeNotAvailable: ErrNotAvailable,
}

// sentinel returns the sentinel of code c, or nil.
func (c ErrCode) sentinel() error {
	if c < ErrCode(len(sentinels)) {
		return sentinels[c]
	}
	return nil
}

// Error is an error code received from, or sent to, the peer: a stream reset
// or a connection close.
type Error struct {
	Code   ErrCode
	Remote bool // the peer sent the code; false if this side did
}

// Error returns e.g. "peer: not found" for a code the peer sent, and
// "local: cancelled" for one this side sent.
func (e *Error) Error() string {
	if e.Remote {
		return "peer: " + e.Code.String()
	}
	return "local: " + e.Code.String()
}

// Is reports whether target is the sentinel of e's code, so that
// errors.Is(err, ErrNotFound) holds for a stream reset with ErrCodeNotFound.
func (e *Error) Is(target error) bool {
	s := e.Code.sentinel()
	return s != nil && target == s
}

// FromQUIC turns a *quic.StreamError (a stream reset) or a
// *quic.ApplicationError (a connection closed by the application), found in
// err's chain with errors.As, into an *Error that wraps nothing else. Other
// errors are returned unchanged, and nil stays nil.
func FromQUIC(err error) error {
	if se, ok := errors.AsType[*quic.StreamError](err); ok {
		return &Error{Code: ErrCode(se.ErrorCode), Remote: se.Remote}
	}
	if ae, ok := errors.AsType[*quic.ApplicationError](err); ok {
		return &Error{Code: ErrCode(ae.ErrorCode), Remote: ae.Remote}
	}
	return err
}

// CodeOf returns the code to send for err: ErrCodeNoError for nil, the code
// of an *Error or of one of the sentinels above, ErrCodeBadRequest for the
// decoding errors of this package (ErrUnknownFrame, ErrUnexpectedFrame,
// ErrFrameTooLarge, ErrWrongLength, ErrBadName, ErrMalformed), and
// ErrCodeInternal for anything else. A truncated request
// (io.ErrUnexpectedEOF) is left to the caller, since a seed also meets that
// error reading its own files.
func CodeOf(err error) ErrCode {
	if err == nil {
		return ErrCodeNoError
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	for c, s := range sentinels {
		if s != nil && errors.Is(err, s) {
			return ErrCode(c)
		}
	}
	for _, s := range [...]error{ErrUnknownFrame, ErrUnexpectedFrame, ErrFrameTooLarge, ErrWrongLength, ErrBadName, ErrMalformed} {
		if errors.Is(err, s) {
			return ErrCodeBadRequest
		}
	}
	return ErrCodeInternal
}
