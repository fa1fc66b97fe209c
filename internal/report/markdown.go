package report

import (
	"github.com/gatehouse-dev/gatehouse"

	"bufio"
	"fmt"
	"io"
	"strings"
)

// maxCommand is how much of a command a Markdown table cell shows; the
// JSON form has it whole.
const maxCommand = 160

// Markdown writes r for a person: a terminal or a Markdown viewer. Every
// action is in the timeline; commands in tables are cut at 160
// characters, prompts at 2,000.
func Markdown(w io.Writer, r *Report) error {
	b := bufio.NewWriterSize(w, 64<<10)
	m := &md{b}
	m.p("# Incident report\n\n")
	m.p("%s\n\n", windowLine(r))
	if r.Truncated {
		m.p("> **Truncated:** the window holds more actions than a report takes; this one covers the newest %d. Narrow it with --since, --until, --agent or --session.\n\n", r.Summary.Actions)
	}
	m.p("%s\n\n", mdText(headline(r)))

	m.p("## First sign of trouble\n\n")
	if s := r.FirstWrong; s == nil {
		m.p("Nothing looked wrong: no action was denied or failed, and no tripwire fired.\n\n")
	} else {
		m.signal(s)
	}

	m.p("## Timeline\n\n")
	if len(r.Timeline) == 0 {
		m.p("No actions.\n\n")
	} else {
		m.row("#", "time (UTC)", "agent", "session", "kind", "command", "system", "decision (rule)", "status", "duration")
		m.rule(10)
		for i := range r.Timeline {
			e := &r.Timeline[i]
			status := string(e.Status)
			if x := exitOf(e); x != "-" && x != "0" {
				status += " (" + x + ")"
			}
			m.row(fmt.Sprint(i+1), stamp(e.Time), cell(e.Agent), cell(orNone(e.Session)), string(e.Kind), code(e.Command),
				cell(orNone(e.System)), cell(decisionOf(e)), status, durPtr(e.DurationMS))
		}
		m.p("\n")
	}

	m.p("## Systems touched\n\n")
	if len(r.Systems) == 0 {
		m.p("None.\n\n")
	} else {
		m.row("system", "actions", "read", "write", "destructive", "irreversible", "unanalysed", "risk low / medium / high", "max risk", "agents")
		m.rule(10)
		for _, s := range r.Systems {
			cols := []string{cell(orNone(s.Name)), fmt.Sprint(s.Actions)}
			for _, c := range classOrder {
				cols = append(cols, fmt.Sprint(s.ByClass[c]))
			}
			cols = append(cols, fmt.Sprintf("%d / %d / %d", s.ByRisk.Low, s.ByRisk.Medium, s.ByRisk.High),
				fmt.Sprint(s.MaxRisk), cell(strings.Join(s.Agents, ", ")))
			m.row(cols...)
		}
		m.p("\n")
	}

	m.p("## Destructive and irreversible actions\n\n")
	if len(r.Dangerous) == 0 {
		m.p("None, by analysis.\n\n")
	} else {
		m.row("time (UTC)", "action", "agent", "class", "risk", "command", "status", "why", "targets")
		m.rule(9)
		for _, d := range r.Dangerous {
			m.row(stamp(d.Time), d.ID, cell(d.Agent), string(d.Class), fmt.Sprint(d.Risk), code(d.Command), string(d.Status),
				cell(strings.Join(d.Reasons, "; ")), cell(strings.Join(d.Targets, ", ")))
		}
		m.p("\n")
	}

	m.p("## Denials\n\n")
	m.entries(r.Denials, "None.", func(e *Entry) []string {
		return []string{cell(decisionOf(e)), cell(e.Error)}
	}, "decision (rule)", "why")

	m.p("## Failures and interruptions\n\n")
	m.entries(r.Failures, "None.", func(e *Entry) []string {
		return []string{string(e.Status), exitOf(e), cell(e.Error)}
	}, "status", "exit", "error")

	m.p("## Retries\n\n")
	if len(r.Retries) == 0 {
		m.p("None: no action repeated one that had failed, been denied or been interrupted.\n\n")
	} else {
		m.row("time (UTC)", "action", "agent", "session", "command", "attempt", "after", "status")
		m.rule(8)
		for _, x := range r.Retries {
			m.row(stamp(x.Time), x.ID, cell(x.Agent), cell(orNone(x.Session)), code(x.Command), fmt.Sprint(x.Attempt),
				x.After+" ("+string(x.AfterStatus)+")", string(x.Status))
		}
		m.p("\n")
	}

	m.p("## Approvals\n\n")
	rv := r.Reviews
	if len(rv.Verdicts) == 0 {
		m.p("No review verdicts.\n\n")
	} else {
		m.row("time (UTC)", "action", "agent", "command", "reviewer", "verdict", "waited", "reason")
		m.rule(8)
		for _, v := range rv.Verdicts {
			verdict := v.Verdict
			if v.Learned != "" {
				verdict += " (learned " + v.Learned + ")"
			}
			m.row(stamp(v.Time), v.Action, cell(v.Agent), code(v.Command), cell(v.By), cell(verdict), millis(float64(v.LatencyMS)), cell(v.Reason))
		}
		m.p("\n")
		m.row("reviewer", "approved", "denied", "median wait", "longest wait")
		m.rule(5)
		for _, x := range rv.Reviewers {
			m.row(cell(x.By), fmt.Sprint(x.Approved), fmt.Sprint(x.Denied), millis(float64(x.MedianLatencyMS)), millis(float64(x.MaxLatencyMS)))
		}
		m.p("\n")
	}
	if len(rv.Unreviewed) > 0 {
		m.p("Held for review without a verdict:\n\n")
		m.entries(rv.Unreviewed, "", func(e *Entry) []string {
			return []string{string(e.Status), cell(e.Error)}
		}, "status", "how it ended")
	}

	m.p("## Halts\n\n")
	if len(r.Halts) == 0 {
		m.p("No halt or pause was in force.\n\n")
	}
	for _, h := range r.Halts {
		m.halt(&h)
	}

	m.p("## Sessions\n\n")
	if len(r.Sessions) == 0 {
		m.p("None.\n\n")
	}
	for _, s := range r.Sessions {
		m.session(&s)
	}

	m.p("## Files changed\n\n")
	if len(r.FilesChanged) == 0 {
		m.p("None recorded (only actions in an agent's workspace are; see docs/ROLLBACK.md).\n\n")
	} else {
		m.row("action", "agent", "change", "path", "from", "restorable")
		m.rule(6)
		for _, f := range r.FilesChanged {
			rest := "yes"
			if !f.Restorable {
				rest = "no (content not kept)"
			}
			if f.Ambiguous {
				rest += "; ambiguous: another action ran there at once"
			}
			from := ""
			if f.From != "" {
				from = code(f.From)
			}
			m.row(f.Action, cell(f.Agent), string(f.Op), code(f.Abs()), from, rest)
		}
		m.p("\n")
	}

	m.p("## Credentials in play\n\n")
	if len(r.Credentials) == 0 {
		m.p("No action received a credential held by the gateway.\n\n")
	} else {
		m.row("agent", "system", "secret", "variable", "actions", "first (UTC)", "last (UTC)", "last action")
		m.rule(8)
		for _, c := range r.Credentials {
			m.row(cell(c.Agent), cell(orNone(c.System)), cell(c.Secret), cell(c.Env), fmt.Sprint(c.Actions), stamp(c.First), stamp(c.Last), c.LastAction)
		}
		m.p("\n")
	}

	m.p("## Rollback plan\n\n")
	m.plan(r.RollbackPlan)

	if len(r.Omitted) > 0 {
		m.p("## Not in this report\n\n")
		for _, o := range r.Omitted {
			m.p("- %s: this journal does not record the data for it.\n", title(o))
		}
		m.p("\n")
	}
	return b.Flush()
}

