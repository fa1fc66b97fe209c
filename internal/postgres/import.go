package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse"
)

// ImportReport says what Import copied.
type ImportReport struct {
	Events  int64
	Actions int
	Agents  int
	Secrets int
	Head    gatehouse.Chain
}

// Import copies a journal into this store, which must be empty: each
// event exactly as it is (seq, time, data, hashes — so the chain and its
// hashes are the source's), and the projections rebuilt from the events
// with Action.Apply and Agent.Apply, as appending them would have. events
// calls its argument with each event of the source, by seq (a store's
// Events(ctx, 0, ·)). secrets are the source's sealed secrets (a
// SecretStore's Secrets), copied as they are — ciphertexts included, so
// they open with the source's key and no other; each must be one the
// journal's secret.set and secret.removed events leave set, at the times
// they say, and every secret they leave set must be there. Everything is
// one transaction: a failed import leaves the store empty.
//
// It returns ECONFLICT if the store already holds events, EINVALID if the
// source is not one unbroken chain, holds an event its projection cannot
// follow (naming the event; `gatehouse verify` on the source says more), or
// its secrets are not those its journal says, and EUNAVAILABLE if the
// database fails.
func (s *Store) Import(ctx context.Context, events func(fn func(gatehouse.Event) error) error, secrets []*gatehouse.SealedSecret) (*ImportReport, error) {
	const op = "postgres.Import"
	if s.readOnly {
		return nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "the store is open read-only")
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, readErr(ctx, op, err)
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, readErr(ctx, op, err)
	}
	defer tx.Rollback(context.Background())
	var seq int64
	if err := tx.QueryRow(ctx, "SELECT seq FROM head WHERE id = 1 FOR UPDATE").Scan(&seq); err != nil {
		return nil, readErr(ctx, op, err)
	}
	var used bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM actions) OR EXISTS (SELECT 1 FROM agents) OR EXISTS (SELECT 1 FROM secrets)").Scan(&used); err != nil {
		return nil, readErr(ctx, op, err)
	}
	if seq != 0 || used {
		return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "the store in %s is not empty (its journal is at event %d): migrate copies into an empty store only", s.where, seq)
	}

	rep := &ImportReport{}
	var chain gatehouse.Chain
	live := map[string]*actionState{} // actions not final yet
	agents := map[string]*gatehouse.Agent{}
	set := map[string]*gatehouse.SealedSecret{} // the secrets the journal leaves set: names and times
	var evRows, actRows [][]any
	flush := func() error {
		if len(evRows) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"},
				[]string{"seq", "time", "type", "subject", "data", "prev_hash", "hash", "origin"}, pgx.CopyFromRows(evRows)); err != nil {
				return err
			}
			evRows = evRows[:0]
		}
		if len(actRows) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"actions"},
				[]string{"id", "first_seq", "time", "agent", "session", "status", "command", "intent", "doc", "system", "risk", "trace_id"}, pgx.CopyFromRows(actRows)); err != nil {
				return err
			}
			actRows = actRows[:0]
		}
		return nil
	}
	actionRow := func(st *actionState) ([]any, error) {
		a := &st.a
		doc, err := json.Marshal(a)
		if err != nil {
			return nil, gatehouse.WrapError(gatehouse.EINTERNAL, op, err, "")
		}
		return []any{a.ID, st.first, a.Time.UnixNano(), a.Agent, a.Session, string(a.Status), a.Command, a.Intent, doc,
			a.System, int32(a.Risk()), a.TraceID}, nil
	}
	done := map[string]bool{} // final actions already written
	err = events(func(e gatehouse.Event) error {
		if err := chain.Check(e); err != nil {
			return gatehouse.Errorf(gatehouse.EINVALID, "the source journal is broken: %v (run gatehouse verify on it)", err)
		}
		switch {
		case e.Type.IsAction():
			st := live[e.Subject]
			if st == nil {
				if done[e.Subject] {
					return gatehouse.Errorf(gatehouse.EINVALID, "the source journal is broken: event %d: %s of action %s, which had ended", e.Seq, e.Type, e.Subject)
				}
				st = &actionState{first: e.Seq}
				live[e.Subject] = st
			}
			if err := st.a.Apply(e); err != nil {
				return gatehouse.Errorf(gatehouse.EINVALID, "the source journal is broken: %s", gatehouse.ErrorMessage(err))
			}
			if st.a.Status.Final() {
				row, err := actionRow(st)
				if err != nil {
					return err
				}
				actRows = append(actRows, row)
				delete(live, e.Subject)
				done[e.Subject] = true
				rep.Actions++
			}
		case e.Type.IsAgent():
			g := agents[e.Subject]
			if g == nil {
				g = &gatehouse.Agent{}
				agents[e.Subject] = g
			}
			if err := g.Apply(e); err != nil {
				return gatehouse.Errorf(gatehouse.EINVALID, "the source journal is broken: %s", gatehouse.ErrorMessage(err))
			}
		case e.Type == gatehouse.EventSecretSet:
			if cur := set[e.Subject]; cur != nil {
				cur.UpdatedAt = e.Time
			} else {
				set[e.Subject] = &gatehouse.SealedSecret{Name: e.Subject, CreatedAt: e.Time, UpdatedAt: e.Time}
			}
		case e.Type == gatehouse.EventSecretRemoved:
			delete(set, e.Subject)
		}
		evRows = append(evRows, []any{e.Seq, e.Time.UnixNano(), string(e.Type), e.Subject, []byte(e.Data), e.PrevHash, e.Hash, ""})
		rep.Events++
		if len(evRows) >= 2000 {
			return flush()
		}
		return nil
	})
	if err != nil {
		var ge *gatehouse.Error
		if errors.As(err, &ge) {
			return nil, err
		}
		return nil, readErr(ctx, op, err)
	}
	for _, st := range live {
		row, err := actionRow(st)
		if err != nil {
			return nil, err
		}
		actRows = append(actRows, row)
		rep.Actions++
	}
	if err := flush(); err != nil {
		return nil, readErr(ctx, op, err)
	}
	for _, g := range agents {
		doc, err := json.Marshal(g)
		if err != nil {
			return nil, gatehouse.WrapError(gatehouse.EINTERNAL, op, err, "")
		}
		var rev *int64
		if g.RevokedAt != nil {
			n := g.RevokedAt.UnixNano()
			rev = &n
		}
		if _, err := tx.Exec(ctx, "INSERT INTO agents (name, token_hash, created_at, revoked_at, doc) VALUES ($1, $2, $3, $4, $5)",
			g.Name, g.TokenHash, g.CreatedAt.UnixNano(), rev, doc); err != nil {
			return nil, readErr(ctx, op, err)
		}
		rep.Agents++
	}
	if err := checkSecrets(set, secrets); err != nil {
		return nil, err
	}
	for _, sec := range secrets {
		if _, err := tx.Exec(ctx, "INSERT INTO secrets ("+secretCols+") VALUES ($1, $2, $3, $4, $5)",
			sec.Name, sec.KeyID, sec.Ciphertext, sec.CreatedAt.UnixNano(), sec.UpdatedAt.UnixNano()); err != nil {
			return nil, readErr(ctx, op, err)
		}
		rep.Secrets++
	}
	if _, err := tx.Exec(ctx, "UPDATE head SET seq = $1, hash = $2 WHERE id = 1", chain.Seq, chain.Hash); err != nil {
		return nil, readErr(ctx, op, err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", s.channel, fmt.Sprint(chain.Seq)); err != nil {
		return nil, readErr(ctx, op, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, readErr(ctx, op, err)
	}
	rep.Head = chain
	return rep, nil
}

// checkSecrets returns EINVALID unless got are the secrets want (what the
// journal leaves set), with their times, and each is sealed: a copy that
// `gatehouse verify` would fail is not made.
func checkSecrets(want map[string]*gatehouse.SealedSecret, got []*gatehouse.SealedSecret) error {
	bad := func(format string, args ...any) error {
		return gatehouse.Errorf(gatehouse.EINVALID, "the source's secrets do not match its journal: "+format+" (run gatehouse verify on it)", args...)
	}
	seen := map[string]bool{}
	for _, sec := range got {
		w := want[sec.Name]
		switch {
		case seen[sec.Name]:
			return bad("secret %s is there twice", sec.Name)
		case w == nil:
			return bad("secret %s is not in the journal", sec.Name)
		case !sec.CreatedAt.Equal(w.CreatedAt) || !sec.UpdatedAt.Equal(w.UpdatedAt):
			return bad("secret %s differs in its times", sec.Name)
		case sec.KeyID == "" || len(sec.Ciphertext) == 0:
			return bad("secret %s is not sealed", sec.Name)
		}
		seen[sec.Name] = true
	}
	for name := range want {
		if !seen[name] {
			return bad("secret %s is missing", name)
		}
	}
	return nil
}
