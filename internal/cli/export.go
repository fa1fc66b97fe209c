package cli

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/client"
)

var exportCmd = &command{
	name:    "export",
	summary: "stream the journal's events as JSON lines, for a SIEM",
	help: `Usage: gatehouse export [flags]

Writes the journal's events, one JSON object a line, oldest first, as the
daemon reads them (nothing is held back until the end): every event, not
just actions — requests, decisions, reviews, starts, ends, halts, session
events, agents added and revoked, policy loads, daemon starts and stops.
Each line is the event exactly as journaled, so that a SIEM can check the
hash chain itself, plus the agent it concerns:

  {"seq":12,"time":"2026-12-04T12:00:02.000131Z","type":"action.finished",
   "subject":"01JD…","agent":"claude","data":{…},"prev_hash":"…","hash":"…"}

data is the event's payload, the bytes that were hashed; hash is
SHA-256 over seq, time, type, subject, data and prev_hash as docs/API.md
describes. Secrets are not in it: environment values are never journaled,
tokens only as their SHA-256. Commands, prompts and outputs are, as the
journal holds them.

For incremental pulls, pass the last seq you have with --after; time bounds
select by each event's own time. An export cut off in transit exits 1.
Needs the admin token.

Flags:
  --since T      events at or after T: a duration before now (90s, 15m, 1h, 7d)
                 or an RFC 3339 time (default: the start of the journal)
  --until T      events before T (same forms; default: the newest)
  --agent A      only events concerning this agent
  --after SEQ    only events after sequence number SEQ
  -o FORMAT      jsonl (the only format)
`,
	run: runExport,
}

func runExport(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	var q client.ExportQuery
	fs.StringVar(&q.Since, "since", "", "")
	fs.StringVar(&q.Until, "until", "", "")
	fs.StringVar(&q.Agent, "agent", "", "")
	fs.Int64Var(&q.After, "after", 0, "")
	out := outputFlag(fs, "jsonl")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	if code, ok := checkFormat(c, e, *out, "jsonl"); !ok {
		return code
	}
	if q.After < 0 {
		return usageError(c, e, "--after takes a sequence number, 0 or more")
	}
	if err := e.client().Export(ctx, q, e.Stdout); err != nil {
		return fail(e, err)
	}
	return exitOK
}
