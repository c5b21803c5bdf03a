package wire

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/quic-go/quic-go/quicvarint"
	"github.com/stretchr/testify/require"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

var testEntries = []FileEntry{
	{Name: "a", Size: 0, ID: testID(1)},
	{Name: "dir/big.iso", Size: 4 << 40, ID: testID(2)},
	{Name: "café/naïve.txt", Size: 63, ID: testID(3)},
	{Name: strings.Repeat("n", MaxNameLen), Size: manifest.MaxSize, ID: testID(4)},
}

func TestFileEntryListRoundTrip(t *testing.T) {
	var enc []byte
	for _, e := range testEntries {
		enc = e.Append(enc)
	}
	r := bytes.NewReader(enc)
	var got []FileEntry
	for {
		e, err := ReadFileEntry(r)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got = append(got, e)
	}
	require.Equal(t, testEntries, got)

	e, err := ReadFileEntry(bytes.NewReader(nil))
	require.Equal(t, io.EOF, err, "an empty list ends cleanly, with io.EOF itself")
	require.Zero(t, e)
}

func TestFileEntryTruncated(t *testing.T) {
	for _, e := range testEntries[:3] {
		checkTruncations(t, e.Append(nil), io.EOF, func(r Reader) error {
			_, err := ReadFileEntry(r)
			return err
		})
	}
}

func TestFileEntryBadNames(t *testing.T) {
	for name, bad := range badNames {
		t.Run(name, func(t *testing.T) {
			_, err := ReadFileEntry(bytes.NewReader((&FileEntry{Name: bad, Size: 1}).Append(nil)))
			require.ErrorIs(t, err, ErrBadName)
		})
	}
}

