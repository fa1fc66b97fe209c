package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

var migrateCmd = &command{
	name:    "migrate",
	summary: "copy a SQLite journal into PostgreSQL",
	help: `Usage: gatehouse migrate --from sqlite:FILE --to postgres://USER@HOST:PORT/DB

Copies the journal in a SQLite store (a daemon's STATE/gatehouse.db) into
an empty PostgreSQL store, so that replicas can take it over (see
docs/POSTGRES.md). Every event is copied exactly as it is — sequence
numbers, times, data and hashes — so the chain is the same chain, and
'gatehouse verify --store postgres://…' checks the copy as it checked the
original. The actions and agents are rebuilt from the events. The
secrets (gatehouse secret set) are copied sealed, as they are: copy the
daemon's key file (STATE/secrets.key, or its --secrets-key) to every
replica, or they cannot be opened there.

Stop the daemon first: events it appends after the copy began are not
copied. Actions the source left running or waiting for approval are copied
as they are; the first replica to start closes those left running as
interrupted, and waiting ones keep waiting.

It refuses a target that already holds a journal (nothing is changed), and
a source whose chain is broken or whose secrets are not those its journal
says (run 'gatehouse verify --store FILE' on it).
The copy is one transaction: if it fails, the target stays empty.

Flags:
  --from sqlite:FILE   the SQLite store to copy (read-only; "sqlite:" may be left out)
  --to URL             the PostgreSQL database (postgres://…); its tables are
                       created if missing
`,
	run: runMigrate,
}

func runMigrate(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	from := fs.String("from", "", "")
	to := fs.String("to", "", "")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return usageError(c, e, "unexpected argument %q", pos[0])
	case *from == "" || *to == "":
		return usageError(c, e, "both --from and --to are required")
	case postgres.IsURL(*from):
		return usageError(c, e, "--from is a SQLite store (sqlite:FILE); copying between PostgreSQL databases is PostgreSQL's job (pg_dump)")
	case !postgres.IsURL(*to):
		return usageError(c, e, "--to must be a PostgreSQL URL (postgres://…)")
	}
	path := strings.TrimPrefix(*from, "sqlite:")
	src, err := sqlite.OpenReadOnly(ctx, path)
	if err != nil {
		return fail(e, err)
	}
	defer src.Close()
	var last gatehouse.Event
	if err := src.Events(ctx, 0, func(ev gatehouse.Event) error { last = ev; return nil }); err != nil {
		return fail(e, err)
	}
	if last.Seq == 0 {
		return fail(e, gatehouse.Errorf(gatehouse.EINVALID, "the store at %s holds no events: nothing to copy", path))
	}
	if last.Type != gatehouse.EventDaemonStopped {
		fmt.Fprintf(e.Stderr, "gatehouse migrate: warning: the journal does not end with a clean stop of its daemon (its last event is %d, %s): if a daemon still uses %s, stop it and migrate again into an empty database\n", last.Seq, last.Type, path)
	}
	dst, err := postgres.Open(ctx, *to)
	if err != nil {
		return fail(e, err)
	}
	defer dst.Close()
	secrets, err := src.Secrets(ctx)
	if err != nil {
		return fail(e, err)
	}
	rep, err := dst.Import(ctx, func(fn func(gatehouse.Event) error) error { return src.Events(ctx, 0, fn) }, secrets)
	if err != nil {
		return fail(e, err)
	}
	fmt.Fprintf(e.Stdout, "copied %d events (%d actions, %d agents, %d secrets) from %s to %s; the chain ends at event %d, hash %s\n",
		rep.Events, rep.Actions, rep.Agents, rep.Secrets, path, postgres.Redact(*to), rep.Head.Seq, rep.Head.Hash)
	if rep.Secrets > 0 {
		fmt.Fprintf(e.Stdout, "the secrets are copied sealed: copy the secrets key file (the source daemon's --secrets-key, by default STATE/secrets.key) to every replica, or they cannot be opened\n")
	}
	return exitOK
}
