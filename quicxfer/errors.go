package quicxfer

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// Errors about a seed's certificate. Either is permanent for that seed: it
// is left out, or dropped, with it as the reason, and never asked again
// with backoff (asking again cannot change a certificate).
var (
	// ErrNotTrusted: the seed's URL has no pin and its certificate does
	// not verify against the trusted CAs (ClientOptions.RootCAs, or the
	// system's roots) for its host name. An https mirror whose certificate
	// does not verify gives it too.
	ErrNotTrusted = errors.New("certificate not trusted")
	// ErrPinMismatch: the seed's certificate does not match the pin in its
	// URL. It is wire.ErrPinMismatch, so that either matches.
	ErrPinMismatch = wire.ErrPinMismatch
	// ErrNoMajority: without a content ID (Options.ID), the seeds that
	// answered serve different files under the name and no file has more
	// of them than every other; the error is a *NoMajorityError.
	ErrNoMajority = errors.New("no majority among the seeds")
)

// ErrRangeUnsupported: a seed refused a request for part of a block
// (Conn.FetchRange, the GET_RANGE frame) as a bad request. A seed older
// than GET_RANGE does so, as it refuses any frame type it does not know:
// ask that seed for whole blocks (Conn.FetchBlock). A seed that knows
// GET_RANGE gives the same answer to a range that is not within its block,
// which a range taken from the manifest always is. The error also matches
// wire.ErrBadRequest.
var ErrRangeUnsupported = errors.New("range refused (a seed without GET_RANGE, or a range outside the block)")

// untrusted wraps err, from a dial, with ErrNotTrusted when it is the
// client's refusal of a certificate that did not verify (a pin mismatch
// already says what it is).
func untrusted(err error) error {
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok && !errors.Is(err, ErrNotTrusted) {
		return fmt.Errorf("%w: %w", ErrNotTrusted, err)
	}
	return err
}

// certRefused reports whether err is a certificate this side refused (not
// trusted, or not the pinned one): permanent for that source.
func certRefused(err error) bool {
	return errors.Is(err, ErrNotTrusted) || errors.Is(err, ErrPinMismatch)
}

// InterruptedError is the error of a download whose context ended (Ctrl-C)
// before it finished: it says where it was, never "context canceled", and
// it wraps the context's error (context.Canceled, or DeadlineExceeded).
type InterruptedError struct {
	While string // "while connecting to the seeds", "during the manifest vote", "during the download", ...
	Err   error  // the context's error
}

func (e *InterruptedError) Error() string { return "interrupted " + e.While }
func (e *InterruptedError) Unwrap() error { return e.Err }

// NoMajorityError is the manifest vote without a winner: the seeds that
// answered serve different files under Name, as many seeds for each of the
// most served (a tie), and no content ID was given to choose. It matches
// ErrNoMajority.
type NoMajorityError struct {
	Name string
	// Answers holds, for each seed that answered, its URL (as given) and
	// the content ID it serves, in the order the seeds were given.
	Answers []VoteAnswer
}

// VoteAnswer is one seed's answer in the manifest vote.
type VoteAnswer struct {
	Seed string
	ID   manifest.ID
}

func (e *NoMajorityError) Error() string {
	parts := make([]string, len(e.Answers))
	for i, a := range e.Answers {
		parts[i] = fmt.Sprintf("%s serves content ID %s", a.Seed, a.ID)
	}
	return fmt.Sprintf("%q: %v, so which file is meant is not known (%s): choose one by its content ID",
		e.Name, ErrNoMajority, strings.Join(parts, "; "))
}

// Is reports whether target is ErrNoMajority.
func (e *NoMajorityError) Is(target error) bool { return target == ErrNoMajority }

// noUsable is the error of a download left with no source that can serve
// it, worded for the sources it had: "no usable seed", "no usable mirror",
// or "no usable source" for both kinds. It matches ErrNoSeeds.
type noUsable string

func (e noUsable) Error() string        { return "no usable " + string(e) }
func (e noUsable) Is(target error) bool { return target == ErrNoSeeds }

// noUsableFor is the noUsable of srcs: their kind, if they are all of one.
func noUsableFor(srcs []*source) noUsable {
	kind := ""
	for _, s := range srcs {
		switch {
		case kind == "":
			kind = s.kind
		case kind != s.kind:
			return "source"
		}
	}
	if kind == "" {
		return "source"
	}
	return noUsable(kind)
}

// sourceError is a source's error as the download's messages say it, the
// source's URL and the described error ("URL: phrase"), still wrapping the
// error itself, so that a caller can tell what it was (errors.Is, As).
type sourceError struct {
	raw, phrase string
	err         error
}

func (e *sourceError) Error() string { return e.raw + ": " + e.phrase }
func (e *sourceError) Unwrap() error { return e.err }

// sourceErrors are several sources' errors, said one after the other ("A:
// phrase; B: phrase"), so that a failure of every seed names each one's
// reason, not only the first's; errors.Is and As see each of them.
type sourceErrors []*sourceError

func (es sourceErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (es sourceErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
