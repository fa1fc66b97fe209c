package console

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

func TestLayout(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) *time.Time { v := t0.Add(time.Duration(ms) * time.Millisecond); return &v }
	now := t0.Add(10 * time.Second)
	as := []*gatehouse.Action{
		// 0–4s, started at once.
		{ID: "a", Time: t0, StartedAt: at(0), FinishedAt: at(4000), Status: gatehouse.StatusSucceeded, Analysis: &gatehouse.Analysis{Risk: 10}},
		// Overlaps a: requested at 1s, waited 1s for review, ran 2–6s.
		{ID: "b", Time: *at(1000), StartedAt: at(2000), FinishedAt: at(6000), Status: gatehouse.StatusFailed, Analysis: &gatehouse.Analysis{Risk: 80}},
		// Denied at once: never started.
		{ID: "c", Time: *at(7000), FinishedAt: at(7000), Status: gatehouse.StatusDenied},
		// Still running at now (10s).
		{ID: "d", Time: *at(8000), StartedAt: at(8000), Status: gatehouse.StatusRunning, Analysis: &gatehouse.Analysis{Risk: 40}},
	}
	tl := layout(as, now)
	if !tl.Start.Equal(t0) || !tl.End.Equal(now) {
		t.Fatalf("span %v to %v, want %v to %v", tl.Start, tl.End, t0, now)
	}
	chart := float64(tlWidth - tlLabel - tlRight)
	x := func(ms int) float64 { return float64(tlLabel) + float64(ms)/10000*chart }
	near := func(a, b float64) bool { return a-b < 0.001 && b-a < 0.001 }
	b := tl.Bars
	if len(b) != 4 {
		t.Fatalf("%d bars", len(b))
	}
	for i := 1; i < len(b); i++ {
		if b[i].Y <= b[i-1].Y {
			t.Errorf("bar %d is not below bar %d: rows keep the order of requests", i, i-1)
		}
	}
	if !near(b[0].RunX, x(0)) || !near(b[0].RunW, x(4000)-x(0)) || b[0].WaitW != 0 {
		t.Errorf("a: run %v+%v wait %v", b[0].RunX, b[0].RunW, b[0].WaitW)
	}
	if !near(b[1].WaitX, x(1000)) || !near(b[1].WaitW, x(2000)-x(1000)) || !near(b[1].RunX, x(2000)) || !near(b[1].RunW, x(6000)-x(2000)) {
		t.Errorf("b: wait %v+%v run %v+%v", b[1].WaitX, b[1].WaitW, b[1].RunX, b[1].RunW)
	}
	if b[1].RunX >= b[0].RunX+b[0].RunW {
		t.Errorf("a and b overlap in time but not on the chart")
	}
	if b[2].RunW != 0 || b[2].WaitW != tlMinBar {
		t.Errorf("c (never started, instant): run %v wait %v; want no run and a minimal wait", b[2].RunW, b[2].WaitW)
	}
	if !b[3].Open || !near(b[3].RunX+b[3].RunW, x(10000)) {
		t.Errorf("d (running) does not reach now: %v+%v", b[3].RunX, b[3].RunW)
	}
	if got := []string{b[0].RiskClass, b[1].RiskClass, b[2].RiskClass, b[3].RiskClass}; got[0] != "low" || got[1] != "high" || got[2] != "low" || got[3] != "med" {
		t.Errorf("risk classes %v", got)
	}
	if len(tl.Ticks) < 2 || tl.Ticks[0].Label != "+0" || !near(tl.Ticks[0].X, x(0)) {
		t.Errorf("ticks %+v", tl.Ticks)
	}
	if empty := layout(nil, now); len(empty.Bars) != 0 {
		t.Errorf("empty session has bars")
	}
	// One instant action: the span is not zero.
	one := layout([]*gatehouse.Action{{ID: "x", Time: t0, StartedAt: at(0), FinishedAt: at(0), Status: gatehouse.StatusSucceeded}}, now)
	if one.Bars[0].RunW != tlMinBar {
		t.Errorf("instant action: width %v", one.Bars[0].RunW)
	}
}

func TestTickStep(t *testing.T) {
	for _, tc := range []struct {
		span, want time.Duration
	}{
		{3 * time.Millisecond, time.Millisecond},
		{400 * time.Millisecond, 50 * time.Millisecond},
		{10 * time.Second, 2 * time.Second},
		{90 * time.Minute, 15 * time.Minute},
		{20 * 24 * time.Hour, 20 * 24 * time.Hour / 8},
	} {
		if got := tickStep(tc.span); got != tc.want || tc.span/got > 8 {
			t.Errorf("tickStep(%v) = %v, want %v", tc.span, got, tc.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/approvals": "/approvals", "/session?id=a b": "/session?id=a b", "": "/", "approvals": "/",
		"//evil.example/x": "/", "/\\evil.example": "/", "https://evil.example/": "/", "javascript:alert(1)": "/",
	} {
		if got := localPath(in, "/"); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
