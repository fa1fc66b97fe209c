package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse"
)

// Snapshot calls fn with a read-only view of the store as of one moment:
// every read through it sees the same committed state, however much the
// replicas append meanwhile. `gatehouse verify` reads through one, so that
// the events it replays and the projection it compares them with are of
// the same moment. The view must not be used after fn returns; its Append
// returns EUNAVAILABLE and its reads are not safe for concurrent use.
func (s *Store) Snapshot(ctx context.Context, fn func(gatehouse.Store) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return readErr(ctx, "postgres.Snapshot", err)
	}
	defer conn.Release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return readErr(ctx, "postgres.Snapshot", err)
	}
	defer tx.Rollback(context.Background())
	return fn(snapshot{reader{q: tx}})
}

type snapshot struct{ reader }

var _ gatehouse.Store = snapshot{}

func (snapshot) Append(context.Context, ...gatehouse.Event) ([]gatehouse.Event, error) {
	return nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "a snapshot is read-only")
}

func (snapshot) Close() error { return nil }
