package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"
)

var agentCmd = &command{
	name:    "agent",
	summary: "register, list and revoke agents",
	help: `Usage: gatehouse agent add NAME [-o text|json]
       gatehouse agent ls [-o table|json]
       gatehouse agent rm NAME

add registers an agent and prints its token once: only a hash of it is
stored, so keep it. Give the token to the agent as GATEHOUSE_TOKEN.
-o json prints {"name":…,"token":…,"created_at":…}.

ls lists the agents, revoked ones included.

rm revokes an agent: its token stops working at once. The agent's actions
stay in the journal.

NAME is 1-63 letters, digits, '.', '_' or '-'. These commands need the
admin token (GATEHOUSE_TOKEN, or admin.token in the state directory).
`,
	run: runAgent,
}

func runAgent(ctx context.Context, c *command, e *Env, args []string) int {
	if len(args) == 0 {
		return usageError(c, e, "missing subcommand: add, ls or rm")
	}
	sub, args := args[0], args[1:]
	fs := newFlags(c)
	var formats []string
	switch sub {
	case "add":
		formats = []string{"text", "json"}
	case "ls", "list":
		formats = []string{"table", "json"}
	case "rm", "remove":
		formats = []string{"text"}
	default:
		return usageError(c, e, "unknown subcommand %q: use add, ls or rm", sub)
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
	switch sub {
	case "add", "rm", "remove":
		if len(pos) != 1 {
			return usageError(c, e, "%s takes one NAME", sub)
		}
	default:
		if len(pos) != 0 {
			return usageError(c, e, "ls takes no arguments")
		}
	}
	switch sub {
	case "add":
		tok, err := cl.AddAgent(ctx, pos[0])
		if err != nil {
			return fail(e, err)
		}
		if *out == "json" {
			return writeJSON(e, tok)
		}
		fmt.Fprintf(e.Stdout, "agent %s added; its token (shown only now):\n%s\n", tok.Name, tok.Token)
	case "rm", "remove":
		if err := cl.RevokeAgent(ctx, pos[0]); err != nil {
			return fail(e, err)
		}
		fmt.Fprintf(e.Stdout, "agent %s revoked\n", pos[0])
	default:
		list, err := cl.Agents(ctx)
		if err != nil {
			return fail(e, err)
		}
		if *out == "json" {
			return writeJSON(e, list)
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSTATUS\tCREATED (UTC)\tREVOKED (UTC)")
		for _, a := range list {
			status, revoked := "active", "-"
			if a.RevokedAt != nil {
				status, revoked = "revoked", a.RevokedAt.UTC().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, status, a.CreatedAt.UTC().Format(time.DateTime), revoked)
		}
		tw.Flush()
	}
	return exitOK
}

func writeJSON(e *Env, v any) int {
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(e, err)
	}
	return exitOK
}
