package cli

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse-dev/gatehouse"
)

var rollbackCmd = &command{
	name:    "rollback",
	summary: "restore the files actions changed, and list what else to undo",
	help: `Usage: gatehouse rollback ACTION [--dry-run] [--force] [-o text|json]
       gatehouse rollback --session S [--agent A] [--dry-run] [--force] [-o text|json]
       gatehouse rollback --since T [--agent A] [--dry-run] [--force] [-o text|json]

Rolls back one action, every action of a session, or every action since T
(a duration before now such as 1h, or an RFC 3339 time), optionally of one
agent: the daemon restores the files they changed in their workspaces from
its snapshots — newest action first, each path back to what it held before
the first of them changed it — and records the rollback in the journal.

It refuses, changing nothing, when a file was changed since by anything
other than the rolled-back actions (a person, a later action), when an
action's effects are ambiguous (another action ran in the workspace at the
same time) or incomplete, when content is not in the store, or while an
action runs in the workspace. --force restores anyway, overwriting such
changes; what cannot be restored at all is skipped and reported.

What the daemon does not snapshot is listed, never run: the undo commands
that policy rules attach (run them yourself), the irreversible actions
(messages sent, requests with side effects, deletions in cloud accounts,
secrets rotated), and the actions that may have changed something no
snapshot recorded.

--dry-run prints the plan, checked against the disk, and changes nothing.

Exit status: 0 when done (or planned); 1 when refused, done only in part,
or failed. Needs a reviewer or the admin token: agents cannot roll back.

Flags:
  --session S   the actions of session S
  --since T     the actions since T
  --agent A     with --session or --since: only agent A's
  --dry-run     plan only
  --force       go past changes made since and ambiguous effects
  -o FORMAT     text (default) or json
`,
	run: runRollback,
}

func runRollback(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	var req gatehouse.RollbackRequest
	fs.StringVar(&req.Session, "session", "", "")
	fs.StringVar(&req.Since, "since", "", "")
	fs.StringVar(&req.Agent, "agent", "", "")
	fs.BoolVar(&req.DryRun, "dry-run", false, "")
	fs.BoolVar(&req.Force, "force", false, "")
	out := outputFlag(fs, "text", "json")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if code, ok := checkFormat(c, e, *out, "text", "json"); !ok {
		return code
	}
	switch {
	case len(pos) > 1:
		return usageError(c, e, "want at most one action ID")
	case len(pos) == 1:
		req.Action = pos[0]
	}
	n := 0
	for _, s := range []string{req.Action, req.Session, req.Since} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return usageError(c, e, "name one ACTION, or --session S, or --since T")
	}
	res, err := e.client().Rollback(ctx, req)
	if err != nil {
		return fail(e, err)
	}
	if *out == "json" {
		if code := writeJSON(e, res); code != exitOK {
			return code
		}
	} else {
		writePlan(e.Stdout, res)
	}
	switch res.Status {
	case gatehouse.RollbackRefused:
		fmt.Fprintf(e.Stderr, "gatehouse: rollback refused, nothing was changed: %d problem(s); --force goes past them (%s)\n", len(res.Problems), gatehouse.ECONFLICT)
		return exitFailure
	case gatehouse.RollbackPartial, gatehouse.RollbackFailed:
		fmt.Fprintf(e.Stderr, "gatehouse: rollback %s only in part: %d of %d files restored (%s)\n", res.ID, res.Restored, len(res.Plan.Files), gatehouse.ECONFLICT)
		return exitFailure
	}
	return exitOK
}

func writePlan(w io.Writer, res *gatehouse.RollbackResult) {
	p := res.Plan
	title := "rollback"
	if res.Status == gatehouse.RollbackPlanned {
		title = "rollback plan (dry run)"
	}
	fmt.Fprintf(w, "%s: %d action(s) to consider, %d file(s) to restore, %d unchanged\n", title, len(p.Actions), len(p.Files), p.Unchanged)
	if len(p.Files) > 0 {
		fmt.Fprintln(w, "\nfiles the daemon restores:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range p.Files {
			what := string(f.Op)
			if f.Op == gatehouse.RestoreMode && f.Expect != nil {
				what += " " + f.Expect.Mode + " → " + f.Want.Mode
			}
			status := ""
			switch {
			case f.Done:
				status = "done"
			case f.Problem != "":
				status = "problem"
			}
			from := ""
			if f.Source != "" {
				from = " (from " + f.Source + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s%s\t%s\t%s\n", what, path.Join(f.Workspace, f.Path), from, strings.Join(f.Actions, " "), status)
		}
		tw.Flush()
	}
	if len(p.Undo) > 0 {
		fmt.Fprintln(w, "\nundo by hand (the daemon does not run these):")
		for _, u := range p.Undo {
			if u.Command != "" {
				fmt.Fprintf(w, "  %s    # action %s\n", u.Command, u.Action)
			} else {
				fmt.Fprintf(w, "  (%s: %s)    # action %s\n", u.Template, u.Error, u.Action)
			}
		}
	}
	var cannot, skipped []string
	for _, a := range p.Actions {
		switch {
		case a.Skipped != "":
			skipped = append(skipped, fmt.Sprintf("  %s %s: %s", a.ID, a.Command, a.Skipped))
		case a.Irreversible:
			cannot = append(cannot, fmt.Sprintf("  %s %s: irreversible (%s)", a.ID, a.Command, a.Class))
		case a.Unrecorded:
			cannot = append(cannot, fmt.Sprintf("  %s %s: may have changed what no snapshot recorded, and has no undo", a.ID, a.Command))
		}
	}
	if len(cannot) > 0 {
		fmt.Fprintln(w, "\ncannot be undone by the gateway:")
		fmt.Fprintln(w, strings.Join(cannot, "\n"))
	}
	if len(skipped) > 0 {
		fmt.Fprintln(w, "\nskipped:")
		fmt.Fprintln(w, strings.Join(skipped, "\n"))
	}
	if len(res.Problems) > 0 {
		head := "problems (a rollback refuses them without --force):"
		if res.ID != "" {
			head = "forced past:"
		}
		fmt.Fprintln(w, "\n"+head)
		for _, pr := range res.Problems {
			fmt.Fprintln(w, "  "+pr)
		}
	}
	switch res.Status {
	case gatehouse.RollbackPlanned:
		fmt.Fprintln(w, "\ndry run: nothing was changed")
	case gatehouse.RollbackDone:
		fmt.Fprintf(w, "\nrolled back: %d file(s) restored (rollback %s)\n", res.Restored, res.ID)
	case gatehouse.RollbackNothing:
		fmt.Fprintln(w, "\nno file to restore")
	}
}
