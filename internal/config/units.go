package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1 << 10, "kib": 1 << 10,
	"mb": 1 << 20, "mib": 1 << 20,
	"gb": 1 << 30, "gib": 1 << 30,
}

// ParseSize parses "64MB", "512KB", "1GB", "100B" or "1024" (bytes). Units
// are case-insensitive and binary: KB and KiB both mean 1024, because
// memory limits are naturally powers of two and two meanings of "MB" in one
// file would be a trap. Fractions are refused rather than rounded.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("invalid size %q: empty", s)
	}
	if t[0] == '-' {
		return 0, fmt.Errorf("invalid size %q: must not be negative", s)
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q: use a whole number with an optional unit B, KB, MB or GB, such as \"64MB\"", s)
	}
	rest := strings.TrimSpace(t[i:])
	if strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, ",") {
		return 0, fmt.Errorf("invalid size %q: fractions are not supported; use a smaller unit (\"1536KB\", not \"1.5MB\")", s)
	}
	mult, ok := sizeUnits[strings.ToLower(rest)]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KB, MB or GB)", s, rest)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * mult, nil
}

// FormatSize renders bytes in the largest binary unit that divides them
// exactly, so that messages echo sizes the way users write them.
func FormatSize(n int64) string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// ParseDuration parses Go durations ("10s", "200ms", "1m30s"). Negative
// durations are refused: every duration setting is a timeout or an interval.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a number with a unit, such as \"10s\", \"200ms\" or \"1m30s\"", s)
	}
	return d, nil
}
