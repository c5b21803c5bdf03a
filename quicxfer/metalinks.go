package quicxfer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/quicxfer/quicxfer/internal/linkheader"
	"github.com/quicxfer/quicxfer/quicxfer/metalink"
)

// This file is a download described by a Metalink: the options of one of
// its files, and the Metalink a mirror points to (Link rel=describedby, as
// MirrorBrain sends) or answers with (a URL whose Content-Type is a
// Metalink's).

// DescribedFileOf is what the Metalink file f says of it.
func DescribedFileOf(f *metalink.File) DescribedFile {
	d := DescribedFile{Name: f.Name, Checksum: f.Hash()}
	for _, m := range f.Mirrors {
		d.Mirrors = append(d.Mirrors, m.URL)
	}
	if f.Size > 0 {
		d.Size = f.Size
	}
	if p := f.Pieces; p != nil {
		d.Pieces = &PieceHashes{Length: p.Length, Algo: p.Algo, Sums: p.Sums}
	}
	return d
}

// Describe sets in o what d says of the file: its mirrors (before those
// o has), size and hashes (a Checksum o has stays).
func (o *Options) Describe(d DescribedFile) {
	o.Mirrors = append(slices.Clone(d.Mirrors), o.Mirrors...)
	o.Size, o.Pieces = d.Size, d.Pieces
	if o.Checksum == nil {
		o.Checksum = d.Checksum
	}
}

// metalinkAccept is the Accept header of a request for a Metalink.
const metalinkAccept = "application/metalink4+xml, application/metalink+xml;q=0.9, */*;q=0.1"

// FetchMetalink gets and parses the Metalink at u with hc.
func FetchMetalink(ctx context.Context, hc *http.Client, u string) (*metalink.Metalink, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", metalinkAccept)
	resp, err := hc.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // the caller names the URL, redacted
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPStatusError{Code: resp.StatusCode, Status: resp.Status}
	}
	return metalink.Parse(resp.Body)
}

// ErrMetalinkFiles: a mirror's URL is a Metalink of several files, which a
// file's download cannot take (DownloadDir with Described can).
var ErrMetalinkFiles = errors.New("is a Metalink of several files: download it as a directory")

// described is the Metalink the one mirror given answers with (its
// Content-Type), or points to (Link rel=describedby), if any: its file's
// description, to be used in place of (answered) or beside (pointed to)
// the mirror. ok is false if there is none, or it could not be read (the
// user is told).
func described(ctx context.Context, o *Options, p probed) (d DescribedFile, answered, ok bool, err error) {
	if p.err != nil || o.Pieces != nil {
		return d, false, false, nil
	}
	target, answered := "", metalink.Sniff("", p.info.contentType)
	if answered {
		target = p.f.url
	} else {
		base, err := url.Parse(p.f.url)
		if err != nil {
			return d, false, false, nil
		}
		for _, l := range linkheader.Described(base, p.info.links) {
			if metalink.Sniff(l.URL, l.Params["type"]) {
				target = l.URL
				break
			}
		}
	}
	if target == "" {
		return d, false, false, nil
	}
	shown := target
	if u, err := url.Parse(target); err == nil {
		shown = u.Redacted()
	}
	ml, err := FetchMetalink(ctx, p.f.client, target)
	switch {
	case ctx.Err() != nil:
		return d, false, false, ctx.Err()
	case err != nil && answered:
		return d, false, false, fmt.Errorf("%s answers with a Metalink: %w", shown, err)
	case err != nil:
		o.Logf("mirror %s points to its Metalink %s, which could not be read (%v): going on without it", p.s.raw, shown, o.DescribeError(err))
		return d, false, false, nil
	case len(ml.Files) != 1 && answered:
		return d, false, false, fmt.Errorf("%s %w (%d files)", shown, ErrMetalinkFiles, len(ml.Files))
	case len(ml.Files) != 1:
		o.Logf("mirror %s points to a Metalink of %d files: going on without it", p.s.raw, len(ml.Files))
		return d, false, false, nil
	}
	for _, n := range ml.Notes {
		o.Logf("Metalink %s: %s", shown, n)
	}
	d = DescribedFileOf(&ml.Files[0])
	if answered {
		o.Logf("%s is a Metalink: downloading its file %s from its %d mirrors", shown, d.Name, len(d.Mirrors))
	} else {
		o.Logf("mirror %s points to its Metalink %s: its hashes are used", p.s.raw, shown)
	}
	return d, answered, true, nil
}
