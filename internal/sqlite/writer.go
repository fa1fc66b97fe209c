package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse"
)

// writer is the committer: it owns the write connection and the chain
// head as the database has it. Only its loop goroutine uses it, apart from
// gen, which the sequencer reads.
type writer struct {
	conn      *sql.Conn
	committed func() // called after each COMMIT

	begin, commitTx, rollback      *sql.Stmt
	savepoint, release, rollbackTo *sql.Stmt
	dataVersion                    *sql.Stmt
	insertEvent                    *sql.Stmt
	insertAction, updateAction     *sql.Stmt
	selectAction                   *sql.Stmt
	upsertAgent, selectAgent       *sql.Stmt
	selectHead, selectLive         *sql.Stmt
	upsertSecret, deleteSecret     *sql.Stmt
	selectSecret                   *sql.Stmt
	insertEventsN                  [maxEventRows + 1]*sql.Stmt // by number of rows, prepared on first use
	stmts                          []*sql.Stmt

	head gatehouse.Chain
	// version is PRAGMA data_version as of the last time head was known
	// to match the database. It changes when another connection (another
	// process) commits, and then head is reloaded.
	version int64
	// stale means head may not match the database (a commit failed and
	// so did the reload): reload before the next batch.
	stale bool
	// gen counts the times the database stopped matching what the
	// sequencer was told to expect; see sequencer.go.
	gen atomic.Uint64
}

