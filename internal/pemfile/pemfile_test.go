package pemfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/internal/testpki"
)

func TestKeyPairAndCertPool(t *testing.T) {
	ca := testpki.NewCA(t, "pemfile")
	_, certPEM, keyPEM := ca.Issue(t, false)
	cert, key := testpki.WritePEM(t, certPEM), testpki.WritePEM(t, keyPEM)
	pair, err := KeyPair(cert, key)
	require.NoError(t, err)
	require.NotEmpty(t, pair.Certificate)
	_, err = CertPool(testpki.WritePEM(t, ca.PEM))
	require.NoError(t, err)
	_, err = CertPool(key)
	require.ErrorIs(t, err, ErrNoCertificate)

	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o644))
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(MaxLen+1))
	require.NoError(t, f.Close())
	_, err = KeyPair(fifo, key)
	require.ErrorIs(t, err, atomicfile.ErrNotRegular)
	_, err = KeyPair(cert, big)
	require.ErrorIs(t, err, atomicfile.ErrTooLarge)
	_, err = CertPool(big)
	require.ErrorIs(t, err, atomicfile.ErrTooLarge)
}
