package seed

import (
	"context"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"

	"github.com/quic-go/quic-go"

	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// This file holds what the seed does for a swarm: files served while they
// are being downloaded (Share), availability (GET_HAVE) and other sources
// (GET_PEERS). See the "Swarm" section of the wire package documentation.

// swarmState is the Server's swarm part. Its zero value is ready to use.
type swarmState struct {
	once     sync.Once
	mu       sync.RWMutex
	byName   map[string]*servedFile // shared files
	byID     map[manifest.ID]*servedFile
	stopping chan struct{} // closed when Serve stops accepting
	stopOnce sync.Once
	peers    *peerBook
	cacheDir string          // the manifest cache, for RememberManifest
	shadowed map[string]bool // on-disk files a shared one keeps out, warned about; under mu
}

func (w *swarmState) init() {
	w.once.Do(func() {
		w.byName = make(map[string]*servedFile)
		w.byID = make(map[manifest.ID]*servedFile)
		w.stopping = make(chan struct{})
		w.peers = newPeerBook(realClock{}, PeerTTL)
	})
}

// stop ends the HAVE streams: the seed is shutting down.
func (w *swarmState) stop() {
	w.init()
	w.stopOnce.Do(func() { close(w.stopping) })
}

// lookupName returns the file served under name, full or shared, or nil.
func (s *Server) lookupName(name string) *servedFile {
	if f := s.set.Load().byName[name]; f != nil {
		return f
	}
	s.swarm.init()
	s.swarm.mu.RLock()
	defer s.swarm.mu.RUnlock()
	return s.swarm.byName[name]
}

// lookupID returns the file with content ID id, full or shared, or nil.
func (s *Server) lookupID(id manifest.ID) *servedFile {
	if f := s.set.Load().byID[id]; f != nil {
		return f
	}
	s.swarm.init()
	s.swarm.mu.RLock()
	defer s.swarm.mu.RUnlock()
	return s.swarm.byID[id]
}

// allFiles returns the full and the shared files, sorted by name.
func (s *Server) allFiles() []*servedFile {
	files := s.set.Load().files
	s.swarm.init()
	s.swarm.mu.RLock()
	defer s.swarm.mu.RUnlock()
	if len(s.swarm.byName) == 0 {
		return files
	}
	out := append([]*servedFile(nil), files...)
	for _, f := range s.swarm.byName {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Shared is a file the server serves while it is being downloaded: only the
// blocks given to Add, which the caller has verified and made durable, are
// served and announced; a GET_BLOCK or GET_RANGE for another one is answered with
// wire.ErrCodeNotAvailable.
type Shared struct {
	f *servedFile
}

// Share starts serving the file of manifest m under name, its bytes read from
// data at their offsets. have reports the blocks that data already holds,
// verified and durable (nil: none). It fails if name or the content ID is
// already served.
func (s *Server) Share(name string, m *manifest.Manifest, data io.ReaderAt, have func(int) bool) (*Shared, error) {
	if err := wire.CheckName(name); err != nil {
		return nil, fmt.Errorf("sharing %q: %w", name, err)
	}
	if partial.IsWorkingFile(name) {
		return nil, fmt.Errorf("sharing %q: %w", name, ErrWorkingFile)
	}
	s.swarm.init()
	hs := newHaveSet(m.NumBlocks())
	var blocks []int
	for i := range m.NumBlocks() {
		if have != nil && have(i) {
			blocks = append(blocks, i)
		}
	}
	hs.add(blocks)
	f := &servedFile{File: File{Name: name, Size: m.Size, ID: m.ID()}, man: m, data: data, have: hs}
	s.swarm.mu.Lock()
	defer s.swarm.mu.Unlock()
	set := s.set.Load()
	if set.byName[name] != nil || s.swarm.byName[name] != nil {
		return nil, fmt.Errorf("sharing %q: a file of that name is already served", name)
	}
	if set.byID[f.ID] != nil || s.swarm.byID[f.ID] != nil {
		return nil, fmt.Errorf("sharing %q: content ID %s is already served", name, f.ID)
	}
	s.swarm.byName[name] = f
	s.swarm.byID[f.ID] = f
	s.metrics.track([]*servedFile{f})
	s.log.Info("sharing a partial file", "name", name, "id", f.ID, "blocks", hs.count, "of", m.NumBlocks())
	return &Shared{f: f}, nil
}

// Add makes blocks available: they are served from now on and announced to
// every HAVE stream. The caller has verified them and made them durable.
// Indexes out of range are ignored.
func (sh *Shared) Add(blocks ...int) { sh.f.have.add(blocks) }

// Count returns how many blocks are available.
func (sh *Shared) Count() int { return sh.f.have.countNow() }

// Complete reports whether every block is available.
func (sh *Shared) Complete() bool { return sh.f.have.complete() }

// haveSet is the set of blocks of a shared file that are available, with
// the order in which they became so, for HAVE_ADD.
type haveSet struct {
	mu      sync.Mutex
	bits    wire.Have
	count   int
	log     []uint64      // blocks in the order they were added
	changed chan struct{} // closed and replaced at every add
}

func newHaveSet(n int) *haveSet {
	return &haveSet{bits: wire.NewHave(n), changed: make(chan struct{})}
}

func (h *haveSet) has(i int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bits.Has(i)
}

func (h *haveSet) countNow() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

func (h *haveSet) complete() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count == h.bits.N
}

func (h *haveSet) add(blocks []int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	added := false
	for _, i := range blocks {
		if i < 0 || i >= h.bits.N || h.bits.Has(i) {
			continue
		}
		h.bits.Set(i)
		h.count++
		h.log = append(h.log, uint64(i))
		added = true
	}
	if added {
		close(h.changed)
		h.changed = make(chan struct{})
	}
}

// snapshot returns the set now, the position in the log it covers, and the
// channel closed at the next change.
func (h *haveSet) snapshot() (wire.Have, int, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count == h.bits.N {
		return wire.Have{All: true}, len(h.log), h.changed
	}
	c := wire.Have{N: h.bits.N, Bits: append([]uint64(nil), h.bits.Bits...)}
	return c, len(h.log), h.changed
}

// since returns the blocks added after position pos, the new position,
// whether the set is complete, and the channel closed at the next change.
func (h *haveSet) since(pos int) ([]uint64, int, bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]uint64(nil), h.log[pos:]...), len(h.log), h.count == h.bits.N, h.changed
}

