package dht

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"

	"github.com/quicxfer/quicxfer/internal/atomicfile"
)

// The state file is text, one record a line:
//
//	quicxfer-dht-state 1
//	id 0f3a…(40 hex digits, the node's own ID)
//	node 9c11…(40 hex digits) 203.0.113.7:6881
//	node …
//
// Lines of other kinds are skipped (a later version may add some); a
// malformed line of a known kind is an error.

// stateMagic is the first line of a state file.
const stateMagic = "quicxfer-dht-state 1"

const (
	// maxStateBytes bounds the state file read at Start.
	maxStateBytes = 256 << 10
	// maxStateNodes bounds the nodes taken from it (a full table has
	// 160 buckets of 8); the rest are ignored.
	maxStateNodes = 2048
)

// state is what a state file holds.
type state struct {
	ID    [20]byte // zero: none saved
	Nodes []stateNode
}

// stateNode is one node of the routing table.
type stateNode struct {
	ID   [20]byte
	Addr netip.AddrPort
}

// appendState appends the file form of s to b.
func appendState(b []byte, s state) []byte {
	b = append(b, stateMagic...)
	b = append(b, '\n')
	if s.ID != ([20]byte{}) {
		b = append(b, "id "...)
		b = hex.AppendEncode(b, s.ID[:])
		b = append(b, '\n')
	}
	for _, n := range s.Nodes {
		b = append(b, "node "...)
		b = hex.AppendEncode(b, n.ID[:])
		b = append(b, ' ')
		b = n.Addr.AppendTo(b)
		b = append(b, '\n')
	}
	return b
}

// parseState parses a state file.
func parseState(b []byte) (state, error) {
	var s state
	first, rest, _ := bytes.Cut(b, []byte("\n"))
	if string(first) != stateMagic {
		return s, errors.New("not a quicxfer DHT state file (no " + stateMagic + " line)")
	}
	for line := 2; len(rest) > 0; line++ {
		var l []byte
		l, rest, _ = bytes.Cut(rest, []byte("\n"))
		f := strings.Fields(string(l))
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "id":
			if len(f) != 2 {
				return s, fmt.Errorf("line %d: want id HEX", line)
			}
			id, err := parseNodeID(f[1])
			if err != nil || id == ([20]byte{}) {
				return s, fmt.Errorf("line %d: bad node ID %q", line, f[1])
			}
			s.ID = id
		case "node":
			if len(f) != 3 {
				return s, fmt.Errorf("line %d: want node HEX ADDR:PORT", line)
			}
			if len(s.Nodes) >= maxStateNodes {
				continue
			}
			id, err := parseNodeID(f[1])
			if err != nil {
				return s, fmt.Errorf("line %d: bad node ID %q", line, f[1])
			}
			ap, err := netip.ParseAddrPort(f[2])
			if err != nil {
				return s, fmt.Errorf("line %d: bad node address %q", line, f[2])
			}
			s.Nodes = append(s.Nodes, stateNode{ID: id, Addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())})
		}
	}
	return s, nil
}

// parseNodeID parses 40 hex digits.
func parseNodeID(s string) ([20]byte, error) {
	var id [20]byte
	if len(s) != 2*len(id) {
		return id, errors.New("not 40 hex digits")
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err
}

// readState reads the state file at path; a missing file is an empty state.
func readState(path string) (state, error) {
	b, err := atomicfile.ReadFileNoFollow(path, maxStateBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("reading DHT state: %w", err)
	}
	s, err := parseState(b)
	if err != nil {
		return state{}, fmt.Errorf("DHT state %s: %w", path, err)
	}
	return s, nil
}

// writeState replaces the state file at path with s, atomically.
func writeState(path string, s state) error {
	if err := atomicfile.Write(path, appendState(nil, s), atomicfile.Options{Perm: 0o600}); err != nil {
		return fmt.Errorf("saving DHT state: %w", err)
	}
	return nil
}
