package quicxfer

// TEMPORARY until the range branch lands: replaced by client.go's.

import (
	"context"
	"errors"

	"github.com/quicxfer/quicxfer/quicxfer/manifest"
)

var ErrRangeUnsupported = errors.New("stub: the seed does not serve parts of blocks")

func (c *Conn) FetchRange(ctx context.Context, id manifest.ID, index int, off int64, buf []byte, onBytes func(int)) error {
	return ErrRangeUnsupported
}
