package quicxfer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/scheduler"
)

// mirrorConns is the most HTTP connections the downloader opens to one
// mirror (host:port), and keeps idle for reuse: one per range in flight over
// HTTP/1.1, as many as the scheduler's window for a fast mirror asks for,
// and the cap aria2 puts on -x. Over HTTP/2 the ranges share one connection.
const mirrorConns = 16

// ErrBadRange is the error of a mirror whose answer to a range request is
// not that range: it ignored the Range header (200 with the whole file),
// answered another range, a file of another size, or fewer or more bytes
// than it announced.
var ErrBadRange = errors.New("mirror did not answer with the range asked for")

// ErrIgnoresRange is the error of a mirror that answered a range request
// with the whole file (200): it cannot serve blocks one by one. It is not a
// bad block, and such a mirror alone can still serve the whole file.
var ErrIgnoresRange = errors.New("it ignores Range requests (answered 200 with the whole file)")

// HTTPStatusError is a mirror's answer with an HTTP status that is not a
// range.
type HTTPStatusError struct {
	Code   int
	Status string // e.g. "404 Not Found"
	// Wait is how long the mirror asked to be left alone (its
	// Retry-After, with a 503 or a 429), 0 if it did not say.
	Wait time.Duration
}

func (e *HTTPStatusError) Error() string { return "HTTP " + e.Status }

// RetryAfter returns Wait.
func (e *HTTPStatusError) RetryAfter() time.Duration { return e.Wait }

// parseRetryAfter reads a Retry-After header (RFC 9110 10.2.3): a number
// of seconds or an HTTP date; 0 if absent, unreadable or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if strings.TrimLeft(v, "0123456789") == "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > int64(24*time.Hour/time.Second) {
			return 24 * time.Hour // absurd: the caller caps it
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// NewHTTPClient returns the HTTP client a download uses for every mirror:
// connections are kept and reused, up to mirrorConns per mirror; https
// mirrors are checked against the system's roots, or opts.RootCAs, unless
// opts.Insecure (the same trust settings as seeds without a pin). Tokens and
// client certificates are for seeds and are never sent to a mirror. Bodies
// are never compressed (a range of a compressed body is not a range of the
// file). Proxies are taken from the environment, as curl does, and
// opts.Proxy (SOCKS5); https mirrors are used over HTTP/3 as opts.HTTP3
// says. The error is that of a bad proxy URL. Close it with CloseHTTPClient
// when done: its transport holds the HTTP/3 side's UDP socket.
func NewHTTPClient(opts ClientOptions) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		RootCAs:            opts.RootCAs,
		InsecureSkipVerify: opts.Insecure,
	}
	tr.ForceAttemptHTTP2 = true // a TLSClientConfig of our own turns it off otherwise
	tr.MaxIdleConnsPerHost = mirrorConns
	tr.MaxConnsPerHost = mirrorConns
	tr.DisableCompression = true
	raw := opts.Proxy
	if raw == "" {
		// ALL_PROXY may hold an http proxy, for curl: that one is
		// HTTPS_PROXY's business here.
		if env := allProxy("", os.Getenv); strings.HasPrefix(strings.ToLower(env), "socks5") {
			raw = env
		}
	}
	dial, err := proxyDialer(raw, os.Getenv)
	if err != nil {
		return nil, err
	}
	if dial != nil {
		tr.DialContext = dial
	}
	return &http.Client{Transport: newHTTPTransport(tr, opts.HTTP3, tr.TLSClientConfig.Clone())}, nil
}

// CheckProxy reports what is wrong with raw as ClientOptions.Proxy, nil if
// nothing (NewHTTPClient's error for it).
func CheckProxy(raw string) error {
	_, err := proxyDialer(raw, os.Getenv)
	return err
}

// CloseHTTPClient closes what a client of NewHTTPClient holds: its idle
// connections, and its transport's HTTP/3 socket.
func CloseHTTPClient(c *http.Client) {
	c.CloseIdleConnections()
	if cl, ok := c.Transport.(io.Closer); ok {
		_ = cl.Close()
	}
}

// parseMirrorURL checks that raw is an http or https URL with a host. Its
// errors never show a password the URL holds.
func parseMirrorURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // it quotes the URL, password and all
		}
		return nil, fmt.Errorf("mirror URL %q: %w", redactRaw(raw), err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mirror URL %q: want the file's http:// or https:// URL", u.Redacted())
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// mirrorName is how a mirror is shown and reported (messages, events,
// progress, results): the URL as given, unless it holds a password, which
// is then replaced by "xxxxx" (url.URL.Redacted).
func mirrorName(u *url.URL, raw string) string {
	if _, ok := u.User.Password(); ok {
		return u.Redacted()
	}
	return raw
}

// redactRaw hides the password of a URL that does not parse: whatever lies
// between the scheme's "//" and the last "@" of the authority after a ":".
func redactRaw(raw string) string {
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return raw
	}
	auth := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		auth = rest[:i]
	}
	at := strings.LastIndex(auth, "@")
	if at < 0 {
		return raw
	}
	colon := strings.Index(auth[:at], ":")
	if colon < 0 {
		return raw
	}
	start := len(raw) - len(rest) + colon + 1
	return raw[:start] + "xxxxx" + raw[start+at-colon-1:]
}

