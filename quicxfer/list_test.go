package quicxfer_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/internal/scriptseed"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// TestListRefusesOversizedList: a seed that sends a list without end (4 KB
// names, ten times wire.MaxListBytes of them) is refused once the list
// passes wire.MaxListBytes, with one line, and the client cancels the
// stream: the seed's writes fail, so the client neither reads nor keeps
// the rest.
func TestListRefusesOversizedList(t *testing.T) {
	entry := (&wire.FileEntry{Name: strings.Repeat("n", wire.MaxNameLen-8), Size: 1}).Append(nil)
	s := scriptseed.Start(t, scriptseed.Options{List: scriptseed.Endless(entry, 10*wire.MaxListBytes/len(entry))})
	client, err := quicxfer.NewClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	u, err := wire.ParseURL(s.URL())
	require.NoError(t, err)
	conn, err := client.Dial(t.Context(), u)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })

	entries, err := conn.List(t.Context())
	require.ErrorIs(t, err, wire.ErrListTooLarge)
	require.Nil(t, entries)
	require.NotContains(t, err.Error(), "\n")
	require.Less(t, len(err.Error()), 200, "one short line: %v", err)
	require.Error(t, s.ListEnded(t), "the client cancelled the list: the seed could not write the rest")

	// The connection is still good for what fits.
	n := 0
	err = conn.ListEach(t.Context(), func(wire.FileEntry) error { n++; return nil })
	require.ErrorIs(t, err, wire.ErrListTooLarge)
	require.Equal(t, wire.MaxListBytes/(len(entry)-3), n, "every entry within the limit, then the refusal")
}
