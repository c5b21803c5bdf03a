package wire

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"
)

// codeSentinels pairs every code with its sentinel.
var codeSentinels = []struct {
	code     ErrCode
	sentinel error
	text     string
}{
	{ErrCodeCancelled, ErrCancelled, "cancelled"},
	{ErrCodeBadRequest, ErrBadRequest, "bad request"},
	{ErrCodeNotFound, ErrNotFound, "not found"},
	{ErrCodeInternal, ErrInternal, "internal error"},
	{ErrCodeBusy, ErrBusy, "busy"},
	{ErrCodeShuttingDown, ErrShuttingDown, "shutting down"},
	{ErrCodeUnauthorized, ErrUnauthorized, "unauthorized"},
	{ErrCodeFileChanged, ErrFileChanged, "file changed"},
	{ErrCodeNotAvailable, ErrNotAvailable, "block not available"},
}

func TestErrCodeString(t *testing.T) {
	require.Equal(t, "no error", ErrCodeNoError.String())
	for _, tc := range codeSentinels {
		require.Equal(t, tc.text, tc.code.String())
	}
	require.Equal(t, "unknown error code 0xa", ErrCode(10).String())
	require.Equal(t, "unknown error code 0x1234", ErrCode(0x1234).String())
}

func TestErrCodeValues(t *testing.T) {
	// The values are part of the protocol.
	require.Equal(t, []ErrCode{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, []ErrCode{
		ErrCodeNoError, ErrCodeCancelled, ErrCodeBadRequest, ErrCodeNotFound, ErrCodeInternal,
		ErrCodeBusy, ErrCodeShuttingDown, ErrCodeUnauthorized, ErrCodeFileChanged, ErrCodeNotAvailable,
	})
}

func TestFromQUICStreamError(t *testing.T) {
	for _, tc := range codeSentinels {
		for _, remote := range []bool{true, false} {
			qerr := &quic.StreamError{StreamID: 4, ErrorCode: quic.StreamErrorCode(tc.code), Remote: remote}
			wrapped := fmt.Errorf("reading block 17: %w", qerr)
			err := FromQUIC(wrapped)
			require.Equal(t, &Error{Code: tc.code, Remote: remote}, err)
			require.ErrorIs(t, err, tc.sentinel)
			for _, other := range codeSentinels {
				if other.code != tc.code {
					require.NotErrorIs(t, err, other.sentinel)
				}
			}
			require.Equal(t, tc.code, CodeOf(err))
		}
	}
	err := FromQUIC(&quic.StreamError{ErrorCode: quic.StreamErrorCode(ErrCodeNotFound), Remote: true})
	require.EqualError(t, err, "peer: not found")
	err = FromQUIC(&quic.StreamError{ErrorCode: quic.StreamErrorCode(ErrCodeCancelled)})
	require.EqualError(t, err, "local: cancelled")
}

func TestFromQUICApplicationError(t *testing.T) {
	qerr := &quic.ApplicationError{ErrorCode: quic.ApplicationErrorCode(ErrCodeShuttingDown), Remote: true, ErrorMessage: "bye"}
	err := FromQUIC(fmt.Errorf("opening stream: %w", qerr))
	require.Equal(t, &Error{Code: ErrCodeShuttingDown, Remote: true}, err)
	require.ErrorIs(t, err, ErrShuttingDown)
	require.EqualError(t, err, "peer: shutting down")

	err = FromQUIC(&quic.ApplicationError{ErrorCode: quic.ApplicationErrorCode(ErrCodeNoError), Remote: true})
	require.Equal(t, &Error{Code: ErrCodeNoError, Remote: true}, err)
	for _, tc := range codeSentinels {
		require.NotErrorIs(t, err, tc.sentinel, "no error matches no sentinel")
	}
}

func TestFromQUICUnknownCode(t *testing.T) {
	err := FromQUIC(&quic.StreamError{ErrorCode: 0x99, Remote: true})
	require.EqualError(t, err, "peer: unknown error code 0x99")
	for _, tc := range codeSentinels {
		require.NotErrorIs(t, err, tc.sentinel)
	}
}

func TestFromQUICOther(t *testing.T) {
	require.NoError(t, FromQUIC(nil))
	for _, err := range []error{io.EOF, io.ErrUnexpectedEOF, net.ErrClosed, &quic.IdleTimeoutError{}, fmt.Errorf("x: %w", ErrMalformed)} {
		require.Equal(t, err, FromQUIC(err))
	}
}

func TestCodeOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want ErrCode
	}{
		{nil, ErrCodeNoError},
		{ErrNotFound, ErrCodeNotFound},
		{fmt.Errorf("file %q: %w", "x", ErrNotFound), ErrCodeNotFound},
		{fmt.Errorf("x: %w", ErrFileChanged), ErrCodeFileChanged},
		{ErrBusy, ErrCodeBusy},
		{&Error{Code: ErrCodeUnauthorized}, ErrCodeUnauthorized},
		{&Error{Code: 0x42}, 0x42},
		{fmt.Errorf("x: %w", ErrBadName), ErrCodeBadRequest},
		{ErrUnknownFrame, ErrCodeBadRequest},
		{ErrUnexpectedFrame, ErrCodeBadRequest},
		{ErrFrameTooLarge, ErrCodeBadRequest},
		{ErrMalformed, ErrCodeBadRequest},
		{ErrWrongLength, ErrCodeBadRequest},
		{errors.New("disk on fire"), ErrCodeInternal},
		{io.ErrUnexpectedEOF, ErrCodeInternal},
	} {
		require.Equal(t, tc.want, CodeOf(tc.err), "%v", tc.err)
	}
}
