package cli

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/client"
)

var incidentCmd = &command{
	name:    "incident",
	summary: "report an incident: what happened, where, on whose authority",
	help: `Usage: gatehouse incident [flags]

Reports on the actions requested in a window (the last hour by default),
for a responder who must answer in seconds: the timeline of every action
(time, agent, session, kind, command, system, decision and rule, status,
duration); the systems touched and how (counts by class and risk); the
destructive and irreversible actions; denials, failures and retries (the
same agent, session and command again after a failure, denial or
interruption); who approved or denied what, and how long each action
waited; each halt or pause in force, what was running in its scope when it
came and what it killed or cancelled; the first thing that looked wrong
(the first denial, failure or tripwire, by journal order); and the sessions
with their stated intent (the prompts their harness reported).

The daemon builds the report and writes it in the format asked for:
  md     for a person: a terminal or a Markdown viewer (the default)
  html   one self-contained page — inline CSS, script and an SVG timeline
         chart (a bar per action, a lane per session, coloured by status or
         by risk); it loads nothing from anywhere
  json   the whole report, a stable schema (format gatehouse.incident.v1;
         see docs/API.md)

It covers at most 100000 actions, the newest; it says so when the window
holds more. Files changed, credentials in play and the rollback plan are
listed as not in the report: this journal does not record them yet.
Needs a reviewer's or the admin token.

Flags:
  --since T      actions requested at or after T: a duration before now (90s,
                 15m, 1h, 7d) or an RFC 3339 time (default 1h)
  --until T      actions requested before T (same forms; default now)
  --agent A      only this agent's actions
  --session S    only this session's actions
  -o FORMAT      md (default), html or json

Examples:
  gatehouse incident --since 2h --agent claude
  gatehouse incident --since 2026-12-04T12:00:00Z --until 2026-12-04T13:00:00Z -o html > incident.html
`,
	run: runIncident,
}

func runIncident(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	q := client.IncidentQuery{Since: "1h"}
	fs.StringVar(&q.Since, "since", q.Since, "")
	fs.StringVar(&q.Until, "until", "", "")
	fs.StringVar(&q.Agent, "agent", "", "")
	fs.StringVar(&q.Session, "session", "", "")
	out := outputFlag(fs, "md", "html", "json")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	if code, ok := checkFormat(c, e, *out, "md", "html", "json"); !ok {
		return code
	}
	q.Format = *out
	if err := e.client().Incident(ctx, q, e.Stdout); err != nil {
		return fail(e, err)
	}
	return exitOK
}
