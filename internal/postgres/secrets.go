package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse"
)

var (
	_ gatehouse.SecretStore = (*Store)(nil)
	_ gatehouse.SecretStore = snapshot{}
)

// secretOp is a change to the secrets table that a request makes along
// with its event: a sealed secret to store, or a name to remove. It rides
// in the request's transaction (transact), under the head lock, so that
// it is committed with its event or not at all, and a retry after a lost
// COMMIT answer finds out whether both are in before doing either again.
type secretOp struct {
	put *gatehouse.SealedSecret
	del string
}

func (op *secretOp) name() string {
	if op.put != nil {
		return op.put.Name
	}
	return op.del
}

// PutSecret implements gatehouse.SecretStore. ev must be the secret.set
// event of s, at s.UpdatedAt (EINVALID otherwise).
func (s *Store) PutSecret(ctx context.Context, sec *gatehouse.SealedSecret, ev gatehouse.Event) (gatehouse.Event, error) {
	switch {
	case sec == nil || len(sec.Ciphertext) == 0 || sec.KeyID == "":
		return gatehouse.Event{}, gatehouse.Errorf(gatehouse.EINVALID, "postgres.PutSecret: nothing sealed")
	case ev.Type != gatehouse.EventSecretSet || ev.Subject != sec.Name:
		return gatehouse.Event{}, gatehouse.Errorf(gatehouse.EINVALID, "postgres.PutSecret: the event is not the secret.set of %s", sec.Name)
	case !ev.Time.Equal(sec.UpdatedAt):
		return gatehouse.Event{}, gatehouse.Errorf(gatehouse.EINVALID, "postgres.PutSecret: the event's time is not the secret's")
	}
	if err := gatehouse.ValidateSecretName(sec.Name); err != nil {
		return gatehouse.Event{}, err
	}
	c := *sec
	c.Ciphertext = append([]byte(nil), sec.Ciphertext...)
	return s.secretChange(ctx, ev, &secretOp{put: &c})
}

// DeleteSecret implements gatehouse.SecretStore.
func (s *Store) DeleteSecret(ctx context.Context, name string, ev gatehouse.Event) (gatehouse.Event, error) {
	if ev.Type != gatehouse.EventSecretRemoved || ev.Subject != name {
		return gatehouse.Event{}, gatehouse.Errorf(gatehouse.EINVALID, "postgres.DeleteSecret: the event is not the secret.removed of %s", name)
	}
	return s.secretChange(ctx, ev, &secretOp{del: name})
}

func (s *Store) secretChange(ctx context.Context, ev gatehouse.Event, op *secretOp) (gatehouse.Event, error) {
	evs, err := s.submit(ctx, &request{events: []gatehouse.Event{ev}, secret: op})
	if err != nil {
		return gatehouse.Event{}, err
	}
	return evs[0], nil
}

// checkSecret is transact's check that op can be applied, against the
// secrets the batch's transaction found (and the batch's earlier requests
// left): a secret to remove must exist.
func (w *working) checkSecret(op *secretOp) error {
	if op.del != "" && !w.secrets[op.del] {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "secret %q not found", op.del)
	}
	return nil
}

// applySecret records that op is part of the batch.
func (w *working) applySecret(op *secretOp) {
	w.secrets[op.name()] = op.put != nil
	w.secretOps = append(w.secretOps, op)
}

// queueSecrets adds the batch's secret changes to b, in request order.
func (w *working) queueSecrets(b *pgx.Batch) {
	for _, op := range w.secretOps {
		if p := op.put; p != nil {
			// A secret set again keeps the time it was first set.
			b.Queue(`INSERT INTO secrets (name, key_id, ciphertext, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
				ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
				p.Name, p.KeyID, p.Ciphertext, p.UpdatedAt.UnixNano())
			continue
		}
		b.Queue("DELETE FROM secrets WHERE name = $1", op.del)
	}
}

const secretCols = "name, key_id, ciphertext, created_at, updated_at"

func scanSecret(sc scanner) (*gatehouse.SealedSecret, error) {
	var (
		sec              gatehouse.SealedSecret
		created, updated int64
	)
	if err := sc.Scan(&sec.Name, &sec.KeyID, &sec.Ciphertext, &created, &updated); err != nil {
		return nil, err
	}
	sec.CreatedAt, sec.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return &sec, nil
}

// Secret implements gatehouse.SecretStore.
func (r reader) Secret(ctx context.Context, name string) (*gatehouse.SealedSecret, error) {
	var sec *gatehouse.SealedSecret
	err := r.read(ctx, "postgres.Secret", func(*bool) error {
		var err error
		sec, err = scanSecret(r.q.QueryRow(ctx, "SELECT "+secretCols+" FROM secrets WHERE name = $1", name))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "secret %q not found", name)
	}
	if err != nil {
		return nil, err
	}
	return sec, nil
}

// Secrets implements gatehouse.SecretStore.
func (r reader) Secrets(ctx context.Context) ([]*gatehouse.SealedSecret, error) {
	var out []*gatehouse.SealedSecret
	err := r.read(ctx, "postgres.Secrets", func(*bool) error {
		out = nil
		rows, err := r.q.Query(ctx, "SELECT "+secretCols+" FROM secrets ORDER BY name COLLATE \"C\"")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			sec, err := scanSecret(rows)
			if err != nil {
				return err
			}
			out = append(out, sec)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutSecret is refused: a snapshot is read-only.
func (snapshot) PutSecret(context.Context, *gatehouse.SealedSecret, gatehouse.Event) (gatehouse.Event, error) {
	return gatehouse.Event{}, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "a snapshot is read-only")
}

// DeleteSecret is refused: a snapshot is read-only.
func (snapshot) DeleteSecret(context.Context, string, gatehouse.Event) (gatehouse.Event, error) {
	return gatehouse.Event{}, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "a snapshot is read-only")
}
