package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// request is one Append call waiting for the writer.
type request struct {
	events []gatehouse.Event
	reply  chan result // buffered (1): the writer never blocks on a caller
}

type result struct {
	events []gatehouse.Event
	err    error
}

// Append links events into the journal, applies them to the projections
// and returns them once they are committed and synced. See
// gatehouse.Store.Append for the contract.
//
// ctx bounds only the wait for the writer to take the call. Once taken,
// Append waits for the outcome even if ctx ends, so that its answer is
// always the truth: an Append that returned an error appended nothing, one
// that returned events made them durable. The wait is one commit (an
// fsync), or the busy timeout if another process holds the lock.
//
// Besides the errors of Action.Apply and Agent.Apply it returns EINVALID
// for an event that no store could keep faithfully (a time outside the
// years 1678–2262, which Unix nanoseconds cannot hold; no type; data that
// is not JSON; an action or agent event without a subject), EUNAVAILABLE
// if the journal cannot be written or the store is closed or read-only,
// and ctx.Err() if ctx ends before the writer takes the call.
func (s *Store) Append(ctx context.Context, events ...gatehouse.Event) ([]gatehouse.Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	if s.readOnly {
		return nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "the store is open read-only")
	}
	// Validate here, in the caller's goroutine, to keep the work of the
	// single writer to what must be serial.
	for i := range events {
		if err := validateEvent(&events[i]); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &request{events: events, reply: make(chan result, 1)}
	select {
	case s.reqs <- r:
	case <-s.closing:
		return nil, closedErr()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res := <-r.reply
	return res.events, res.err
}

func closedErr() error {
	return &gatehouse.Error{Code: gatehouse.EUNAVAILABLE, Op: "sqlite.Append", Message: "the store is closed"}
}

func validateEvent(e *gatehouse.Event) error {
	if e.Type == "" {
		return gatehouse.Errorf(gatehouse.EINVALID, "event has no type")
	}
	// The hash covers Time.UnixNano(), and the store keeps Unix
	// nanoseconds: a time that does not survive the round trip would
	// break the chain of a journal that no one tampered with.
	if !time.Unix(0, e.Time.UnixNano()).Equal(e.Time) {
		return gatehouse.Errorf(gatehouse.EINVALID, "%s event: time %s is out of range", e.Type, e.Time)
	}
	if (e.Type.IsAction() || e.Type.IsAgent()) && e.Subject == "" {
		return gatehouse.Errorf(gatehouse.EINVALID, "%s event has no subject", e.Type)
	}
	if !json.Valid(e.Data) {
		return gatehouse.Errorf(gatehouse.EINVALID, "%s event: data is not JSON", e.Type)
	}
	return nil
}

// run is the writer goroutine: it takes one request, then everything else
// already waiting (up to maxBatch), and commits them together.
func (s *Store) run() {
	defer close(s.done)
	batch := make([]*request, 0, s.w.maxBatch)
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		case <-s.closing:
			return
		}
	drain:
		for len(batch) < s.w.maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.w.commit(batch)
		clear(batch) // let the requests' events be collected
	}
}

// writer owns the write connection and the in-memory state derived from
// the database: the chain head and the actions that are not final. Only
// the run goroutine uses it.
type writer struct {
	conn     *sql.Conn
	maxBatch int

	begin, commitTx, rollback      *sql.Stmt
	savepoint, release, rollbackTo *sql.Stmt
	dataVersion                    *sql.Stmt
	insertEvent                    *sql.Stmt
	insertAction, updateAction     *sql.Stmt
	selectAction                   *sql.Stmt
	upsertAgent, selectAgent       *sql.Stmt
	selectHead, selectLive         *sql.Stmt
	stmts                          []*sql.Stmt

	head gatehouse.Chain
	// live holds the actions that are pending or running: nearly every
	// action event is for one of them, so most Appends read nothing.
	live map[string]*gatehouse.Action
	// version is PRAGMA data_version as of the last time the state above
	// was known to match the database. It changes when another connection
	// (another process) commits, and then the state is reloaded.
	version int64
	// stale means the state above may not match the database (a commit
	// failed and the reload failed too): reload before the next batch.
	stale bool
}

