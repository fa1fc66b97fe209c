package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

var _ gatehouse.SecretStore = (*Store)(nil)

// secretOp is a change to the secrets table that a request makes along
// with its events: a sealed secret to store, or a name to remove.
type secretOp struct {
	put *gatehouse.SealedSecret
	del string
}

// PutSecret implements gatehouse.SecretStore. ev must be the secret.set
// event of s, at s.UpdatedAt (EINVALID otherwise).
func (s *Store) PutSecret(ctx context.Context, sec *gatehouse.SealedSecret, ev gatehouse.Event) (gatehouse.Event, error) {
	switch {
	case sec == nil || len(sec.Ciphertext) == 0 || sec.KeyID == "":
		return gatehouse.Event{}, gatehouse.Errorf(gatehouse.EINVALID, "sqlite.PutSecret: nothing sealed")
	case ev.Type != gatehouse.EventSecretSet || ev.Subject != sec.Name:
		return gatehouse.Event{}, gatehouse.Errorf(gatehouse.EINVALID, "sqlite.PutSecret: the event is not the secret.set of %s", sec.Name)
	case !ev.Time.Equal(sec.UpdatedAt):
		return gatehouse.Event{}, gatehouse.Errorf(gatehouse.EINVALID, "sqlite.PutSecret: the event's time is not the secret's")
	}
	if err := gatehouse.ValidateSecretName(sec.Name); err != nil {
		return gatehouse.Event{}, err
	}
	c := *sec
	return s.secretChange(ctx, ev, &secretOp{put: &c})
}

// DeleteSecret implements gatehouse.SecretStore.
func (s *Store) DeleteSecret(ctx context.Context, name string, ev gatehouse.Event) (gatehouse.Event, error) {
	if ev.Type != gatehouse.EventSecretRemoved || ev.Subject != name {
		return gatehouse.Event{}, gatehouse.Errorf(gatehouse.EINVALID, "sqlite.DeleteSecret: the event is not the secret.removed of %s", name)
	}
	return s.secretChange(ctx, ev, &secretOp{del: name})
}

func (s *Store) secretChange(ctx context.Context, ev gatehouse.Event, op *secretOp) (gatehouse.Event, error) {
	if s.readOnly {
		return gatehouse.Event{}, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "the store is open read-only")
	}
	if err := validateEvent(&ev); err != nil {
		return gatehouse.Event{}, err
	}
	evs, err := s.submit(ctx, &request{events: []gatehouse.Event{ev}, secret: op})
	if err != nil {
		return gatehouse.Event{}, err
	}
	return evs[0], nil
}

// checkSecret is the committer's check that op can be applied: a secret
// to remove must exist.
func (w *writer) checkSecret(ctx context.Context, op *secretOp) error {
	if op.del == "" {
		return nil
	}
	var one int
	err := w.selectSecret.QueryRowContext(ctx, op.del).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "secret %q not found", op.del)
	case err != nil:
		return writeErr("sqlite.DeleteSecret", err)
	}
	return nil
}

// writeSecret writes op, if any, inside the request's transaction.
func (w *writer) writeSecret(ctx context.Context, op *secretOp) error {
	switch {
	case op == nil:
		return nil
	case op.put != nil:
		p := op.put
		_, err := w.upsertSecret.ExecContext(ctx, p.Name, p.KeyID, p.Ciphertext, p.UpdatedAt.UnixNano(), p.UpdatedAt.UnixNano())
		return err
	default:
		_, err := w.deleteSecret.ExecContext(ctx, op.del)
		return err
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
func (s *Store) Secret(ctx context.Context, name string) (*gatehouse.SealedSecret, error) {
	sec, err := scanSecret(s.rdb.QueryRowContext(ctx, "SELECT "+secretCols+" FROM secrets WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "secret %q not found", name)
	}
	if err != nil {
		return nil, readErr(ctx, "sqlite.Secret", err)
	}
	return sec, nil
}

// Secrets implements gatehouse.SecretStore.
func (s *Store) Secrets(ctx context.Context) ([]*gatehouse.SealedSecret, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+secretCols+" FROM secrets ORDER BY name")
	if err != nil {
		return nil, readErr(ctx, "sqlite.Secrets", err)
	}
	defer rows.Close()
	var out []*gatehouse.SealedSecret
	for rows.Next() {
		sec, err := scanSecret(rows)
		if err != nil {
			return nil, readErr(ctx, "sqlite.Secrets", err)
		}
		out = append(out, sec)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr(ctx, "sqlite.Secrets", err)
	}
	return out, nil
}
