package seed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// Stats are the seed's counters since New.
type Stats struct {
	BytesSent         int64 // block payload bytes written to streams, of blocks and ranges
	BlocksSent        int64 // GET_BLOCK answers sent whole
	RangesSent        int64 // GET_RANGE answers sent whole (one that spans its block included)
	ManifestsSent     int64
	ListsSent         int64
	Requests          int64 // request streams accepted
	Rejected          int64 // request streams reset with an error code
	Cancelled         int64 // responses stopped part-way (client cancelled, connection lost, shutdown)
	StreamsActive     int64 // request streams being handled now
	ConnsAccepted     int64
	ConnsRefused      int64 // closed at once with ErrCodeBusy (MaxConns or MaxConnsPerIP reached, or stopping)
	ConnsRefusedPerIP int64 // of those, refused because their address had MaxConnsPerIP
	ConnsActive       int64
	FilesHashed       int64 // manifests hashed at start-up
	FilesFromCache    int64 // manifests loaded from the cache at start-up
	RejectedByReason  map[wire.ErrCode]int64
	InflightWaits     int64 // block responses that waited for their connection's MaxConnInflight
	BufferWaits       int64 // responses that waited for a send buffer (MaxSendBuffers)
	AuthFailures      int64 // AUTH frames with a token the seed does not accept
	SendBufferBytes   int64 // bytes of send buffers held now (at most MaxSendBuffers + connections × ConnSendReserve)
}

type counters struct {
	bytesSent, blocksSent, rangesSent        atomic.Int64
	manifestsSent, listsSent                 atomic.Int64
	requests, cancelled, streamsActive       atomic.Int64
	connsAccepted, connsRefused, connsActive atomic.Int64
	connsRefusedPerIP                        atomic.Int64
	filesHashed, filesCached                 atomic.Int64
	inflightWaits, bufferWaits, authFailures atomic.Int64
	sendBufferBytes                          atomic.Int64
	rejected                                 [16]atomic.Int64 // by ErrCode; the last slot for any other code
}

func (c *counters) reject(code wire.ErrCode) {
	i := int(code)
	if i < 0 || i >= len(c.rejected)-1 {
		i = len(c.rejected) - 1
	}
	c.rejected[i].Add(1)
}

// Stats returns a snapshot of the seed's counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	st := Stats{
		BytesSent:         c.bytesSent.Load(),
		BlocksSent:        c.blocksSent.Load(),
		RangesSent:        c.rangesSent.Load(),
		ManifestsSent:     c.manifestsSent.Load(),
		ListsSent:         c.listsSent.Load(),
		Requests:          c.requests.Load(),
		Cancelled:         c.cancelled.Load(),
		StreamsActive:     c.streamsActive.Load(),
		ConnsAccepted:     c.connsAccepted.Load(),
		ConnsRefused:      c.connsRefused.Load(),
		ConnsRefusedPerIP: c.connsRefusedPerIP.Load(),
		ConnsActive:       c.connsActive.Load(),
		FilesHashed:       c.filesHashed.Load(),
		FilesFromCache:    c.filesCached.Load(),
		InflightWaits:     c.inflightWaits.Load(),
		BufferWaits:       c.bufferWaits.Load(),
		AuthFailures:      c.authFailures.Load(),
		SendBufferBytes:   c.sendBufferBytes.Load(),
		RejectedByReason:  make(map[wire.ErrCode]int64),
	}
	for i := range c.rejected {
		if n := c.rejected[i].Load(); n > 0 {
			st.Rejected += n
			st.RejectedByReason[wire.ErrCode(i)] += n
		}
	}
	return st
}

// connState is what the seed keeps about one connection: its totals, for
// its closing log line, its limits and whether it is authorised.
type connState struct {
	conn                            *quic.Conn
	bytes, blocks, ranges, requests atomic.Int64
	requestRate                     *rate.Limiter       // streams accepted per second
	inflight                        *semaphore.Weighted // bytes of block responses in progress
	sendReserve                     *semaphore.Weighted // its own send buffers (ConnSendReserve); nil: none
	authorised                      atomic.Bool
	authFailures                    atomic.Int32
	haveStreams                     atomic.Int32 // GET_HAVE streams open (maxHaveStreams)
}

