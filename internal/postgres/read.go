package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlwhere"
)

const (
	actionCols = "id, time, agent, session, status, command, intent, trace_id, doc"
	agentCols  = "name, token_hash, created_at, revoked_at, doc"
	eventCols  = "seq, time, type, subject, data, prev_hash, hash, origin"
)

// querier is what reads need: a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// reader implements the read methods of gatehouse.Store over q. With
// pooled, a read that fails because its connection was lost before it
// delivered anything is tried once more: a pool may hand out a connection
// the server ended while it sat idle (a restart, a failover, an
// administrator), and that is no reason to fail a request.
type reader struct {
	q      querier
	pooled bool
}

// fnErr carries an error of the caller's fn through a read, untouched and
// never retried.
type fnErr struct{ err error }

func (e fnErr) Error() string { return e.err.Error() }

// read runs attempt (once more if it may, see reader) and turns its
// error into what the caller gets.
func (r reader) read(ctx context.Context, op string, attempt func(delivered *bool) error) error {
	var delivered bool
	err := attempt(&delivered)
	if err != nil && r.pooled && !delivered && ctx.Err() == nil && transient(err) {
		err = attempt(&delivered)
	}
	var fe fnErr
	if errors.As(err, &fe) {
		return fe.err
	}
	if err != nil {
		return readErr(ctx, op, err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

type actionRow struct {
	id, agent, session, status, command, intent, trace string
	time                                               int64
	doc                                                []byte
}

func scanActionRow(sc scanner) (actionRow, error) {
	var c actionRow
	err := sc.Scan(&c.id, &c.time, &c.agent, &c.session, &c.status, &c.command, &c.intent, &c.trace, &c.doc)
	return c, err
}

// decode reads the doc and then overwrites the fields that have columns
// from them: queries filter on the columns, so readers must see them, and
// Verify then catches an edit to either the doc or a column.
func (c *actionRow) decode() (*gatehouse.Action, error) {
	a := new(gatehouse.Action)
	if err := json.Unmarshal(c.doc, a); err != nil {
		return nil, gatehouse.WrapError(gatehouse.EINTERNAL, "postgres.decodeAction", err, "action "+c.id+": stored document is corrupt")
	}
	a.ID = c.id
	a.Time = time.Unix(0, c.time).UTC()
	a.Agent = c.agent
	a.Session = c.session
	a.Status = gatehouse.Status(c.status)
	a.Command = c.command
	a.Intent = c.intent
	a.TraceID = c.trace
	return a, nil
}

func scanAction(sc scanner) (*gatehouse.Action, error) {
	c, err := scanActionRow(sc)
	if err != nil {
		return nil, err
	}
	return c.decode()
}

// scanAgent reads a row of agentCols; like actions, the columns win over
// the doc.
func scanAgent(sc scanner) (*gatehouse.Agent, error) {
	var (
		name, hash string
		created    int64
		revoked    *int64
		doc        []byte
	)
	if err := sc.Scan(&name, &hash, &created, &revoked, &doc); err != nil {
		return nil, err
	}
	g := new(gatehouse.Agent)
	if err := json.Unmarshal(doc, g); err != nil {
		return nil, gatehouse.WrapError(gatehouse.EINTERNAL, "postgres.decodeAgent", err, "agent "+name+": stored document is corrupt")
	}
	g.Name = name
	g.TokenHash = hash
	g.CreatedAt = time.Unix(0, created).UTC()
	g.RevokedAt = nil
	if revoked != nil {
		t := time.Unix(0, *revoked).UTC()
		g.RevokedAt = &t
	}
	return g, nil
}

// Action returns the action with the given id, or ENOTFOUND.
func (r reader) Action(ctx context.Context, id string) (*gatehouse.Action, error) {
	var a *gatehouse.Action
	err := r.read(ctx, "postgres.Action", func(*bool) error {
		var err error
		a, err = scanAction(r.q.QueryRow(ctx, "SELECT "+actionCols+" FROM actions WHERE id = $1", id))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "action %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// checkFilter validates f and returns the limit to apply. EINVALID if
// f.Limit is out of range, f.Status is not a status, or f.Until is before
// f.Since.
func checkFilter(f gatehouse.ActionFilter) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	return cmp.Or(f.Limit, gatehouse.DefaultLimit), nil
}

// actionQuery maps a filter to SQL: its conditions from sqlwhere.Actions
// (shared with the SQLite store), in PostgreSQL's $n placeholders, and
// the order and limit.
func actionQuery(f gatehouse.ActionFilter, limit int) (string, []any) {
	var (
		q    strings.Builder
		args []any
		and  = " WHERE "
	)
	q.WriteString("SELECT " + actionCols + " FROM actions")
	// cond adds a condition; each ? in expr becomes the next placeholder.
	cond := func(expr string, vals ...any) {
		q.WriteString(and)
		and = " AND "
		for _, part := range strings.SplitAfter(expr, "?") {
			if strings.HasSuffix(part, "?") {
				args = append(args, vals[0])
				vals = vals[1:]
				part = strings.TrimSuffix(part, "?") + fmt.Sprintf("$%d", len(args))
			}
			q.WriteString(part)
		}
	}
	// Keyset paging (Before, After) is a row comparison, a range on the
	// (…, time, id) indexes; id has the C collation (migration 0002): byte
	// order, as Cursor.Compare has it.
	for _, c := range sqlwhere.Actions(f, func(col string) string { return "strpos(" + col + ", ?) > 0" }) {
		cond(c.Expr, c.Args...)
	}
	// The end of the order that LIMIT keeps comes first; a newest-first
	// result is reversed by the caller.
	args = append(args, limit)
	if f.Oldest {
		fmt.Fprintf(&q, " ORDER BY time, id LIMIT $%d", len(args))
	} else {
		fmt.Fprintf(&q, " ORDER BY time DESC, id DESC LIMIT $%d", len(args))
	}
	return q.String(), args
}

// Actions returns the newest f.Limit actions that match f (DefaultLimit
// if 0), oldest first; EINVALID for a bad filter (see checkFilter). With
// f.Brief the fields Brief leaves out are emptied after decoding: the rows
// are read whole, since this store keeps an action in one document.
func (r reader) Actions(ctx context.Context, f gatehouse.ActionFilter) ([]*gatehouse.Action, error) {
	limit, err := checkFilter(f)
	if err != nil {
		return nil, err
	}
	q, args := actionQuery(f, limit)
	var as []*gatehouse.Action
	err = r.each(ctx, "postgres.Actions", func(a *gatehouse.Action) error {
		if f.Brief {
			brief(a)
		}
		as = append(as, a)
		return nil
	}, q, args...)
	if err != nil {
		return nil, err
	}
	if !f.Oldest {
		slices.Reverse(as)
	}
	return as, nil
}

// Running returns every pending or running action, oldest first.
func (r reader) Running(ctx context.Context) ([]*gatehouse.Action, error) {
	var as []*gatehouse.Action
	err := r.each(ctx, "postgres.Running", func(a *gatehouse.Action) error {
		as = append(as, a)
		return nil
	}, "SELECT "+actionCols+" FROM actions WHERE status IN ('pending', 'running') ORDER BY time, id")
	return as, err
}

// ScanActions calls fn with every action, in the order of their
// action.requested events. It stops at the first error fn returns.
func (r reader) ScanActions(ctx context.Context, fn func(*gatehouse.Action) error) error {
	return r.each(ctx, "postgres.ScanActions", fn, "SELECT "+actionCols+" FROM actions ORDER BY first_seq")
}

func (r reader) each(ctx context.Context, op string, fn func(*gatehouse.Action) error, query string, args ...any) error {
	return r.read(ctx, op, func(delivered *bool) error {
		rows, err := r.q.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanActionRow(rows)
			if err != nil {
				return err
			}
			a, err := c.decode()
			if err != nil {
				return fnErr{err}
			}
			*delivered = true
			if err := fn(a); err != nil {
				return fnErr{err}
			}
		}
		return rows.Err()
	})
}

// Agent returns the agent with the given name, revoked or not, or
// ENOTFOUND.
func (r reader) Agent(ctx context.Context, name string) (*gatehouse.Agent, error) {
	var g *gatehouse.Agent
	err := r.read(ctx, "postgres.Agent", func(*bool) error {
		var err error
		g, err = scanAgent(r.q.QueryRow(ctx, "SELECT "+agentCols+" FROM agents WHERE name = $1", name))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "agent %q not found", name)
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// AgentByTokenHash returns the active agent whose token has the given
// SHA-256 (hex), or ENOTFOUND; EINTERNAL if two active agents share it.
func (r reader) AgentByTokenHash(ctx context.Context, hash string) (*gatehouse.Agent, error) {
	notFound := gatehouse.Errorf(gatehouse.ENOTFOUND, "no active agent has this token")
	if hash == "" {
		return nil, notFound
	}
	found, err := r.agents(ctx, "postgres.AgentByTokenHash",
		"SELECT "+agentCols+" FROM agents WHERE token_hash = $1 AND revoked_at IS NULL LIMIT 2", hash)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, notFound
	case 1:
		return found[0], nil
	}
	return nil, &gatehouse.Error{Code: gatehouse.EINTERNAL, Op: "postgres.AgentByTokenHash",
		Message: "agents " + found[0].Name + " and " + found[1].Name + " share a token"}
}

// Agents returns every agent, revoked ones included, by name.
func (r reader) Agents(ctx context.Context) ([]*gatehouse.Agent, error) {
	return r.agents(ctx, "postgres.Agents", "SELECT "+agentCols+" FROM agents ORDER BY name")
}

func (r reader) agents(ctx context.Context, op, query string, args ...any) ([]*gatehouse.Agent, error) {
	var gs []*gatehouse.Agent
	err := r.read(ctx, op, func(*bool) error {
		gs = nil
		rows, err := r.q.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			g, err := scanAgent(rows)
			if err != nil {
				var e *gatehouse.Error
				if errors.As(err, &e) {
					return fnErr{err}
				}
				return err
			}
			gs = append(gs, g)
		}
		return rows.Err()
	})
	return gs, err
}

// brief empties what gatehouse.ActionFilter.Brief leaves out.
func brief(a *gatehouse.Action) {
	a.Argv, a.Stdout, a.Stderr, a.Response, a.Input = nil, "", "", "", nil
	if a.Analysis != nil {
		an := *a.Analysis
		an.Commands = nil
		a.Analysis = &an
	}
}

// Head returns the newest event of the journal, exactly as stored;
// ENOTFOUND if the journal is empty.
func (r reader) Head(ctx context.Context) (gatehouse.Event, error) {
	var head gatehouse.Event
	found := false
	err := r.scanEvents(ctx, "postgres.Head", func(e gatehouse.Event, _ string) error {
		head, found = e, true
		return nil
	}, "SELECT "+eventCols+" FROM events ORDER BY seq DESC LIMIT 1")
	if err != nil {
		return gatehouse.Event{}, err
	}
	if !found {
		return gatehouse.Event{}, gatehouse.Errorf(gatehouse.ENOTFOUND, "the journal is empty")
	}
	return head, nil
}

// Events calls fn with each event whose Seq is greater than after, by Seq,
// exactly as stored. It stops at the first error fn returns.
func (r reader) Events(ctx context.Context, after int64, fn func(gatehouse.Event) error) error {
	return r.scanEvents(ctx, "postgres.Events", func(e gatehouse.Event, _ string) error { return fn(e) },
		"SELECT "+eventCols+" FROM events WHERE seq > $1 ORDER BY seq", after)
}

// EventsOfType calls fn with each event of one of the given types, by Seq,
// exactly as stored.
func (r reader) EventsOfType(ctx context.Context, types []gatehouse.EventType, fn func(gatehouse.Event) error) error {
	if len(types) == 0 {
		return nil
	}
	ts := make([]string, len(types))
	for i, t := range types {
		ts[i] = string(t)
	}
	return r.scanEvents(ctx, "postgres.EventsOfType", func(e gatehouse.Event, _ string) error { return fn(e) },
		"SELECT "+eventCols+" FROM events WHERE type = ANY($1) ORDER BY seq", ts)
}

func (r reader) scanEvents(ctx context.Context, op string, fn func(gatehouse.Event, string) error, query string, args ...any) error {
	return r.read(ctx, op, func(delivered *bool) error {
		rows, err := r.q.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e           gatehouse.Event
				t           int64
				typ, origin string
				data        []byte
			)
			if err := rows.Scan(&e.Seq, &t, &typ, &e.Subject, &data, &e.PrevHash, &e.Hash, &origin); err != nil {
				return err
			}
			e.Time = time.Unix(0, t).UTC()
			e.Type = gatehouse.EventType(typ)
			e.Data = data
			*delivered = true
			if err := fn(e, origin); err != nil {
				return fnErr{err}
			}
		}
		return rows.Err()
	})
}
