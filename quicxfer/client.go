package quicxfer

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// Transport settings for the client side. Every block travels on its own
// short-lived stream, which never auto-tunes its flow-control window, so the
// initial stream window is the largest block size: a block never waits for a
// window update.
const (
	streamWindow     = manifest.MaxBlockSize
	connWindow       = 128 << 20
	handshakeTimeout = 5 * time.Second
	idleTimeout      = 30 * time.Second
	keepAlive        = 5 * time.Second
)

// Client dials seeds through one quic.Transport over one UDP socket.
type Client struct {
	opts      ClientOptions
	udp       *net.UDPConn
	tr        *quic.Transport
	closeOnce sync.Once
}

// ClientOptions say how a Client proves who it is to private seeds, and how
// it checks a seed whose URL has no pin. The zero value sends no token and
// no certificate, and checks such seeds against the system's roots.
type ClientOptions struct {
	// Token, if not empty (1 to wire.MaxTokenLen bytes), is sent in an AUTH
	// request right after every handshake; Dial returns once the seed
	// accepted it.
	Token []byte
	// Certificate, if not nil, is presented to a seed that asks for one
	// (mutual TLS).
	Certificate *tls.Certificate
	// RootCAs check the certificate of a seed whose URL has no pin, with the
	// URL's host name; nil means the system's roots. A pin, when the URL has
	// one, is the only check.
	RootCAs *x509.CertPool
	// Insecure accepts any certificate from a seed whose URL has no pin: an
	// explicit choice, as anyone on the path can then pose as the seed. A
	// pin in the URL is still checked.
	Insecure bool
	// HTTP3 says when an https mirror is used over HTTP/3 (default
	// HTTP3Auto: once it offers it, in its Alt-Svc header).
	HTTP3 HTTP3Mode
	// Proxy is the SOCKS5 proxy mirrors are reached through
	// (socks5://[user:pass@]host[:port], resolving names here, or
	// socks5h://, at the proxy); "" takes a socks5 URL in ALL_PROXY (or
	// all_proxy), if any. NO_PROXY names the hosts reached directly. HTTP
	// proxies come from HTTPS_PROXY and HTTP_PROXY, as curl takes them.
	Proxy string
}

// NewClient opens the UDP socket that every connection of this client
// shares; it is NewClientWith(ClientOptions{}).
func NewClient() (*Client, error) { return NewClientWith(ClientOptions{}) }

// NewClientWith is NewClient with a token, a certificate or a trust setting.
func NewClientWith(opts ClientOptions) (*Client, error) {
	if len(opts.Token) > 0 {
		if err := wire.CheckToken(opts.Token); err != nil {
			return nil, err
		}
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		return nil, fmt.Errorf("opening UDP socket: %w", err)
	}
	return &Client{opts: opts, udp: udp, tr: &quic.Transport{Conn: udp}}, nil
}

// Close closes every connection and the socket. It is idempotent.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.tr.Close()
		if cerr := c.udp.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	})
	return err
}

func (c *Client) tlsConfig(u wire.URL) *tls.Config {
	conf := &tls.Config{
		NextProtos: []string{wire.ALPN},
		MinVersion: tls.VersionTLS13,
		ServerName: u.Host,
		RootCAs:    c.opts.RootCAs,
	}
	switch {
	case u.HasPin:
		// The pin replaces the usual chain check. VerifyConnection also runs
		// on resumed sessions, unlike VerifyPeerCertificate.
		conf.InsecureSkipVerify = true
		conf.VerifyConnection = u.Pin.Verify
	case c.opts.Insecure:
		conf.InsecureSkipVerify = true
	}
	if cert := c.opts.Certificate; cert != nil {
		// Always presented, even when its issuer is not among the seed's
		// acceptable CAs, so that a refusal says the certificate was
		// refused rather than missing.
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return conf
}

// QUICConfig returns the quic.Config every client connection uses (flow
// control windows, timeouts, no incoming streams). The benchmarks' raw
// quic-go ceiling uses it too, so that both run with the same settings.
func QUICConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:           handshakeTimeout,
		MaxIdleTimeout:                 idleTimeout,
		KeepAlivePeriod:                keepAlive,
		InitialStreamReceiveWindow:     streamWindow,
		MaxStreamReceiveWindow:         streamWindow,
		InitialConnectionReceiveWindow: connWindow,
		MaxConnectionReceiveWindow:     connWindow,
		MaxIncomingStreams:             -1, // a seed never opens streams to us
		MaxIncomingUniStreams:          -1,
	}
}