// handleConn serves the streams of one connection until it closes, and
// waits for their handlers.
func (s *Server) handleConn(conn *quic.Conn) {
	defer s.release(conn)
	s.stats.connsActive.Add(1)
	defer s.stats.connsActive.Add(-1)
	start := time.Now()
	remote := conn.RemoteAddr().String()
	s.log.Info("connection opened", "remote", remote)
	cs := &connState{
		conn:        conn,
		requestRate: rate.NewLimiter(rate.Limit(s.opts.MaxRequestRate), s.opts.RequestBurst),
		inflight:    semaphore.NewWeighted(s.opts.MaxConnInflight),
	}
	if s.opts.ConnSendReserve > 0 {
		cs.sendReserve = semaphore.NewWeighted(s.opts.ConnSendReserve)
	}
	cs.authorised.Store(!s.tokens.private())
	var wg sync.WaitGroup
	for {
		str, err := conn.AcceptStream(s.hardCtx)
		if err != nil {
			break
		}
		if !s.streams.add() {
			s.reject(str, wire.ErrCodeShuttingDown)
			continue
		}
		if !cs.requestRate.Allow() {
			// Refused unread, before it costs a goroutine.
			s.streams.done()
			s.log.Debug("request rate exceeded", "remote", remote, "stream", str.StreamID())
			s.reject(str, wire.ErrCodeBusy)
			continue
		}
		wg.Go(func() {
			defer s.streams.done()
			s.handleStream(cs, str)
		})
	}
	wg.Wait()
	if s.hardCtx.Err() != nil {
		// Closed now, before release forgets it: closeConns may have taken
		// its list already, and a connection left open when the socket
		// closes leaves its client waiting for its idle timeout.
		conn.CloseWithError(quic.ApplicationErrorCode(wire.ErrCodeShuttingDown), "shutting down")
	}
	// AcceptStream ends when the connection does, but may return before
	// its context says why.
	<-conn.Context().Done()
	s.log.Info("connection closed", "remote", remote,
		"duration", time.Since(start).Round(time.Millisecond),
		"requests", cs.requests.Load(), "bytes", cs.bytes.Load(), "blocks", cs.blocks.Load(), "ranges", cs.ranges.Load(),
		"reason", context.Cause(conn.Context()))
}

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// handleStream reads one request and answers it.
func (s *Server) handleStream(cs *connState, str *quic.Stream) {
	conn := cs.conn
	s.stats.requests.Add(1)
	cs.requests.Add(1)
	s.stats.streamsActive.Add(1)
	defer s.stats.streamsActive.Add(-1)

	// ctx ends when the client stops the stream (STOP_SENDING), the
	// connection closes, or the server is closed.
	ctx, cancel := context.WithCancel(conn.Context())
	defer cancel()
	defer context.AfterFunc(str.Context(), cancel)()
	defer context.AfterFunc(s.hardCtx, cancel)()

	str.SetReadDeadline(time.Now().Add(s.opts.RequestTimeout))
	br := readers.Get().(*bufio.Reader)
	br.Reset(str)
	req, err := wire.ReadRequest(br)
	if err == nil {
		// The client closes its side after the request; read up to that
		// FIN so the stream completes and the client gets its credit back.
		err = wire.ReadEnd(br)
	}
	br.Reset(nil)
	readers.Put(br)
	if err != nil {
		s.log.Debug("bad request", "remote", conn.RemoteAddr(), "stream", str.StreamID(), "err", err)
		s.reject(str, wire.ErrCodeBadRequest)
		return
	}
	str.SetReadDeadline(time.Time{})

	if r, ok := req.(*wire.AuthRequest); ok {
		s.auth(cs, str, r)
		return
	}
	if !cs.authorised.Load() {
		s.log.Debug("request before AUTH", "remote", conn.RemoteAddr(), "stream", str.StreamID())
		s.reject(str, wire.ErrCodeUnauthorized)
		return
	}
	switch r := req.(type) {
	case *wire.ListRequest:
		s.sendList(ctx, cs, str)
	case *wire.ManifestRequest:
		f := s.lookupName(r.Name)
		if r.ByID {
			f = s.lookupID(r.ID)
		}
		if f == nil {
			s.log.Debug("manifest not found", "remote", conn.RemoteAddr(), "name", r.Name, "id", r.ID, "by_id", r.ByID)
			s.reject(str, wire.ErrCodeNotFound)
			return
		}
		f.requested()
		if s.write(str, f.manifestFrame()) {
			s.stats.manifestsSent.Add(1)
			str.Close()
		}
	case *wire.BlockRequest:
		s.answerBlock(ctx, cs, str, blockAsk{id: r.ID, index: r.Index})
	case *wire.RangeRequest:
		s.answerBlock(ctx, cs, str, blockAsk{id: r.ID, index: r.Index, ranged: true, off: r.Offset, length: r.Length})
	case *wire.HaveRequest:
		s.sendHave(ctx, cs, str, r)
	case *wire.PeersRequest:
		s.sendPeers(ctx, cs, str, r)
	default:
		s.reject(str, wire.ErrCodeBadRequest)
	}
}

