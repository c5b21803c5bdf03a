package pemfile

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
)

// MaxLen bounds a PEM file: far more than a certificate chain, a key or a
// system's whole CA bundle (about 200 KB).
const MaxLen = 4 << 20

// ErrNoCertificate is returned by CertPool for a file without a PEM
// certificate.
var ErrNoCertificate = errors.New("no PEM certificate in it")

// Read reads the PEM file at path (see the package documentation).
func Read(path string) ([]byte, error) {
	return atomicfile.ReadFile(path, MaxLen)
}

// KeyPair is tls.LoadX509KeyPair with each file read by Read.
func KeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := Read(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := Read(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(cert, key)
}

// CertPool reads the CA certificates in the PEM file at path into a pool.
// A file without one is an error wrapping ErrNoCertificate.
func CertPool(path string) (*x509.CertPool, error) {
	b, err := Read(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoCertificate)
	}
	return pool, nil
}
