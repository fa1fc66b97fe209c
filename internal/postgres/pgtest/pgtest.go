// Package pgtest gives tests a PostgreSQL database of their own on the
// server that .ci/run starts (named by GATEHOUSE_TEST_POSTGRES, a URL of
// a database on it whose user may create databases). Without that
// variable tests skip, except under CI, where they fail: CI must run them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the server's URL.
const EnvVar = "GATEHOUSE_TEST_POSTGRES"

// Base returns the server's URL, skipping tb without it (failing it under
// CI).
func Base(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set: .ci/run starts a PostgreSQL server and names it there", EnvVar)
		}
		tb.Skipf("no PostgreSQL server (set %s)", EnvVar)
	}
	return base
}

// URL creates a new, empty database for tb, dropped when tb ends, and
// returns its URL.
func URL(tb testing.TB) string {
	tb.Helper()
	u, drop, err := Create(context.Background(), Base(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(drop)
	return u
}

// Create creates a new database on the server at base and returns its URL
// and a function that drops it.
func Create(ctx context.Context, base string) (string, func(), error) {
	b := make([]byte, 6)
	rand.Read(b)
	name := "gatehouse_test_" + hex.EncodeToString(b)
	if _, err := exec(ctx, base, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("pgtest: creating a database: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		exec(ctx, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// Exec runs sql on the database at u: how a test tampers with a store
// behind its back. It returns the rows affected.
func Exec(tb testing.TB, u, sql string, args ...any) int64 {
	tb.Helper()
	n, err := exec(context.Background(), u, sql, args...)
	if err != nil {
		tb.Fatalf("pgtest.Exec(%s): %v", sql, err)
	}
	return n
}

// ExecContext is Exec for callers without a testing.TB (test scripts).
func ExecContext(ctx context.Context, u, sql string, args ...any) (int64, error) {
	return exec(ctx, u, sql, args...)
}

func exec(ctx context.Context, u, sql string, args ...any) (int64, error) {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	tag, err := conn.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

// dbname returns the database u names.
func dbname(tb testing.TB, u string) string {
	tb.Helper()
	p, err := url.Parse(u)
	if err != nil || len(p.Path) < 2 {
		tb.Fatalf("pgtest: no database in %s", u)
	}
	return p.Path[1:]
}

// Terminate ends every connection to the database at u (from the server
// at the base URL): what a restart of the server, a failover, or an
// administrator does to the stores connected to it. It returns how many it
// ended.
func Terminate(tb testing.TB, u string) int64 {
	tb.Helper()
	return Exec(tb, Base(tb), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", dbname(tb, u))
}

// Cut makes the database at u refuse new connections and ends the
// existing ones: the database is gone until Restore.
func Cut(tb testing.TB, u string) {
	tb.Helper()
	Exec(tb, Base(tb), "ALTER DATABASE "+pgx.Identifier{dbname(tb, u)}.Sanitize()+" WITH ALLOW_CONNECTIONS false")
	Terminate(tb, u)
}

// Restore lets the database at u take connections again.
func Restore(tb testing.TB, u string) {
	tb.Helper()
	Exec(tb, Base(tb), "ALTER DATABASE "+pgx.Identifier{dbname(tb, u)}.Sanitize()+" WITH ALLOW_CONNECTIONS true")
}