type md struct{ w *bufio.Writer }

func (m *md) p(format string, args ...any) { fmt.Fprintf(m.w, format, args...) }

func (m *md) row(cols ...string) {
	m.w.WriteString("|")
	for _, c := range cols {
		m.w.WriteString(" ")
		m.w.WriteString(c)
		m.w.WriteString(" |")
	}
	m.w.WriteString("\n")
}

func (m *md) rule(n int) {
	m.w.WriteString("|")
	for range n {
		m.w.WriteString("---|")
	}
	m.w.WriteString("\n")
}

// entries writes a table of actions: when, which, whose, what, then the
// columns extra gives.
func (m *md) entries(es []Entry, none string, extra func(*Entry) []string, heads ...string) {
	if len(es) == 0 {
		m.p("%s\n\n", none)
		return
	}
	m.row(append([]string{"time (UTC)", "action", "agent", "session", "command"}, heads...)...)
	m.rule(5 + len(heads))
	for i := range es {
		e := &es[i]
		m.row(append([]string{stamp(e.Time), e.ID, cell(e.Agent), cell(orNone(e.Session)), code(e.Command)}, extra(e)...)...)
	}
	m.p("\n")
}

func (m *md) signal(s *Signal) {
	switch s.Kind {
	case "tripwire":
		m.p("**Tripwire** %s fired at %s (event %d) and issued halt %s: %s.\n\n", cell(s.Tripwire), stamp(s.Time), s.Seq, s.Halt, mdText(s.Reason))
		if a := s.Action; a != nil {
			m.p("First evidence: action %s of %s in session %s, %s.\n\n", a.ID, cell(a.Agent), cell(orNone(a.Session)), code(a.Command))
		}
	default:
		kind := "Denial"
		if s.Kind == "failure" {
			kind = "Failure"
		}
		a := s.Action
		m.p("**%s** at %s (event %d): action %s of %s in session %s, %s: %s.\n\n", kind, stamp(s.Time), s.Seq,
			a.ID, cell(a.Agent), cell(orNone(a.Session)), code(a.Command), mdText(s.Reason))
	}
}

