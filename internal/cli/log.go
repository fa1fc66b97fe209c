package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
)

var logCmd = &command{
	name:    "log",
	summary: "list recorded actions: what did the agents do?",
	help: `Usage: gatehouse log [flags]

Lists the actions in the journal that match the flags, oldest first: the
newest --limit of them. "What did agent X do in the last hour?" is
  gatehouse log --agent X --since 1h
and "which action is behind this trace in my application's logs?" is
  gatehouse log --trace 4bf92f3577b34da6a3ce929d0e0e4736

Flags:
  --since T       only actions requested at or after T: a duration before now
                  (90s, 15m, 1h, 7d) or an RFC 3339 time
  --until T       only actions requested before T (same forms)
  --agent A       only this agent's actions
  --session S     only this session's actions
  --status S      pending, running, succeeded, failed, denied or interrupted
  --grep TEXT     only actions whose command or intent contains TEXT
  --trace ID      only the action with this trace id: 32 hex digits, or a whole
                  traceparent (00-TRACEID-SPANID-FLAGS) as an application logged it
  --limit N       at most the newest N actions (default 1000, at most 100000)
  -o FORMAT       table (default), json (one array) or jsonl (one action a line)
`,
	run: runLog,
}

func runLog(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	var q client.ActionQuery
	fs.StringVar(&q.Since, "since", "", "")
	fs.StringVar(&q.Until, "until", "", "")
	fs.StringVar(&q.Agent, "agent", "", "")
	fs.StringVar(&q.Session, "session", "", "")
	fs.Func("status", "", func(v string) error { q.Status = gatehouse.Status(v); return nil })
	fs.StringVar(&q.Grep, "grep", "", "")
	fs.StringVar(&q.Trace, "trace", "", "")
	fs.IntVar(&q.Limit, "limit", 0, "")
	out := outputFlag(fs, "table", "json", "jsonl")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	if code, ok := checkFormat(c, e, *out, "table", "json", "jsonl"); !ok {
		return code
	}
	list, err := e.client().Actions(ctx, q)
	if err != nil {
		return fail(e, err)
	}
	switch *out {
	case "json":
		return writeJSON(e, list)
	case "jsonl":
		enc := json.NewEncoder(e.Stdout)
		for _, a := range list {
			if err := enc.Encode(a); err != nil {
				return fail(e, err)
			}
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tID\tAGENT\tSESSION\tSTATUS\tEXIT\tDURATION\tCOMMAND")
	for _, a := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			a.Time.UTC().Format(time.DateTime), a.ID, a.Agent, dash(a.Session), a.Status,
			exitText(a), durationText(a), clip(oneLine(a.Command), 72))
	}
	tw.Flush()
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func exitText(a *gatehouse.Action) string {
	switch {
	case a.Signal != "":
		return a.Signal
	case a.ExitCode != nil:
		return strconv.Itoa(*a.ExitCode)
	}
	return "-"
}

func durationText(a *gatehouse.Action) string {
	if a.DurationMS == nil {
		return "-"
	}
	d := time.Duration(*a.DurationMS * float64(time.Millisecond))
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
