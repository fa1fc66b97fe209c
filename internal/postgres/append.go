package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-dev/gatehouse"
)

// request is one Append call.
type request struct {
	events []gatehouse.Event
	fence  *gatehouse.Fence
	// secret, if set, is written in the same transaction as events (see
	// secrets.go).
	secret *secretOp
	reply  chan result // buffered (1)
}

type result struct {
	events []gatehouse.Event
	err    error
}

// Append links events into the journal, applies them to the projections
// and returns them once committed. See gatehouse.Store.Append.
//
// ctx bounds only the wait for the store to take the call. Once taken, the
// call waits for its transaction — retrying it, on a new connection if the
// old one broke, for up to the write timeout — so that its answer is the
// truth: an error means nothing was appended, except for an error that
// wraps gatehouse.ErrOutcomeUnknown (the database stopped answering in the
// middle of the commit and did not come back in time).
//
// Besides Apply's errors it returns EINVALID for an event no store could
// keep faithfully, EUNAVAILABLE if the journal cannot be written or the
// store is closed or read-only, and ctx.Err() if ctx ends first.
func (s *Store) Append(ctx context.Context, events ...gatehouse.Event) ([]gatehouse.Event, error) {
	return s.append(ctx, nil, events)
}

// AppendUnless is Append with a precondition: it appends nothing and
// returns gatehouse.ErrFenced if an event of one of f.Types was appended
// after f.After (or comes before these in the same commit).
func (s *Store) AppendUnless(ctx context.Context, f gatehouse.Fence, events ...gatehouse.Event) ([]gatehouse.Event, error) {
	return s.append(ctx, &f, events)
}

func (s *Store) append(ctx context.Context, f *gatehouse.Fence, events []gatehouse.Event) ([]gatehouse.Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	return s.submit(ctx, &request{events: events, fence: f})
}

