package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

var showCmd = &command{
	name:    "show",
	summary: "show one action whole",
	help: `Usage: gatehouse show ID [-o text|json]

Prints everything the journal holds about one action: who asked (agent,
session, model, intent), what (argv, command, cwd, system), the decision
with its rule, policy revision and the analysis it was made on, the
reviews, the status, exit code or signal, times, the output kept and the
size and SHA-256 of each full stream, the trace id and the journal sequence
numbers; and, for rollbacks, whether it is irreversible, the undo commands
its rule attached, what it changed in its workspaces (its effects: see
gatehouse diff for the content) and whether it was rolled back.

Flags:
  -o FORMAT   text (default) or json
`,
	run: runShow,
}

func runShow(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	out := outputFlag(fs, "text", "json")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if code, ok := checkFormat(c, e, *out, "text", "json"); !ok {
		return code
	}
	if len(pos) != 1 {
		return usageError(c, e, "want one action ID")
	}
	a, err := e.client().Action(ctx, pos[0])
	if err != nil {
		return fail(e, err)
	}
	if *out == "json" {
		return writeJSON(e, a)
	}
	writeAction(e, a)
	return exitOK
}

func writeAction(e *Env, a *gatehouse.Action) {
	w := e.Stdout
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(w, "%-13s %s\n", name+":", value)
		}
	}
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	field("id", a.ID)
	field("time", a.Time.UTC().Format(time.RFC3339Nano))
	field("agent", a.Agent)
	field("session", a.Session)
	field("model", a.Model)
	field("intent", a.Intent)
	field("kind", string(a.Kind))
	field("command", a.Command)
	field("argv", fmt.Sprintf("%q", a.Argv))
	field("cwd", a.Cwd)
	field("system", a.System)
	if len(a.EnvNames) > 0 {
		field("env", strings.Join(a.EnvNames, " "))
	}
	field("credentials", credentialsText(a)) // creds.go
	field("decision", fmt.Sprintf("%s by rule %q: %s", a.Decision.Effect, a.Decision.Rule, a.Decision.Reason))
	field("policy", a.Decision.Policy)
	if an := a.Analysis; an != nil {
		field("analysis", fmt.Sprintf("%s, risk %d", an.Class, an.Risk))
		for _, r := range an.Reasons {
			fmt.Fprintf(w, "  - %s\n", r)
		}
		if len(an.Targets) > 0 {
			field("targets", strings.Join(an.Targets, " "))
		}
	}
	if a.Irreversible {
		field("irreversible", "yes: its class says it cannot be taken back")
	}
	for _, u := range a.Undo {
		if u.Command != "" {
			field("undo", u.Command)
		} else {
			field("undo", fmt.Sprintf("(not rendered: %s: %s)", u.Template, u.Error))
		}
	}
	if a.Decision.Effect == gatehouse.EffectReview {
		field("approvals", fmt.Sprintf("%d of %d", a.Approved(), a.ApprovalsNeeded()))
	}
	for _, r := range a.Reviews {
		line := fmt.Sprintf("%s by %s at %s, after %s", r.Verdict, r.By, r.Time.UTC().Format(time.RFC3339),
			(time.Duration(r.LatencyMS) * time.Millisecond).String())
		if r.Reason != "" {
			line += ": " + r.Reason
		}
		if r.Learned != "" {
			line += " (learned rule " + r.Learned + ")"
		}
		field("review", line)
	}
	field("status", string(a.Status))
	field("error", a.Error)
	field("exit", exitText(a))
	field("started", ts(a.StartedAt))
	field("finished", ts(a.FinishedAt))
	field("duration", durationText(a))
	if fx := a.Effects; fx != nil {
		field("effects", fmt.Sprintf("%d change(s) in %s", len(fx.Changes)+fx.Truncated, strings.Join(fx.Workspaces, " ")))
		for _, c := range fx.Changes {
			fmt.Fprintf(w, "  - %s\n", changeLine(&c))
		}
		if fx.Truncated > 0 {
			fmt.Fprintf(w, "  - … and %d more, not journaled\n", fx.Truncated)
		}
		if len(fx.Ambiguous) > 0 {
			fmt.Fprintf(w, "  ! ambiguous: %s ran in the same workspace at the same time\n", strings.Join(fx.Ambiguous, ", "))
		}
		if fx.Error != "" {
			fmt.Fprintf(w, "  ! incomplete: %s\n", fx.Error)
		}
	}
	if rb := a.RolledBack; rb != nil {
		line := fmt.Sprintf("by %s at %s (rollback %s)", rb.By, rb.Time.UTC().Format(time.RFC3339), rb.Rollback)
		if rb.Partial {
			line += ", in part"
		}
		field("rolled back", line)
	}
	field("trace_id", a.TraceID)
	seq := make([]string, len(a.Seq))
	for i, s := range a.Seq {
		seq[i] = fmt.Sprint(s)
	}
	field("journal seq", strings.Join(seq, " "))
	stream := func(name, text string, n int64, sum string) {
		if n == 0 && a.StartedAt == nil {
			return
		}
		kept := ""
		if int64(len(text)) < n {
			kept = fmt.Sprintf(", first %d kept", len(text))
		}
		fmt.Fprintf(w, "%-13s %d bytes%s, sha256 %s\n", name+":", n, kept, sum)
		if text != "" {
			for _, line := range strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n") {
				fmt.Fprintf(w, "  | %s", strings.TrimSuffix(line, "\n")+"\n")
			}
		}
	}
	stream("stdout", a.Stdout, a.StdoutBytes, a.StdoutSHA256)
	stream("stderr", a.Stderr, a.StderrBytes, a.StderrSHA256)
}
