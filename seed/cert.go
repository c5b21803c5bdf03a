package seed

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/internal/pemfile"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

const (
	keyFileName  = "seed-key.pem"
	certFileName = "seed-cert.pem"
)

// loadCert returns the certificate to serve and the pin of its leaf: the
// operator's files if given, else the self-signed pair kept in stateDir,
// made on first use.
func loadCert(o Options) (tls.Certificate, wire.Pin, error) {
	var (
		cert tls.Certificate
		err  error
	)
	if o.CertFile != "" {
		cert, err = pemfile.KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return tls.Certificate{}, wire.Pin{}, fmt.Errorf("loading certificate %s: %w", o.CertFile, err)
		}
	} else {
		cert, err = selfSigned(o.StateDir, o.Logger)
		if err != nil {
			return tls.Certificate{}, wire.Pin{}, err
		}
	}
	leaf := cert.Leaf
	if leaf == nil {
		leaf, err = x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return tls.Certificate{}, wire.Pin{}, fmt.Errorf("parsing certificate: %w", err)
		}
		cert.Leaf = leaf
	}
	return cert, wire.PinOf(leaf), nil
}

// selfSigned loads StateDir/seed-{key,cert}.pem, or makes and stores them if
// either is missing. A pair that exists but does not load is an error, not a
// reason to make a new one: that would silently change the seed's pin.
func selfSigned(dir string, log *slog.Logger) (tls.Certificate, error) {
	keyPath := filepath.Join(dir, keyFileName)
	certPath := filepath.Join(dir, certFileName)
	_, kerr := os.Stat(keyPath)
	_, cerr := os.Stat(certPath)
	switch {
	case kerr == nil && cerr == nil:
		cert, err := pemfile.KeyPair(certPath, keyPath)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("loading the seed's certificate from %s: %w (remove %s and %s to make a new one; the seed's pin will change)",
				dir, err, keyFileName, certFileName)
		}
		return cert, nil
	case errors.Is(cerr, fs.ErrNotExist):
		// The key is written first, so a key without a certificate is a
		// start-up that stopped half-way; its pin was never published.
	case errors.Is(kerr, fs.ErrNotExist):
		log.Warn("the seed's key is missing: making a new certificate; the seed's pin changes", "dir", dir)
	default:
		return tls.Certificate{}, fmt.Errorf("reading the seed's certificate: %w", errors.Join(kerr, cerr))
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making a serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "quicxfer seed"},
		DNSNames:              []string{"quicxfer-seed"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making a certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("encoding the key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The key first: the certificate's presence then means the pair is
	// complete.
	if err := atomicfile.Write(keyPath, keyPEM, atomicfile.Options{Perm: 0o600}); err != nil {
		return tls.Certificate{}, fmt.Errorf("storing the key: %w", err)
	}
	if err := atomicfile.Write(certPath, certPEM, atomicfile.Options{Perm: 0o644}); err != nil {
		return tls.Certificate{}, fmt.Errorf("storing the certificate: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
