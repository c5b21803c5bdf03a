package wire

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testCert returns a self-signed certificate for key.
func testCert(t *testing.T, key *ecdsa.PrivateKey, serial int64) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "seed"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

func TestPin(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cert := testCert(t, key, 1)
	renewed := testCert(t, key, 2)

	pin := PinOf(cert)
	require.Equal(t, Pin(sha256.Sum256(cert.RawSubjectPublicKeyInfo)), pin)
	require.Equal(t, pin, PinOf(renewed), "the pin is the key's, not the certificate's")

	s := pin.String()
	require.Len(t, s, 43)
	require.NotContains(t, s, "=")
	parsed, err := ParsePin(s)
	require.NoError(t, err)
	require.Equal(t, pin, parsed)

	require.NoError(t, pin.Verify(tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}))
	require.NoError(t, pin.Verify(tls.ConnectionState{PeerCertificates: []*x509.Certificate{renewed}}))

	wrong := testCert(t, other, 3)
	err = pin.Verify(tls.ConnectionState{PeerCertificates: []*x509.Certificate{wrong, cert}})
	require.ErrorIs(t, err, ErrPinMismatch, "only the leaf counts")
	require.EqualError(t, err, "certificate pin mismatch: got "+PinOf(wrong).String()+", want "+s)

	require.ErrorIs(t, pin.Verify(tls.ConnectionState{}), ErrPinMismatch)
}

func TestParsePinRefuses(t *testing.T) {
	valid := Pin(sha256.Sum256([]byte("x"))).String()
	for name, s := range map[string]string{
		"empty":         "",
		"short":         valid[:42],
		"long":          valid + "A",
		"padded":        valid + "=",
		"std alphabet":  strings.Repeat("+", 43),
		"bad character": valid[:42] + "!",
		"nonzero bits":  valid[:42] + "B", // 43 characters carry 2 bits too many; they must be zero
	} {
		_, err := ParsePin(s)
		require.Error(t, err, name)
	}
}