// maxHaveStreams is how many GET_HAVE streams a connection may have open at
// once; more are refused with ErrCodeBusy. A downloader keeps one per
// shared file it fetches from this source.
const maxHaveStreams = 4

// sendHave answers GET_HAVE: HAVE ALL and FIN for a full file; for a shared
// one the set now, then HAVE_ADD as blocks are added, and FIN once it is
// complete. Each frame is built in a send buffer.
func (s *Server) sendHave(ctx context.Context, cs *connState, str *quic.Stream, r *wire.HaveRequest) {
	if cs.haveStreams.Add(1) > maxHaveStreams {
		cs.haveStreams.Add(-1)
		s.log.Debug("too many HAVE streams", "remote", cs.conn.RemoteAddr(), "max", maxHaveStreams)
		s.reject(str, wire.ErrCodeBusy)
		return
	}
	defer cs.haveStreams.Add(-1)
	f := s.lookupID(r.ID)
	if f == nil {
		s.reject(str, wire.ErrCodeNotFound)
		return
	}
	if f.have == nil {
		if s.write(str, wire.AppendHave(nil, wire.Have{All: true})) {
			str.Close()
		}
		return
	}
	var pos int
	var changed <-chan struct{}
	var all bool
	if !s.writeFrame(ctx, cs, str, 16+(f.man.NumBlocks()+7)/8, false, func(b []byte) []byte {
		var set wire.Have
		set, pos, changed = f.have.snapshot()
		all = set.All
		return wire.AppendHave(b, set)
	}) {
		return
	}
	if all {
		str.Close()
		return
	}
	s.swarm.init()
	for {
		select {
		case <-changed:
		case <-ctx.Done():
			s.abandoned(str)
			return
		case <-s.swarm.stopping:
			s.reject(str, wire.ErrCodeShuttingDown)
			return
		}
		var adds []uint64
		var complete bool
		adds, pos, complete, changed = f.have.since(pos)
		for len(adds) > 0 {
			n := min(len(adds), wire.MaxHaveAdd)
			if !s.writeFrame(ctx, cs, str, 16+8*n, false, func(b []byte) []byte { return wire.AppendHaveAdd(b, adds[:n]) }) {
				return
			}
			adds = adds[n:]
		}
		if complete {
			str.Close()
			return
		}
	}
}

