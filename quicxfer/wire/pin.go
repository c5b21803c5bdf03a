package wire

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrPinMismatch is returned by Pin.Verify for a certificate whose key does
// not match the pin.
var ErrPinMismatch = errors.New("certificate pin mismatch")

// pinEncoding is unpadded base64url; Strict refuses non-zero padding bits, so
// that a pin has exactly one text form.
var pinEncoding = base64.RawURLEncoding.Strict()

// Pin is the SHA-256 of a certificate's SubjectPublicKeyInfo. It pins the
// seed's key rather than its certificate, so a seed may renew a self-signed
// certificate for the same key without changing its URL.
type Pin [sha256.Size]byte

// PinOf returns the pin of cert.
func PinOf(cert *x509.Certificate) Pin {
	return sha256.Sum256(cert.RawSubjectPublicKeyInfo)
}

// ParsePin parses the text form of a pin (see Pin.String).
func ParsePin(s string) (Pin, error) {
	var p Pin
	if pinEncoding.DecodedLen(len(s)) != len(p) {
		return Pin{}, fmt.Errorf("pin %q: want %d base64url characters, got %d", s, pinEncoding.EncodedLen(len(p)), len(s))
	}
	if _, err := pinEncoding.Decode(p[:], []byte(s)); err != nil {
		return Pin{}, fmt.Errorf("pin %q: not unpadded base64url", s)
	}
	return p, nil
}

// String returns the pin as unpadded base64url (43 characters).
func (p Pin) String() string { return pinEncoding.EncodeToString(p[:]) }

// Verify checks that the peer's leaf certificate has the pinned key. It has
// the signature of tls.Config.VerifyConnection, which, unlike
// VerifyPeerCertificate, also runs on resumed sessions; a client pinning a
// self-signed seed sets InsecureSkipVerify (no CA check) and
// VerifyConnection: pin.Verify. A mismatch is an error wrapping
// ErrPinMismatch, "certificate pin mismatch: got X, want Y".
func (p Pin) Verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: no certificate, want %s", ErrPinMismatch, p)
	}
	if got := PinOf(cs.PeerCertificates[0]); got != p {
		return fmt.Errorf("%w: got %s, want %s", ErrPinMismatch, got, p)
	}
	return nil
}
