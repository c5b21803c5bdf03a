// Package scriptseed is a seed for tests that plays a hostile or broken
// seed a real one never is: it lists whatever a test scripts (names that
// CheckName refuses, names of quicxfer's own working files, lists without
// end) and serves the files it is given honestly under any name. It speaks
// QUIC on 127.0.0.1 with a self-signed certificate whose pin is in its URL,
// and stops when the test ends.
package scriptseed

import (
	"bytes"
	"context"
	"io"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/quictest"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// Options say what the seed serves and lists.
type Options struct {
	// Files are served honestly (manifests by name and by ID, blocks) under
	// these names, whatever they are.
	Files map[string][]byte
	// List, if not nil, writes the answer to every LIST request (FILE_ENTRY
	// frames) on w; an error ends it with a reset. Without it the seed
	// lists Files, sorted by name. ctx ends when the client cancels the
	// stream or the seed stops.
	List func(ctx context.Context, w io.Writer) error
}

// Seed is a running scripted seed.
type Seed struct {
	url      string
	lists    atomic.Int64 // LIST requests received
	listDone chan error   // what each scripted LIST answer ended with
}

// URL is the seed's URL, with its pin.
func (s *Seed) URL() string { return s.url }

// Lists returns how many LIST requests it received.
func (s *Seed) Lists() int64 { return s.lists.Load() }

// ListEnded waits (up to a minute, a hang guard) for the next scripted LIST
// answer to end and returns what List returned: the error of a write the
// client refused by cancelling the stream, if it did.
func (s *Seed) ListEnded(t testing.TB) error {
	t.Helper()
	select {
	case err := <-s.listDone:
		return err
	case <-time.After(time.Minute):
		t.Fatal("the scripted list did not end")
		return nil
	}
}

type file struct {
	name string
	data []byte
	m    *manifest.Manifest
}

// Start starts a seed; it stops when the test ends.
func Start(t testing.TB, o Options) *Seed {
	t.Helper()
	files := map[string]*file{}
	byID := map[manifest.ID]*file{}
	var names []string
	for name, data := range o.Files {
		m, err := manifest.Build(context.Background(), bytes.NewReader(data), int64(len(data)), 1)
		require.NoError(t, err)
		f := &file{name: name, data: data, m: m}
		files[name], byID[m.ID()] = f, f
		names = append(names, name)
	}
	sort.Strings(names)

	s := &Seed{listDone: make(chan error, 64)}
	serve := func(ctx context.Context, str *quic.Stream, req wire.Request) {
		switch req := req.(type) {
		case *wire.ListRequest:
			s.lists.Add(1)
			if o.List == nil {
				var b []byte
				for _, n := range names {
					f := files[n]
					b = (&wire.FileEntry{Name: n, Size: f.m.Size, ID: f.m.ID()}).Append(b)
				}
				_, _ = str.Write(b)
				_ = str.Close()
				return
			}
			sctx, scancel := context.WithCancel(ctx)
			stop := context.AfterFunc(str.Context(), scancel)
			err := o.List(sctx, str)
			stop()
			scancel()
			select {
			case s.listDone <- err:
			default:
			}
			if err != nil {
				str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeInternal))
				return
			}
			_ = str.Close()
		case *wire.ManifestRequest:
			f := files[req.Name]
			if req.ByID {
				f = byID[req.ID]
			}
			if f == nil {
				str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeNotFound))
				return
			}
			_, _ = str.Write((&wire.ManifestResponse{Name: f.name, Manifest: f.m}).Append(nil))
			_ = str.Close()
		case *wire.BlockRequest:
			f := byID[req.ID]
			if f == nil || req.Index >= uint64(f.m.NumBlocks()) {
				str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeBadRequest))
				return
			}
			i := int(req.Index)
			off := f.m.BlockOffset(i)
			block := f.data[off : off+f.m.BlockLen(i)]
			_, _ = str.Write(append(wire.AppendBlockHeader(nil, len(block)), block...))
			_ = str.Close()
		case *wire.HaveRequest:
			if byID[req.ID] == nil {
				str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeNotFound))
				return
			}
			_, _ = str.Write(wire.AppendHave(nil, wire.Have{All: true}))
			_ = str.Close()
		default: // PEERS: none to tell
			str.CancelWrite(quic.StreamErrorCode(wire.ErrCodeNotFound))
		}
	}
	s.url = quictest.Serve(t, quictest.Handler{Request: serve})
	return s
}

// Endless returns a List script that writes entry (an encoded FILE_ENTRY
// frame) again and again, in writes of about 1 MiB, until the client
// cancels the stream (the error returned) or n copies are written.
func Endless(entry []byte, n int) func(ctx context.Context, w io.Writer) error {
	return func(ctx context.Context, w io.Writer) error {
		per := max(1, (1<<20)/len(entry))
		chunk := make([]byte, 0, per*len(entry))
		for range per {
			chunk = append(chunk, entry...)
		}
		for written := 0; written < n; written += per {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := min(per, n-written)
			if _, err := w.Write(chunk[:k*len(entry)]); err != nil {
				return err
			}
		}
		return nil
	}
}
