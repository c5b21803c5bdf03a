package seed

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/quicxfer/quicxfer/internal/pemfile"
)

// maxAuthFailures is how many tokens a connection may have refused before
// the seed closes it with wire.ErrCodeUnauthorized.
const maxAuthFailures = 3

// tokenSet holds the SHA-256 digests of the seed's tokens, never the tokens.
type tokenSet struct {
	digests [][sha256.Size]byte
}

func newTokenSet(tokens []string) tokenSet {
	var ts tokenSet
	for _, t := range tokens {
		ts.digests = append(ts.digests, sha256.Sum256([]byte(t)))
	}
	return ts
}

// private reports whether the seed needs a token.
func (ts tokenSet) private() bool { return len(ts.digests) > 0 }

// accepts reports whether token is one of the set. It compares digests, of
// equal length whatever the token's, in constant time, and looks at every
// digest whatever matched, so the time taken tells nothing about the tokens.
func (ts tokenSet) accepts(token []byte) bool {
	d := sha256.Sum256(token)
	ok := 0
	for i := range ts.digests {
		ok |= subtle.ConstantTimeCompare(d[:], ts.digests[i][:])
	}
	return ok == 1
}

// loadClientCAs reads a PEM file of CA certificates for mutual TLS
// (bounded, a regular file only: pemfile).
func loadClientCAs(file string) (*x509.CertPool, error) {
	pool, err := pemfile.CertPool(file)
	if errors.Is(err, pemfile.ErrNoCertificate) {
		return nil, fmt.Errorf("client CA file %s: %w", file, pemfile.ErrNoCertificate)
	}
	if err != nil {
		return nil, fmt.Errorf("client CA file: %w", err)
	}
	return pool, nil
}
