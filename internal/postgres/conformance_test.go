package postgres_test

import (
	"context"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

// TestStore runs the store conformance suite against a new database per
// test.
func TestStore(t *testing.T) {
	pgtest.Base(t)
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		u := pgtest.URL(t)
		return func(t *testing.T) gatehouse.Store { return mustOpen(t, u) }
	})
}

func TestConcurrentAppendsNoGroupCommit(t *testing.T) {
	storetest.ConcurrentAppends(t, mustOpen(t, pgtest.URL(t), postgres.WithMaxBatch(1)))
}

// mustOpen opens the store at u and closes it when the test ends.
func mustOpen(tb testing.TB, u string, opts ...postgres.Option) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), u, opts...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}
