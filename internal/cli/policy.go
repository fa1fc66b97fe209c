package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

var policyCmd = &command{
	name:    "policy",
	summary: "show, test, reload and replay the policy",
	help: `Usage: gatehouse policy show [-o table|json]
       gatehouse policy test [--agent A] [--system S] [--shell] [-o text|json] -- CMD [ARGS...]
       gatehouse policy reload
       gatehouse policy replay [--since 7d] --policy FILE [-o table|json]

The daemon decides every action by its policy file (policy.yaml in the
state directory, or serve --policy FILE): allow, review or deny. See
docs/POLICY.md for the format. The daemon reloads the file when it changes,
on SIGHUP and on policy reload; a broken file is refused with its line and
column, and the policy in force stays.

show lists the rules in force and the policy's revision.

test explains, without running anything, which rule decides CMD and why,
with the analysis of the command (class, risk, reasons, the commands found)
and the rule's undo commands rendered for it. JSON:
{"effect","rule","reason","decision","analysis","undo"}.

reload makes the daemon load its policy file now (admin token).

replay decides the recorded actions since --since again by the candidate
policy FILE, and lists those it would have decided differently (shadow
mode), so a change can be judged before it is put in force.

Flags:
  --agent A       test: decide as agent A
  --system S      test: the target system
  --session S     test: the session
  --shell         test: CMD is a shell string (joined by spaces)
  --since T       replay: how far back (default 7d)
  --policy FILE   replay: the candidate policy
  -o FORMAT       text or table (default), or json
`,
	run: runPolicy,
}

