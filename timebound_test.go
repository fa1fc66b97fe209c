package gatehouse_test

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

func TestParseTimeBound(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"1h", now.Add(-time.Hour), false},
		{"90s", now.Add(-90 * time.Second), false},
		{"7d", now.Add(-7 * 24 * time.Hour), false},
		{"1d12h", now.Add(-36 * time.Hour), false},
		{"2026-12-04T11:00:00Z", now.Add(-time.Hour), false},
		{"2026-12-04T13:00:00+02:00", now.Add(-time.Hour), false},
		{"yesterday", time.Time{}, true},
		{"-1h", time.Time{}, true},
		{"d", time.Time{}, true},
		{"1x", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := gatehouse.ParseTimeBound(tt.in, now)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseTimeBound(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil && gatehouse.ErrorCode(err) != gatehouse.EINVALID {
			t.Errorf("ParseTimeBound(%q) code = %s, want EINVALID", tt.in, gatehouse.ErrorCode(err))
		}
		if !got.Equal(tt.want) {
			t.Errorf("ParseTimeBound(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