func (m *md) halt(h *HaltEntry) {
	m.p("### %s %s of %s, by %s, at %s\n\n", h.Mode, h.ID, cell(scopeOf(h.Scope)), cell(h.By), stamp(h.IssuedAt))
	m.p("Reason: %s.", mdText(h.Reason))
	switch {
	case h.Mode == "pause":
		m.p(" A pause: new actions held, running ones left to run.")
	case h.Kill:
		m.p(" Running actions killed.")
	default:
		m.p(" Running actions left to finish (no kill).")
	}
	if h.LiftedAt != nil {
		m.p(" Lifted at %s by %s.", stamp(*h.LiftedAt), cell(h.LiftedBy))
	} else if h.ExpiresAt != nil {
		m.p(" Expires at %s.", stamp(*h.ExpiresAt))
	} else {
		m.p(" Still in force.")
	}
	m.p("\n\n")
	if h.Tripwire != "" {
		m.p("Issued by tripwire %s on the evidence of %s.\n\n", cell(h.Tripwire), cell(strings.Join(h.Evidence, ", ")))
	}
	if len(h.Running) == 0 {
		m.p("Nothing in its scope was running when it came.\n\n")
	} else {
		m.p("Running when it came (%d; the halt recorded %s):\n\n", len(h.Running), plural(h.KilledTotal, "kill", "kills"))
		m.row("action", "agent", "session", "command", "started (UTC)", "killed", "ended after", "status")
		m.rule(8)
		for _, x := range h.Running {
			killed := "no"
			if x.Killed {
				killed = "yes"
			}
			m.row(x.ID, cell(x.Agent), cell(orNone(x.Session)), code(x.Command), stampPtr(x.StartedAt), killed, durPtr(x.EndedAfterMS), string(x.Status))
		}
		m.p("\n")
	}
	if len(h.Cancelled) > 0 {
		m.p("Pending approvals it cancelled (%d):\n\n", len(h.Cancelled))
		for _, c := range h.Cancelled {
			m.p("- %s of %s: %s\n", c.ID, cell(c.Agent), code(c.Command))
		}
		m.p("\n")
	}
	if h.Refused > 0 {
		m.p("Actions it refused while in force: %d.\n\n", h.Refused)
	}
}