// submit validates r's events, hands r to the writer and waits for its
// answer.
func (s *Store) submit(ctx context.Context, r *request) ([]gatehouse.Event, error) {
	events := r.events
	if s.readOnly {
		return nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "the store is open read-only")
	}
	for i := range events {
		if err := validateEvent(&events[i]); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.reply = make(chan result, 1)
	select {
	case s.reqs <- r:
	case <-s.closing:
		return nil, &gatehouse.Error{Code: gatehouse.EUNAVAILABLE, Op: "postgres.Append", Message: "the store is closed"}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res := <-r.reply
	return res.events, res.err
}

func validateEvent(e *gatehouse.Event) error {
	if e.Type == "" {
		return gatehouse.Errorf(gatehouse.EINVALID, "event has no type")
	}
	// The hash covers Time.UnixNano(), and the store keeps Unix
	// nanoseconds: a time that does not survive the round trip would
	// break the chain.
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

// run is the writer goroutine: it takes the requests waiting, commits them
// in one transaction (group commit), answers, and takes the next ones.
// While a transaction is in flight new requests wait, so batches grow with
// load and a lone request is committed at once.
func (s *Store) run() {
	defer close(s.done)
	for {
		var batch []*request
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.closing:
			return
		}
	more:
		for len(batch) < s.opts.maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		s.commit(batch)
	}
}

// failure says how a transaction failed.
type failure int

const (
	failNone   failure = iota
	failServer         // the server refused a statement: rolled back
	failConn           // the connection failed before COMMIT: rolled back
	failDoubt          // the connection failed during COMMIT: unknown
)

// doubt is a transaction whose COMMIT got no answer: it committed if the
// event at seq has hash.
type doubt struct {
	seq     int64
	hash    string
	results []result
	settled bool // found not to have committed
}

// commit commits the batch and answers its requests. A transaction that
// fails because the database cannot be reached is retried (after a pause
// that grows) until the write timeout; one the server refuses is split, so
// that one bad request fails alone. A commit whose answer was lost is
// resolved by the next attempt, under the head lock, before anything is
// linked again: so a retry never appends twice.
func (s *Store) commit(batch []*request) {
	deadline := time.Now().Add(s.opts.writeTimeout)
	groups := [][]*request{batch}
	for len(groups) > 0 {
		group := groups[0]
		groups = groups[1:]
		var dbt *doubt
		var lastErr error
		pause := 10 * time.Millisecond
		for {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			results, fail, last, err := s.transact(ctx, group, dbt)
			cancel()
			if fail == failNone {
				for i, r := range group {
					r.reply <- results[i]
				}
				break
			}
			lastErr = err
			if dbt != nil && dbt.settled {
				dbt = nil
			}
			if fail == failServer && dbt != nil {
				// Refused before the doubt was settled: splitting would
				// link the requests again without knowing whether they
				// are in. Keep trying as for a lost connection.
				fail = failConn
			}
			if fail == failServer {
				if len(group) > 1 {
					// Split: each request alone, in order.
					var alone [][]*request
					for _, r := range group {
						alone = append(alone, []*request{r})
					}
					groups = append(alone, groups...)
				} else {
					group[0].reply <- result{err: unavailable("postgres.Append", err)}
				}
				break
			}
			if fail == failDoubt {
				dbt = &doubt{seq: last.Seq, hash: last.Hash, results: results}
			}
			if time.Now().Add(pause).After(deadline) {
				for _, r := range group {
					e := unavailable("postgres.Append", lastErr)
					if dbt != nil {
						e = unavailable("postgres.Append", errors.Join(gatehouse.ErrOutcomeUnknown, lastErr))
						e.(*gatehouse.Error).Message = "the journal is unavailable; whether this write took place is unknown"
					}
					r.reply <- result{err: e}
				}
				s.opts.log.Error("journal write failed", "requests", len(group), "err", lastErr, "outcome unknown", dbt != nil)
				break
			}
			s.opts.log.Warn("journal write failed; retrying", "err", lastErr, "in", pause)
			time.Sleep(pause)
			pause = min(2*pause, time.Second)
		}
	}
}

// working is a batch's view of the rows its requests touch: what the table
// held when the transaction locked the head, with each applied request's
// changes on top.
type working struct {
	actions map[string]*actionState
	agents  map[string]*agentState
	order   []string // actions in the order first touched
	agOrder []string
	// secrets says, of each secret a request of the batch changes, whether
	// it exists; secretOps are the changes of the requests applied, in
	// order.
	secrets   map[string]bool
	secretOps []*secretOp
}

type actionState struct {
	a      gatehouse.Action
	stored bool  // a row exists in the table
	first  int64 // seq of its action.requested
	dirty  bool
}

type agentState struct {
	g     gatehouse.Agent
	dirty bool
}

// transact runs one transaction for group. On failNone, results answers
// each request. On failDoubt, results is what the answers would have been
// and last the last event written, so that the next attempt can tell
// whether it committed.
func (s *Store) transact(ctx context.Context, group []*request, dbt *doubt) (results []result, fail failure, last gatehouse.Event, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, failConn, gatehouse.Event{}, err
	}
	defer conn.Release()
	// The transaction is opened by the first round trip and committed by
	// the second; unless it committed, end it before the connection goes
	// back to the pool.
	committed := false
	defer func() {
		if !committed && !conn.Conn().IsClosed() && conn.Conn().PgConn().TxStatus() != 'I' {
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.writeTimeout)
			defer cancel()
			if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
				conn.Conn().Close(ctx)
			}
		}
	}()
	tx := conn

	// One round trip: begin, lock the head (every writer of every replica
	// waits here, so what follows sees all that committed before), settle
	// a doubt, check fences, and read the rows the requests touch.
	var ids, names, secretNames []string
	seenID, seenName, seenSecret := map[string]bool{}, map[string]bool{}, map[string]bool{}
	fenceTypes := map[gatehouse.EventType]bool{}
	for _, r := range group {
		for _, e := range r.events {
			switch {
			case e.Type.IsAction() && !seenID[e.Subject]:
				seenID[e.Subject] = true
				ids = append(ids, e.Subject)
			case e.Type.IsAgent() && !seenName[e.Subject]:
				seenName[e.Subject] = true
				names = append(names, e.Subject)
			}
		}
		if r.fence != nil {
			for _, t := range r.fence.Types {
				fenceTypes[t] = true
			}
		}
		if r.secret != nil && !seenSecret[r.secret.name()] {
			seenSecret[r.secret.name()] = true
			secretNames = append(secretNames, r.secret.name())
		}
	}
	var types []gatehouse.EventType
	for t := range fenceTypes {
		types = append(types, t)
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SELECT seq, hash FROM head WHERE id = 1 FOR UPDATE")
	if dbt != nil {
		b.Queue("SELECT hash FROM events WHERE seq = $1", dbt.seq)
	}
	for _, t := range types {
		b.Queue("SELECT coalesce(max(seq), 0) FROM events WHERE type = $1", string(t))
	}
	if len(ids) > 0 {
		b.Queue("SELECT "+actionCols+", first_seq FROM actions WHERE id = ANY($1)", ids)
	}
	if len(names) > 0 {
		b.Queue("SELECT "+agentCols+" FROM agents WHERE name = ANY($1)", names)
	}
	if len(secretNames) > 0 {
		b.Queue("SELECT name FROM secrets WHERE name = ANY($1)", secretNames)
	}
	br := tx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, classify(err), gatehouse.Event{}, err
	}
	var head gatehouse.Chain
	if err := br.QueryRow().Scan(&head.Seq, &head.Hash); err != nil {
		br.Close()
		return nil, classify(err), gatehouse.Event{}, err
	}
	if dbt != nil {
		var h string
		err := br.QueryRow().Scan(&h)
		switch {
		case err == nil && h == dbt.hash:
			// It committed: answer as the first attempt should have.
			br.Close()
			return dbt.results, failNone, gatehouse.Event{}, nil
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			br.Close()
			return nil, classify(err), gatehouse.Event{}, err
		}
		// It did not: go on as if it had never been tried.
		dbt.settled = true
	}
	maxSeq := map[gatehouse.EventType]int64{}
	for _, t := range types {
		var n int64
		if err := br.QueryRow().Scan(&n); err != nil {
			br.Close()
			return nil, classify(err), gatehouse.Event{}, err
		}
		maxSeq[t] = n
	}
	w := &working{actions: map[string]*actionState{}, agents: map[string]*agentState{}, secrets: map[string]bool{}}
	if len(ids) > 0 {
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return nil, classify(err), gatehouse.Event{}, err
		}
		for rows.Next() {
			var c actionRow
			var first int64
			if err := rows.Scan(&c.id, &c.time, &c.agent, &c.session, &c.status, &c.command, &c.intent, &c.trace, &c.doc, &first); err != nil {
				rows.Close()
				br.Close()
				return nil, classify(err), gatehouse.Event{}, err
			}
			a, err := c.decode()
			if err != nil {
				rows.Close()
				br.Close()
				return nil, failServer, gatehouse.Event{}, err
			}
			w.actions[a.ID] = &actionState{a: *a, stored: true, first: first}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			br.Close()
			return nil, classify(err), gatehouse.Event{}, err
		}
	}
	if len(names) > 0 {
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return nil, classify(err), gatehouse.Event{}, err
		}
		for rows.Next() {
			g, err := scanAgent(rows)
			if err != nil {
				rows.Close()
				br.Close()
				return nil, classify(err), gatehouse.Event{}, err
			}
			w.agents[g.Name] = &agentState{g: *g}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			br.Close()
			return nil, classify(err), gatehouse.Event{}, err
		}
	}
	if len(secretNames) > 0 {
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return nil, classify(err), gatehouse.Event{}, err
		}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				br.Close()
				return nil, classify(err), gatehouse.Event{}, err
			}
			w.secrets[name] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			br.Close()
			return nil, classify(err), gatehouse.Event{}, err
		}
	}
	if err := br.Close(); err != nil {
		return nil, classify(err), gatehouse.Event{}, err
	}

	// Link and apply each request in order; one that Apply or its fence
	// rejects is answered with that error and leaves no trace.
	results = make([]result, len(group))
	var all []gatehouse.Event
	for i, r := range group {
		if r.fence != nil {
			fenced := false
			for _, t := range r.fence.Types {
				if maxSeq[t] > r.fence.After {
					fenced = true
				}
			}
			if fenced {
				results[i].err = gatehouse.ErrFenced
				continue
			}
		}
		if r.secret != nil {
			if err := w.checkSecret(r.secret); err != nil {
				results[i].err = err
				continue
			}
		}
		linked, err := w.apply(&head, r.events)
		if err != nil {
			results[i].err = err
			continue
		}
		if r.secret != nil {
			w.applySecret(r.secret)
		}
		results[i].events = linked
		all = append(all, linked...)
		for _, e := range linked {
			if t := e.Type; fenceTypes[t] {
				maxSeq[t] = e.Seq // fences later requests of this batch too
			}
		}
	}
	if len(all) == 0 {
		return results, failNone, gatehouse.Event{}, nil
	}
	// The second round trip writes and commits.
	if err := s.write(ctx, tx, w, all, head); err != nil {
		var pe *pgconn.PgError
		var ge *gatehouse.Error
		switch {
		case errors.As(err, &pe) && !fatal(pe), errors.As(err, &ge):
			// The server refused a statement (so it never reached the
			// COMMIT), or a row was not what it must be.
			return nil, classify(err), gatehouse.Event{}, err
		case pgconn.SafeToRetry(err):
			return nil, failConn, gatehouse.Event{}, err // never sent
		}
		// The connection failed with the COMMIT sent, or may have.
		return results, failDoubt, all[len(all)-1], err
	}
	committed = true
	return results, failNone, gatehouse.Event{}, nil
}