func newWriter(ctx context.Context, conn *sql.Conn, maxBatch int) (*writer, error) {
	w := &writer{conn: conn, maxBatch: maxBatch}
	prep := func(dst **sql.Stmt, query string) error {
		st, err := conn.PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		*dst = st
		w.stmts = append(w.stmts, st)
		return nil
	}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&w.begin, "BEGIN IMMEDIATE"},
		{&w.commitTx, "COMMIT"},
		{&w.rollback, "ROLLBACK"},
		{&w.savepoint, "SAVEPOINT request"},
		{&w.release, "RELEASE request"},
		{&w.rollbackTo, "ROLLBACK TO request"},
		{&w.dataVersion, "PRAGMA data_version"},
		{&w.insertEvent, "INSERT INTO events (seq, time, type, subject, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"},
		{&w.insertAction, "INSERT INTO actions (id, time, agent, session, status, command, intent, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
		// Only status and doc change after action.requested: leaving the
		// other columns out of SET spares SQLite the index updates.
		{&w.updateAction, "UPDATE actions SET status = ?, doc = ? WHERE id = ?"},
		{&w.selectAction, "SELECT " + actionCols + " FROM actions WHERE id = ?"},
		{&w.upsertAgent, "INSERT INTO agents (name, token_hash, created_at, revoked_at, doc) VALUES (?, ?, ?, ?, ?) " +
			"ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at, revoked_at = excluded.revoked_at, doc = excluded.doc"},
		{&w.selectAgent, "SELECT " + agentCols + " FROM agents WHERE name = ?"},
		{&w.selectHead, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"},
		{&w.selectLive, "SELECT " + actionCols + " FROM actions WHERE status IN ('pending', 'running')"},
	} {
		if err := prep(p.dst, p.query); err != nil {
			w.close()
			return nil, err
		}
	}
	if err := w.reload(ctx); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// close releases the statements and the connection, after refreshing the
// planner's statistics as SQLite recommends doing at close.
func (w *writer) close() error {
	for _, st := range w.stmts {
		st.Close()
	}
	w.conn.ExecContext(context.Background(), "PRAGMA optimize")
	return w.conn.Close()
}

// reload reads the chain head and the live actions from the database.
func (w *writer) reload(ctx context.Context) error {
	var head gatehouse.Chain
	err := w.selectHead.QueryRowContext(ctx).Scan(&head.Seq, &head.Hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	rows, err := w.selectLive.QueryContext(ctx)
	if err != nil {
		return err
	}
	live := make(map[string]*gatehouse.Action)
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			rows.Close()
			return err
		}
		live[a.ID] = a
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var v int64
	if err := w.dataVersion.QueryRowContext(ctx).Scan(&v); err != nil {
		return err
	}
	w.head, w.live, w.version, w.stale = head, live, v, false
	return nil
}

// pending is a request linked and applied in memory, not yet written.
type pending struct {
	chain   gatehouse.Chain // the head after its events
	events  []gatehouse.Event
	actions []*touchedAction // in the order first touched
	agents  []*touchedAgent
	byID    map[string]*touchedAction // built once actions is long (bulk appends)
}

type touchedAction struct {
	id     string
	a      gatehouse.Action
	stored bool // a row exists: UPDATE, not INSERT
}

type touchedAgent struct {
	name string
	g    gatehouse.Agent
}

// commit appends a batch of requests in one transaction. Each request is
// linked and applied in memory first; one that Apply rejects is answered
// with that error and never reaches SQL. The others are written each
// inside a savepoint, so that an SQL failure in one is undone without
// undoing the rest. Successes are answered only after COMMIT: that is the
// fsync they share.
func (w *writer) commit(batch []*request) {
	const op = "sqlite.Append"
	ctx := context.Background() // a shared commit is never abandoned for one caller
	results := make([]result, len(batch))
	done := make([]bool, len(batch)) // linked, written, waiting for COMMIT
	reply := func() {
		for i, r := range batch {
			r.reply <- results[i]
		}
	}
	failAll := func(err error) {
		for i := range batch {
			if results[i].err == nil {
				results[i] = result{err: unavailable(op, err)}
			}
		}
	}

	if w.stale {
		// A previous failure may have left a transaction open.
		w.rollback.ExecContext(ctx)
		if err := w.reload(ctx); err != nil {
			failAll(err)
			reply()
			return
		}
	}
	if _, err := w.begin.ExecContext(ctx); err != nil {
		w.stale = true
		failAll(err)
		reply()
		return
	}
	abort := func(err error) {
		w.rollback.ExecContext(ctx)
		for i := range batch {
			if done[i] {
				results[i] = result{}
			}
		}
		failAll(err)
		if rerr := w.reload(ctx); rerr != nil {
			w.stale = true
		}
		reply()
	}
	// Another process may have committed since our last batch; our chain
	// head and live actions would then be out of date.
	var v int64
	if err := w.dataVersion.QueryRowContext(ctx).Scan(&v); err != nil {
		abort(err)
		return
	}
	if v != w.version {
		if err := w.reload(ctx); err != nil {
			abort(err)
			return
		}
	}

	// With a single request, rolling back the transaction undoes exactly
	// that request: no savepoint is needed.
	useSavepoint := len(batch) > 1
	for i, r := range batch {
		p, err := w.apply(ctx, r.events)
		if err != nil {
			results[i].err = err
			continue
		}
		if err := w.write(ctx, p, useSavepoint); err != nil {
			if !useSavepoint {
				abort(err)
				return
			}
			if _, rerr := w.rollbackTo.ExecContext(ctx); rerr != nil {
				// The savepoint is gone: SQLite rolled back the whole
				// transaction (it does on some I/O errors).
				abort(err)
				return
			}
			if _, rerr := w.release.ExecContext(ctx); rerr != nil {
				abort(err)
				return
			}
			results[i].err = writeErr(op, err)
			continue
		}
		w.head = p.chain
		for _, t := range p.actions {
			if t.a.Status.Final() {
				delete(w.live, t.a.ID)
			} else {
				a := t.a
				w.live[a.ID] = &a
			}
		}
		results[i].events = p.events
		done[i] = true
	}
	if _, err := w.commitTx.ExecContext(ctx); err != nil {
		abort(err)
		return
	}
	reply()
}

// writeErr is the error for a request whose rows could not be written
// while the transaction survived: an *gatehouse.Error from write itself
// (EINTERNAL) as is, any other failure EUNAVAILABLE.
func writeErr(op string, err error) error {
	var e *gatehouse.Error
	if errors.As(err, &e) {
		return err
	}
	return unavailable(op, err)
}

// apply links events after the current head and folds them into the
// projections, in memory. It returns the error of Action.Apply or
// Agent.Apply, or EUNAVAILABLE if reading the current state failed.
func (w *writer) apply(ctx context.Context, events []gatehouse.Event) (*pending, error) {
	p := &pending{chain: w.head, events: make([]gatehouse.Event, len(events))}
	for i, e := range events {
		e.Time = e.Time.UTC()
		e = p.chain.Link(e)
		switch {
		case e.Type.IsAction():
			t, err := w.action(ctx, p, e.Subject)
			if err != nil {
				return nil, err
			}
			if err := t.a.Apply(e); err != nil {
				return nil, err
			}
		case e.Type.IsAgent():
			t, err := w.agent(ctx, p, e.Subject)
			if err != nil {
				return nil, err
			}
			if err := t.g.Apply(e); err != nil {
				return nil, err
			}
		}
		p.events[i] = e
	}
	return p, nil
}

// action returns the request's working copy of the action id: from an
// earlier event of the same request, else the live map, else the table
// (read inside the transaction, so it includes this batch's earlier
// requests). An unknown id yields a zero Action, which only
// action.requested can follow.
func (w *writer) action(ctx context.Context, p *pending, id string) (*touchedAction, error) {
	if p.byID != nil {
		if t := p.byID[id]; t != nil {
			return t, nil
		}
	} else {
		for _, t := range p.actions {
			if t.id == id {
				return t, nil
			}
		}
	}
	t := &touchedAction{id: id}
	if a := w.live[id]; a != nil {
		t.a, t.stored = *a, true
	} else {
		a, err := scanAction(w.selectAction.QueryRowContext(ctx, id))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, writeErr("sqlite.Append", err)
		default:
			t.a, t.stored = *a, true
		}
	}
	p.actions = append(p.actions, t)
	switch {
	case p.byID != nil:
		p.byID[id] = t
	case len(p.actions) > 8:
		p.byID = make(map[string]*touchedAction, 2*len(p.actions))
		for _, t := range p.actions {
			p.byID[t.id] = t
		}
	}
	return t, nil
}

