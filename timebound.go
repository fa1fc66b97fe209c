package gatehouse

import (
	"strconv"
	"strings"
	"time"
)

// ParseTimeBound parses a time bound as users type it for --since and
// --until: an RFC 3339 time ("2026-12-04T13:00:00Z"), or a duration before
// now ("90s", "15m", "1h", "1h30m", "7d"). It returns EINVALID for
// anything else.
func ParseTimeBound(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	d, err := parseAgo(s)
	if err != nil || d < 0 {
		return time.Time{}, Errorf(EINVALID, "invalid time %q: use a duration such as 1h, 30m or 7d, or an RFC 3339 time", s)
	}
	return now.Add(-d).UTC(), nil
}

// parseAgo is time.ParseDuration plus a leading "Nd" for days.
func parseAgo(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, err
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	return days + d, err
}
