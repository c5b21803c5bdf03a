package dht

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func testState() state {
	return state{
		ID: [20]byte{0xab, 1, 2, 3},
		Nodes: []stateNode{
			{ID: [20]byte{1}, Addr: netip.MustParseAddrPort("203.0.113.7:6881")},
			{ID: [20]byte{2}, Addr: netip.MustParseAddrPort("[2001:db8::1]:6881")},
		},
	}
}

func TestStateRoundTrip(t *testing.T) {
	s := testState()
	b := appendState(nil, s)
	require.Equal(t, stateMagic+"\n"+
		"id ab01020300000000000000000000000000000000\n"+
		"node 0100000000000000000000000000000000000000 203.0.113.7:6881\n"+
		"node 0200000000000000000000000000000000000000 [2001:db8::1]:6881\n", string(b))
	got, err := parseState(b)
	require.NoError(t, err)
	require.Equal(t, s, got)

	empty, err := parseState([]byte(stateMagic + "\n"))
	require.NoError(t, err)
	require.Equal(t, state{}, empty)
}

func TestStateSkipsUnknownLinesAndExtraNodes(t *testing.T) {
	b := appendState(nil, testState())
	b = append(b, "\nfuture-thing 1 2 3\n\n"...)
	got, err := parseState(b)
	require.NoError(t, err)
	require.Equal(t, testState(), got)

	var many state
	for i := range maxStateNodes + 10 {
		many.Nodes = append(many.Nodes, stateNode{ID: [20]byte{byte(i), byte(i >> 8)}, Addr: netip.MustParseAddrPort("1.2.3.4:5")})
	}
	got, err = parseState(appendState(nil, many))
	require.NoError(t, err)
	require.Len(t, got.Nodes, maxStateNodes)
}

func TestStateErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":           "",
		"no magic":        "id ab01020300000000000000000000000000000000\n",
		"other version":   "quicxfer-dht-state 2\n",
		"short id":        stateMagic + "\nid ab01\n",
		"zero id":         stateMagic + "\nid 0000000000000000000000000000000000000000\n",
		"id not hex":      stateMagic + "\nid zz01020300000000000000000000000000000000\n",
		"id extra field":  stateMagic + "\nid ab01020300000000000000000000000000000000 x\n",
		"node no address": stateMagic + "\nnode 0100000000000000000000000000000000000000\n",
		"node bad addr":   stateMagic + "\nnode 0100000000000000000000000000000000000000 1.2.3.4\n",
		"node bad id":     stateMagic + "\nnode 01 1.2.3.4:5\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseState([]byte(in))
			require.Error(t, err)
		})
	}
	// Every truncation of a valid file either parses to a prefix of it or
	// fails; none panics.
	b := appendState(nil, testState())
	for i := range b {
		s, err := parseState(b[:i])
		if err == nil {
			require.LessOrEqual(t, len(s.Nodes), len(testState().Nodes))
		}
	}
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dht")
	s, err := readState(path)
	require.NoError(t, err, "a missing file is an empty state")
	require.Equal(t, state{}, s)

	require.NoError(t, writeState(path, testState()))
	s, err = readState(path)
	require.NoError(t, err)
	require.Equal(t, testState(), s)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 1, "no temporary file left")

	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o600))
	_, err = readState(path)
	require.ErrorContains(t, err, path)

	require.NoError(t, os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, "link")))
	_, err = readState(filepath.Join(dir, "link"))
	require.Error(t, err, "a symbolic link is not followed")
}

// FuzzState: parsing never panics, and what parses writes back to a file
// that parses to the same state.
func FuzzState(f *testing.F) {
	f.Add(appendState(nil, testState()))
	f.Add([]byte(stateMagic + "\nnode 0100000000000000000000000000000000000000 [fe80::1%eth0]:1\n"))
	f.Add([]byte(stateMagic + "\nid AB01020300000000000000000000000000000000\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseState(b)
		if err != nil {
			return
		}
		again, err := parseState(appendState(nil, s))
		require.NoError(t, err)
		require.Equal(t, s, again)
	})
}