// ErrInsecureRedirect is the error of an https mirror that redirects to
// plain http: refused unless Options.AllowInsecureRedirect, since whoever
// is on the path could then read what is fetched (blocks are still
// verified either way). It comes wrapped in a *RedirectError.
var ErrInsecureRedirect = errors.New("redirected from https to plain http")

// RedirectError is a redirect a mirror was not followed on.
type RedirectError struct {
	To  string // where it pointed, password redacted
	Err error  // why it was refused (ErrInsecureRedirect)
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("%v (to %s): refused", e.Err, e.To)
}

func (e *RedirectError) Unwrap() error { return e.Err }

// A mirror serves bytes only: it has no HAVE, names no peers and cannot
// say what the file is.
var _ interface {
	fetcher
	rttMeter
	issueNoter
	redirector
	wholeFileReader
	protocoler
} = (*httpFetcher)(nil)

// httpFetcher is an HTTP(S) mirror: the URL of the file itself, read with
// one range request per block.
type httpFetcher struct {
	url    string
	client *http.Client // its own copy, with its CheckRedirect
	size   int64        // the file's size, from the manifest
	srtt   atomic.Int64 // smoothed time to first byte in ns, 0 until the first response
	// redirect is where the mirror last sent its requests (the URL that
	// answered, password redacted), nil while it answered itself.
	redirect atomic.Pointer[string]
	// ignoresRange: it answered a range request with the whole file.
	// alone: it is the only source left (the download loop says), so
	// that such a mirror is read as a whole (whole) rather than failed.
	ignoresRange, alone atomic.Bool
	whole               wholeStream
	// proto is the protocol of its last answer (resp.Proto: "HTTP/1.1",
	// "HTTP/2.0", "HTTP/3.0").
	proto atomic.Pointer[string]
	// hops holds what the redirects on the way to the file said of it
	// (their Link, Digest and Repr-Digest headers: a redirector such as
	// MirrorBrain names the other mirrors there), for probe.
	hopsMu sync.Mutex
	hops   http.Header
}

// maxHopValues bounds the values of each header noteHop keeps.
const maxHopValues = 64

// noteHop keeps what a redirect response says of the file.
func (f *httpFetcher) noteHop(h http.Header) {
	f.hopsMu.Lock()
	defer f.hopsMu.Unlock()
	if f.hops == nil {
		f.hops = http.Header{}
	}
	for _, k := range []string{"Link", "Digest", "Repr-Digest"} {
		vs := h.Values(k)
		f.hops[k] = append(f.hops[k], vs[:min(len(vs), maxHopValues-len(f.hops[k]))]...)
	}
}