// agent returns the request's working copy of the agent name. Agent events
// are rare, so there is no cache: the table is read in the transaction.
func (w *writer) agent(ctx context.Context, p *pending, name string) (*touchedAgent, error) {
	for _, t := range p.agents {
		if t.name == name {
			return t, nil
		}
	}
	t := &touchedAgent{name: name}
	g, err := scanAgent(w.selectAgent.QueryRowContext(ctx, name))
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, writeErr("sqlite.Append", err)
	default:
		t.g = *g
	}
	p.agents = append(p.agents, t)
	return t, nil
}

// write stores a pending request's events and projection rows, inside a
// savepoint if useSavepoint. On error the caller undoes the partial write.
func (w *writer) write(ctx context.Context, p *pending, useSavepoint bool) error {
	if useSavepoint {
		if _, err := w.savepoint.ExecContext(ctx); err != nil {
			return err
		}
	}
	for _, e := range p.events {
		if _, err := w.insertEvent.ExecContext(ctx,
			e.Seq, e.Time.UnixNano(), string(e.Type), e.Subject, []byte(e.Data), e.PrevHash, e.Hash); err != nil {
			return err
		}
	}
	for _, t := range p.actions {
		a := &t.a
		doc, err := json.Marshal(a)
		if err != nil {
			return gatehouse.WrapError(gatehouse.EINTERNAL, "sqlite.Append", err, "")
		}
		if t.stored {
			res, err := w.updateAction.ExecContext(ctx, string(a.Status), doc, a.ID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				// The live map said the row exists; it does not. Fail
				// this request rather than lose the update.
				return gatehouse.WrapError(gatehouse.EINTERNAL, "sqlite.Append", err, "action "+a.ID+" vanished from the projection")
			}
		} else {
			if _, err := w.insertAction.ExecContext(ctx,
				a.ID, a.Time.UnixNano(), a.Agent, a.Session, string(a.Status), a.Command, a.Intent, doc); err != nil {
				return err
			}
		}
	}
	for _, t := range p.agents {
		g := &t.g
		doc, err := json.Marshal(g)
		if err != nil {
			return gatehouse.WrapError(gatehouse.EINTERNAL, "sqlite.Append", err, "")
		}
		var revoked sql.NullInt64
		if g.RevokedAt != nil {
			revoked = sql.NullInt64{Int64: g.RevokedAt.UnixNano(), Valid: true}
		}
		if _, err := w.upsertAgent.ExecContext(ctx, g.Name, g.TokenHash, g.CreatedAt.UnixNano(), revoked, doc); err != nil {
			return err
		}
	}
	if useSavepoint {
		if _, err := w.release.ExecContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// nanos converts a filter bound to Unix nanoseconds, clamping times that
// int64 nanoseconds cannot hold (which UnixNano leaves undefined).
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)
