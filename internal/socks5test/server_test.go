package socks5test_test

import (
	"bufio"
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/net/proxy"

	"github.com/quicxfer/quicxfer/internal/socks5test"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// echoServer answers each line with the same line, until the client
// closes.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := c.Write(append(sc.Bytes(), '\n')); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// roundTrip sends a line through c and reads its echo.
func roundTrip(t *testing.T, c net.Conn) {
	t.Helper()
	_, err := c.Write([]byte("hello\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "hello\n", line)
}

func dial(t *testing.T, s *socks5test.Server, auth *proxy.Auth, target string) (net.Conn, error) {
	t.Helper()
	d, err := proxy.SOCKS5("tcp", s.Addr(), auth, proxy.Direct)
	require.NoError(t, err)
	return d.(proxy.ContextDialer).DialContext(context.Background(), "tcp", target)
}

func TestConnect(t *testing.T) {
	echo := echoServer(t)
	_, port, err := net.SplitHostPort(echo)
	require.NoError(t, err)
	tests := []struct {
		name   string
		opts   socks5test.Options
		auth   *proxy.Auth
		target string
	}{
		{"no auth, address", socks5test.Options{}, nil, echo},
		{"no auth, name", socks5test.Options{}, nil, net.JoinHostPort("localhost", port)},
		{"user and password", socks5test.Options{User: "u", Password: "p"}, &proxy.Auth{User: "u", Password: "p"}, echo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := socks5test.New(t, tt.opts)
			c, err := dial(t, s, tt.auth, tt.target)
			require.NoError(t, err)
			defer c.Close()
			roundTrip(t, c)
			assert.Equal(t, 1, s.Conns())
			assert.Equal(t, []string{tt.target}, s.Targets())
			assert.Zero(t, s.AuthFailures())
		})
	}
}

func TestRefusesBadCredentials(t *testing.T) {
	echo := echoServer(t)
	tests := []struct {
		name string
		opts socks5test.Options
		auth *proxy.Auth
	}{
		{"wrong password", socks5test.Options{User: "u", Password: "p"}, &proxy.Auth{User: "u", Password: "x"}},
		{"none offered", socks5test.Options{User: "u", Password: "p"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := socks5test.New(t, tt.opts)
			_, err := dial(t, s, tt.auth, echo)
			require.Error(t, err)
			assert.Equal(t, 1, s.AuthFailures())
			assert.Empty(t, s.Targets())
		})
	}
}

func TestUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close())
	s := socks5test.New(t, socks5test.Options{})
	_, err = dial(t, s, nil, dead)
	require.Error(t, err)
	assert.Equal(t, []string{dead}, s.Targets())
}

func TestCloseEndsConnections(t *testing.T) {
	echo := echoServer(t)
	s, err := socks5test.Start(socks5test.Options{})
	require.NoError(t, err)
	c, err := dial(t, s, nil, echo)
	require.NoError(t, err)
	defer c.Close()
	roundTrip(t, c)

	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "idempotent")
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err, "the relayed connection is closed")
	_, err = dial(t, s, nil, echo)
	require.Error(t, err, "no more clients")
}

func TestURL(t *testing.T) {
	s := socks5test.New(t, socks5test.Options{User: "u", Password: "p w"})
	assert.Equal(t, "socks5h://u:p%20w@"+s.Addr(), s.URL("socks5h"))
	open := socks5test.New(t, socks5test.Options{})
	assert.Equal(t, "socks5://"+open.Addr(), open.URL("socks5"))
}
