package dht

import (
	"testing"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent/bencode"
	"github.com/stretchr/testify/require"
)

func mustMarshal(t testing.TB, m krpc.Msg) []byte {
	b, err := bencode.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestScreenPassesKRPC(t *testing.T) {
	id := krpc.ID{1, 2, 3}
	port := 6881
	tok := "tok"
	for name, m := range map[string]krpc.Msg{
		"ping":          {T: "aa", Y: "q", Q: "ping", A: &krpc.MsgArgs{ID: id}},
		"find_node":     {T: "aa", Y: "q", Q: "find_node", A: &krpc.MsgArgs{ID: id, Target: id}},
		"get_peers":     {T: "aa", Y: "q", Q: "get_peers", A: &krpc.MsgArgs{ID: id, InfoHash: id}},
		"announce_peer": {T: "aa", Y: "q", Q: "announce_peer", A: &krpc.MsgArgs{ID: id, InfoHash: id, Port: &port, Token: tok}},
		"unknown query": {T: "aa", Y: "q", Q: "sample_infohashes", A: &krpc.MsgArgs{ID: id}},
		"response": {T: "aa", Y: "r", R: &krpc.Return{ID: id, Token: &tok, Values: []krpc.NodeAddr{
			{IP: []byte{8, 8, 8, 8}, Port: 1}, {IP: []byte{1, 2, 3}, Port: 1},
		}}},
		"error": {T: "aa", Y: "e", E: &krpc.ErrorMethodUnknown},
	} {
		t.Run(name, func(t *testing.T) {
			require.True(t, screen(mustMarshal(t, m)))
		})
	}
}

func TestScreenDropsWhatCrashesOrMisusesTheServer(t *testing.T) {
	for name, in := range map[string]string{
		// krpc.NodeAddr.UnmarshalBinary: make(net.IP, len-2) panics.
		"empty ip":         "d1:t1:a1:y1:q1:q4:ping1:ad2:id20:aaaaaaaaaaaaaaaaaaaae2:ip0:e",
		"one-byte value":   "d1:t1:a1:y1:r1:rd2:id20:aaaaaaaaaaaaaaaaaaaa6:valuesl1:xeee",
		"no args announce": "d1:t1:a1:y1:q1:q13:announce_peere",
		"no args get":      "d1:t1:a1:y1:q1:q3:gete",
		"bep44 put":        "d1:t1:a1:y1:q1:q3:put1:ad2:id20:aaaaaaaaaaaaaaaaaaaaee",
		"bep44 get":        "d1:t1:a1:y1:q1:q3:get1:ad2:id20:aaaaaaaaaaaaaaaaaaaaee",
		"not a dict":       "l1:ae",
		"one byte":         "d",
		"truncated":        "d1:t1:a1:y1:q1:q4:pi",
		"no y":             "d1:t1:ae",
		"bad y":            "d1:t1:a1:y1:xe",
		"short node list":  "d1:t1:a1:y1:r1:rd2:id20:aaaaaaaaaaaaaaaaaaaa5:nodes3:abcee",
		"junk":             "\x00\x01\x02",
	} {
		t.Run(name, func(t *testing.T) {
			require.False(t, screen([]byte(in)))
		})
	}
}

// FuzzScreen: the screen never panics, and a message it passes decodes,
// encodes and passes again.
func FuzzScreen(f *testing.F) {
	port := 1
	f.Add(mustMarshal(f, krpc.Msg{T: "aa", Y: "q", Q: "announce_peer", A: &krpc.MsgArgs{Port: &port, Token: "t"}}))
	f.Add(mustMarshal(f, krpc.Msg{T: "aa", Y: "r", R: &krpc.Return{Values: []krpc.NodeAddr{{IP: []byte{1, 2, 3, 4}, Port: 5}}}}))
	f.Add([]byte("d1:t1:a1:y1:q1:q4:ping1:ad2:id20:aaaaaaaaaaaaaaaaaaaae2:ip0:e"))
	f.Add([]byte("d1:t1:a1:y1:r1:rd2:id20:aaaaaaaaaaaaaaaaaaaa6:valuesl1:xeee"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !screen(b) {
			return
		}
		var m krpc.Msg
		if err := bencode.Unmarshal(b, &m); err != nil {
			var trailing bencode.ErrUnusedTrailingBytes
			require.ErrorAs(t, err, &trailing)
		}
		out, err := bencode.Marshal(m)
		require.NoError(t, err)
		require.True(t, screen(out), "%q passed, its re-encoding %q did not", b, out)
	})
}
