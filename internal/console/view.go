package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// pageNames are the templates/NAME.html files; each is parsed with
// layout.html, which holds the page frame and the shared parts (banner,
// row, badges, review form).
var pageNames = []string{"login", "activity", "approvals", "action", "session", "halts", "error"}

func parsePages() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	m := map[string]*template.Template{}
	for _, n := range pageNames {
		m[n] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+n+".html"))
	}
	return m
}

var funcs = template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05.000")
	},
	"tsp": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05.000")
	},
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05") },
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"ms": func(p *float64) string {
		if p == nil {
			return "—"
		}
		return fmtDuration(time.Duration(*p * float64(time.Millisecond)))
	},
	"between": func(from time.Time, to *time.Time) string {
		if to == nil {
			return "—"
		}
		return fmtDuration(to.Sub(from))
	},
	"left": func(deadline, now time.Time) string {
		d := deadline.Sub(now)
		if d <= 0 {
			return "now"
		}
		return fmtDuration(d.Round(time.Second))
	},
	"latency":   func(ms int64) string { return fmtDuration(time.Duration(ms) * time.Millisecond) },
	"riskClass": riskClass,
	"risk":      func(a *gatehouse.Action) int { return a.Risk() },
	"analysed":  func(a *gatehouse.Action) bool { return a.Analysis != nil },
	"clip":      clip,
	"short": func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		return s[:n]
	},
	"exit": func(p *int) string {
		if p == nil {
			return "—"
		}
		return fmt.Sprint(*p)
	},
	"join":  strings.Join,
	"upper": strings.ToUpper,
	"raw":   func(b []byte) string { return string(b) },
	"kept": func(kept string, total int64) bool {
		return int64(len(kept)) < total
	},
	"waiting": func(a *gatehouse.Action) bool {
		return a.Status == gatehouse.StatusPending && a.Decision.Effect == gatehouse.EffectReview
	},
	"seqs": func(s []int64) string {
		out := make([]string, len(s))
		for i, n := range s {
			out[i] = fmt.Sprint(n)
		}
		return strings.Join(out, ", ")
	},
	"eventWord": func(t gatehouse.EventType) string { return strings.TrimPrefix(string(t), "action.") },
	"f1":        func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"ptr":       func(t time.Time) *time.Time { return &t },
	"q":         url.QueryEscape,
	"max1":      func(n int) int { return max(1, n) },
	// The payloads of an action's events, for its decision trail; nil
	// for an event of another type.
	"decided":   payload[gatehouse.ActionDecided](gatehouse.EventActionDecided),
	"reviewed":  payload[gatehouse.ActionReviewed](gatehouse.EventActionReviewed),
	"escalated": payload[gatehouse.ActionEscalated](gatehouse.EventActionEscalated),
	"finished":  payload[gatehouse.ActionFinished](gatehouse.EventActionFinished),
	// reviewArgs is what the review form takes.
	"reviewArgs": func(it *pendingItem, csrf, back string) map[string]any {
		return map[string]any{"Item": it, "CSRF": csrf, "Back": back}
	},
}

func payload[T any](t gatehouse.EventType) func(gatehouse.Event) *T {
	return func(e gatehouse.Event) *T {
		if e.Type != t {
			return nil
		}
		v := new(T)
		if json.Unmarshal(e.Data, v) != nil {
			return nil
		}
		return v
	}
}

// fmtDuration writes a duration for people: 850µs, 12ms, 1.53s, 2m05s,
// 1h02m.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "−" + fmtDuration(-d)
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute && d%time.Second == 0:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
