package seed

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// Half-open handshakes take no connection slot, and the seed drops each one
// HandshakeTimeout after its client went silent.
//
// A stuck client is a real QUIC client behind a relay that lets its first
// datagram (the whole ClientHello) through and drops everything else, both
// ways: the seed sets up a connection, sends its first flight and never
// hears back. Whether the seed still holds that connection shows on the
// wire when the relay sends the client's first datagram again: while the
// seed holds the connection, the datagram is a duplicate of a packet it has
// (at most it sends a retransmission under the same connection ID); once
// the seed has dropped it, the seed takes it for a new connection and
// answers under a new connection ID. (Waiting for the seed's
// retransmissions to stop would prove nothing: after one datagram from the
// client, the anti-amplification limit silences the seed within a few
// hundred milliseconds, whatever the timeout.)
//
// The bounds are loose for loaded machines, where the whole process can
// stall for a second or two, yet the upper one is short of quic-go's own 5 s
// default, let alone the seed's 10 s.
func TestHandshakeTimeout(t *testing.T) {
	const (
		timeout = 2 * time.Second
		slack   = 2 * time.Second
	)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	s := startForTest(t, Options{Paths: []string{dir}, MaxConns: 2, HandshakeTimeout: timeout})

	// More stuck clients than MaxConns; the seed answers each.
	relays := make([]*stuckRelay, 3)
	for i := range relays {
		relays[i] = newStuckRelay(t, s.Addr().(*net.UDPAddr))
	}
	for i, r := range relays {
		select {
		case <-r.answered:
		case <-time.After(10 * time.Second):
			// The seed does not answer an Initial that waited HandshakeTimeout
			// to be handled, as in a stalled process.
			t.Fatalf("stuck client %d: the seed did not answer its Initial", i)
		}
	}

	// (1) While they are stuck, MaxConns well-behaved clients connect and
	// are served: a half-open handshake takes no slot.
	for range 2 {
		require.Len(t, list(t, dial(t, s)), 1)
	}
	goodDone := time.Now()
	st := s.Stats()
	require.EqualValues(t, 2, st.ConnsAccepted)
	require.Zero(t, st.ConnsRefused)

	// (2) The seed drops each one HandshakeTimeout after it went silent:
	// replay the Initials every 50 ms until the seed answers each as a new
	// connection, for at most HandshakeTimeout + slack after its first
	// answer.
	var deadline time.Time
	for _, r := range relays {
		r.mu.Lock()
		if d := r.answer.Add(timeout + slack); d.After(deadline) {
			deadline = d
		}
		r.mu.Unlock()
	}
	for pending := true; pending && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		pending = false
		for _, r := range relays {
			if r.forgottenAt().IsZero() {
				r.replay()
				pending = true
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // anything the seed still sends
	for i, r := range relays {
		r.stop()
		r.mu.Lock()
		sent, answer, lastOld, forgot, old := r.sent, r.answer, r.lastOld, r.forgot, r.old
		r.mu.Unlock()
		require.False(t, forgot.IsZero(), "stuck client %d: the seed still holds its handshake %v after its Initial",
			i, time.Since(sent).Round(time.Millisecond))
		t.Logf("stuck client %d: the seed answered after %v, sent %d datagrams on the half-open connection, the last after %v, and had dropped it after %v; good clients served after %v",
			i, answer.Sub(sent).Round(time.Millisecond), old, lastOld.Sub(sent).Round(time.Millisecond),
			forgot.Sub(sent).Round(time.Millisecond), goodDone.Sub(sent).Round(time.Millisecond))
		// The seed starts the timeout when it receives the Initial, after
		// sent, and (sending its first flight) at the latest at answer: it
		// cannot drop the connection before sent+timeout.
		require.GreaterOrEqual(t, forgot.Sub(sent), timeout, "stuck client %d: dropped before HandshakeTimeout", i)
		require.LessOrEqual(t, forgot.Sub(answer), timeout+slack, "stuck client %d: dropped late", i)
		require.True(t, goodDone.Before(sent.Add(timeout)), "stuck client %d: the good clients were served only after its timeout", i)
		require.False(t, lastOld.After(forgot), "stuck client %d: the seed sent on the connection after dropping it", i)
	}
}

// stuckRelay stands between a real QUIC client and the seed: it forwards the
// client's first datagram and nothing else, and drops every datagram from
// the seed, noting when each came and under which connection ID.
type stuckRelay struct {
	down     *net.UDPConn // the client's side
	up       *net.UDPConn // connected to the seed
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	answered chan struct{} // closed at the seed's first answer

	mu      sync.Mutex
	initial []byte    // the client's first datagram
	sent    time.Time // when it went to the seed
	answer  time.Time // when the seed's first answer came
	scid    []byte    // the seed's source connection ID in it
	old     int       // datagrams from the seed under scid
	lastOld time.Time // the last of them
	forgot  time.Time // the first answer under another connection ID
}

func newStuckRelay(t *testing.T, seed *net.UDPAddr) *stuckRelay {
	t.Helper()
	down, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	up, err := net.DialUDP("udp", nil, seed)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &stuckRelay{down: down, up: up, cancel: cancel, answered: make(chan struct{})}
	t.Cleanup(r.stop)
	r.wg.Go(r.fromClient)
	r.wg.Go(r.fromSeed)
	r.wg.Go(func() {
		// X25519 alone keeps the ClientHello in one datagram. The client
		// retransmits into the relay until stop.
		_, err := quic.DialAddr(ctx, down.LocalAddr().String(), &tls.Config{
			MinVersion:         tls.VersionTLS13,
			NextProtos:         []string{wire.ALPN},
			InsecureSkipVerify: true,
			CurvePreferences:   []tls.CurveID{tls.X25519},
		}, &quic.Config{HandshakeIdleTimeout: time.Minute})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("stuck client: %v", err)
		}
	})
	return r
}

func (r *stuckRelay) fromClient() {
	b := make([]byte, 2048)
	for {
		n, _, err := r.down.ReadFromUDP(b)
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.initial == nil {
			r.initial = bytes.Clone(b[:n])
			r.sent = time.Now()
			r.up.Write(r.initial)
		}
		r.mu.Unlock()
	}
}

func (r *stuckRelay) fromSeed() {
	b := make([]byte, 2048)
	for {
		n, err := r.up.Read(b)
		if err != nil {
			return
		}
		now := time.Now()
		scid, long := longHeaderSCID(b[:n])
		r.mu.Lock()
		switch {
		case r.scid == nil && long:
			r.scid = bytes.Clone(scid)
			r.answer = now
			r.old, r.lastOld = 1, now
			close(r.answered)
		case r.scid == nil:
		case !long || bytes.Equal(scid, r.scid):
			r.old++
			r.lastOld = now
		case r.forgot.IsZero():
			r.forgot = now
		}
		r.mu.Unlock()
	}
}

// replay sends the client's first datagram to the seed again.
func (r *stuckRelay) replay() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.up.Write(r.initial)
}

func (r *stuckRelay) forgottenAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.forgot
}

// stop ends the client and the relay; it may be called again.
func (r *stuckRelay) stop() {
	r.cancel()
	r.down.Close()
	r.up.Close()
	r.wg.Wait()
}

// longHeaderSCID returns the source connection ID of the QUIC long-header
// packet a datagram starts with, and false for a short header.
func longHeaderSCID(b []byte) ([]byte, bool) {
	if len(b) < 7 || b[0]&0x80 == 0 {
		return nil, false
	}
	dcil := int(b[5])
	if len(b) < 7+dcil {
		return nil, false
	}
	scil := int(b[6+dcil])
	if len(b) < 7+dcil+scil {
		return nil, false
	}
	return b[7+dcil : 7+dcil+scil], true
}
