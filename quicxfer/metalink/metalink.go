package metalink

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/quicxfer/quicxfer/quicxfer/verify"
	"github.com/quicxfer/quicxfer/quicxfer/wire"
)

// The namespaces of the two dialects, as a document's root element gives
// them.
const (
	NamespaceV4 = "urn:ietf:params:xml:ns:metalink" // RFC 5854
	NamespaceV3 = "http://www.metalinker.org/"      // Metalink 3.0
)

// Limits on what Parse accepts. Each is checked as the document is read,
// before what it bounds is allocated.
const (
	// MaxSize is the largest Metalink document Parse reads, in bytes; a
	// larger one is ErrTooLarge, not read in part.
	MaxSize = 32 << 20
	// MaxFiles is the most files one document may describe.
	MaxFiles = 1 << 16
	// MaxMirrors is the most usable mirror URLs one file may have.
	MaxMirrors = 1 << 12
	// MaxPieces is the most pieces one file may be cut in.
	MaxPieces = 1 << 20
	// MaxFileSize is the largest size a file may claim (1 PiB).
	MaxFileSize = 1 << 50
	// MinPieceLen and MaxPieceLen bound a piece's length. A length need
	// not be a power of two.
	MinPieceLen = 1 << 10
	MaxPieceLen = 64 << 20
	// MaxNotes is the most notes a Metalink keeps; one more says how many
	// were left out.
	MaxNotes = 256
)

// maxText bounds the text of an element Parse reads (a size, a hash, a URL).
const maxText = 64 << 10

// maxDepth bounds the nesting of the elements Parse skips or reads the text
// of. encoding/xml keeps a stack entry per open element: 32 MiB of "<a>"
// would otherwise cost more than a GiB.
const maxDepth = 64

var errTooDeep = fmt.Errorf("elements nested more than %d deep", maxDepth)

// maxAttrs bounds the attributes of one element. encoding/xml holds all of
// an element's attributes at once: 32 MiB of them would cost more than half
// a GiB. Parse counts them before the XML is decoded, as the '=' between
// two '<' (an attribute value cannot hold a '<'), and the decoder reads the
// document only up to the first '<' with more than maxAttrs '=' after it,
// where it fails. A Metalink element has a handful, and a text between two
// elements rarely has many '=' (a URL's query has a few); an HTML page's
// script may, but its root is seen first: it is not a Metalink file.
const maxAttrs = 1024

var errTooManyAttrs = fmt.Errorf("an element with more than %d attributes", maxAttrs)

// attrBomb returns the offset in data of the first '<' followed by more
// than maxAttrs '=' before the next '<', or -1 if there is none.
func attrBomb(data []byte) int {
	start, n := 0, 0
	for i, c := range data {
		switch c {
		case '<':
			start, n = i, 0
		case '=':
			if n++; n > maxAttrs {
				return start
			}
		}
	}
	return -1
}

// failingReader returns err on every read.
type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// Errors Parse returns; each is wrapped with what was wrong.
var (
	// ErrNotMetalink is returned for a document whose root is not a
	// metalink element of either dialect's namespace (an HTML error page,
	// a torrent, another XML document).
	ErrNotMetalink = errors.New("not a Metalink file")
	// ErrTooLarge is returned for a document larger than MaxSize.
	ErrTooLarge = fmt.Errorf("Metalink file larger than %d MiB", MaxSize>>20)
	// ErrInvalid is wrapped by every other error of a Metalink: bad XML, a
	// DOCTYPE, a file that fails validation (see the package doc). The
	// error names the file ("invalid Metalink file: foo.iso: size ...",
	// or "file 3: ..." when the name itself is wrong); an error about a
	// name wraps wire.ErrBadName besides.
	ErrInvalid = errors.New("invalid Metalink file")
)

// Metalink is a parsed Metalink document.
type Metalink struct {
	// Version is the dialect: 4 (RFC 5854) or 3 (Metalink 3.0).
	Version int
	// Files are the files described, in document order; at least one.
	Files []File
	// Notes say what was skipped that a caller might have used, one line
	// each, starting with the file's name: "foo.iso: metaurl (torrent)
	// skipped", "foo.iso: rsync URL skipped (3 of them)".
	Notes []string
}