// Dial connects to the seed at u and checks its certificate: against the
// pin in u, or, when u has no pin, against ClientOptions.RootCAs (or the
// system's roots) for u.Host, unless ClientOptions.Insecure. With a token,
// it then sends AUTH and returns once the seed accepted it. A seed that
// refuses the token or the client's certificate gives a
// *NotAuthorisedError; a certificate that does not match the pin gives an
// error wrapping ErrPinMismatch, one that does not verify ErrNotTrusted.
func (c *Client) Dial(ctx context.Context, u wire.URL) (*Conn, error) {
	addr, err := net.ResolveUDPAddr("udp", u.Addr())
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", u.Addr(), err)
	}
	qc, err := c.tr.Dial(ctx, addr, c.tlsConfig(u), QUICConfig())
	if err != nil {
		return nil, untrusted(fromQUIC(err, len(c.opts.Token) > 0))
	}
	conn := &Conn{qc: qc, url: u, token: len(c.opts.Token) > 0}
	if conn.token {
		if err := conn.auth(ctx, c.opts.Token); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

// Conn is one QUIC connection to a seed. Its methods may be called from many
// goroutines at once; each request runs on its own stream.
type Conn struct {
	qc    *quic.Conn
	url   wire.URL
	token bool // a token was accepted on this connection
}

// auth sends AUTH with token and waits for the seed's answer: an empty
// stream.
func (c *Conn) auth(ctx context.Context, token []byte) error {
	r, done, err := c.request(ctx, &wire.AuthRequest{Token: token}, 16)
	if err != nil {
		return err
	}
	if err := wire.ReadEnd(r); err != nil {
		done(false)
		return c.streamErr(ctx, err)
	}
	done(true)
	return nil
}

// NotAuthorisedError is the error of a request, or a dial, that a private
// seed refused: it needs a token or a client certificate (Need) that this
// client did not give, or does not accept the one it gave (Refused). It
// matches wire.ErrUnauthorized with errors.Is.
type NotAuthorisedError struct {
	Need    Need
	Refused bool // it was given one, and refused it
}

// Need is what a private seed asks of a client.
type Need int

// What a private seed may need.
const (
	NeedToken      Need = iota + 1 // an access token (ClientOptions.Token)
	NeedClientCert                 // a client certificate (ClientOptions.Certificate)
)

// String names the need in the library's words: "a token", "a client
// certificate".
func (n Need) String() string {
	switch n {
	case NeedToken:
		return "a token"
	case NeedClientCert:
		return "a client certificate"
	}
	return "something"
}

func (e *NotAuthorisedError) Error() string {
	what := strings.TrimPrefix(e.Need.String(), "a ")
	if e.Refused {
		return "not authorised: the seed refused the " + what
	}
	return "not authorised: this seed needs " + e.Need.String()
}

// Is reports whether target is wire.ErrUnauthorized.
func (e *NotAuthorisedError) Is(target error) bool { return target == wire.ErrUnauthorized }

// TLS alerts a seed sends about a client certificate, as quic-go reports
// them: crypto errors 0x100 + alert.
const (
	alertBadCertificate         = 0x100 + 42
	alertUnsupportedCertificate = 0x100 + 43
	alertCertificateRevoked     = 0x100 + 44
	alertCertificateExpired     = 0x100 + 45
	alertCertificateUnknown     = 0x100 + 46
	alertUnknownCA              = 0x100 + 48
	alertAccessDenied           = 0x100 + 49
	alertCertificateRequired    = 0x100 + 116
)

// fromQUIC is wire.FromQUIC, except that a refusal by a private seed (a
// reset or close with ErrCodeUnauthorized, or a TLS alert about the client's
// certificate) becomes a *NotAuthorisedError that says what is missing.
// sentToken tells whether this client sent a token.
func fromQUIC(err error, sentToken bool) error {
	if te, ok := errors.AsType[*quic.TransportError](err); ok && te.Remote {
		switch te.ErrorCode {
		case alertCertificateRequired:
			return &NotAuthorisedError{Need: NeedClientCert}
		case alertBadCertificate, alertUnsupportedCertificate, alertCertificateRevoked,
			alertCertificateExpired, alertCertificateUnknown, alertUnknownCA, alertAccessDenied:
			return &NotAuthorisedError{Need: NeedClientCert, Refused: true}
		}
	}
	err = wire.FromQUIC(err)
	if we, ok := errors.AsType[*wire.Error](err); ok && we.Remote && we.Code == wire.ErrCodeUnauthorized {
		if sentToken {
			return &NotAuthorisedError{Need: NeedToken, Refused: true}
		}
		return &NotAuthorisedError{Need: NeedToken}
	}
	return err
}

// URL returns the seed's URL.
func (c *Conn) URL() wire.URL { return c.url }

// RTT returns the connection's smoothed round-trip time.
func (c *Conn) RTT() time.Duration { return c.qc.ConnectionStats().SmoothedRTT }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.qc.Context().Done() }

