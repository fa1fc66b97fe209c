package console

import (
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// A session's timeline is an SVG chart drawn on the server: one row per
// action in the order they were requested, time across. Each action has a
// pale bar for its wait (request to start: the decision, a review, a
// pause) and a solid bar for its run (start to end), coloured by its
// status; a square before it shows its risk. An action still pending or
// running reaches to now. Bars that overlap in time ran at once.

// Geometry of the chart, in SVG user units.
const (
	tlWidth  = 1000
	tlLabel  = 260 // the labels' column
	tlRight  = 16
	tlTop    = 28 // the axis
	tlRow    = 22
	tlBar    = 14
	tlMinBar = 3 // so that an instant still shows
)

type timeline struct {
	Width, Height int
	Start, End    time.Time
	Bars          []bar
	Ticks         []tick
	ChartLeft     int
}

type bar struct {
	A            *gatehouse.Action
	Y, TextY     int
	WaitX, WaitW float64 // request to start (or to end, when it never started)
	RunX, RunW   float64 // start to end; RunW is 0 when it never started
	Open         bool    // not ended: drawn to now
	RiskClass    string
	Label        string
}

type tick struct {
	X     float64
	Label string
}

// layout places a session's actions (oldest first) on the chart.
func layout(as []*gatehouse.Action, now time.Time) timeline {
	tl := timeline{Width: tlWidth, ChartLeft: tlLabel, Height: tlTop + tlRow*len(as) + 8}
	if len(as) == 0 {
		return tl
	}
	end := func(a *gatehouse.Action) time.Time {
		if a.FinishedAt != nil {
			return *a.FinishedAt
		}
		return now
	}
	tl.Start, tl.End = as[0].Time, end(as[0])
	for _, a := range as {
		if a.Time.Before(tl.Start) {
			tl.Start = a.Time
		}
		if e := end(a); e.After(tl.End) {
			tl.End = e
		}
	}
	span := tl.End.Sub(tl.Start)
	if span <= 0 {
		span = time.Second
	}
	chart := float64(tlWidth - tlLabel - tlRight)
	x := func(t time.Time) float64 { return float64(tlLabel) + float64(t.Sub(tl.Start))/float64(span)*chart }
	width := func(from, to time.Time) float64 { return max(tlMinBar, x(to)-x(from)) }
	for i, a := range as {
		b := bar{A: a, Y: tlTop + i*tlRow + (tlRow-tlBar)/2, TextY: tlTop + i*tlRow + tlRow/2 + 4,
			Open: a.FinishedAt == nil, RiskClass: riskClass(a.Risk()), Label: clip(a.Command, 34)}
		if a.StartedAt != nil {
			b.WaitX, b.WaitW = x(a.Time), x(*a.StartedAt)-x(a.Time)
			b.RunX, b.RunW = x(*a.StartedAt), width(*a.StartedAt, end(a))
		} else {
			b.WaitX, b.WaitW = x(a.Time), width(a.Time, end(a))
		}
		tl.Bars = append(tl.Bars, b)
	}
	step := tickStep(span)
	for d := time.Duration(0); d <= span; d += step {
		tl.Ticks = append(tl.Ticks, tick{X: x(tl.Start.Add(d)), Label: "+" + shortDuration(d)})
	}
	return tl
}

// tickStep is the smallest round step that puts at most 8 ticks on span.
func tickStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{
		time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
		50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
	} {
		if span/s <= 8 {
			return s
		}
	}
	return span / 8
}

// shortDuration writes d the way the axis labels it: 0, 250ms, 1.5s, 2m,
// 1h30m.
func shortDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	s := d.Round(time.Second).String()
	if len(s) > 3 && s[len(s)-3:] == "m0s" {
		s = s[:len(s)-2]
	}
	if len(s) > 3 && s[len(s)-3:] == "h0m" {
		s = s[:len(s)-2]
	}
	return s
}

// riskClass bands a risk for colour: low under 30, medium under 70, high.
func riskClass(r int) string {
	switch {
	case r >= 70:
		return "high"
	case r >= 30:
		return "med"
	}
	return "low"
}

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
