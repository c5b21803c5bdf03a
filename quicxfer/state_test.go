package quicxfer_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer"
)

// The states' text is today's words, in JSON too, and reads back.
func TestSourceStateText(t *testing.T) {
	for st, want := range map[quicxfer.SourceState]string{
		quicxfer.StateProbing: "probing", quicxfer.StateActive: "active", quicxfer.StateBackoff: "backoff",
		quicxfer.StateConnecting: "connecting", quicxfer.StateDropped: "dropped", quicxfer.StateShutdown: "shutdown",
		quicxfer.StateGone: "gone",
	} {
		require.Equal(t, want, st.String())
		b, err := json.Marshal(quicxfer.SeedProgress{State: st})
		require.NoError(t, err)
		require.Contains(t, string(b), `"State":"`+want+`"`)
		var back quicxfer.SeedProgress
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, st, back.State)
	}
	var st quicxfer.SourceState
	require.Error(t, st.UnmarshalText([]byte("sleeping")))
}
