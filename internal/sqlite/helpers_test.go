package sqlite_test

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

// t0 is the time the tests' journals start at.
var t0 = storetest.T0

// MustOpen opens a store in a new file under tb.TempDir and closes it
// when the test ends.
func MustOpen(tb testing.TB, opts ...sqlite.Option) *sqlite.Store {
	tb.Helper()
	return MustOpenPath(tb, filepath.Join(tb.TempDir(), "gatehouse.db"), opts...)
}

// MustOpenPath opens the store at path and closes it when the test ends.
func MustOpenPath(tb testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), path, opts...)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens the store's file with plain SQL, as a tamperer would.
func rawDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: "_pragma=busy_timeout(5000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func event(tb testing.TB, at time.Time, typ gatehouse.EventType, subject string, data any) gatehouse.Event {
	tb.Helper()
	return storetest.Event(tb, at, typ, subject, data)
}

type actionSpec = storetest.Action

func record(tb testing.TB, s gatehouse.Store, a actionSpec) {
	tb.Helper()
	storetest.Record(tb, s, a)
}

func agentAdded(tb testing.TB, at time.Time, name, token string) gatehouse.Event {
	return storetest.AgentAdded(tb, at, name, token)
}

func tokenHash(token string) string { return storetest.TokenHash(token) }

// traceOf is the trace id the tests give action id.
func traceOf(id string) string { return storetest.TraceOf(id) }

func allEvents(tb testing.TB, s gatehouse.Store) []gatehouse.Event {
	tb.Helper()
	return storetest.AllEvents(tb, s)
}

func checkChain(tb testing.TB, s gatehouse.Store) int {
	tb.Helper()
	return storetest.CheckChain(tb, s)
}

func verify(tb testing.TB, s gatehouse.Store) []string {
	tb.Helper()
	return storetest.Verify(tb, s)
}

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	storetest.WantCode(tb, err, code)
}

func actionID(n int) string { return storetest.ActionID(n) }