// auth answers an AUTH request: FIN if the token is accepted (or the seed
// needs none), else a reset with ErrCodeUnauthorized; after maxAuthFailures
// refused tokens the connection is closed. The token is never logged.
func (s *Server) auth(cs *connState, str *quic.Stream, r *wire.AuthRequest) {
	if !s.tokens.private() || s.tokens.accepts(r.Token) {
		cs.authorised.Store(true)
		str.Close()
		return
	}
	s.stats.authFailures.Add(1)
	n := cs.authFailures.Add(1)
	s.log.Info("refused a token", "remote", cs.conn.RemoteAddr(), "failures", n)
	s.reject(str, wire.ErrCodeUnauthorized)
	if n >= maxAuthFailures {
		cs.conn.CloseWithError(quic.ApplicationErrorCode(wire.ErrCodeUnauthorized), "not authorised")
	}
}

// sendBuffer takes a chunk buffer for a response on cs: from the
// connection's own reserve, else from the shared MaxSendBuffers, else it
// waits for the reserve (one of the connection's own responses gives it
// back), or without a reserve for the shared buffers. It returns nil if ctx
// ends first; release gives the buffer back.
func (s *Server) sendBuffer(ctx context.Context, cs *connState) (bp *[]byte, release func()) {
	free := s.sendMemory(ctx, cs, int64(s.chunk))
	if free == nil {
		return nil, nil
	}
	bp = s.bufs.Get().(*[]byte)
	return bp, func() {
		s.bufs.Put(bp)
		free()
	}
}

// sendMemory takes w bytes (at most chunkSize) of send-buffer memory for a
// response on cs, as sendBuffer does; nil if ctx ends first.
func (s *Server) sendMemory(ctx context.Context, cs *connState, w int64) (release func()) {
	sem := cs.sendReserve
	if sem == nil || !sem.TryAcquire(w) {
		sem = s.sendMem
		if !sem.TryAcquire(w) {
			s.stats.bufferWaits.Add(1)
			if cs.sendReserve != nil {
				sem = cs.sendReserve
			}
			if sem.Acquire(ctx, w) != nil {
				return nil
			}
		}
	}
	s.stats.sendBufferBytes.Add(w)
	return func() {
		s.stats.sendBufferBytes.Add(-w)
		sem.Release(w)
	}
}

// writeFrame writes the frames enc appends (at most size bytes, at most
// chunkSize), built in send-buffer memory so that they count against
// MaxSendBuffers, then FIN if fin. It reports whether it all went; if not,
// the stream is abandoned.
func (s *Server) writeFrame(ctx context.Context, cs *connState, str *quic.Stream, size int, fin bool, enc func([]byte) []byte) bool {
	var b []byte
	if size <= s.chunk {
		bp, release := s.sendBuffer(ctx, cs)
		if bp == nil {
			s.abandoned(str)
			return false
		}
		defer release()
		b = (*bp)[:0]
	} else {
		release := s.sendMemory(ctx, cs, int64(size))
		if release == nil {
			s.abandoned(str)
			return false
		}
		defer release()
		b = make([]byte, 0, size)
	}
	if !s.write(str, enc(b)) {
		return false
	}
	if fin {
		str.Close()
	}
	return true
}