// classify tells a failure worth retrying (see transient) from a refusal
// (an SQL error, or a row that is not what it must be), for a transaction
// that did not reach COMMIT.
func classify(err error) failure {
	if transient(err) {
		return failConn
	}
	return failServer
}

// apply links events after head and folds them into copies of the rows
// they touch; only if every event applies are the copies kept and head
// advanced.
func (w *working) apply(head *gatehouse.Chain, events []gatehouse.Event) ([]gatehouse.Event, error) {
	chain := *head
	linked := make([]gatehouse.Event, len(events))
	acts := map[string]*actionState{}
	ags := map[string]*agentState{}
	var newActs, newAgs []string
	for i, e := range events {
		e.Time = e.Time.UTC()
		e = chain.Link(e)
		switch {
		case e.Type.IsAction():
			st := acts[e.Subject]
			if st == nil {
				st = &actionState{}
				if cur := w.actions[e.Subject]; cur != nil {
					*st = *cur
				} else {
					newActs = append(newActs, e.Subject)
				}
				acts[e.Subject] = st
			}
			if st.a.ID == "" && e.Type == gatehouse.EventActionRequested {
				st.first = e.Seq
			}
			if err := st.a.Apply(e); err != nil {
				return nil, err
			}
			st.dirty = true
		case e.Type.IsAgent():
			st := ags[e.Subject]
			if st == nil {
				st = &agentState{}
				if cur := w.agents[e.Subject]; cur != nil {
					*st = *cur
				} else {
					newAgs = append(newAgs, e.Subject)
				}
				ags[e.Subject] = st
			}
			if err := st.g.Apply(e); err != nil {
				return nil, err
			}
			st.dirty = true
		}
		linked[i] = e
	}
	for id, st := range acts {
		w.actions[id] = st
	}
	for name, st := range ags {
		w.agents[name] = st
	}
	w.order = append(w.order, newActs...)
	w.agOrder = append(w.agOrder, newAgs...)
	*head = chain
	return linked, nil
}

