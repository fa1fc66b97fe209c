package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"
)

var rulesCmd = &command{
	name:    "rules",
	summary: "list and revoke learned rules",
	help: `Usage: gatehouse rules ls [-o table|json]
       gatehouse rules rm ID

Learned rules are added by approving with --remember. ls lists the ones in
force with their provenance: who added them, from which action, when they
expire. rm revokes one at once. Both are journaled.
`,
	run: runRules,
}

func runRules(ctx context.Context, c *command, e *Env, args []string) int {
	if len(args) == 0 {
		return usageError(c, e, "missing subcommand: ls or rm")
	}
	sub, args := args[0], args[1:]
	fs := newFlags(c)
	formats := []string{"table", "json"}
	if sub == "rm" {
		formats = []string{"text"}
	} else if sub != "ls" {
		return usageError(c, e, "unknown subcommand %q: use ls or rm", sub)
	}
	out := outputFlag(fs, formats...)
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if code, ok := checkFormat(c, e, *out, formats...); !ok {
		return code
	}
	cl := e.client()
	if sub == "rm" {
		if len(pos) != 1 {
			return usageError(c, e, "rm takes one rule ID")
		}
		if err := cl.RemoveLearnedRule(ctx, pos[0]); err != nil {
			return fail(e, err)
		}
		fmt.Fprintf(e.Stdout, "learned rule %s removed\n", pos[0])
		return exitOK
	}
	if len(pos) != 0 {
		return usageError(c, e, "ls takes no arguments")
	}
	list, err := cl.LearnedRules(ctx)
	if err != nil {
		return fail(e, err)
	}
	if *out == "json" {
		return writeJSON(e, list)
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMATCH\tPATTERN\tAGENT\tBY\tFROM ACTION\tEXPIRES (UTC)")
	for _, r := range list {
		agent := r.Agent
		if agent == "" {
			agent = "(all)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Match, clip(r.Pattern, 50), agent, r.CreatedBy, r.FromAction, r.ExpiresAt.UTC().Format(time.DateTime))
	}
	tw.Flush()
	return exitOK
}
