package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

var pendingCmd = &command{
	name:    "pending",
	summary: "list the actions waiting for approval",
	help: `Usage: gatehouse pending [-o table|json]

Lists the actions that policy holds for review and that no reviewer has
decided yet, oldest first: who asked, the command, its class and risk, the
rule that wants a review, the approvals it has and needs, and how long it
has been waiting. gatehouse show ID gives one whole, with its analysis.
Needs a reviewer or the admin token.

Flags:
  -o FORMAT   table (default) or json
`,
	run: runPending,
}

func runPending(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	out := outputFlag(fs, "table", "json")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	if code, ok := checkFormat(c, e, *out, "table", "json"); !ok {
		return code
	}
	list, err := e.client().Pending(ctx)
	if err != nil {
		return fail(e, err)
	}
	if *out == "json" {
		return writeJSON(e, list)
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAGENT\tSESSION\tWAITING\tCLASS\tRISK\tRULE\tAPPROVALS\tCOMMAND")
	for _, a := range list {
		class, risk := "-", "-"
		if a.Analysis != nil {
			class, risk = string(a.Analysis.Class), fmt.Sprint(a.Analysis.Risk)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\n", a.ID, a.Agent, dash(a.Session),
			time.Since(a.Time).Round(time.Second), class, risk, a.Decision.Rule,
			a.Approved(), a.ApprovalsNeeded(), clip(oneLine(a.Command), 60))
	}
	tw.Flush()
	return exitOK
}

var approveCmd = &command{
	name:    "approve",
	summary: "approve a pending action",
	help: `Usage: gatehouse approve ID [--reason TEXT] [--remember exact|prefix|glob --ttl DUR [--scope agent|all] [--pattern P]]

Approves an action waiting for review. Once it has the approvals its rule
needs (distinct reviewers), the waiting agent's command starts. Repeating
an approval is harmless; approving an action that was denied or has ended
is an error. Nobody can approve an action they requested.

With --remember, the approval also adds a learned rule, so that commands
like this one are allowed without review until the rule expires:
  exact    exactly this command
  prefix   commands that start with --pattern (default: this command) at a
           word boundary
  glob     commands matching the glob --pattern ('*' matches anything)
A learned rule is for this action's agent only unless --scope all, never
overrides a deny, and never matches a command with shell control operators
(; | & $( > <) unless it is exact. gatehouse rules ls lists them.

Flags:
  --reason TEXT     why (journaled)
  --remember KIND   also add a learned rule: exact, prefix or glob
  --ttl DUR         how long the learned rule lasts (required with --remember; at most 720h)
  --scope S         agent (default) or all
  --pattern P       the prefix or glob of the learned rule
  -o FORMAT         text (default) or json
`,
	run: func(ctx context.Context, c *command, e *Env, args []string) int {
		return runReview(ctx, c, e, args, gatehouse.VerdictApprove)
	},
}

var denyCmd = &command{
	name:    "deny",
	summary: "deny a pending action",
	help: `Usage: gatehouse deny ID --reason TEXT

Denies an action waiting for review: it never runs, and the waiting agent's
gatehouse run exits 126 with the reason. A denial is final; repeating it is
harmless.

Flags:
  --reason TEXT   why (required: the agent and the journal are told)
  -o FORMAT       text (default) or json
`,
	run: func(ctx context.Context, c *command, e *Env, args []string) int {
		return runReview(ctx, c, e, args, gatehouse.VerdictDeny)
	},
}

func runReview(ctx context.Context, c *command, e *Env, args []string, verdict string) int {
	fs := newFlags(c)
	reason := fs.String("reason", "", "")
	var remember, ttl, scope, pattern *string
	if verdict == gatehouse.VerdictApprove {
		remember = fs.String("remember", "", "")
		ttl = fs.String("ttl", "", "")
		scope = fs.String("scope", "", "")
		pattern = fs.String("pattern", "", "")
	}
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
	req := gatehouse.ReviewRequest{Reason: *reason}
	if remember != nil && *remember != "" {
		if *ttl == "" {
			return usageError(c, e, "--remember needs --ttl")
		}
		if _, err := time.ParseDuration(*ttl); err != nil {
			return usageError(c, e, "invalid --ttl %q", *ttl)
		}
		req.Remember = &gatehouse.Remember{Match: *remember, TTL: *ttl, Scope: *scope, Pattern: *pattern}
	} else if remember != nil && (*ttl != "" || *scope != "" || *pattern != "") {
		return usageError(c, e, "--ttl, --scope and --pattern go with --remember")
	}
	a, err := e.client().Review(ctx, pos[0], verdict, req)
	if err != nil {
		return fail(e, err)
	}
	if *out == "json" {
		return writeJSON(e, a)
	}
	switch {
	case verdict == gatehouse.VerdictDeny:
		fmt.Fprintf(e.Stdout, "action %s denied\n", a.ID)
	case a.Approved() >= a.ApprovalsNeeded():
		fmt.Fprintf(e.Stdout, "action %s approved (%d of %d); it runs now\n", a.ID, a.Approved(), a.ApprovalsNeeded())
	default:
		fmt.Fprintf(e.Stdout, "action %s approved (%d of %d); it needs %d more\n", a.ID, a.Approved(), a.ApprovalsNeeded(), a.ApprovalsNeeded()-a.Approved())
	}
	for _, r := range a.Reviews {
		if r.Learned != "" && r.Verdict == gatehouse.VerdictApprove {
			fmt.Fprintf(e.Stdout, "learned rule %s added\n", r.Learned)
		}
	}
	return exitOK
}