// write stores the batch's events and the rows they changed, moves the
// head, notifies the other replicas and commits, in one round trip. An
// error from it may have come before the COMMIT, from it, or after it.
func (s *Store) write(ctx context.Context, tx *pgxpool.Conn, w *working, all []gatehouse.Event, head gatehouse.Chain) error {
	n := len(all)
	seqs, times := make([]int64, n), make([]int64, n)
	typs, subjects, prevs, hashes := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	datas := make([][]byte, n)
	for i, e := range all {
		seqs[i], times[i], typs[i], subjects[i] = e.Seq, e.Time.UnixNano(), string(e.Type), e.Subject
		datas[i], prevs[i], hashes[i] = e.Data, e.PrevHash, e.Hash
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO events (seq, time, type, subject, data, prev_hash, hash, origin)
		SELECT s, t, ty, su, d, p, h, $8 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[]) AS u(s, t, ty, su, d, p, h)`,
		seqs, times, typs, subjects, datas, prevs, hashes, s.opts.replica)

	var (
		insID, insAgent, insSession, insStatus, insCommand, insIntent, insSystem, insTrace []string
		insFirst, insTime                                                                  []int64
		insRisk, updRisk                                                                   []int32
		insDoc                                                                             [][]byte
		updID, updStatus                                                                   []string
		updDoc                                                                             [][]byte
	)
	for _, id := range append(w.storedOrder(), w.order...) {
		st := w.actions[id]
		if st == nil || !st.dirty {
			continue
		}
		doc, err := json.Marshal(&st.a)
		if err != nil {
			return gatehouse.WrapError(gatehouse.EINTERNAL, "postgres.Append", err, "")
		}
		a := &st.a
		if st.stored {
			updID, updStatus, updDoc = append(updID, a.ID), append(updStatus, string(a.Status)), append(updDoc, doc)
			updRisk = append(updRisk, int32(a.Risk()))
			continue
		}
		insID, insFirst, insTime = append(insID, a.ID), append(insFirst, st.first), append(insTime, a.Time.UnixNano())
		insAgent, insSession, insStatus = append(insAgent, a.Agent), append(insSession, a.Session), append(insStatus, string(a.Status))
		insCommand, insIntent, insDoc = append(insCommand, a.Command), append(insIntent, a.Intent), append(insDoc, doc)
		insSystem, insRisk, insTrace = append(insSystem, a.System), append(insRisk, int32(a.Risk())), append(insTrace, a.TraceID)
	}
	if len(insID) > 0 {
		b.Queue(`INSERT INTO actions (id, first_seq, time, agent, session, status, command, intent, doc, system, risk, trace_id)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::text[], $11::integer[], $12::text[])`,
			insID, insFirst, insTime, insAgent, insSession, insStatus, insCommand, insIntent, insDoc, insSystem, insRisk, insTrace)
	}
	updIndex := -1
	if len(updID) > 0 {
		// Only status, risk (set by action.decided) and doc change after
		// action.requested.
		updIndex = b.Len()
		b.Queue(`UPDATE actions SET status = u.status, doc = u.doc, risk = u.risk
			FROM unnest($1::text[], $2::text[], $3::bytea[], $4::integer[]) AS u(id, status, doc, risk) WHERE actions.id = u.id`,
			updID, updStatus, updDoc, updRisk)
	}
	var (
		agName, agHash []string
		agCreated      []int64
		agRevoked      []*int64
		agDoc          [][]byte
	)
	for _, st := range w.agents {
		if !st.dirty {
			continue
		}
		g := &st.g
		doc, err := json.Marshal(g)
		if err != nil {
			return gatehouse.WrapError(gatehouse.EINTERNAL, "postgres.Append", err, "")
		}
		var rev *int64
		if g.RevokedAt != nil {
			n := g.RevokedAt.UnixNano()
			rev = &n
		}
		agName, agHash, agCreated = append(agName, g.Name), append(agHash, g.TokenHash), append(agCreated, g.CreatedAt.UnixNano())
		agRevoked, agDoc = append(agRevoked, rev), append(agDoc, doc)
	}
	if len(agName) > 0 {
		b.Queue(`INSERT INTO agents (name, token_hash, created_at, revoked_at, doc)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bytea[])
			ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at,
				revoked_at = excluded.revoked_at, doc = excluded.doc`,
			agName, agHash, agCreated, agRevoked, agDoc)
	}
	w.queueSecrets(b)
	b.Queue("UPDATE head SET seq = $1, hash = $2 WHERE id = 1", head.Seq, head.Hash)
	b.Queue("SELECT pg_notify($1, $2)", s.channel, strconv.FormatInt(head.Seq, 10))
	commitIndex := b.Len()
	b.Queue("COMMIT")
	br := tx.SendBatch(ctx, b)
	for i := range b.Len() {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return err
		}
		if i == updIndex && tag.RowsAffected() != int64(len(updID)) {
			br.Close()
			return gatehouse.Errorf(gatehouse.EINTERNAL, "an action row vanished from the projection while it was locked")
		}
		if i == commitIndex && tag.String() != "COMMIT" {
			br.Close()
			return gatehouse.Errorf(gatehouse.EINTERNAL, "the transaction did not commit: %s", tag)
		}
	}
	return br.Close()
}

// storedOrder returns the ids of the touched actions that have rows.
func (w *working) storedOrder() []string {
	var ids []string
	for id, st := range w.actions {
		if st.stored {
			ids = append(ids, id)
		}
	}
	return ids
}