// newMirrorSource makes the source of the mirror at u (raw as given). Its
// requests go through client, whose redirects are followed except from
// https to http, unless allowInsecure.
func newMirrorSource(u *url.URL, raw string, client *http.Client, size int64, allowInsecure bool) *source {
	f := &httpFetcher{url: u.String(), size: size}
	c := *client // shares the transport and its connections
	next := client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.Response != nil {
			f.noteHop(req.Response.Header)
		}
		if prev := via[len(via)-1]; !allowInsecure && prev.URL.Scheme == "https" && req.URL.Scheme == "http" {
			return &RedirectError{To: req.URL.Redacted(), Err: ErrInsecureRedirect}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	f.client = &c
	return &source{kind: "mirror", raw: mirrorName(u, raw), f: f}
}

// redirectedTo returns where the mirror sent its last answered request,
// "" if it answered itself.
func (f *httpFetcher) redirectedTo() string {
	if p := f.redirect.Load(); p != nil {
		return *p
	}
	return ""
}

// fetch asks for the block's bytes with a Range header and accepts only a
// 206 whose Content-Range is exactly that range of a file of the manifest's
// size (or a 200 when the block is the whole file), with a body of exactly
// that length. Anything else is a failure of this mirror for this block, and
// what it reads is never kept: the caller verifies the bytes in any case.
//
// Outcomes: a mirror that cannot be reached, or refuses the file (401, 403,
// 404, 410), is down for now (backoff, dropped after repeated failures); one
// that is busy (503, 429) refused the request, with its Retry-After; an
// answer that is not the range (ErrBadRange: another range, another size,
// 416, a body longer than announced) counts as a bad block (dropped after
// three); the whole file (ErrIgnoresRange), any other status (5xx, ...), a
// body cut short or an error mid-body fails the request (a backoff).
//
// A mirror that ignores Range is read as a whole instead (wholeStream),
// block after block from one answer, while it is the only source left
// (setAlone): its blocks are verified one by one as they arrive, like any.
func (f *httpFetcher) fetch(ctx context.Context, _ manifest.ID, _ int, off int64, buf []byte, on progress) (scheduler.Outcome, error) {
	if f.ignoresRange.Load() && f.alone.Load() {
		return f.whole.fetch(ctx, f, off, buf, on)
	}
	f.whole.forget(off) // noted when issued, if it was read as a whole then
	return f.fetchRange(ctx, off, buf, on)
}

// fetchRange is fetch's range request: the bytes at off into buf, checked
// to be that range of a file of f.size bytes.
func (f *httpFetcher) fetchRange(ctx context.Context, off int64, buf []byte, on progress) (scheduler.Outcome, error) {
	n := int64(len(buf))
	resp, out, err := f.get(ctx, fmt.Sprintf("bytes=%d-%d", off, off+n-1), nil)
	if err != nil {
		return out, err
	}
	// Closing a body that was not read to its end closes the connection:
	// nothing more of an unwanted answer is read.
	defer resp.Body.Close()

	switch code := resp.StatusCode; {
	case code == http.StatusPartialContent:
		if err := checkContentRange(resp.Header, off, n, f.size); err != nil {
			return scheduler.Rejected, err
		}
	case code == http.StatusOK && off == 0 && n == f.size:
		// The block is the whole file: a server that ignores Range is right.
	case code == http.StatusOK:
		if err := checkWhole(resp, f.size); err != nil {
			return scheduler.Rejected, err
		}
		f.ignoresRange.Store(true)
		if f.alone.Load() {
			resp.Body.Close()
			return f.whole.fetch(ctx, f, off, buf, on)
		}
		// Once may be a proxy's whim: a failure, tried again later.
		return scheduler.Failed, ErrIgnoresRange
	default:
		return statusOutcome(resp)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != n {
		return scheduler.Rejected, fmt.Errorf("%w: Content-Length %d, want %d", ErrBadRange, resp.ContentLength, n)
	}
	if out, err := readFull(ctx, resp.Body, buf, on); err != nil {
		return out, err
	}
	// The body must end here. Reading its end also lets the connection be
	// reused.
	var one [1]byte
	for {
		k, err := resp.Body.Read(one[:])
		if k > 0 {
			return scheduler.Rejected, fmt.Errorf("%w: body longer than %d bytes", ErrBadRange, n)
		}
		if errors.Is(err, io.EOF) {
			return scheduler.Delivered, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return scheduler.Failed, ctx.Err()
			}
			return scheduler.Failed, err
		}
	}
}

// get sends a GET of the mirror's file with the Range header rng (none if
// empty) and the headers hdr (may be nil). On error it also says what the
// failure means. It records where the mirror redirected, and samples the
// time to the first byte.
func (f *httpFetcher) get(ctx context.Context, rng string, hdr http.Header) (*http.Response, scheduler.Outcome, error) {
	var gotConn atomic.Bool
	var wrote atomic.Int64
	trace := &httptrace.ClientTrace{
		GotConn:      func(httptrace.GotConnInfo) { gotConn.Store(true) },
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(time.Now().UnixNano()) },
		GotFirstResponseByte: func() {
			if w := wrote.Load(); w != 0 {
				f.sample(time.Duration(time.Now().UnixNano() - w))
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, f.url, nil)
	if err != nil {
		return nil, scheduler.Down, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := f.client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // the URL is the source's name already
		}
		switch {
		case ctx.Err() != nil:
			return nil, scheduler.Failed, ctx.Err()
		case errors.Is(err, ErrInsecureRedirect):
			return nil, scheduler.Gone, err
		case certRefused(untrusted(err)):
			return nil, scheduler.Gone, untrusted(err) // its certificate will not change
		case !gotConn.Load():
			return nil, scheduler.Down, err // no connection: unreachable, refused, certificate not trusted
		}
		return nil, scheduler.Failed, err
	}
	if p := f.proto.Load(); p == nil || *p != resp.Proto {
		proto := resp.Proto
		f.proto.Store(&proto)
	}
	if to := resp.Request.URL.Redacted(); resp.Request.URL.String() != f.url {
		if old := f.redirect.Load(); old == nil || *old != to {
			f.redirect.Store(&to)
		}
	} else if f.redirect.Load() != nil {
		f.redirect.Store(nil)
	}
	return resp, scheduler.Failed, nil
}

// statusOutcome is the failure of an answer that is neither 200 nor 206.
func statusOutcome(resp *http.Response) (scheduler.Outcome, error) {
	switch code := resp.StatusCode; code {
	case http.StatusRequestedRangeNotSatisfiable:
		return scheduler.Rejected, fmt.Errorf("%w: 416 range not satisfiable (its file is shorter)", ErrBadRange)
	case http.StatusNotFound, http.StatusGone, http.StatusUnauthorized, http.StatusForbidden:
		return scheduler.Down, &HTTPStatusError{Code: code, Status: resp.Status}
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		return scheduler.Busy, &HTTPStatusError{Code: code, Status: resp.Status, Wait: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	default:
		return scheduler.Failed, &HTTPStatusError{Code: code, Status: resp.Status}
	}
}

// checkWhole checks that a 200 is the whole file, as far as its header
// says: not an error page of another length.
func checkWhole(resp *http.Response, size int64) error {
	if resp.ContentLength >= 0 && resp.ContentLength != size {
		return fmt.Errorf("%w: it answered 200 with %d bytes, not the file's %d (an error page?)", ErrBadRange, resp.ContentLength, size)
	}
	return nil
}

// readFull reads len(buf) bytes of body into buf, calling onBytes as they
// come. A body that ends first was cut short: a failure, not a lie.
func readFull(ctx context.Context, body io.Reader, buf []byte, on progress) (scheduler.Outcome, error) {
	n := len(buf)
	for got := 0; got < n; {
		k, err := body.Read(buf[got:min(got+readChunk, n)])
		got += k
		if k > 0 {
			on.bytes(k)
			on.prefix(got)
		}
		if err != nil && got < n {
			if ctx.Err() != nil {
				return scheduler.Failed, ctx.Err()
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return scheduler.Failed, fmt.Errorf("body cut short at %d of %d bytes: %w", got, n, io.ErrUnexpectedEOF)
			}
			return scheduler.Failed, err
		}
	}
	return scheduler.Delivered, nil
}

// checkContentRange checks a 206's Content-Range: bytes off-(off+n-1)/size
// (or /*), and that it is not a multipart answer.
func checkContentRange(h http.Header, off, n, size int64) error {
	if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); strings.HasPrefix(mt, "multipart/") {
		return fmt.Errorf("%w: a multipart answer to a single range", ErrBadRange)
	}
	cr := h.Get("Content-Range")
	first, last, total, ok := parseContentRange(cr)
	switch {
	case !ok:
		return fmt.Errorf("%w: Content-Range %q", ErrBadRange, cr)
	case total >= 0 && total != size:
		return fmt.Errorf("%w: its file has %d bytes, the manifest's %d (another file)", ErrBadRange, total, size)
	case first != off || last != off+n-1:
		return fmt.Errorf("%w: got bytes %d-%d, asked for %d-%d", ErrBadRange, first, last, off, off+n-1)
	}
	return nil
}

// parseContentRange parses "bytes FIRST-LAST/TOTAL" (RFC 9110 14.4); TOTAL
// "*" gives total -1.
func parseContentRange(s string) (first, last, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	num := func(s string) (int64, bool) {
		if s == "" || strings.TrimLeft(s, "0123456789") != "" {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	var okA, okB, okT bool
	first, okA = num(a)
	last, okB = num(b)
	if tot == "*" {
		total, okT = -1, true
	} else {
		total, okT = num(tot)
	}
	if !okA || !okB || !okT || last < first || (total >= 0 && last >= total) {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// sample folds one time to first byte (request written to the first byte
// of the answer: a round trip plus the server's own time) into the smoothed
// estimate, as TCP smooths its RTT (gain 1/8).
func (f *httpFetcher) sample(d time.Duration) {
	for {
		old := f.srtt.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)/8
		}
		if f.srtt.CompareAndSwap(old, next) {
			return
		}
	}
}

func (f *httpFetcher) rtt() time.Duration { return time.Duration(f.srtt.Load()) }

// close ends a whole-file answer being read; the HTTP client's idle
// connections are closed by Download, once for every mirror.
func (f *httpFetcher) close() { f.whole.close() }

// issued is told of each request as the download loop issues it, in its
// order (see wholeStream).
func (f *httpFetcher) issued(off int64) {
	if f.ignoresRange.Load() && f.alone.Load() {
		f.whole.expect(off)
	}
}

// setAlone says whether the mirror is the only source left: one that
// ignores Range is then read as a whole.
func (f *httpFetcher) setAlone(alone bool) { f.alone.Store(alone) }

func (f *httpFetcher) ignoresRanges() bool { return f.ignoresRange.Load() }

func (f *httpFetcher) readsWhole() bool { return f.ignoresRange.Load() && f.alone.Load() }

func (f *httpFetcher) key() string { return f.url }

// protocol is the protocol of the mirror's last answer, "" before the first.
func (f *httpFetcher) protocol() string {
	if p := f.proto.Load(); p != nil {
		return *p
	}
	return ""
}
