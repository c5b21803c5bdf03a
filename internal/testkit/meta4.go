package testkit

import (
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"strings"
)

// Meta4File is a file of a Metalink that Meta4 writes: its name, content
// and mirror URLs (priority 1, 2, ... in this order).
type Meta4File struct {
	Name string
	Data []byte
	URLs []string
}

// Meta4 writes a Metalink 4 (RFC 5854) document of files as MirrorBrain
// writes one: each file's size, the SHA-256 of its whole content, SHA-1
// pieces of pieceLen bytes (none if 0), its URLs with a location and a
// priority, and a torrent's metaurl.
func Meta4(pieceLen int, files ...Meta4File) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <generator>MirrorBrain/2.19.0</generator>
  <published>2026-12-04T10:00:00Z</published>
`)
	for _, f := range files {
		fmt.Fprintf(&b, "  <file name=%q>\n    <size>%d</size>\n    <hash type=\"sha-256\">%x</hash>\n", f.Name, len(f.Data), sha256.Sum256(f.Data))
		if pieceLen > 0 {
			fmt.Fprintf(&b, "    <pieces length=\"%d\" type=\"sha-1\">\n", pieceLen)
			for off := 0; off < len(f.Data); off += pieceLen {
				fmt.Fprintf(&b, "      <hash>%x</hash>\n", sha1.Sum(f.Data[off:min(off+pieceLen, len(f.Data))]))
			}
			b.WriteString("    </pieces>\n")
		}
		for i, u := range f.URLs {
			fmt.Fprintf(&b, "    <url location=\"de\" priority=\"%d\">%s</url>\n", i+1, u)
		}
		b.WriteString("    <metaurl mediatype=\"torrent\">http://example.org/f.torrent</metaurl>\n  </file>\n")
	}
	b.WriteString("</metalink>\n")
	return []byte(b.String())
}
