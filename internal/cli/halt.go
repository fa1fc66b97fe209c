package cli

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

var haltCmd = &command{
	name:    "halt",
	summary: "stop agents now: refuse new actions, kill running ones",
	help: `Usage: gatehouse halt (--all | --agent A | --session S) --reason TEXT [--no-kill] [--for DUR]

The kill switch, from outside the agents' own path. At once, for the scope:
  - every new action is refused, naming the halt, its reason and who issued
    it (gatehouse run exits 126);
  - every running action is killed: SIGTERM to its processes, SIGKILL after
    the daemon's --kill-grace; it ends interrupted, naming the halt
    (unless --no-kill);
  - every pending approval is cancelled.
The halt is journaled and survives a daemon restart until gatehouse resume,
or until --for runs out. Needs a reviewer or the admin token.

Flags:
  --all           every agent
  --agent A       one agent
  --session S     one session
  --reason TEXT   why (required)
  --no-kill       refuse new actions but let running ones finish
  --for DUR       lift by itself after DUR (e.g. 30m)
  -o FORMAT       text (default) or json
`,
	run: func(ctx context.Context, c *command, e *Env, args []string) int {
		return runHalt(ctx, c, e, args, gatehouse.ModeHalt)
	},
}

var pauseCmd = &command{
	name:    "pause",
	summary: "hold new actions until resumed",
	help: `Usage: gatehouse pause (--all | --agent A | --session S) --reason TEXT [--for DUR]

"Wait and see" without breaking the agent: new actions in the scope are
held, not refused — the agent's gatehouse run simply waits — and are
released in the order they came on gatehouse resume (or when --for runs
out). Running actions go on. Journaled; survives a restart. Needs a
reviewer or the admin token.

Flags:
  --all           every agent
  --agent A       one agent
  --session S     one session
  --reason TEXT   why (required)
  --for DUR       lift by itself after DUR
  -o FORMAT       text (default) or json
`,
	run: func(ctx context.Context, c *command, e *Env, args []string) int {
		return runHalt(ctx, c, e, args, gatehouse.ModePause)
	},
}

var resumeCmd = &command{
	name:    "resume",
	summary: "lift halts and pauses",
	help: `Usage: gatehouse resume (--all | --agent A | --session S)

Lifts the halts and pauses issued for the scope: with --all, every one in
force; with --agent or --session, those issued for exactly that agent or
session. Actions a pause held are released in the order they came.
Journaled. Needs a reviewer or the admin token.

Flags:
  --all         every halt and pause in force
  --agent A     those of one agent
  --session S   those of one session
`,
	run: runResume,
}

func scopeFlags(fs *flag.FlagSet, s *gatehouse.Scope) {
	fs.BoolVar(&s.All, "all", false, "")
	fs.StringVar(&s.Agent, "agent", "", "")
	fs.StringVar(&s.Session, "session", "", "")
}

func runHalt(ctx context.Context, c *command, e *Env, args []string, mode gatehouse.HaltMode) int {
	req := gatehouse.HaltRequest{Mode: mode}
	fs := newFlags(c)
	scopeFlags(fs, &req.Scope)
	fs.StringVar(&req.Reason, "reason", "", "")
	fs.StringVar(&req.For, "for", "", "")
	if mode == gatehouse.ModeHalt {
		fs.BoolVar(&req.NoKill, "no-kill", false, "")
	}
	out := outputFlag(fs, "text", "json")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if code, ok := checkFormat(c, e, *out, "text", "json"); !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	if req.Scope.Validate() != nil {
		return usageError(c, e, "name exactly one of --all, --agent or --session")
	}
	if req.Reason == "" {
		return usageError(c, e, "--reason is required")
	}
	h, err := e.client().Halt(ctx, req)
	if err != nil {
		return fail(e, err)
	}
	if *out == "json" {
		return writeJSON(e, h)
	}
	fmt.Fprintf(e.Stdout, "%s %s in force for %s", h.Mode, h.ID, h.Scope.String())
	if h.ExpiresAt != nil {
		fmt.Fprintf(e.Stdout, " until %s", h.ExpiresAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(e.Stdout)
	if h.Mode == gatehouse.ModeHalt {
		fmt.Fprintf(e.Stdout, "%d running actions killed, %d pending approvals cancelled\n", len(h.Killed), len(h.Cancelled))
	}
	return exitOK
}

func runResume(ctx context.Context, c *command, e *Env, args []string) int {
	var scope gatehouse.Scope
	fs := newFlags(c)
	scopeFlags(fs, &scope)
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	if scope.Validate() != nil {
		return usageError(c, e, "name exactly one of --all, --agent or --session")
	}
	lifted, err := e.client().Resume(ctx, scope)
	if err != nil {
		return fail(e, err)
	}
	for _, h := range lifted {
		fmt.Fprintf(e.Stdout, "%s %s of %s lifted\n", h.Mode, h.ID, h.Scope.String())
	}
	return exitOK
}

var statusCmd = &command{
	name:    "status",
	summary: "halts, pauses, running actions and pending approvals at a glance",
	help: `Usage: gatehouse status [-o text|json]

Shows the halts and pauses in force (with who issued them, why and until
when), how many requests pauses hold, the running actions and the pending
approvals. Needs a reviewer or the admin token.

Flags:
  -o FORMAT   text (default) or json ({"halts","held","running","pending"})
`,
	run: runStatus,
}

func runStatus(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	out := outputFlag(fs, "text", "json")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if code, ok := checkFormat(c, e, *out, "text", "json"); !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	st, err := e.client().Status(ctx)
	if err != nil {
		return fail(e, err)
	}
	if *out == "json" {
		return writeJSON(e, st)
	}
	w := e.Stdout
	if len(st.Halts) == 0 {
		fmt.Fprintln(w, "no halts or pauses in force")
	}
	for _, h := range st.Halts {
		until := "until resumed"
		if h.ExpiresAt != nil {
			until = "until " + h.ExpiresAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s %s: %s, by %s since %s, %s: %s\n", h.Mode, h.ID, h.Scope.String(), h.By,
			h.IssuedAt.UTC().Format(time.RFC3339), until, h.Reason)
	}
	if st.Held > 0 {
		fmt.Fprintf(w, "%d requests held by pauses\n", st.Held)
	}
	fmt.Fprintf(w, "\n%d running, %d pending approval\n", len(st.Running), len(st.Pending))
	if len(st.Running)+len(st.Pending) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tAGENT\tSESSION\tSTATUS\tSINCE\tCOMMAND")
		for _, a := range append(st.Running, st.Pending...) {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Agent, dash(a.Session), a.Status,
				time.Since(a.Time).Round(time.Second), clip(oneLine(a.Command), 60))
		}
		tw.Flush()
	}
	return exitOK
}