func (m *md) session(s *Session) {
	m.p("### Session %s\n\n", cell(orNone(s.ID)))
	m.p("Agents %s; %s to %s; %s (%s).\n\n", cell(strings.Join(s.Agents, ", ")), stamp(s.First), stamp(s.Last),
		plural(s.Actions, "action", "actions"), statusCounts(s.ByStatus))
	if len(s.Prompts) > 0 {
		m.p("Stated intent (the prompts):\n\n")
		for _, p := range s.Prompts {
			m.p("- %s:\n", stamp(p.Time))
			for _, line := range strings.Split(clip(p.Text, 2000), "\n") {
				m.p("  > %s\n", mdText(line))
			}
		}
		m.p("\n")
	}
	if len(s.Intents) > 0 {
		m.p("Intents its actions claimed: %s.\n\n", mdText(strings.Join(s.Intents, "; ")))
	}
	if len(s.Events) > 0 {
		var parts []string
		for _, e := range s.Events {
			parts = append(parts, cell(e.Event)+" "+stamp(e.Time))
		}
		m.p("Session events: %s.\n\n", strings.Join(parts, ", "))
	}
}

// cell makes s safe inside a Markdown table cell: one line, pipes and
// Markdown's own characters escaped.
func cell(s string) string {
	return mdText(oneLine(s))
}

var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "#", `\#`,
)

// mdText escapes what Markdown would read as formatting or HTML.
func mdText(s string) string { return mdEscaper.Replace(s) }

// code renders a command as an inline code span in a table cell: one
// line, cut at maxCommand, fenced with more backticks than it contains,
// pipes escaped (GitHub's tables split on them even inside code).
func code(s string) string {
	s = clip(oneLine(s), maxCommand)
	if s == "" {
		return ""
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	s = strings.ReplaceAll(s, "|", `\|`)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// plan writes the rollback plan: the files a rollback restores, the undo
// commands to run by hand, and what cannot be taken back.
func (m *md) plan(p *gatehouse.RollbackPlan) {
	if p == nil || len(p.Actions) == 0 {
		m.p("Nothing to roll back: no action recorded a change or needs undoing.\n\n")
		return
	}
	m.p("`gatehouse rollback` over these actions would restore %d files", len(p.Files))
	if p.Unchanged > 0 {
		m.p(" (%d other actions changed nothing)", p.Unchanged)
	}
	m.p(".\n\n")
	if len(p.Files) > 0 {
		m.row("restore", "path", "by actions")
		m.rule(3)
		for _, f := range p.Files {
			m.row(string(f.Op), code(f.Workspace+"/"+f.Path), strings.Join(f.Actions, ", "))
		}
		m.p("\n")
	}
	if len(p.Undo) > 0 {
		m.p("Undo by hand (the gateway does not run these), newest first:\n\n")
		for _, u := range p.Undo {
			if u.Error != "" {
				m.p("- %s: template %s could not be rendered: %s\n", u.Action, code(u.Template), cell(u.Error))
				continue
			}
			m.p("- %s: %s\n", u.Action, code(u.Command))
		}
		m.p("\n")
	}
	var cannot []string
	for _, a := range p.Actions {
		switch {
		case a.Irreversible:
			cannot = append(cannot, fmt.Sprintf("- %s: %s — irreversible (%s)", a.ID, code(a.Command), a.Class))
		case a.Unrecorded:
			cannot = append(cannot, fmt.Sprintf("- %s: %s — may have changed what no snapshot recorded and no undo covers", a.ID, code(a.Command)))
		case a.Problem != "":
			cannot = append(cannot, fmt.Sprintf("- %s: %s — %s", a.ID, code(a.Command), cell(a.Problem)))
		}
	}
	if len(cannot) > 0 {
		m.p("Cannot be taken back as recorded:\n\n%s\n\n", strings.Join(cannot, "\n"))
	}
}