func runPolicy(ctx context.Context, c *command, e *Env, args []string) int {
	if len(args) == 0 {
		return usageError(c, e, "missing subcommand: show, test, reload or replay")
	}
	sub, args := args[0], args[1:]
	cl := e.client()
	switch sub {
	case "show":
		fs := newFlags(c)
		out := outputFlag(fs, "table", "json")
		pos, code, ok := parse(c, e, fs, args)
		if !ok {
			return code
		}
		if code, ok := checkFormat(c, e, *out, "table", "json"); !ok {
			return code
		}
		if len(pos) > 0 {
			return usageError(c, e, "unexpected argument %q", pos[0])
		}
		info, err := cl.Policy(ctx)
		if err != nil {
			return fail(e, err)
		}
		if *out == "json" {
			return writeJSON(e, info)
		}
		writePolicyInfo(e, info)
	case "reload":
		fs := newFlags(c)
		pos, code, ok := parse(c, e, fs, args)
		if !ok {
			return code
		}
		if len(pos) > 0 {
			return usageError(c, e, "unexpected argument %q", pos[0])
		}
		info, err := cl.ReloadPolicy(ctx)
		if err != nil {
			return failMultiline(e, err)
		}
		fmt.Fprintf(e.Stdout, "policy %s in force: %d rules (revision %s)\n", info.Source, len(info.Rules), info.Revision)
	case "test":
		var req gatehouse.PolicyTestRequest
		fs := newFlags(c)
		fs.StringVar(&req.Agent, "agent", "", "")
		fs.StringVar(&req.System, "system", "", "")
		fs.StringVar(&req.Session, "session", "", "")
		fs.BoolVar(&req.Shell, "shell", false, "")
		out := outputFlag(fs, "text", "json")
		if err := fs.Parse(args); err != nil {
			return usageError(c, e, "%v", err)
		}
		if code, ok := checkFormat(c, e, *out, "text", "json"); !ok {
			return code
		}
		argv := fs.Args()
		if len(argv) == 0 {
			return usageError(c, e, "no command given")
		}
		if req.Shell {
			req.Command = strings.Join(argv, " ")
		} else {
			req.Argv = argv
		}
		if wd, err := e.Getwd(); err == nil {
			req.Cwd = wd
		}
		res, err := cl.TestPolicy(ctx, req)
		if err != nil {
			return fail(e, err)
		}
		if *out == "json" {
			return writeJSON(e, res)
		}
		fmt.Fprintf(e.Stdout, "effect:   %s\nrule:     %s\nreason:   %s\n", res.Effect, res.Rule, res.Reason)
		if a := res.Analysis; a != nil {
			fmt.Fprintf(e.Stdout, "class:    %s\nrisk:     %d\n", a.Class, a.Risk)
			for _, r := range a.Reasons {
				fmt.Fprintf(e.Stdout, "  - %s\n", r)
			}
			for _, cmd := range a.Commands {
				fmt.Fprintf(e.Stdout, "command:  %s %s (%s, risk %d)\n", cmd.Name, strings.Join(cmd.Args, " "), cmd.Class, cmd.Risk)
			}
		}
		for _, u := range res.Undo {
			if u.Command != "" {
				fmt.Fprintf(e.Stdout, "undo:     %s\n", u.Command)
			} else {
				fmt.Fprintf(e.Stdout, "undo:     (not rendered: %s: %s)\n", u.Template, u.Error)
			}
		}
	case "replay":
		fs := newFlags(c)
		since := fs.String("since", "7d", "")
		file := fs.String("policy", "", "")
		out := outputFlag(fs, "table", "json")
		pos, code, ok := parse(c, e, fs, args)
		if !ok {
			return code
		}
		if code, ok := checkFormat(c, e, *out, "table", "json"); !ok {
			return code
		}
		if len(pos) > 0 {
			return usageError(c, e, "unexpected argument %q", pos[0])
		}
		if *file == "" {
			return usageError(c, e, "replay needs --policy FILE")
		}
		src, err := os.ReadFile(*file)
		if err != nil {
			return fail(e, err)
		}
		rep, err := cl.ReplayPolicy(ctx, gatehouse.ReplayRequest{Policy: string(src), Since: *since})
		if err != nil {
			return failMultiline(e, err)
		}
		if *out == "json" {
			return writeJSON(e, rep)
		}
		fmt.Fprintf(e.Stdout, "%d actions replayed; %d decided differently by %s\n", rep.Evaluated, len(rep.Changed), *file)
		if len(rep.Changed) > 0 {
			tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME (UTC)\tID\tAGENT\tWAS\tNOW\tNOW BY RULE\tCOMMAND")
			for _, ch := range rep.Changed {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ch.Time.UTC().Format(time.DateTime), ch.ID, ch.Agent,
					ch.Recorded.Effect, ch.Candidate.Effect, ch.Candidate.Rule, clip(oneLine(ch.Command), 60))
			}
			tw.Flush()
		}
	default:
		return usageError(c, e, "unknown subcommand %q: use show, test, reload or replay", sub)
	}
	return exitOK
}

func writePolicyInfo(e *Env, info *gatehouse.PolicyInfo) {
	fmt.Fprintf(e.Stdout, "policy %s, revision %s\n", info.Source, info.Revision)
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINE\tID\tEFFECT\tREASON")
	for _, r := range info.Rules {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.Line, r.ID, r.Effect, clip(oneLine(r.Reason), 70))
	}
	fmt.Fprintf(tw, "-\t(default)\t%s\t%s\n", info.Default.Effect, clip(oneLine(info.Default.Reason), 70))
	tw.Flush()
}

// failMultiline prints an error whose message lists several problems (a
// policy's, one per line) with the code on the first line.
func failMultiline(e *Env, err error) int {
	lines := strings.Split(strings.TrimSpace(errorMessage(err)), "\n")
	if len(lines) <= 1 {
		return fail(e, err)
	}
	fmt.Fprintf(e.Stderr, "gatehouse: the policy is refused (%s):\n", gatehouse.ErrorCode(err))
	for _, l := range lines {
		fmt.Fprintln(e.Stderr, "  "+l)
	}
	return exitFailure
}
