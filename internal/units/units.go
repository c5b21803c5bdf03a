// Package units parses the rates and sizes that quicxfer's commands take
// ("500KB/s", "100Mbit/s", "64MiB"): decimal prefixes are powers of 1000,
// binary ones (Ki, Mi, Gi) powers of 1024, and "bit" counts bits.
package units

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseRate parses a rate such as "0", "500KB/s", "12.5MB/s", "1GB/s",
// "100Mbit/s", "4MiB/s" into bytes per second. Decimal prefixes are powers
// of 1000, binary ones (Ki, Mi, Gi) powers of 1024; "bit" counts bits.
func ParseRate(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if t == "0" || t == "" {
		return 0, nil
	}
	t = strings.TrimSuffix(strings.TrimSuffix(t, "/s"), "ps")
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, fmt.Errorf("rate %q: want a number with a unit, e.g. 500KB/s, 12.5MB/s, 100Mbit/s or 0", s)
	}
	n, err := strconv.ParseFloat(t[:i], 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("rate %q: bad number", s)
	}
	unit := t[i:]
	var scale float64
	bits := false
	switch u := strings.ToLower(unit); {
	case strings.HasSuffix(u, "bit"):
		bits = true
		unit = unit[:len(unit)-3]
	case strings.HasSuffix(unit, "B"):
		unit = unit[:len(unit)-1]
	default:
		return 0, fmt.Errorf("rate %q: unknown unit %q (use B/s, KB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s or Kbit/s, Mbit/s, Gbit/s)", s, t[i:])
	}
	switch strings.ToLower(unit) {
	case "":
		scale = 1
	case "k":
		scale = 1e3
	case "m":
		scale = 1e6
	case "g":
		scale = 1e9
	case "ki":
		scale = 1 << 10
	case "mi":
		scale = 1 << 20
	case "gi":
		scale = 1 << 30
	default:
		return 0, fmt.Errorf("rate %q: unknown unit prefix %q", s, unit)
	}
	r := n * scale
	if bits {
		r /= 8
	}
	return r, nil
}

// ParseSize parses a size in bytes: a plain number ("1073741824") or a
// number with a unit ("64MiB", "1GiB", "500MB"); rates and bits are refused.
func ParseSize(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return n, nil
	}
	f, err := ParseRate(s)
	if err != nil || f < 1 || strings.Contains(strings.ToLower(s), "bit") || strings.HasSuffix(s, "/s") {
		return 0, fmt.Errorf("size %q: want bytes with a unit, e.g. 64MiB, 1GiB, 500MB", s)
	}
	return int64(f), nil
}

// FormatSize writes n bytes as ParseSize reads them: in the largest binary
// unit that divides n exactly ("64MiB", "256KiB"), else in bytes ("1000").
func FormatSize(n int64) string {
	for _, u := range []struct {
		name  string
		scale int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.scale == 0 {
			return strconv.FormatInt(n/u.scale, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