// Close closes the connection.
func (c *Conn) Close() error {
	return c.qc.CloseWithError(quic.ApplicationErrorCode(wire.ErrCodeNoError), "")
}

// request opens a stream, sends req and closes the send side. The caller
// reads the answer from the returned reader and must call done, which cancels
// the stream unless the answer was read to its end.
func (c *Conn) request(ctx context.Context, req wire.Request, bufSize int) (*bufio.Reader, func(ok bool), error) {
	str, err := c.qc.OpenStreamSync(ctx)
	if err != nil {
		return nil, nil, fromQUIC(err, c.token)
	}
	// Cancelling ctx cancels the stream in both directions, so the seed stops.
	stop := context.AfterFunc(ctx, func() { cancelStream(str) })
	done := func(ok bool) {
		stop()
		if !ok {
			cancelStream(str)
		}
	}
	if _, err := str.Write(req.Append(nil)); err != nil {
		done(false)
		return nil, nil, fromQUIC(err, c.token)
	}
	if err := str.Close(); err != nil {
		done(false)
		return nil, nil, fromQUIC(err, c.token)
	}
	return bufio.NewReaderSize(str, bufSize), done, nil
}

func cancelStream(str *quic.Stream) {
	str.CancelRead(quic.StreamErrorCode(wire.ErrCodeCancelled))
	str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeCancelled))
}

// streamErr maps an error reading an answer to the package's errors,
// preferring the context's error when the request was cancelled.
func (c *Conn) streamErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fromQUIC(err, c.token)
}

// List returns the files the seed serves. A list of more than
// wire.MaxListEntries files or wire.MaxListBytes of entries is refused with
// an error wrapping wire.ErrListTooLarge, before the entry over the limit is
// read.
func (c *Conn) List(ctx context.Context) ([]wire.FileEntry, error) {
	var entries []wire.FileEntry
	if err := c.ListEach(ctx, func(e wire.FileEntry) error {
		entries = append(entries, e)
		return nil
	}); err != nil {
		return nil, err
	}
	return entries, nil
}

// ListEach calls fn with each file the seed lists, as the entries arrive,
// for a caller that keeps only some of them; within List's limits. An error
// from fn ends the listing (the stream is cancelled) and is returned as it
// is.
func (c *Conn) ListEach(ctx context.Context, fn func(wire.FileEntry) error) error {
	r, done, err := c.request(ctx, &wire.ListRequest{}, 16<<10)
	if err != nil {
		return err
	}
	l := wire.NewListReader(r)
	for {
		e, err := l.Next()
		if errors.Is(err, io.EOF) {
			done(true)
			return nil
		}
		if err != nil {
			done(false)
			return c.streamErr(ctx, err)
		}
		if err := fn(e); err != nil {
			done(false)
			return err
		}
	}
}

// Manifest asks the seed for a manifest by name or by content ID. When
// asked by ID, an answer for any other ID is refused.
func (c *Conn) Manifest(ctx context.Context, req wire.ManifestRequest) (wire.ManifestResponse, error) {
	r, done, err := c.request(ctx, &req, 64<<10)
	if err != nil {
		return wire.ManifestResponse{}, err
	}
	resp, err := wire.ReadManifestResponse(r)
	if err != nil {
		done(false)
		return wire.ManifestResponse{}, c.streamErr(ctx, err)
	}
	done(true)
	if req.ByID && resp.Manifest.ID() != req.ID {
		return wire.ManifestResponse{}, &wrongManifestError{got: resp.Manifest.ID(), want: req.ID}
	}
	return resp, nil
}

