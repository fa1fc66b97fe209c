package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Helpers the Markdown and HTML renderers share: how times, durations,
// counts and names read.

// statusOrder is the order statuses are listed in.
var statusOrder = []gatehouse.Status{gatehouse.StatusSucceeded, gatehouse.StatusFailed, gatehouse.StatusDenied,
	gatehouse.StatusInterrupted, gatehouse.StatusRunning, gatehouse.StatusPending}

// classOrder is the order classes are counted in.
var classOrder = []string{"read", "write", "destructive", "irreversible", "unanalysed"}

// sectionTitles names the sections, for Omitted among others.
var sectionTitles = map[string]string{
	"files_changed": "Files changed",
	"credentials":   "Credentials in play",
	"rollback_plan": "Rollback plan",
}

func title(section string) string {
	if t, ok := sectionTitles[section]; ok {
		return t
	}
	return section
}

const stampLayout = "2006-01-02 15:04:05.000"

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(stampLayout)
}

func stampPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return stamp(*t)
}

// millis renders a duration in milliseconds as a person reads it.
func millis(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Minute:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func durPtr(ms *float64) string {
	if ms == nil {
		return "-"
	}
	return millis(*ms)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func exitOf(e *Entry) string {
	switch {
	case e.Signal != "":
		return e.Signal
	case e.ExitCode != nil:
		return strconv.Itoa(*e.ExitCode)
	}
	return "-"
}

// decisionOf is "allow (rule)".
func decisionOf(e *Entry) string {
	if e.Decision == "" {
		return "-"
	}
	if e.Rule == "" {
		return string(e.Decision)
	}
	return string(e.Decision) + " (" + e.Rule + ")"
}

// statusCounts lists non-zero counts in statusOrder: "3 succeeded, 1 failed".
func statusCounts(m map[gatehouse.Status]int) string {
	var parts []string
	for _, s := range statusOrder {
		if n := m[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func scopeOf(s gatehouse.Scope) string { return s.String() }

// oneLine folds whitespace, newlines included, into single spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// clip shortens s to n runes, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// headline is the report's first paragraph: how much, by whom, how it went.
func headline(r *Report) string {
	s := r.Summary
	if s.Actions == 0 {
		return "No actions were requested in the window."
	}
	var b strings.Builder
	names := s.Agents
	if len(names) > 8 {
		names = append(names[:8:8], fmt.Sprintf("and %d more", len(s.Agents)-8))
	}
	fmt.Fprintf(&b, "%s by %s (%s) in %s on %s: %s.",
		plural(s.Actions, "action", "actions"), plural(len(s.Agents), "agent", "agents"), strings.Join(names, ", "),
		plural(s.Sessions, "session", "sessions"), plural(s.Systems, "system", "systems"), statusCounts(s.ByStatus))
	fmt.Fprintf(&b, " %d destructive and %d irreversible by analysis; %s, %s, %s; %s; %s, which killed %s.",
		s.Destructive, s.Irreversible, plural(s.Denials, "denial", "denials"), plural(s.Failures, "failure or interruption", "failures and interruptions"),
		plural(s.Retries, "retry", "retries"), plural(s.Reviews, "review verdict", "review verdicts"),
		plural(s.Halts, "halt or pause", "halts and pauses"), plural(s.Killed, "running action", "running actions"))
	return b.String()
}

// windowLine says what the report covers.
func windowLine(r *Report) string {
	q := r.Query
	from, to := "the start of the journal", "now"
	if q.Since != nil {
		from = stamp(*q.Since) + " UTC"
	}
	if q.Until != nil {
		to = stamp(*q.Until) + " UTC"
	}
	who := "all agents"
	if q.Agent != "" {
		who = "agent " + q.Agent
	}
	if q.Session != "" {
		who += ", session " + q.Session
	} else {
		who += ", all sessions"
	}
	return fmt.Sprintf("Actions requested from %s to %s (%s). Generated %s UTC.", from, to, who, stamp(r.GeneratedAt))
}

func signalLine(s *Signal) string {
	var b strings.Builder
	switch s.Kind {
	case "tripwire":
		fmt.Fprintf(&b, "Tripwire %s fired at %s (event %d) and issued halt %s: %s.", s.Tripwire, stamp(s.Time), s.Seq, s.Halt, s.Reason)
		if s.Action != nil {
			fmt.Fprintf(&b, " First evidence: action %s of %s, %s.", s.Action.ID, s.Action.Agent, oneLine(s.Action.Command))
		}
	default:
		kind := "Denial"
		if s.Kind == "failure" {
			kind = "Failure"
		}
		a := s.Action
		fmt.Fprintf(&b, "%s at %s (event %d): action %s of %s in session %s, %s: %s.",
			kind, stamp(s.Time), s.Seq, a.ID, a.Agent, orNone(a.Session), oneLine(a.Command), s.Reason)
	}
	return b.String()
}