func TestFileEntryBadPayload(t *testing.T) {
	id := testID(1)
	for _, tc := range []struct {
		name    string
		payload []byte
		want    error
	}{
		{"empty", nil, ErrMalformed},
		{"name longer than frame", []byte{5, 'a'}, ErrMalformed},
		{"name over limit", quicvarint.Append(nil, MaxNameLen+1), ErrBadName},
		{"no size", []byte{1, 'a'}, ErrMalformed},
		{"no ID", []byte{1, 'a', 0}, ErrMalformed},
		{"short ID", append([]byte{1, 'a', 0}, id[:31]...), ErrMalformed},
		{"trailing byte", append(append([]byte{1, 'a', 0}, id[:]...), 0), ErrMalformed},
		{"non-minimal size", append([]byte{1, 'a', 0x40, 1}, id[:]...), ErrMalformed},
		{"non-minimal name length", append([]byte{0x40, 1, 'a', 0}, id[:]...), ErrMalformed},
		{"size over manifest.MaxSize", append(quicvarint.Append([]byte{1, 'a'}, manifest.MaxSize+1), id[:]...), ErrMalformed},
		{"largest varint size", append(quicvarint.Append([]byte{1, 'a'}, quicvarint.Max), id[:]...), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := append(AppendFrameHeader(nil, FrameFileEntry, uint64(len(tc.payload))), tc.payload...)
			_, err := ReadFileEntry(bytes.NewReader(enc))
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestFileEntryRefusesOtherFrames(t *testing.T) {
	for name, enc := range map[string][]byte{
		"request":  (&ListRequest{}).Append(nil),
		"manifest": (&ManifestResponse{Name: "a", Manifest: testManifest(1)}).Append(nil),
		"block":    AppendBlockHeader(nil, 0),
	} {
		_, err := ReadFileEntry(bytes.NewReader(enc))
		require.ErrorIs(t, err, ErrUnexpectedFrame, name)
	}
	_, err := ReadFileEntry(bytes.NewReader(AppendFrameHeader(nil, 0x17, 0)))
	require.ErrorIs(t, err, ErrUnknownFrame)
	_, err = ReadFileEntry(&tripwire{t: t, header: AppendFrameHeader(nil, FrameFileEntry, maxFileEntryPayload+1)})
	require.ErrorIs(t, err, ErrFrameTooLarge)
}

// TestListReaderLimits: a list of more entries, or more bytes of them, than
// the limits is refused with ErrListTooLarge at the frame that goes over,
// from its header alone; a list within them is read whole.
func TestListReaderLimits(t *testing.T) {
	entry := func(i int) []byte {
		return (&FileEntry{Name: fmt.Sprintf("file-%03d", i), Size: int64(i), ID: testID(byte(i))}).Append(nil)
	}
	list := func(n int) []byte {
		var b []byte
		for i := range n {
			b = append(b, entry(i)...)
		}
		return b
	}
	readAll := func(l *ListReader) (int, error) {
		for {
			if _, err := l.Next(); err != nil {
				return l.Count(), err
			}
		}
	}
	payload := int64(len(entry(0)) - 2) // a 1-byte type, a 1-byte length

	t.Run("defaults", func(t *testing.T) {
		l := NewListReader(bytes.NewReader(list(5)))
		require.Equal(t, MaxListEntries, l.MaxEntries)
		require.Equal(t, int64(MaxListBytes), l.MaxBytes)
		n, err := readAll(l)
		require.Equal(t, io.EOF, err)
		require.Equal(t, 5, n)
	})
	t.Run("entries at the limit", func(t *testing.T) {
		l := NewListReader(bytes.NewReader(list(3)))
		l.MaxEntries = 3
		n, err := readAll(l)
		require.Equal(t, io.EOF, err)
		require.Equal(t, 3, n)
	})
	t.Run("one entry more", func(t *testing.T) {
		l := NewListReader(&tripwire{t: t, header: list(4)[:4*len(entry(0))-int(payload)]})
		l.MaxEntries = 3
		n, err := readAll(l)
		require.ErrorIs(t, err, ErrListTooLarge)
		require.Equal(t, 3, n)
		require.Less(t, len(err.Error()), 100, "one short line")
	})
	t.Run("bytes at the limit", func(t *testing.T) {
		l := NewListReader(bytes.NewReader(list(3)))
		l.MaxBytes = 3 * payload
		n, err := readAll(l)
		require.Equal(t, io.EOF, err)
		require.Equal(t, 3, n)
	})
	t.Run("one byte less", func(t *testing.T) {
		// The third frame is refused from its header: its payload is not read.
		l := NewListReader(&tripwire{t: t, header: list(3)[:3*len(entry(0))-int(payload)]})
		l.MaxBytes = 3*payload - 1
		n, err := readAll(l)
		require.ErrorIs(t, err, ErrListTooLarge)
		require.Equal(t, 2, n)
	})
	t.Run("a bad name", func(t *testing.T) {
		bad := append(list(2), (&FileEntry{Name: "forged\nline"}).Append(nil)...)
		n, err := readAll(NewListReader(bytes.NewReader(bad)))
		require.ErrorIs(t, err, ErrBadName)
		require.Equal(t, 2, n)
	})
}

func FuzzReadFileEntry(f *testing.F) {
	var all []byte
	for _, e := range testEntries[:3] { // not the long name: it makes minimization crawl
		f.Add(e.Append(nil))
		all = e.Append(all)
	}
	f.Add(all)
	f.Add([]byte{})
	f.Add((&FileEntry{Name: "a/../b"}).Append(nil))
	f.Add((&FileEntry{Name: "forged\nline"}).Append(nil))       // a control character
	f.Add((&FileEntry{Name: "x\u009b2J", Size: 1}).Append(nil)) // a C1 control (CSI)
	f.Add((&FileEntry{Name: "huge", Size: manifest.MaxSize + 1}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			start := len(data) - r.Len()
			e, err := ReadFileEntry(r)
			if err == io.EOF {
				require.Equal(t, len(data), start, "io.EOF only at the end")
				return
			}
			if err != nil {
				requireDecodeError(t, err)
				return
			}
			require.NoError(t, CheckName(e.Name))
			require.GreaterOrEqual(t, e.Size, int64(0))
			require.LessOrEqual(t, e.Size, int64(manifest.MaxSize))
			require.Equal(t, data[start:len(data)-r.Len()], e.Append(nil), "one encoding per entry")
		}
	})
}
