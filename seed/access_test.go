package seed

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/syncbuf"
	"github.com/quicxfer/quicxfer/internal/testpki"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// auth sends AUTH on its own stream and returns the seed's answer: nil for
// FIN, else the error (a reset or the connection's close).
func auth(t testing.TB, conn *quic.Conn, token string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return wire.FromQUIC(err)
	}
	str.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := str.Write((&wire.AuthRequest{Token: []byte(token)}).Append(nil)); err != nil {
		return wire.FromQUIC(err)
	}
	str.Close()
	_, err = str.Read(make([]byte, 1))
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("AUTH answered with data or not at all: %v", err)
	}
	return wire.FromQUIC(err)
}

func newClient(t testing.TB, o quicxfer.ClientOptions) *quicxfer.Client {
	t.Helper()
	c, err := quicxfer.NewClientWith(o)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func parseURL(t testing.TB, s string) wire.URL {
	t.Helper()
	u, err := wire.ParseURL(s)
	require.NoError(t, err)
	return u
}

// listWith dials s with a quicxfer client and lists its files.
func listWith(t testing.TB, o quicxfer.ClientOptions, u wire.URL) ([]wire.FileEntry, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := newClient(t, o).Dial(ctx, u)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.List(ctx)
}

func requireNotAuthorised(t testing.TB, err error, msg string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, wire.ErrUnauthorized)
	var nae *quicxfer.NotAuthorisedError
	require.ErrorAs(t, err, &nae)
	require.Equal(t, "not authorised: "+msg, err.Error())
}

func TestPrivateSeedToken(t *testing.T) {
	const token, wrong = "correct horse battery staple", "tr0ub4dor&3"
	dir := t.TempDir()
	data := randBytes(2*bs+5, 11)
	writeFile(t, filepath.Join(dir, "secret.bin"), data)
	var logs syncbuf.Buffer
	s := startForTest(t, Options{
		Paths:  []string{dir},
		Tokens: []string{"another token", token},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	f := fileByName(t, s, "secret.bin")

	t.Run("nothing without a token", func(t *testing.T) {
		conn := dial(t, s)
		_, r := send(t, conn, (&wire.ListRequest{}).Append(nil))
		_, err := r.ReadByte()
		requireCode(t, err, wire.ErrCodeUnauthorized)
		_, err = getManifest(t, conn, &wire.ManifestRequest{Name: "secret.bin"})
		requireCode(t, err, wire.ErrCodeUnauthorized)
		_, err = getManifest(t, conn, &wire.ManifestRequest{ByID: true, ID: f.ID})
		requireCode(t, err, wire.ErrCodeUnauthorized)
		_, err = getBlock(t, conn, f.ID, 0, bs)
		requireCode(t, err, wire.ErrCodeUnauthorized)
		// Refusals without AUTH do not close the connection.
		require.NoError(t, conn.Context().Err())
	})

	t.Run("wrong token", func(t *testing.T) {
		conn := dial(t, s)
		requireCode(t, auth(t, conn, wrong), wire.ErrCodeUnauthorized)
		_, err := getBlock(t, conn, f.ID, 0, bs)
		requireCode(t, err, wire.ErrCodeUnauthorized)
		// A token that only shares a prefix, or is one byte, is no better.
		requireCode(t, auth(t, conn, token[:len(token)-1]), wire.ErrCodeUnauthorized)
		_ = auth(t, conn, "x") // the third failure closes the connection
		select {
		case <-conn.Context().Done():
		case <-time.After(5 * time.Second):
			t.Fatal("connection not closed after three refused tokens")
		}
		requireCode(t, context.Cause(conn.Context()), wire.ErrCodeUnauthorized)
	})

	t.Run("right token", func(t *testing.T) {
		conn := dial(t, s)
		require.NoError(t, auth(t, conn, token))
		require.Len(t, list(t, conn), 1)
		got, err := getBlock(t, conn, f.ID, 2, 5)
		require.NoError(t, err)
		require.Equal(t, data[2*bs:], got)
		// Authorisation is per connection.
		_, err = getBlock(t, dial(t, s), f.ID, 0, bs)
		requireCode(t, err, wire.ErrCodeUnauthorized)
	})

	u := parseURL(t, s.URL())
	t.Run("client without token", func(t *testing.T) {
		_, err := listWith(t, quicxfer.ClientOptions{}, u)
		requireNotAuthorised(t, err, "this seed needs a token")
	})
	t.Run("client with a wrong token", func(t *testing.T) {
		_, err := listWith(t, quicxfer.ClientOptions{Token: []byte(wrong)}, u)
		requireNotAuthorised(t, err, "the seed refused the token")
	})
	t.Run("client with the token", func(t *testing.T) {
		entries, err := listWith(t, quicxfer.ClientOptions{Token: []byte(token)}, u)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Equal(t, f.ID, entries[0].ID)
	})
	t.Run("download", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		opts := quicxfer.Options{Seeds: []string{s.URL()}, Name: "secret.bin", Out: out}
		_, err := quicxfer.Download(t.Context(), opts)
		require.ErrorContains(t, err, "not authorised: this seed needs a token")
		require.NoFileExists(t, out)

		opts.Auth.Token = []byte(token)
		_, err = quicxfer.Download(t.Context(), opts)
		require.NoError(t, err)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, data, got)
	})

	require.GreaterOrEqual(t, s.Stats().AuthFailures, int64(4))
	out := logs.String()
	require.Contains(t, out, "refused a token", "the log is captured")
	for _, secret := range []string{token, wrong, "another token", token[:len(token)-1]} {
		require.NotContains(t, out, secret, "a token in the log")
	}
}

