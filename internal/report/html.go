package report

import (
	"bufio"
	_ "embed"
	"html"
	"html/template"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed report.html.tmpl
var htmlTemplate string

// htmlTmpl is parsed on first use, not at every start of the binary (hook
// invocations start it for each tool call).
var htmlTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"stamp":    stamp,
		"stampPtr": stampPtr,
		"dur":      durPtr,
		"millis":   func(ms int64) string { return millis(float64(ms)) },
		"none":     orNone,
		"exit":     exitOf,
		"decision": decisionOf,
		"counts":   statusCounts,
		"join":     strings.Join,
		"title":    title,
		"scope":    scopeOf,
		"signal":   signalLine,
		"clip":     clip,
		"plural":   plural,
		"risk":     riskClass,
		"inc":      func(i int) int { return i + 1 },
		"classes":  func() []string { return classOrder },
		"count":    func(m map[string]int, k string) int { return m[k] },
	}).Parse(htmlTemplate))
})

// HTML writes r as one self-contained HTML page: inline CSS, a little
// inline script (colour the chart by status or by risk, filter the
// timeline), the timeline chart as inline SVG — one bar per action over
// time, a lane per session — and nothing fetched from anywhere (its
// Content-Security-Policy forbids it).
func HTML(w io.Writer, r *Report) error {
	b := bufio.NewWriterSize(w, 64<<10)
	c := buildChart(r)
	data := struct {
		R          *Report
		Window     string
		Headline   string
		Chart      chart
		Bars, Rows template.HTML
	}{r, windowLine(r), headline(r), c, chartBars(c), timelineRows(r)}
	if err := htmlTmpl().Execute(b, data); err != nil {
		return err
	}
	return b.Flush()
}

// The chart's bars and the timeline's rows are a line per action: written
// here, not by the template, which takes ten times as long for 100,000 of
// them. Every value in them goes through html.EscapeString.

func chartBars(c chart) template.HTML {
	var b strings.Builder
	b.Grow(len(c.Bars) * 160)
	for _, x := range c.Bars {
		b.WriteString(`<rect class="`)
		b.WriteString(html.EscapeString(x.Class))
		b.WriteString(`" x="`)
		b.WriteString(x.X)
		b.WriteString(`" y="`)
		b.WriteString(x.Y)
		b.WriteString(`" width="`)
		b.WriteString(x.W)
		b.WriteString(`" height="12"><title>`)
		b.WriteString(html.EscapeString(x.Title))
		b.WriteString("</title></rect>\n")
	}
	return template.HTML(b.String())
}

func timelineRows(r *Report) template.HTML {
	var b strings.Builder
	b.Grow(len(r.Timeline) * 400)
	td := func(class, s string) {
		if class != "" {
			b.WriteString(`<td class="` + class + `">`)
		} else {
			b.WriteString("<td>")
		}
		b.WriteString(html.EscapeString(s))
		b.WriteString("</td>")
	}
	for i := range r.Timeline {
		e := &r.Timeline[i]
		b.WriteString(`<tr class="st-`)
		b.WriteString(html.EscapeString(string(e.Status)))
		b.WriteString(`">`)
		td("num", strconv.Itoa(i+1))
		td("", stamp(e.Time))
		td("", e.Agent)
		td("", orNone(e.Session))
		td("", string(e.Kind))
		b.WriteString("<td><code>")
		b.WriteString(html.EscapeString(e.Command))
		b.WriteString("</code></td>")
		td("", orNone(e.System))
		td("", decisionOf(e))
		status := string(e.Status)
		if x := exitOf(e); x != "-" && x != "0" {
			status += " (" + x + ")"
		}
		td("", status)
		td("num", durPtr(e.DurationMS))
		if e.Class != "" {
			td("", string(e.Class)+" / "+strconv.Itoa(e.Risk))
		} else {
			td("", "-")
		}
		b.WriteString("</tr>\n")
	}
	return template.HTML(b.String())
}

func riskClass(risk int) string {
	switch {
	case risk >= 60:
		return "high"
	case risk >= 30:
		return "medium"
	}
	return "low"
}

// The chart's geometry, in SVG user units (pixels at 100 %).
const (
	chartLabelW = 200
	chartPlotW  = 1000
	chartTop    = 28
	chartLaneH  = 18
	chartBarH   = 12
	chartMinBar = 2
)

type chart struct {
	Width, Height int
	Lanes         []chartLane
	Bars          []chartBar
	Ticks         []chartTick
}

type chartLane struct {
	Y     int
	Label string
}

type chartBar struct {
	X, Y, W string
	Class   string
	Title   string
}

type chartTick struct {
	X     string
	Label string
}

// buildChart lays the timeline out: x is time from the first request to
// the last end (or the report's time, for actions still open), a lane per
// session in the order they first act, a bar per action from its request
// to its end.
func buildChart(r *Report) chart {
	c := chart{Width: chartLabelW + chartPlotW + 40} // room for the last tick's label
	if len(r.Timeline) == 0 {
		c.Height = chartTop
		return c
	}
	end := func(e *Entry) time.Time {
		switch {
		case e.FinishedAt != nil:
			return *e.FinishedAt
		case !e.Status.Final() && r.GeneratedAt.After(e.Time):
			return r.GeneratedAt
		}
		return e.Time
	}
	t0, t1 := r.Timeline[0].Time, r.Timeline[0].Time
	lane := map[string]int{}
	for i := range r.Timeline {
		e := &r.Timeline[i]
		if e.Time.Before(t0) {
			t0 = e.Time
		}
		if x := end(e); x.After(t1) {
			t1 = x
		}
		key := e.Session
		if _, ok := lane[key]; !ok {
			lane[key] = len(c.Lanes)
			label := "session " + orNone(e.Session)
			c.Lanes = append(c.Lanes, chartLane{Y: chartTop + len(c.Lanes)*chartLaneH + chartLaneH/2 + 4, Label: clip(label, 30)})
		}
	}
	span := t1.Sub(t0)
	if span <= 0 {
		span = time.Second
	}
	x := func(t time.Time) float64 {
		return chartLabelW + float64(t.Sub(t0))/float64(span)*chartPlotW
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	c.Bars = make([]chartBar, len(r.Timeline))
	for i := range r.Timeline {
		e := &r.Timeline[i]
		x0, x1 := x(e.Time), x(end(e))
		w := max(x1-x0, chartMinBar)
		y := chartTop + lane[e.Session]*chartLaneH + (chartLaneH-chartBarH)/2
		c.Bars[i] = chartBar{X: f(x0), Y: strconv.Itoa(y), W: f(w),
			Class: "st-" + string(e.Status) + " rk-" + riskClass(e.Risk),
			Title: stamp(e.Time) + " " + e.Agent + ": " + clip(oneLine(e.Command), 120) + " — " + string(e.Status) + " (" + durPtr(e.DurationMS) + ")"}
	}
	c.Height = chartTop + len(c.Lanes)*chartLaneH + 4
	step := tickStep(span)
	layout := "15:04:05"
	switch {
	case step < time.Second:
		layout = "15:04:05.000"
	case span > 24*time.Hour:
		layout = "01-02 15:04"
	}
	for t := t0.Truncate(step); !t.After(t1); t = t.Add(step) {
		if t.Before(t0) {
			continue
		}
		c.Ticks = append(c.Ticks, chartTick{X: f(x(t)), Label: t.UTC().Format(layout)})
	}
	return c
}

// tickStep picks a round interval that puts at most 8 ticks on span.
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
	return 24 * time.Hour * time.Duration(span/(8*24*time.Hour)+1)
}