// sendList writes a FileEntry for every file, sorted by name, then FIN.
func (s *Server) sendList(ctx context.Context, cs *connState, str *quic.Stream) {
	bp, release := s.sendBuffer(ctx, cs)
	if bp == nil {
		s.abandoned(str)
		return
	}
	defer release()
	b := (*bp)[:0]
	for _, f := range s.allFiles() {
		e := wire.FileEntry{Name: f.Name, Size: f.Size, ID: f.ID}
		b = e.Append(b)
		if len(b) >= s.chunk {
			if !s.write(str, b) {
				return
			}
			b = b[:0]
		}
	}
	if len(b) > 0 && !s.write(str, b) {
		return
	}
	s.stats.listsSent.Add(1)
	str.Close()
}

// openData opens f's file on disk through its PATH's root. A reload that
// replaced the PATH's directory closed that root: the same content is then
// opened through the file the seed serves now under f's content ID; with no
// such file the content is no longer served (fs.ErrNotExist).
//
// The file opened is checked as at indexing: it must be a regular file
// (opened without blocking, see openRegular: a FIFO swapped in since then
// would otherwise hold the request, and an OS thread, for ever, and
// shutdown would wait for it), and a link swapped in that leads to the
// seed's own files is refused (guard).
func (s *Server) openData(f *servedFile) (*os.File, error) {
	osf, _, err := openRegular(f.root, f.rel)
	if errors.Is(err, os.ErrClosed) {
		cur := s.lookupID(f.ID)
		if cur == nil || cur.root == nil || cur.root == f.root {
			return nil, fmt.Errorf("%s: no longer served after a reload: %w", f.Name, fs.ErrNotExist)
		}
		f = cur
		osf, _, err = openRegular(f.root, f.rel)
	}
	if err != nil {
		return nil, err
	}
	if err := s.guard.check(osf, f.Path); err != nil {
		osf.Close()
		return nil, err
	}
	return osf, nil
}

// blockAsk is what a GET_BLOCK or a GET_RANGE asks for: block index of
// content ID id, whole, or if ranged its bytes [off, off+length).
type blockAsk struct {
	id          manifest.ID
	index       uint64
	ranged      bool
	off, length uint64
}

// answerBlock answers a GET_BLOCK or a GET_RANGE: NOT_FOUND for a content
// ID the seed does not serve, BAD_REQUEST for a block index past the file's
// blocks or a range not within its block, NOT_AVAILABLE for a block a
// shared file does not have yet, else the bytes (sendBlock).
func (s *Server) answerBlock(ctx context.Context, cs *connState, str *quic.Stream, a blockAsk) {
	remote := cs.conn.RemoteAddr()
	f := s.lookupID(a.id)
	if f == nil {
		s.log.Debug("block of unknown file", "remote", remote, "id", a.id)
		s.reject(str, wire.ErrCodeNotFound)
		return
	}
	f.requested()
	if a.index >= uint64(f.man.NumBlocks()) {
		s.log.Debug("block index out of range", "remote", remote, "name", f.Name, "index", a.index, "blocks", f.man.NumBlocks())
		s.reject(str, wire.ErrCodeBadRequest)
		return
	}
	i := int(a.index)
	off, length := int64(0), f.man.BlockLen(i)
	if a.ranged {
		if a.off > uint64(length) || a.length > uint64(length)-a.off {
			s.log.Debug("range not within its block", "remote", remote, "name", f.Name, "index", i,
				"range_offset", a.off, "range_length", a.length, "block_length", length)
			s.reject(str, wire.ErrCodeBadRequest)
			return
		}
		off, length = int64(a.off), int64(a.length)
	}
	if f.have != nil && !f.have.has(i) {
		s.reject(str, wire.ErrCodeNotAvailable)
		return
	}
	s.sendBlock(ctx, cs, str, f, i, off, length, a.ranged)
}

