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
// of 1000, binary ones (Ki, Mi, Gi) powers of 1024; "bit" (or "bps") counts
// bits. Units are read whatever their case ("5mb/S" is 5MB/s), except that
// a lowercase "b" standing for the unit itself ("5Mb/s") is refused as
// ambiguous; "/s" may be left out ("10MB"), and so may "B" after a prefix:
// "10M" is 10MB/s.
func ParseRate(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if t == "0" || t == "" {
		return 0, nil
	}
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, fmt.Errorf("rate %q: want a number with a unit, e.g. 500KB/s, 12.5MB/s, 100Mbit/s, 10M or 0", s)
	}
	n, err := strconv.ParseFloat(t[:i], 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("rate %q: bad number %q", s, t[:i])
	}
	scale, err := rateUnit(t[i:])
	if err != nil {
		return 0, fmt.Errorf("rate %q: %w", s, err)
	}
	return n * scale, nil
}

// rateUnit returns the bytes per second of one of unit ("MB/s", "Mbit/s",
// "M", "KiB", "Mbps").
func rateUnit(unit string) (float64, error) {
	u := unit
	if l := strings.ToLower(u); strings.HasSuffix(l, "/s") {
		u = u[:len(u)-2]
	} else if strings.HasSuffix(l, "bps") {
		u = u[:len(u)-2] // "Mbps" is Mbit/s, "MBps" MB/s
		if u[len(u)-1] == 'b' {
			u = u[:len(u)-1] + "bit"
		}
	}
	bits := 1.0
	switch l := strings.ToLower(u); {
	case strings.HasSuffix(l, "bit"):
		bits = 8
		u = u[:len(u)-3]
	case strings.HasSuffix(u, "B"):
		u = u[:len(u)-1]
	case strings.HasSuffix(u, "b"):
		return 0, fmt.Errorf("%q is ambiguous: write %sB/s for bytes or %sbit/s for bits", unit, u[:len(u)-1], u[:len(u)-1])
	case u == "":
		return 0, fmt.Errorf("no unit (use e.g. 500KB/s, 12.5MB/s, 100Mbit/s or 10M)")
	}
	scale, ok := map[string]float64{"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30}[strings.ToLower(u)]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q (use B/s, KB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s, Kbit/s, Mbit/s, Gbit/s, or K, M, G for KB/s, MB/s, GB/s)", unit)
	}
	return scale / bits, nil
}

// FormatRate writes a rate in bytes per second as ParseRate reads it, in
// the unit that writes it shortest ("20MB/s", "4MiB/s", "12.5MB/s"), to at
// most three decimals; 0 (no limit) is "0".
func FormatRate(bps float64) string {
	if bps == 0 {
		return "0"
	}
	best := ""
	for _, u := range []struct {
		name  string
		scale float64
	}{{"GB/s", 1e9}, {"MB/s", 1e6}, {"KB/s", 1e3}, {"GiB/s", 1 << 30}, {"MiB/s", 1 << 20}, {"KiB/s", 1 << 10}, {"B/s", 1}} {
		if bps < u.scale && u.scale > 1 {
			continue
		}
		s := strconv.FormatFloat(bps/u.scale, 'f', -1, 64)
		if dot := strings.IndexByte(s, '.'); dot >= 0 && len(s)-dot-1 > 3 {
			s = strings.TrimRight(strings.TrimRight(strconv.FormatFloat(bps/u.scale, 'f', 3, 64), "0"), ".")
		}
		if s += u.name; best == "" || len(s) < len(best) {
			best = s
		}
	}
	return best
}

// FormatBytes writes a byte count for people, with a decimal unit, as
// every view of quicxfer shows sizes: "1.23 GB", "410.0 MB", "12.3 kB",
// "999 B".
func FormatBytes(n float64) string {
	switch {
	case n >= 1e12:
		return fmt.Sprintf("%.2f TB", n/1e12)
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", n/1e3)
	}
	return fmt.Sprintf("%.0f B", n)
}

// ParseSize parses a size in bytes: a plain number ("1073741824") or a
// number with a unit ("64MiB", "1GiB", "500MB"); rates and bits are refused.
func ParseSize(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return n, nil
	}
	f, err := ParseRate(s)
	if l := strings.ToLower(s); err != nil || f < 1 || strings.Contains(l, "bit") || strings.HasSuffix(l, "/s") || strings.HasSuffix(l, "ps") {
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

// Plural returns noun for n of it: as it is for 1, with an s otherwise
// ("1 seed", "2 seeds", "0 files").
func Plural[T ~int | ~int64](n T, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