// wrongManifestError is a seed's answer, asked for a manifest by content
// ID, with another one.
type wrongManifestError struct{ got, want manifest.ID }

func (e *wrongManifestError) Error() string {
	return fmt.Sprintf("seed answered with content ID %s, asked for %s", e.got, e.want)
}

// FetchBlock reads block index of the content id into buf, whose length must
// be the block's length. onBytes, if not nil, is called with the size of each
// piece of payload as it arrives (at most 64 KiB); it may block, to pace the
// reading (a speed limit). The bytes are not verified here.
func (c *Conn) FetchBlock(ctx context.Context, id manifest.ID, index int, buf []byte, onBytes func(int)) error {
	return c.fetch(ctx, &wire.BlockRequest{ID: id, Index: uint64(index)}, blockPart{index: index, n: len(buf)}, buf, onBytes)
}

// FetchRange reads bytes [off, off+len(buf)) of block index of the content
// id into buf, as FetchBlock reads a whole block (onBytes, errors and the
// end of the stream alike): so that one block can be spread over several
// connections. buf must not be empty, and the range must lie within the
// block as the manifest gives it; one that lies in no block (empty, a
// negative off, past manifest.MaxBlockSize) is refused here, unsent. The
// bytes are not verified here.
//
// A seed that refuses the request as a bad request gives an error wrapping
// ErrRangeUnsupported (and wire.ErrBadRequest): a seed older than GET_RANGE
// does, which does not know the frame; ask it for whole blocks (FetchBlock).
func (c *Conn) FetchRange(ctx context.Context, id manifest.ID, index int, off int64, buf []byte, onBytes func(int)) error {
	p := blockPart{index: index, off: off, n: len(buf), ranged: true}
	// A range in no block would be refused as a bad request, which would
	// read as a seed without ranges.
	if len(buf) == 0 || off < 0 || off > manifest.MaxBlockSize-int64(len(buf)) {
		return fmt.Errorf("%s: not a range within a block", p)
	}
	req := &wire.RangeRequest{ID: id, Index: uint64(index), Offset: uint64(off), Length: uint64(len(buf))}
	err := c.fetch(ctx, req, p, buf, onBytes)
	if we, ok := errors.AsType[*wire.Error](err); ok && we.Remote && we.Code == wire.ErrCodeBadRequest {
		return fmt.Errorf("%s: %w: %w", p, ErrRangeUnsupported, err)
	}
	return err
}

// blockPart is what a fetch reads, as its errors name it: a whole block, or
// n bytes at off within it.
type blockPart struct {
	index  int
	off    int64
	n      int
	ranged bool
}

func (p blockPart) String() string {
	if !p.ranged {
		return fmt.Sprintf("block %d", p.index)
	}
	return fmt.Sprintf("bytes [%d, %d) of block %d", p.off, p.off+int64(p.n), p.index)
}

// fetch sends req, a GET_BLOCK or GET_RANGE for p, and reads its answer, one
// BLOCK of len(buf) bytes, into buf; see FetchBlock.
func (c *Conn) fetch(ctx context.Context, req wire.Request, p blockPart, buf []byte, onBytes func(int)) error {
	r, done, err := c.request(ctx, req, 64<<10)
	if err != nil {
		return err
	}
	if err := wire.ReadBlockHeader(r, int64(len(buf))); err != nil {
		done(false)
		return c.streamErr(ctx, err)
	}
	for off := 0; off < len(buf); {
		n, err := r.Read(buf[off:min(off+readChunk, len(buf))])
		off += n
		if n > 0 && onBytes != nil {
			onBytes(n)
		}
		if err != nil && off < len(buf) {
			done(false)
			if errors.Is(err, io.EOF) && ctx.Err() == nil {
				return fmt.Errorf("%s cut short at %d of %d bytes: %w", p, off, len(buf), io.ErrUnexpectedEOF)
			}
			return c.streamErr(ctx, err)
		}
	}
	// The seed must end the stream here: anything more is a protocol error.
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		done(false)
		if err == nil {
			return fmt.Errorf("%s: %w", p, wire.ErrWrongLength)
		}
		return c.streamErr(ctx, err)
	}
	done(true)
	return nil
}
