package gatehouse_test

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

func TestCursor(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	for _, c := range []gatehouse.Cursor{
		{Time: at, ID: "01JABC"},
		{Time: at, ID: "with.dots.in.it"},
		{Time: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), ID: "old"},
	} {
		s := c.String()
		got, err := gatehouse.ParseCursor(s)
		if err != nil || !got.Time.Equal(c.Time) || got.ID != c.ID {
			t.Errorf("ParseCursor(%q) = %+v, %v; want %+v", s, got, err, c)
		}
	}
	if s := (gatehouse.Cursor{}).String(); s != "" {
		t.Errorf("zero cursor encodes as %q", s)
	}
	if c, err := gatehouse.ParseCursor(""); err != nil || !c.IsZero() {
		t.Errorf("ParseCursor(\"\") = %+v, %v", c, err)
	}
	for _, bad := range []string{"x", "12", "12.", ".id", "1e3.id", "99999999999999999999.id"} {
		if _, err := gatehouse.ParseCursor(bad); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
			t.Errorf("ParseCursor(%q) = %v, want EINVALID", bad, err)
		}
	}
	a, b := gatehouse.Cursor{Time: at, ID: "B"}, gatehouse.Cursor{Time: at, ID: "a"}
	if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 {
		t.Errorf("same time: ids compare as bytes ('B' < 'a')")
	}
	if (gatehouse.Cursor{Time: at.Add(-time.Microsecond), ID: "z"}).Compare(a) != -1 {
		t.Errorf("an earlier time orders first whatever the id")
	}
}

func TestActionFilterMatch(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := &gatehouse.Action{ID: "m", Time: at, Agent: "alice", Session: "s1", System: "prod", Status: gatehouse.StatusFailed,
		Command: "rm -rf build", Intent: "Clean up", Analysis: &gatehouse.Analysis{Risk: 60}}
	bare := &gatehouse.Action{ID: "n", Time: at, Agent: "bob", Status: gatehouse.StatusPending}
	for _, tc := range []struct {
		name            string
		f               gatehouse.ActionFilter
		wantA, wantBare bool
	}{
		{"zero", gatehouse.ActionFilter{}, true, true},
		{"since equal", gatehouse.ActionFilter{Since: at}, true, true},
		{"since after", gatehouse.ActionFilter{Since: at.Add(time.Nanosecond)}, false, false},
		{"until equal", gatehouse.ActionFilter{Until: at}, false, false},
		{"until after", gatehouse.ActionFilter{Until: at.Add(time.Nanosecond)}, true, true},
		{"agent", gatehouse.ActionFilter{Agent: "alice"}, true, false},
		{"session", gatehouse.ActionFilter{Session: "s1"}, true, false},
		{"system", gatehouse.ActionFilter{System: "prod"}, true, false},
		{"system prefix is not a match", gatehouse.ActionFilter{System: "pro"}, false, false},
		{"status", gatehouse.ActionFilter{Status: gatehouse.StatusPending}, false, true},
		{"risk equal", gatehouse.ActionFilter{MinRisk: 60}, true, false},
		{"risk above", gatehouse.ActionFilter{MinRisk: 61}, false, false},
		{"risk 1 drops no analysis", gatehouse.ActionFilter{MinRisk: 1}, true, false},
		{"grep command", gatehouse.ActionFilter{Grep: "-rf"}, true, false},
		{"grep intent", gatehouse.ActionFilter{Grep: "Clean"}, true, false},
		{"grep case-sensitive", gatehouse.ActionFilter{Grep: "clean"}, false, false},
		{"before same time larger id", gatehouse.ActionFilter{Before: gatehouse.Cursor{Time: at, ID: "n"}}, true, false},
		{"before itself", gatehouse.ActionFilter{Before: gatehouse.Cursor{Time: at, ID: "m"}}, false, false},
		{"after same time smaller id", gatehouse.ActionFilter{After: gatehouse.Cursor{Time: at, ID: "m"}}, false, true},
		{"after earlier time", gatehouse.ActionFilter{After: gatehouse.Cursor{Time: at.Add(-1), ID: "zzz"}}, true, true},
	} {
		if got := tc.f.Match(a); got != tc.wantA {
			t.Errorf("%s: Match(a) = %v", tc.name, got)
		}
		if got := tc.f.Match(bare); got != tc.wantBare {
			t.Errorf("%s: Match(bare) = %v", tc.name, got)
		}
	}
}

func TestActionFilterValidate(t *testing.T) {
	at := time.Now()
	for _, tc := range []struct {
		f  gatehouse.ActionFilter
		ok bool
	}{
		{gatehouse.ActionFilter{}, true},
		{gatehouse.ActionFilter{Limit: gatehouse.MaxLimit, MinRisk: gatehouse.MaxRisk}, true},
		{gatehouse.ActionFilter{Since: at, Until: at}, true},
		{gatehouse.ActionFilter{Before: gatehouse.Cursor{Time: at}, After: gatehouse.Cursor{Time: at.Add(time.Hour)}}, true},
		{gatehouse.ActionFilter{Limit: -1}, false},
		{gatehouse.ActionFilter{Limit: gatehouse.MaxLimit + 1}, false},
		{gatehouse.ActionFilter{MinRisk: -1}, false},
		{gatehouse.ActionFilter{MinRisk: gatehouse.MaxRisk + 1}, false},
		{gatehouse.ActionFilter{Status: "nope"}, false},
		{gatehouse.ActionFilter{Since: at, Until: at.Add(-1)}, false},
	} {
		err := tc.f.Validate()
		if (err == nil) != tc.ok || (err != nil && gatehouse.ErrorCode(err) != gatehouse.EINVALID) {
			t.Errorf("Validate(%+v) = %v", tc.f, err)
		}
	}
}
