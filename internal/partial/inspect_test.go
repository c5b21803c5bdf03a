package partial

import (
	"bufio"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestInspectRunningAndStopped(t *testing.T) {
	d := newDownload(t, randomData(5*bs+7, 11))
	f, _, _ := d.open(t)
	d.write(t, f, 0, 2, 5)
	require.NoError(t, f.Sync())
	before, err := os.ReadFile(StatePath(d.out))
	require.NoError(t, err)

	in, err := Inspect(d.out)
	require.NoError(t, err)
	require.True(t, in.Exists())
	require.False(t, in.OutExists)
	require.True(t, in.PartExists)
	require.Equal(t, int64(len(d.data)), in.PartSize)
	require.NoError(t, in.StateErr)
	require.Equal(t, d.m.ID(), in.State.ID)
	blocks, bytes := in.State.Verified()
	require.Equal(t, 3, blocks)
	require.Equal(t, 2*int64(bs)+7, bytes, "the last block is 7 bytes")
	if _, err := os.Stat("/proc/locks"); err == nil {
		require.True(t, in.Running, "this process holds the lock")
		require.Equal(t, os.Getpid(), in.LockPID)
	}

	// Inspect changed nothing, and the download goes on writing.
	after, err := os.ReadFile(StatePath(d.out))
	require.NoError(t, err)
	require.Equal(t, before, after)
	d.write(t, f, 1)
	require.NoError(t, f.Sync())

	require.NoError(t, f.Close())
	in, err = Inspect(d.out)
	require.NoError(t, err)
	require.False(t, in.Running, "nobody holds the lock any more")
	blocks, _ = in.State.Verified()
	require.Equal(t, 4, blocks)

	// A new download can take the lock: Inspect left none behind.
	f2, _, _ := d.open(t)
	require.NoError(t, f2.Close())
}

func TestInspectDamagedMissingAndNothing(t *testing.T) {
	d := newDownload(t, randomData(3*bs, 12))
	f, _, _ := d.open(t)
	d.write(t, f, 1)
	require.NoError(t, f.Close())

	b, err := os.ReadFile(StatePath(d.out))
	require.NoError(t, err)
	b[len(b)-1] ^= 1
	require.NoError(t, os.WriteFile(StatePath(d.out), b, 0o644))
	in, err := Inspect(d.out)
	require.NoError(t, err)
	require.Nil(t, in.State)
	require.ErrorIs(t, in.StateErr, ErrBadState)
	require.True(t, in.PartExists)

	require.NoError(t, os.Remove(StatePath(d.out)))
	in, err = Inspect(d.out)
	require.NoError(t, err)
	require.ErrorIs(t, in.StateErr, fs.ErrNotExist)
	require.True(t, in.Exists())

	require.NoError(t, os.Remove(PartPath(d.out)))
	in, err = Inspect(d.out)
	require.NoError(t, err)
	require.False(t, in.Exists())
}

func TestParseLocks(t *testing.T) {
	dev := unix.Mkdev(0x103, 2)
	locks := `1: POSIX  ADVISORY  WRITE 77 103:02:99 0 EOF
2: FLOCK  ADVISORY  WRITE 4242 103:02:1234 0 EOF
2: -> FLOCK  ADVISORY  WRITE 4343 103:02:1234 0 EOF
3: FLOCK  ADVISORY  WRITE 55 00:2f:1234 0 EOF
`
	pid, ok := parseLocks(bufio.NewScanner(strings.NewReader(locks)), dev, 1234)
	require.True(t, ok)
	require.Equal(t, 4242, pid)
	_, ok = parseLocks(bufio.NewScanner(strings.NewReader(locks)), dev, 99)
	require.False(t, ok, "a POSIX lock is not the download's flock")
	_, ok = parseLocks(bufio.NewScanner(strings.NewReader(locks)), dev, 5)
	require.False(t, ok)
}