// File is one file of a Metalink.
type File struct {
	// Name is the file's path relative to the download's directory, as
	// wire.CheckName accepts it: no "..", not absolute, no control
	// character; it may contain "/" (a file of a multi-file Metalink).
	Name string
	// Size is the file's size in bytes, -1 if the Metalink does not say.
	Size int64
	// Hashes are the hashes of the whole file, one per function, strongest
	// first: sha-512, sha-256, sha-1, md5.
	Hashes []verify.Hash
	// Pieces are the hashes of the file's pieces, nil if it has none that
	// can be used. When the Metalink gives several, the strongest function
	// is kept (sha-256 over sha-1).
	Pieces *Pieces
	// Mirrors are the HTTP and HTTPS URLs of the file, by Priority (best
	// first; without one, last), document order among equals. It may be
	// empty (a note says so): the caller may have seeds.
	Mirrors []Mirror
}

// Pieces are a file's piece hashes: the file cut in pieces of Length bytes
// (the last one shorter), each hashed with Algo.
type Pieces struct {
	Length int64
	Algo   verify.Algo
	Sums   [][]byte
}

// Mirror is a URL a file can be downloaded from.
type Mirror struct {
	// URL is an http or https URL.
	URL string
	// Priority is from 1 (best) to 999999, or 0 if the Metalink gives
	// none. A Metalink 3.0 preference p (1 to 100, 100 best) is priority
	// 101-p.
	Priority int
	// Location is the mirror's country as a lower-case ISO 3166-1 alpha-2
	// code ("de", "us"), or "" if not given.
	Location string
}

// Hash returns the strongest hash of the whole file, or nil if it has none.
func (f *File) Hash() *verify.Hash {
	if len(f.Hashes) == 0 {
		return nil
	}
	h := f.Hashes[0]
	return &h
}

// Plan returns how the file's data is checked: its pieces (with its
// strongest whole-file hash besides) if it has pieces, else its strongest
// whole-file hash, else nothing (verify.None). Pieces need the file's size;
// Parse never returns a file with pieces and no size.
func (f *File) Plan() (verify.Plan, error) {
	whole := f.Hash()
	if f.Pieces != nil {
		if f.Size < 0 {
			return nil, fmt.Errorf("%s: pieces without the file's size", f.Name)
		}
		p, err := verify.Pieces(f.Size, f.Pieces.Length, f.Pieces.Algo, f.Pieces.Sums, whole)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		return p, nil
	}
	if whole != nil {
		p, err := verify.WholeFile(*whole)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		return p, nil
	}
	return verify.None(), nil
}

// Sniff reports whether a file of this name (or URL) and Content-Type is a
// Metalink: a name ending in .meta4 or .metalink, whatever its case and
// ignoring a URL's query and fragment, or the media type
// application/metalink4+xml (RFC 5854) or application/metalink+xml (3.0).
// Either argument may be empty.
func Sniff(name, contentType string) bool {
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			mt, _, _ = strings.Cut(contentType, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
		}
		if mt == "application/metalink4+xml" || mt == "application/metalink+xml" {
			return true
		}
	}
	if i := strings.IndexAny(name, "?#"); i >= 0 {
		name = name[:i]
	}
	name = strings.ToLower(name)
	return strings.HasSuffix(name, ".meta4") || strings.HasSuffix(name, ".metalink")
}

// Parse reads a Metalink document of either dialect from r, at most
// MaxSize bytes, and validates it (see the package doc). Its errors wrap
// ErrNotMetalink, ErrTooLarge or ErrInvalid, or are r's.
func Parse(r io.Reader) (*Metalink, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading a Metalink file: %w", err)
	}
	if len(data) > MaxSize {
		return nil, ErrTooLarge
	}
	var src io.Reader = bytes.NewReader(data)
	if at := attrBomb(data); at >= 0 {
		src = io.MultiReader(bytes.NewReader(data[:at]), failingReader{errTooManyAttrs})
	}
	d := xml.NewDecoder(src)
	d.CharsetReader = charsetReader
	p := &parser{d: d, names: make(map[string]struct{})}
	if err := p.root(); err != nil {
		return nil, err
	}
	if err := p.document(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if len(p.ml.Files) == 0 {
		return nil, fmt.Errorf("%w: no file in it", ErrInvalid)
	}
	if p.dropped > 0 {
		p.ml.Notes = append(p.ml.Notes, fmt.Sprintf("%d more notes left out", p.dropped))
	}
	return p.ml, nil
}