// sendPeers answers GET_PEERS: it registers the asker's URL if its host is
// the address the request came from (normalised: host, port and pin; other
// query parameters are dropped), and lists the other sources it knows for
// the content ID.
func (s *Server) sendPeers(ctx context.Context, cs *connState, str *quic.Stream, r *wire.PeersRequest) {
	if s.lookupID(r.ID) == nil {
		s.reject(str, wire.ErrCodeNotFound)
		return
	}
	s.swarm.init()
	self := ""
	if r.Self != "" {
		u, err := wire.ParseURL(r.Self)
		if addr, ip, ok := askerAddr(u, err, cs.conn.RemoteAddr()); ok {
			self = wire.URL{Host: ip, Port: u.Port, Pin: u.Pin, HasPin: u.HasPin}.String()
			if s.swarm.peers.touch(r.ID, self, addr) {
				s.log.Debug("peer registered", "remote", cs.conn.RemoteAddr(), "id", r.ID, "url", self)
			}
		} else {
			s.log.Debug("ignoring a peer URL that is not the asker's address", "remote", cs.conn.RemoteAddr(), "url", r.Self)
		}
	}
	urls := s.swarm.peers.list(r.ID, append(s.URLs(), self), wire.MaxPeers)
	// The answer fits one send buffer: long URLs (only permanent ones can
	// be) past that are left out.
	size := 16
	for i, u := range urls {
		if size+2+len(u) > chunkSize {
			urls = urls[:i]
			break
		}
		size += 2 + len(u)
	}
	s.writeFrame(ctx, cs, str, size, true, func(b []byte) []byte { return wire.AppendPeers(b, urls) })
}

// askerAddr checks that u (parsed with err) names the IP address of addr,
// and returns the key its registrations are counted under (the address; an
// IPv6 one's /64) and the address in canonical form.
func askerAddr(u wire.URL, err error, addr net.Addr) (key, ip string, ok bool) {
	ua, isUDP := addr.(*net.UDPAddr)
	if err != nil || !isUDP {
		return "", "", false
	}
	uip := net.ParseIP(u.Host)
	if uip == nil || !uip.Equal(ua.IP) {
		return "", "", false
	}
	if v4 := uip.To4(); v4 != nil {
		return v4.String(), v4.String(), true
	}
	return uip.Mask(net.CIDRMask(64, 128)).String() + "/64", uip.String(), true
}

// AddPeer records url as another source of content ID id that never expires
// (a seed this one was filled from, or one the operator named). A URL that
// does not parse is an error.
func (s *Server) AddPeer(id manifest.ID, url string) error {
	u, err := wire.ParseURL(url)
	if err != nil {
		return err
	}
	s.swarm.init()
	s.swarm.peers.addPermanent(id, u.String())
	return nil
}

// TouchPeer records url as another source of content ID id, or refreshes it:
// it is listed until PeerTTL passes without another TouchPeer.
func (s *Server) TouchPeer(id manifest.ID, url string) error {
	u, err := wire.ParseURL(url)
	if err != nil {
		return err
	}
	s.swarm.init()
	s.swarm.peers.touch(id, u.String(), "")
	return nil
}

// Peers returns the other sources the server knows for content ID id.
func (s *Server) Peers(id manifest.ID) []string {
	s.swarm.init()
	return s.swarm.peers.list(id, nil, wire.MaxPeers)
}
