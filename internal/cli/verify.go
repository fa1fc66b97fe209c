package cli

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

var verifyCmd = &command{
	name:    "verify",
	summary: "check that the journal is intact",
	help: `Usage: gatehouse verify [--store FILE|URL] [-o text|json]

Walks the journal from its first event, checking each event's hash and its
link to the one before, then rebuilds every action and agent from the
events and compares them with what log, show and agent ls read.

Exits 0 and prints the number of events if all is intact. Exits 1 naming
the first event that was altered, deleted, inserted or reordered, and each
action or agent row that differs from the journal.

By default the daemon verifies its own journal (admin token). With --store,
verify opens the store itself, read-only: a SQLite file, while its daemon
is stopped or beside it; or a PostgreSQL database (postgres://…), beside
the replicas that use it, reading one consistent snapshot of it.

Flags:
  --store FILE|URL  verify this SQLite file or PostgreSQL database directly
                    instead of asking the daemon
  -o FORMAT      text (default) or json
`,
	run: runVerify,
}

func runVerify(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	path := fs.String("store", "", "")
	out := outputFlag(fs, "text", "json")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	if code, ok := checkFormat(c, e, *out, "text", "json"); !ok {
		return code
	}
	var rep *gatehouse.VerifyReport
	var err error
	if *path != "" {
		rep, err = verifyFile(ctx, *path)
	} else {
		rep, err = e.client().Verify(ctx)
	}
	if err != nil {
		return fail(e, err)
	}
	if *out == "json" {
		if code := writeJSON(e, rep); code != exitOK {
			return code
		}
	} else {
		writeReport(e, rep)
	}
	if !rep.OK() {
		return exitFailure
	}
	return exitOK
}

func verifyFile(ctx context.Context, path string) (*gatehouse.VerifyReport, error) {
	if postgres.IsURL(path) {
		s, err := postgres.OpenReadOnly(ctx, path)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		var rep *gatehouse.VerifyReport
		err = s.Snapshot(ctx, func(snap gatehouse.Store) error {
			rep, err = gatehouse.Verify(ctx, snap)
			return err
		})
		return rep, err
	}
	s, err := sqlite.OpenReadOnly(ctx, path)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return gatehouse.Verify(ctx, s)
}

func writeReport(e *Env, r *gatehouse.VerifyReport) {
	if r.OK() {
		fmt.Fprintf(e.Stdout, "ok: %d events, %d actions, %d agents; the chain is whole and the projection matches\n", r.Events, r.Actions, r.Agents)
		return
	}
	if r.Chain != nil {
		fmt.Fprintf(e.Stdout, "FAIL: %v\n", r.Chain)
	}
	for _, d := range r.Projection {
		fmt.Fprintf(e.Stdout, "FAIL: %s\n", d)
	}
	fmt.Fprintf(e.Stdout, "%d events read; the journal is damaged\n", r.Events)
}