// charsetReader lets a document declare an encoding that UTF-8 input also
// is; encoding/xml itself knows only "utf-8".
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "us-ascii", "ascii", "utf8":
		return r, nil
	}
	return nil, fmt.Errorf("encoding %q not supported (only UTF-8)", charset)
}

// parser reads one document, token by token, keeping what it has found.
type parser struct {
	d       *xml.Decoder
	ns      string // the root's namespace: NamespaceV4 or NamespaceV3
	ml      *Metalink
	names   map[string]struct{}
	nfiles  int // file elements seen
	dropped int // notes past MaxNotes
}

// token returns the next token, refusing directives: a DOCTYPE or an
// ENTITY declaration has no place in a Metalink.
func (p *parser) token() (xml.Token, error) {
	tok, err := p.d.Token()
	if err != nil {
		return nil, err
	}
	if dir, ok := tok.(xml.Directive); ok {
		return nil, directiveError(dir)
	}
	return tok, nil
}

func directiveError(dir xml.Directive) error {
	kind, _, _ := strings.Cut(strings.TrimSpace(string(dir)), " ")
	return fmt.Errorf("<!%s> not allowed in a Metalink file", word(kind))
}

// root reads up to the root element and sets the dialect from its
// namespace. A DOCTYPE before it is an error unless the root is not a
// metalink anyway (an HTML page): then that is the error.
func (p *parser) root() error {
	var doctype error
	for {
		tok, err := p.d.Token()
		switch {
		case err == io.EOF && doctype == nil:
			return ErrNotMetalink
		case err != nil && doctype != nil:
			return fmt.Errorf("%w: %w", ErrInvalid, doctype)
		case err != nil:
			var syn *xml.SyntaxError
			if errors.As(err, &syn) {
				return fmt.Errorf("%w: %w", ErrNotMetalink, err)
			}
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			if doctype == nil {
				doctype = directiveError(t)
			}
		case xml.StartElement:
			if t.Name.Local == "metalink" {
				switch t.Name.Space {
				case NamespaceV4:
					p.ns, p.ml = t.Name.Space, &Metalink{Version: 4}
				case NamespaceV3:
					p.ns, p.ml = t.Name.Space, &Metalink{Version: 3}
				}
			}
			if p.ml == nil {
				return fmt.Errorf("%w: its root element is <%s> of namespace %s", ErrNotMetalink, word(t.Name.Local), word(t.Name.Space))
			}
			if doctype != nil {
				return fmt.Errorf("%w: %w", ErrInvalid, doctype)
			}
			return nil
		}
	}
}

// document reads the root's children: the files (v4), or the files element
// that holds them (v3).
func (p *parser) document() error {
	return p.each(func(se xml.StartElement) error {
		switch {
		case p.ml.Version == 4 && p.is(se, "file"):
			return p.file(se)
		case p.ml.Version == 3 && p.is(se, "files"):
			return p.each(func(se xml.StartElement) error {
				if p.is(se, "file") {
					return p.file(se)
				}
				return p.skip()
			})
		}
		return p.skip()
	})
}

// is reports whether se is the element local of the document's namespace.
func (p *parser) is(se xml.StartElement, local string) bool {
	return se.Name.Space == p.ns && se.Name.Local == local
}