// sendBlock writes a block header for length bytes, then bytes [off,
// off+length) of block i read from disk in chunks, each after the rate
// limiter allows it, then FIN: the whole block (off 0, the block's length)
// for a GET_BLOCK, part of it for a GET_RANGE (ranged). Its bytes count in
// BytesSent either way; the answer counts as a block sent (BlocksSent) or,
// ranged, as a range sent (RangesSent), even one that spans the block.
//
// The response first takes its share of the connection's MaxConnInflight
// (the bytes it sends), then a send buffer, waiting for each as long as the
// client wants the answer.
func (s *Server) sendBlock(ctx context.Context, cs *connState, str *quic.Stream, f *servedFile, i int, off, length int64, ranged bool) {
	log := s.log.With("remote", cs.conn.RemoteAddr(), "name", f.Name, "block", i)
	if ranged {
		log = log.With("range_offset", off, "range_length", length)
	}
	pos := f.man.BlockOffset(i) + off // in the file
	w := min(length, s.opts.MaxConnInflight)
	if !cs.inflight.TryAcquire(w) {
		s.stats.inflightWaits.Add(1)
		if cs.inflight.Acquire(ctx, w) != nil {
			s.abandoned(str)
			return
		}
	}
	defer cs.inflight.Release(w)
	fh := f.data
	if fh == nil {
		osf, err := s.openData(f)
		if err != nil {
			log.Warn("cannot open file", "err", err)
			// A file that is gone, or now one the seed never serves or
			// cannot read (not a regular file), has changed since it was
			// indexed: the client asks elsewhere.
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, atomicfile.ErrNotRegular) || notServable(err) {
				s.reject(str, wire.ErrCodeFileChanged)
			} else {
				s.reject(str, wire.ErrCodeInternal)
			}
			return
		}
		defer osf.Close()
		fh = osf
	}

	bp, release := s.sendBuffer(ctx, cs)
	if bp == nil {
		s.abandoned(str)
		return
	}
	defer release()
	buf := (*bp)[:s.chunk]
	if !s.write(str, wire.AppendBlockHeader(buf[:0], int(length))) {
		return
	}
	start := time.Now()
	for sent := int64(0); sent < length; {
		n := int(min(int64(len(buf)), length-sent))
		if s.limiter != nil {
			if err := s.limiter.WaitN(ctx, n); err != nil {
				s.abandoned(str)
				return
			}
		}
		k, err := fh.ReadAt(buf[:n], pos+sent)
		if k < n {
			if err == nil || err == io.EOF {
				log.Info("file shrank since it was indexed", "offset", pos+sent+int64(k))
				s.reject(str, wire.ErrCodeFileChanged)
			} else {
				log.Warn("reading block", "err", err)
				s.reject(str, wire.ErrCodeInternal)
			}
			return
		}
		if !s.write(str, buf[:n]) {
			return
		}
		sent += int64(n)
		s.stats.bytesSent.Add(int64(n))
		cs.bytes.Add(int64(n))
	}
	// Counted before the FIN, so a client that has the whole answer sees
	// it in Stats.
	what := "block sent"
	if ranged {
		what = "range sent"
		s.stats.rangesSent.Add(1)
		cs.ranges.Add(1)
	} else {
		s.stats.blocksSent.Add(1)
		cs.blocks.Add(1)
	}
	str.Close()
	if log.Enabled(ctx, slog.LevelDebug) {
		log.Debug(what, "bytes", length, "took", time.Since(start))
	}
}

// write writes b and reports whether it all went; if not, the stream was
// stopped (client, connection or shutdown) and is abandoned. A client that
// stops reading for IdleTimeout loses the stream, so that it cannot hold a
// chunk buffer for ever while it keeps its connection alive.
func (s *Server) write(str *quic.Stream, b []byte) bool {
	str.SetWriteDeadline(time.Now().Add(s.opts.IdleTimeout))
	if _, err := str.Write(b); err != nil {
		s.abandoned(str)
		return false
	}
	return true
}

// abandoned records a response stopped part-way and makes sure the stream
// is reset (a no-op if the client already stopped it).
func (s *Server) abandoned(str *quic.Stream) {
	s.stats.cancelled.Add(1)
	code := wire.ErrCodeCancelled
	if s.hardCtx.Err() != nil {
		code = wire.ErrCodeShuttingDown
	}
	s.reset(str, code)
}

// reject resets both directions of str with code.
func (s *Server) reject(str *quic.Stream, code wire.ErrCode) {
	s.stats.reject(code)
	s.reset(str, code)
}

func (s *Server) reset(str *quic.Stream, code wire.ErrCode) {
	str.CancelWrite(quic.StreamErrorCode(code))
	str.CancelRead(quic.StreamErrorCode(code))
}
