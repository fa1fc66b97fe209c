package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
)

var reviewerCmd = &command{
	name:    "reviewer",
	summary: "register, list and revoke reviewers",
	help: `Usage: gatehouse reviewer add NAME [-o text|json]
       gatehouse reviewer ls [-o table|json]
       gatehouse reviewer rm NAME

Reviewers approve or deny the actions that policy holds for review
(gatehouse pending, approve, deny) and may read the journal. add prints the
reviewer's token once; only a hash of it is stored. Give it to the person
as GATEHOUSE_TOKEN. Agent tokens can never approve, and no identity can
approve an action it requested itself. Reviewers and agents share one
namespace of names. These commands need the admin token.
`,
	run: func(ctx context.Context, c *command, e *Env, args []string) int {
		return runIdentity(ctx, c, e, args, gatehouse.RoleReviewer)
	},
}

// runIdentity implements agent and reviewer: add, ls and rm of one role.
func runIdentity(ctx context.Context, c *command, e *Env, args []string, role gatehouse.Role) int {
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
	var workspaces listFlag
	if role == gatehouse.RoleAgent && sub == "add" {
		fs.Var(&workspaces, "workspace", "")
	}
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if code, ok := checkFormat(c, e, *out, formats...); !ok {
		return code
	}
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
	cl := e.client()
	switch sub {
	case "add":
		var tok *client.AgentToken
		var err error
		if len(workspaces) > 0 {
			dirs, derr := absDirs(e, workspaces)
			if derr != nil {
				return usageError(c, e, "%v", derr)
			}
			tok, err = cl.AddAgentWorkspaces(ctx, pos[0], dirs)
		} else {
			tok, err = cl.AddIdentity(ctx, pos[0], role)
		}
		if err != nil {
			return fail(e, err)
		}
		if *out == "json" {
			return writeJSON(e, tok)
		}
		fmt.Fprintf(e.Stdout, "%s %s added; its token (shown only now):\n%s\n", role, tok.Name, tok.Token)
		for _, w := range tok.Workspaces {
			fmt.Fprintf(e.Stdout, "workspace: %s\n", w)
		}
	case "rm", "remove":
		if err := cl.RevokeIdentity(ctx, pos[0], role); err != nil {
			return fail(e, err)
		}
		fmt.Fprintf(e.Stdout, "%s %s revoked\n", role, pos[0])
	default:
		list, err := cl.Identities(ctx, role)
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

// absDirs makes directories absolute from the current directory.
func absDirs(e *Env, dirs []string) ([]string, error) {
	out := make([]string, len(dirs))
	for i, d := range dirs {
		if filepath.IsAbs(d) {
			out[i] = filepath.Clean(d)
			continue
		}
		wd, err := e.Getwd()
		if err != nil {
			return nil, fmt.Errorf("--workspace %s: %v", d, err)
		}
		out[i] = filepath.Join(wd, d)
	}
	return out, nil
}