// each calls fn for each child element of the element whose start was just
// read, and returns once its end is read. fn must read the child to its end
// (skip does).
func (p *parser) each(fn func(xml.StartElement) error) error {
	for {
		tok, err := p.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := fn(t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// skip reads the element whose start was just read to its end.
func (p *parser) skip() error {
	for depth := 0; ; {
		tok, err := p.token()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxDepth {
				return errTooDeep
			}
		case xml.EndElement:
			if depth == 0 {
				return nil
			}
			depth--
		}
	}
}

// text reads the element se, whose start was just read, to its end and
// returns its text without leading and trailing white space. Child
// elements are skipped.
func (p *parser) text(se xml.StartElement) (string, error) {
	var b []byte
	for depth := 0; ; {
		tok, err := p.token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if depth > 0 {
				continue
			}
			if len(b)+len(t) > maxText {
				return "", fmt.Errorf("<%s> longer than %d KiB", se.Name.Local, maxText>>10)
			}
			b = append(b, t...)
		case xml.StartElement:
			if depth++; depth > maxDepth {
				return "", errTooDeep
			}
		case xml.EndElement:
			if depth == 0 {
				return string(bytes.TrimSpace(b)), nil
			}
			depth--
		}
	}
}

// note adds a note, or counts it if there are MaxNotes already.
func (p *parser) note(s string) {
	if len(p.ml.Notes) < MaxNotes {
		p.ml.Notes = append(p.ml.Notes, s)
	} else {
		p.dropped++
	}
}

// fileBuilder is what is known of a file while its element is read.
type fileBuilder struct {
	f      File
	size   bool // a size element was read
	whole  map[verify.Algo][]byte
	pieces map[verify.Algo]*Pieces
	skips  []skipped      // in the order first seen
	kinds  map[string]int // index in skips
}

// skipped counts something of a file left out, for a note.
type skipped struct {
	what string // "rsync URL skipped"
	n    int
}

// maxSkipKinds bounds the distinct notes of one file: past it, what is
// skipped is counted in one more. A document could otherwise make a note
// of each of a million url types of its own invention.
const maxSkipKinds = 16

func (b *fileBuilder) skip(what string) {
	i, ok := b.kinds[what]
	if !ok {
		if len(b.skips) >= maxSkipKinds {
			what = "other things skipped"
			if i, ok = b.kinds[what]; ok {
				b.skips[i].n++
				return
			}
		}
		i = len(b.skips)
		b.kinds[what] = i
		b.skips = append(b.skips, skipped{what, 0})
	}
	b.skips[i].n++
}

// strength orders hash functions, strongest first, for Hashes and for the
// choice of pieces.
var strength = [...]verify.Algo{verify.SHA512, verify.SHA256, verify.SHA1, verify.MD5}

// file reads a file element, validates it and adds it to the Metalink.
func (p *parser) file(se xml.StartElement) error {
	p.nfiles++
	if p.nfiles > MaxFiles {
		return fmt.Errorf("more than %d files", MaxFiles)
	}
	name, ok := attr(se, "name")
	if !ok {
		return fmt.Errorf("file %d: no name", p.nfiles)
	}
	if err := wire.CheckName(name); err != nil {
		return fmt.Errorf("file %d: %w", p.nfiles, err)
	}
	if _, dup := p.names[name]; dup {
		return fmt.Errorf("file %d: %q: two files have this name", p.nfiles, name)
	}
	p.names[name] = struct{}{}
	b := &fileBuilder{
		f:      File{Name: name, Size: -1},
		whole:  make(map[verify.Algo][]byte),
		pieces: make(map[verify.Algo]*Pieces),
		kinds:  make(map[string]int),
	}
	if err := p.each(func(se xml.StartElement) error { return p.fileChild(b, se) }); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	f, err := p.finish(b)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	p.ml.Files = append(p.ml.Files, f)
	return nil
}

// fileChild reads one child element of a file element.
func (p *parser) fileChild(b *fileBuilder, se xml.StartElement) error {
	if se.Name.Space != p.ns {
		return p.skip() // an extension: mm0:timestamp, mm0:alternates
	}
	v4 := p.ml.Version == 4
	switch se.Name.Local {
	case "size":
		return p.size(b, se)
	case "hash":
		if v4 {
			return p.hash(b, se)
		}
	case "pieces":
		if v4 {
			return p.pieces(b, se)
		}
	case "url":
		if v4 {
			return p.url(b, se)
		}
	case "metaurl":
		if v4 {
			mt, _ := attr(se, "mediatype")
			b.skip(fmt.Sprintf("metaurl (%s) skipped", word(strings.TrimSpace(mt))))
		}
	case "verification":
		if !v4 {
			return p.each(func(se xml.StartElement) error {
				switch {
				case p.is(se, "hash"):
					return p.hash(b, se)
				case p.is(se, "pieces"):
					return p.pieces(b, se)
				}
				return p.skip()
			})
		}
	case "resources":
		if !v4 {
			return p.each(func(se xml.StartElement) error {
				if p.is(se, "url") {
					return p.url(b, se)
				}
				return p.skip()
			})
		}
	}
	return p.skip()
}

func (p *parser) size(b *fileBuilder, se xml.StartElement) error {
	s, err := p.text(se)
	if err != nil {
		return err
	}
	if b.size {
		return errors.New("two sizes")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > MaxFileSize {
		return fmt.Errorf("size %s: not a number of bytes from 0 to 2^50", word(s))
	}
	b.size, b.f.Size = true, n
	return nil
}

// hash reads a whole-file hash.
func (p *parser) hash(b *fileBuilder, se xml.StartElement) error {
	typ, _ := attr(se, "type")
	s, err := p.text(se)
	if err != nil {
		return err
	}
	algo, err := verify.ParseAlgo(typ)
	if err != nil {
		b.skip(fmt.Sprintf("hash of type %s ignored", word(typ)))
		return nil
	}
	sum, err := decodeSum(algo, s)
	if err != nil {
		return fmt.Errorf("%s hash: %w", algo, err)
	}
	if old, ok := b.whole[algo]; ok && !bytes.Equal(old, sum) {
		return fmt.Errorf("two different %s hashes", algo)
	}
	b.whole[algo] = sum
	return nil
}

// pieces reads a pieces element. In Metalink 3.0 each hash has a piece
// attribute, its index: the hashes are put in that order, and an index
// missing, out of range or given twice is an error.
func (p *parser) pieces(b *fileBuilder, se xml.StartElement) error {
	typ, _ := attr(se, "type")
	algo, err := verify.ParseAlgo(typ)
	if err != nil {
		b.skip(fmt.Sprintf("pieces of type %s ignored", word(typ)))
		return p.skip()
	}
	ls, _ := attr(se, "length")
	length, err := strconv.ParseInt(strings.TrimSpace(ls), 10, 64)
	if err != nil || length < MinPieceLen || length > MaxPieceLen {
		return fmt.Errorf("%s pieces: length %s: not a number of bytes from 1 KiB to 64 MiB", algo, word(ls))
	}
	if _, ok := b.pieces[algo]; ok {
		return fmt.Errorf("two %s pieces elements", algo)
	}
	v3 := p.ml.Version == 3
	type indexed struct {
		i   int
		sum []byte
	}
	var got []indexed
	err = p.each(func(se xml.StartElement) error {
		if !p.is(se, "hash") {
			return p.skip()
		}
		if len(got) >= MaxPieces {
			return fmt.Errorf("%s pieces: more than %d", algo, MaxPieces)
		}
		i := len(got)
		if v3 {
			is, ok := attr(se, "piece")
			if !ok {
				return fmt.Errorf("%s piece hash %d: no piece index", algo, i)
			}
			n, err := strconv.Atoi(strings.TrimSpace(is))
			if err != nil || n < 0 || n >= MaxPieces {
				return fmt.Errorf("%s piece hash %d: bad piece index %s", algo, i, word(is))
			}
			i = n
		}
		s, err := p.text(se)
		if err != nil {
			return err
		}
		sum, err := decodeSum(algo, s)
		if err != nil {
			return fmt.Errorf("%s piece %d: %w", algo, i, err)
		}
		got = append(got, indexed{i, sum})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortStableFunc(got, func(a, b indexed) int { return cmp.Compare(a.i, b.i) })
	sums := make([][]byte, len(got))
	for k, g := range got {
		switch {
		case g.i < k:
			return fmt.Errorf("%s piece %d: given twice", algo, g.i)
		case g.i > k:
			return fmt.Errorf("%s piece %d: missing", algo, k)
		}
		sums[k] = g.sum
	}
	b.pieces[algo] = &Pieces{Length: length, Algo: algo, Sums: sums}
	return nil
}

// decodeSum decodes a hex sum of algo, checking its length before it
// decodes.
func decodeSum(algo verify.Algo, s string) ([]byte, error) {
	if len(s) != 2*algo.Size() {
		return nil, fmt.Errorf("%d hex digits, want %d", len(s), 2*algo.Size())
	}
	sum, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("not hex")
	}
	return sum, nil
}

// url reads a mirror URL and keeps it if it is http or https.
func (p *parser) url(b *fileBuilder, se xml.StartElement) error {
	s, err := p.text(se)
	if err != nil {
		return err
	}
	m := Mirror{}
	if p.ml.Version == 4 {
		if ps, ok := attr(se, "priority"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(ps))
			switch {
			case err != nil:
				b.skip(fmt.Sprintf("priority %s ignored", word(ps)))
			case n >= 1:
				m.Priority = min(n, 999999)
			}
		}
	} else {
		if typ, ok := attr(se, "type"); ok {
			switch t := strings.ToLower(strings.TrimSpace(typ)); t {
			case "http", "https", "ftp":
			default:
				b.skip(fmt.Sprintf("url of type %s skipped", word(t)))
				return nil
			}
		}
		if ps, ok := attr(se, "preference"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(ps))
			if err != nil {
				b.skip(fmt.Sprintf("preference %s ignored", word(ps)))
			} else {
				m.Priority = 101 - min(max(n, 1), 100)
			}
		}
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		b.skip("unparsable URL skipped")
		return nil
	case u.Scheme == "":
		b.skip("URL without a scheme skipped")
		return nil
	case u.Scheme != "http" && u.Scheme != "https":
		b.skip(fmt.Sprintf("%s URL skipped", word(u.Scheme)))
		return nil
	case u.Host == "":
		b.skip("URL without a host skipped")
		return nil
	}
	if loc, ok := attr(se, "location"); ok {
		loc = strings.ToLower(strings.TrimSpace(loc))
		if isCountry(loc) {
			m.Location = loc
		} else if loc != "" {
			b.skip(fmt.Sprintf("location %s ignored", word(loc)))
		}
	}
	if len(b.f.Mirrors) >= MaxMirrors {
		return fmt.Errorf("more than %d mirror URLs", MaxMirrors)
	}
	m.URL = s
	b.f.Mirrors = append(b.f.Mirrors, m)
	return nil
}

// isCountry reports whether s looks like a lower-case ISO 3166-1 alpha-2
// code.
func isCountry(s string) bool {
	return len(s) == 2 && 'a' <= s[0] && s[0] <= 'z' && 'a' <= s[1] && s[1] <= 'z'
}

// finish validates what was read of a file and makes it a File.
func (p *parser) finish(b *fileBuilder) (File, error) {
	f := b.f
	for _, a := range strength {
		if sum, ok := b.whole[a]; ok {
			f.Hashes = append(f.Hashes, verify.Hash{Algo: a, Sum: sum})
		}
	}
	if f.Size < 0 && len(b.pieces) > 0 {
		b.skip("pieces ignored: no size given")
		clear(b.pieces)
	}
	for _, a := range strength {
		pc, ok := b.pieces[a]
		if !ok {
			continue
		}
		n := (f.Size + pc.Length - 1) / pc.Length
		if n > MaxPieces {
			return File{}, fmt.Errorf("%d pieces of %d bytes, more than %d", n, pc.Length, MaxPieces)
		}
		if int64(len(pc.Sums)) != n {
			return File{}, fmt.Errorf("%d %s piece hashes for %d bytes in pieces of %d bytes, want %d", len(pc.Sums), a, f.Size, pc.Length, n)
		}
		if f.Pieces == nil {
			f.Pieces = pc
		}
	}
	slices.SortStableFunc(f.Mirrors, func(a, b Mirror) int { return cmp.Compare(rank(a), rank(b)) })
	seen := make(map[string]struct{}, len(f.Mirrors))
	f.Mirrors = slices.DeleteFunc(f.Mirrors, func(m Mirror) bool {
		if _, dup := seen[m.URL]; dup {
			b.skip("duplicate URL dropped")
			return true
		}
		seen[m.URL] = struct{}{}
		return false
	})
	for _, s := range b.skips {
		if s.n == 1 {
			p.note(fmt.Sprintf("%s: %s", f.Name, s.what))
		} else {
			p.note(fmt.Sprintf("%s: %s (%d of them)", f.Name, s.what, s.n))
		}
	}
	if len(f.Mirrors) == 0 {
		p.note(f.Name + ": no usable mirror URL")
	}
	return f, nil
}

// rank is a mirror's place in the order: its priority, or after all if it
// has none.
func rank(m Mirror) int {
	if m.Priority == 0 {
		return 1 << 30
	}
	return m.Priority
}

// attr returns the value of se's attribute local, of no namespace.
func attr(se xml.StartElement, local string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// word returns s for a message: as it is if it is a short word of printable
// ASCII, else quoted (in ASCII, so that a control character from the
// document never reaches a terminal) and cut to about 40 bytes.
func word(s string) string {
	const n = 40
	plain := s != "" && len(s) <= n
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] > ' ' && s[i] < 0x7f && s[i] != '"' && s[i] != '\\'
	}
	if plain {
		return s
	}
	if len(s) <= n {
		return strconv.QuoteToASCII(s)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.QuoteToASCII(s[:cut]) + "..."
}
