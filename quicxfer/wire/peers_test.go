package wire

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func testPeerLists() map[string][]string {
	long := "quic://" + strings.Repeat("a", 200) + ".example:4433?pin=" + testPinText
	many := make([]string, MaxPeers)
	for i := range many {
		many[i] = long
	}
	return map[string][]string{
		"none": {},
		"one":  {"quic://10.0.0.5:4433?pin=" + testPinText},
		"two":  {"quic://10.0.0.5:4433?pin=" + testPinText, "quic://[2001:db8::1]:5000"},
		"most": many,
	}
}

func TestPeersRoundTrip(t *testing.T) {
	for name, urls := range testPeerLists() {
		t.Run(name, func(t *testing.T) {
			enc := AppendPeers([]byte("x"), urls)
			r := bytes.NewReader(append(enc[1:], 0xff))
			got, err := ReadPeers(r)
			require.NoError(t, err)
			require.Equal(t, urls, got)
			require.Equal(t, 1, r.Len())
		})
	}
	require.Panics(t, func() { AppendPeers(nil, make([]string, MaxPeers+1)) })
	require.Panics(t, func() { AppendPeers(nil, []string{strings.Repeat("q", MaxURLLen+1)}) })
}

func TestPeersTruncated(t *testing.T) {
	for name, urls := range testPeerLists() {
		if len(urls) > 2 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			checkTruncations(t, AppendPeers(nil, urls), io.ErrUnexpectedEOF, func(r Reader) error {
				_, err := ReadPeers(r)
				return err
			})
		})
	}
}

func TestPeersBad(t *testing.T) {
	good := "quic://10.0.0.5:4433"
	field := func(u string) []byte { return append(appendVarint(nil, uint64(len(u))), u...) }
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"count over limit", appendVarint(nil, MaxPeers+1)},
		{"fewer URLs than count", append([]byte{2}, field(good)...)},
		{"trailing byte", append(append([]byte{1}, field(good)...), 0)},
		{"empty URL", append([]byte{1}, field("")...)},
		{"not a seed URL", append([]byte{1}, field("http://example.org/")...)},
		{"URL over limit", append([]byte{1}, appendVarint(nil, MaxURLLen+1)...)},
		{"URL longer than frame", append([]byte{1}, 50, 'q')},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := append(AppendFrameHeader(nil, FramePeers, uint64(len(tc.payload))), tc.payload...)
			_, err := ReadPeers(bytes.NewReader(enc))
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
	_, err := ReadPeers(bytes.NewReader(AppendHave(nil, Have{All: true})))
	require.ErrorIs(t, err, ErrUnexpectedFrame)
	_, err = ReadPeers(&tripwire{t: t, header: AppendFrameHeader(nil, FramePeers, maxPeersPayload+1)})
	require.ErrorIs(t, err, ErrFrameTooLarge)
}

func TestPeersRequestBad(t *testing.T) {
	id := testID(1)
	for name, payload := range map[string][]byte{
		"short ID":      id[:31],
		"no URL length": id[:],
		"bad URL":       append(append(id[:], 4), "http"...),
		"trailing":      append(append(id[:], 0), 0),
	} {
		enc := append(AppendFrameHeader(nil, FrameGetPeers, uint64(len(payload))), payload...)
		_, err := ReadRequest(bytes.NewReader(enc))
		require.ErrorIs(t, err, ErrMalformed, name)
	}
	enc := append(AppendFrameHeader(nil, FrameGetHave, 31), id[:31]...)
	_, err := ReadRequest(bytes.NewReader(enc))
	require.ErrorIs(t, err, ErrMalformed)
}

func FuzzReadPeers(f *testing.F) {
	for _, urls := range testPeerLists() {
		if len(urls) <= 2 {
			f.Add(AppendPeers(nil, urls))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{byte(FramePeers), 3, 1, 1, 'q'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		urls, err := ReadPeers(r)
		if err != nil {
			requireDecodeError(t, err)
			return
		}
		require.LessOrEqual(t, len(urls), MaxPeers)
		for _, u := range urls {
			_, err := ParseURL(u)
			require.NoError(t, err)
		}
		require.Equal(t, data[:len(data)-r.Len()], AppendPeers(nil, urls), "one encoding per PEERS")
	})
}