// A seed without tokens accepts AUTH, so a client can always send it.
func TestAuthToPublicSeed(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("public"))
	s := startForTest(t, Options{Paths: []string{dir}})
	require.NoError(t, auth(t, dial(t, s), "anything"))
	entries, err := listWith(t, quicxfer.ClientOptions{Token: []byte("anything")}, parseURL(t, s.URL()))
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

func TestTokenOptions(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range [][]string{{""}, {string(make([]byte, wire.MaxTokenLen+1))}} {
		_, err := New(context.Background(), Options{Paths: []string{dir}, StateDir: t.TempDir(), Tokens: bad})
		require.ErrorContains(t, err, "token 1")
	}
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("for members only"))
	ca, other := testpki.NewCA(t, "clients"), testpki.NewCA(t, "strangers")
	s := startForTest(t, Options{Paths: []string{dir}, ClientCAFile: testpki.WritePEM(t, ca.PEM)})
	u := parseURL(t, s.URL())

	good, _, _ := ca.Issue(t, false)
	bad, _, _ := other.Issue(t, false)

	_, err := listWith(t, quicxfer.ClientOptions{}, u)
	requireNotAuthorised(t, err, "this seed needs a client certificate")
	_, err = listWith(t, quicxfer.ClientOptions{Certificate: &bad}, u)
	requireNotAuthorised(t, err, "the seed refused the client certificate")

	entries, err := listWith(t, quicxfer.ClientOptions{Certificate: &good}, u)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.EqualValues(t, 1, s.Stats().ConnsAccepted, "refused handshakes never reach the handler")

	_, err = New(context.Background(), Options{Paths: []string{dir}, StateDir: t.TempDir(), ClientCAFile: testpki.WritePEM(t, []byte("not PEM"))})
	require.ErrorContains(t, err, "no PEM certificate")
}

// TestTransportTrust checks how a client verifies a seed: by the pin in its
// URL, by a CA it names (host name checked), or not at all when it says
// --insecure.
func TestTransportTrust(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	ca, other := testpki.NewCA(t, "seeds"), testpki.NewCA(t, "elsewhere")
	_, certPEM, keyPEM := ca.Issue(t, true, net.IPv4(127, 0, 0, 1))
	s := startForTest(t, Options{Paths: []string{dir}, CertFile: testpki.WritePEM(t, certPEM), KeyFile: testpki.WritePEM(t, keyPEM)})
	pinned := parseURL(t, s.URL())
	bare := pinned
	bare.HasPin = false
	wrongPin := pinned
	wrongPin.Pin[0] ^= 1

	for _, tc := range []struct {
		name string
		u    wire.URL
		o    quicxfer.ClientOptions
		ok   bool
		is   error
	}{
		{"pin", pinned, quicxfer.ClientOptions{}, true, nil},
		{"wrong pin", wrongPin, quicxfer.ClientOptions{}, false, wire.ErrPinMismatch},
		{"wrong pin, insecure", wrongPin, quicxfer.ClientOptions{Insecure: true}, false, wire.ErrPinMismatch},
		{"CA, IP address", bare, quicxfer.ClientOptions{RootCAs: ca.Pool()}, true, nil},
		{"another CA", bare, quicxfer.ClientOptions{RootCAs: other.Pool()}, false, nil},
		{"system roots", bare, quicxfer.ClientOptions{}, false, nil},
		{"insecure", bare, quicxfer.ClientOptions{Insecure: true}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := listWith(t, tc.o, tc.u)
			if tc.ok {
				require.NoError(t, err)
				require.Len(t, entries, 1)
				return
			}
			require.Error(t, err)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			require.NotErrorIs(t, err, wire.ErrUnauthorized)
		})
	}

	// A certificate of the right CA for another host is refused.
	_, certPEM, keyPEM = ca.Issue(t, true)
	s2 := startForTest(t, Options{Paths: []string{dir}, CertFile: testpki.WritePEM(t, certPEM), KeyFile: testpki.WritePEM(t, keyPEM)})
	u2 := parseURL(t, s2.URL())
	u2.HasPin = false
	_, err := listWith(t, quicxfer.ClientOptions{RootCAs: ca.Pool()}, u2)
	var hostErr x509.HostnameError
	require.ErrorAs(t, err, &hostErr)
}