func newWriter(ctx context.Context, conn *sql.Conn, committed func()) (*writer, error) {
	w := &writer{conn: conn, committed: committed}
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
		// DO NOTHING makes a duplicate id an answer (no row inserted)
		// rather than an error: the sequencer takes an action.requested
		// for an id it does not hold to be new, and this checks it.
		{&w.insertAction, "INSERT INTO actions (id, time, agent, session, status, command, intent, system, risk, trace_id, doc, outputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"},
		// Only status, risk (decided after the request, in the same
		// batch or a later one), doc and outputs change after
		// action.requested: leaving the other columns out of SET spares
		// SQLite the index updates (risk has no index).
		{&w.updateAction, "UPDATE actions SET status = ?, risk = ?, doc = ?, outputs = ? WHERE id = ?"},
		{&w.selectAction, "SELECT " + actionCols + " FROM actions WHERE id = ?"},
		{&w.upsertAgent, "INSERT INTO agents (name, token_hash, created_at, revoked_at, doc) VALUES (?, ?, ?, ?, ?) " +
			"ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at, revoked_at = excluded.revoked_at, doc = excluded.doc"},
		{&w.selectAgent, "SELECT " + agentCols + " FROM agents WHERE name = ?"},
		{&w.selectHead, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"},
		{&w.selectLive, "SELECT " + actionCols + " FROM actions WHERE status IN ('pending', 'running')"},
		// A secret set again keeps the time it was first set.
		{&w.upsertSecret, "INSERT INTO secrets (name, key_id, ciphertext, created_at, updated_at) VALUES (?, ?, ?, ?, ?) " +
			"ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at"},
		{&w.deleteSecret, "DELETE FROM secrets WHERE name = ?"},
		{&w.selectSecret, "SELECT 1 FROM secrets WHERE name = ?"},
	} {
		st, err := conn.PrepareContext(ctx, p.query)
		if err != nil {
			w.close()
			return nil, err
		}
		*p.dst = st
		w.stmts = append(w.stmts, st)
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

// reload reads the chain head from the database.
func (w *writer) reload(ctx context.Context) error {
	var head gatehouse.Chain
	err := w.selectHead.QueryRowContext(ctx).Scan(&head.Seq, &head.Hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var v int64
	if err := w.dataVersion.QueryRowContext(ctx).Scan(&v); err != nil {
		return err
	}
	w.head, w.version, w.stale = head, v, false
	return nil
}

// loadLive reads the pending and running actions.
func (w *writer) loadLive(ctx context.Context) (map[string]*gatehouse.Action, error) {
	rows, err := w.selectLive.QueryContext(ctx)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	live := make(map[string]*gatehouse.Action)
	for rows.Next() {
		a, err := scanActionRows(rows)
		if err != nil {
			return nil, err
		}
		live[a.ID] = a
	}
	return live, rows.Err()
}

// loop is the committer goroutine: it commits the sequencer's batches in
// order until the sequencer closes the channel.
func (w *writer) loop(batches <-chan *batch, done chan<- struct{}) {
	defer close(done)
	for b := range batches {
		if b.sync != nil {
			w.sync(b.sync)
			continue
		}
		w.commit(b)
	}
}

// sync answers the sequencer's request for the committer's state. Every
// batch before it has been committed, or failed.
func (w *writer) sync(st *syncState) {
	defer close(st.done)
	ctx := context.Background()
	st.gen = w.gen.Load()
	if w.stale {
		if err := w.reload(ctx); err != nil {
			st.err = err
			return
		}
	}
	st.head = w.head
	st.live, st.err = w.loadLive(ctx)
}

// commit writes a batch in one transaction and answers its requests once
// the transaction is committed, which is the fsync they share.
//
// A batch as sequenced is written as it is, without savepoints: any
// failure sends it to the slow path, which has them. A request whose rows
// fail there is answered with the error and undone alone, the others
// kept; a request that Apply rejects never reaches SQL.
func (w *writer) commit(b *batch) {
	ctx := context.Background() // a shared commit is never abandoned for one caller
	results := make([]result, len(b.reqs))
	reply := func() {
		for i, r := range b.reqs {
			r.reply <- results[i]
		}
	}
	// abort gives up on the transaction: every request not already
	// failed by its own error gets EUNAVAILABLE.
	abort := func(err error) {
		w.rollback.ExecContext(ctx)
		for i := range results {
			if results[i].err == nil {
				results[i] = result{err: unavailable("sqlite.Append", err)}
			}
		}
		w.gen.Add(1)
		if rerr := w.reload(ctx); rerr != nil {
			w.stale = true
		}
		reply()
	}

	changed, err := w.beginTx(ctx)
	if err != nil {
		abort(err)
		return
	}
	fast := !b.slow && !changed && b.gen == w.gen.Load() && b.base == w.head
	if fast {
		if err := w.writeAll(ctx, b); err != nil {
			// If ROLLBACK fails, so does the BEGIN below.
			w.rollback.ExecContext(ctx)
			fast = false
			if _, err := w.beginTx(ctx); err != nil {
				abort(err)
				return
			}
		}
	}
	if fast {
		for i, p := range b.ps {
			if p != nil {
				results[i].events = p.events
			} else {
				results[i].err = b.errs[i]
			}
		}
		w.head = b.head
	} else {
		if !b.slow && b.gen == w.gen.Load() {
			// What the sequencer expects is no longer what is stored.
			w.gen.Add(1)
		}
		if err := w.slow(ctx, b.reqs, results); err != nil {
			abort(err)
			return
		}
	}
	if _, err := w.commitTx.ExecContext(ctx); err != nil {
		abort(err)
		return
	}
	reply()
	w.committed()
}

// beginTx starts a write transaction and makes sure w.head matches the
// database: reloading it after a failure left it in doubt, or when
// another connection (another process) has committed since. changed
// reports a reload.
func (w *writer) beginTx(ctx context.Context) (changed bool, err error) {
	if w.stale {
		w.rollback.ExecContext(ctx) // a failure may have left a transaction open
	}
	if _, err := w.begin.ExecContext(ctx); err != nil {
		w.stale = true
		return false, err
	}
	var v int64
	if err := w.dataVersion.QueryRowContext(ctx).Scan(&v); err != nil {
		return false, err
	}
	if w.stale || v != w.version {
		if err := w.reload(ctx); err != nil {
			return false, err
		}
		w.gen.Add(1)
		return true, nil
	}
	return false, nil
}

// writeAll writes a sequenced batch's rows: the events of all its
// requests with multi-row INSERTs (a statement costs more than a row),
// then the projection rows.
func (w *writer) writeAll(ctx context.Context, b *batch) error {
	var es []gatehouse.Event
	for _, p := range b.ps {
		if p != nil {
			es = append(es, p.events...)
		}
	}
	for len(es) > 0 {
		n := min(len(es), maxEventRows)
		st, err := w.insertEvents(ctx, n)
		if err != nil {
			return err
		}
		args := make([]any, 0, 7*n)
		for _, e := range es[:n] {
			args = append(args, e.Seq, e.Time.UnixNano(), string(e.Type), e.Subject, []byte(e.Data), e.PrevHash, e.Hash)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
		es = es[n:]
	}
	for _, p := range b.ps {
		if p == nil {
			continue
		}
		if err := w.writeRows(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// maxEventRows is the most rows one INSERT into events takes (7 values a
// row, well under SQLite's limit of 32766 variables).
const maxEventRows = 64

// insertEvents returns the prepared statement that inserts n events.
func (w *writer) insertEvents(ctx context.Context, n int) (*sql.Stmt, error) {
	if st := w.insertEventsN[n]; st != nil {
		return st, nil
	}
	var q strings.Builder
	q.WriteString("INSERT INTO events (seq, time, type, subject, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)")
	for range n - 1 {
		q.WriteString(", (?, ?, ?, ?, ?, ?, ?)")
	}
	st, err := w.conn.PrepareContext(ctx, q.String())
	if err != nil {
		return nil, err
	}
	w.insertEventsN[n] = st
	w.stmts = append(w.stmts, st)
	return st, nil
}

// slow applies and writes requests one by one against the table, each in
// a savepoint. It returns an error if the transaction is lost.
func (w *writer) slow(ctx context.Context, reqs []*request, results []result) error {
	// With a single request, rolling back the transaction undoes exactly
	// that request: no savepoint is needed.
	useSavepoint := len(reqs) > 1
	for i, r := range reqs {
		p, err := w.apply(ctx, r.events)
		if err == nil && r.secret != nil {
			err = w.checkSecret(ctx, r.secret)
		}
		if err != nil {
			results[i].err = err
			continue
		}
		p.secret = r.secret
		p.marshal()
		if err := w.write(ctx, p, useSavepoint); err != nil {
			if !useSavepoint {
				return err
			}
			if _, rerr := w.rollbackTo.ExecContext(ctx); rerr != nil {
				// The savepoint is gone: SQLite rolled back the whole
				// transaction (it does on some I/O errors).
				return err
			}
			if _, rerr := w.release.ExecContext(ctx); rerr != nil {
				return err
			}
			results[i].err = writeErr("sqlite.Append", err)
			continue
		}
		w.head = p.chain
		results[i].events = p.events
	}
	return nil
}

// writeErr is the error for a request whose rows could not be written
// while the transaction survived: an *gatehouse.Error from write itself
// (EINTERNAL) as is, any other failure EUNAVAILABLE.
func writeErr(op string, err error) error {
	var e *gatehouse.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, errExists) {
		return gatehouse.WrapError(gatehouse.EINTERNAL, op, err, "the projection holds an action the journal does not know")
	}
	return unavailable(op, err)
}

// apply links events after the committer's head and folds them into the
// projections, reading the current state of each action and agent from
// the table (inside the transaction, so it includes the batch's earlier
// requests). An unknown id yields a zero value, which only
// action.requested or agent.added can follow.
//
// It returns the error of Action.Apply or Agent.Apply, or EUNAVAILABLE if
// reading the current state failed.
func (w *writer) apply(ctx context.Context, events []gatehouse.Event) (*pending, error) {
	p := &pending{chain: w.head, events: make([]gatehouse.Event, len(events))}
	for i, e := range events {
		e.Time = e.Time.UTC()
		e = p.chain.Link(e)
		switch {
		case e.Type.IsAction():
			t := p.find(e.Subject)
			if t == nil {
				t = &touchedAction{id: e.Subject}
				a, err := scanAction(w.selectAction.QueryRowContext(ctx, e.Subject))
				switch {
				case errors.Is(err, sql.ErrNoRows):
				case err != nil:
					return nil, writeErr("sqlite.Append", err)
				default:
					t.a, t.stored = *a, true
				}
				p.add(t)
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

// agent returns the request's working copy of the agent name.
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

// errExists reports that an INSERT found the action already stored.
var errExists = errors.New("action row already exists")

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
	if err := w.writeRows(ctx, p); err != nil {
		return err
	}
	if err := w.writeSecret(ctx, p.secret); err != nil {
		return err
	}
	if useSavepoint {
		if _, err := w.release.ExecContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// writeRows writes a pending request's projection rows.
func (w *writer) writeRows(ctx context.Context, p *pending) error {
	for _, t := range p.actions {
		a := &t.a
		if t.err != nil {
			return gatehouse.WrapError(gatehouse.EINTERNAL, "sqlite.Append", t.err, "")
		}
		if t.stored {
			res, err := w.updateAction.ExecContext(ctx, string(a.Status), a.Risk(), t.doc, t.out, a.ID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				// The sequencer held the action as live; the row is gone.
				return gatehouse.WrapError(gatehouse.EINTERNAL, "sqlite.Append", err, "action "+a.ID+" vanished from the projection")
			}
			continue
		}
		res, err := w.insertAction.ExecContext(ctx,
			a.ID, a.Time.UnixNano(), a.Agent, a.Session, string(a.Status), a.Command, a.Intent, a.System, a.Risk(), a.TraceID, t.doc, t.out)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errExists
		}
	}
	for _, t := range p.agents {
		g := &t.g
		if t.err != nil {
			return gatehouse.WrapError(gatehouse.EINTERNAL, "sqlite.Append", t.err, "")
		}
		var revoked sql.NullInt64
		if g.RevokedAt != nil {
			revoked = sql.NullInt64{Int64: g.RevokedAt.UnixNano(), Valid: true}
		}
		if _, err := w.upsertAgent.ExecContext(ctx, g.Name, g.TokenHash, g.CreatedAt.UnixNano(), revoked, t.doc); err != nil {
			return err
		}
	}
	return nil
}
