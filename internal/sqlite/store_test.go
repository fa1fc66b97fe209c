package sqlite_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

func TestOpenCreatesPrivateFileInWALMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub dir?#", "g.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s := MustOpenPath(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode %v, want 0600", perm)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	db := rawDB(t, path)
	var mode string
	var version int
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || version != sqlite.SchemaVersion() {
		t.Errorf("journal_mode %q, user_version %d; want wal, %d", mode, version, sqlite.SchemaVersion())
	}
	if sqlite.SchemaVersion() < 1 {
		t.Errorf("SchemaVersion() = %d", sqlite.SchemaVersion())
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := rawDB(t, path).Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	_, err = sqlite.Open(context.Background(), path)
	wantCode(t, err, gatehouse.EINVALID)
	_, err = sqlite.OpenReadOnly(context.Background(), path)
	wantCode(t, err, gatehouse.EINVALID)
}

func TestOpenRejectsNonDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(context.Background(), path)
	wantCode(t, err, gatehouse.EUNAVAILABLE)
}

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")

	_, err := sqlite.OpenReadOnly(ctx, path)
	wantCode(t, err, gatehouse.ENOTFOUND)

	w := MustOpenPath(t, path)
	record(t, w, actionSpec{ID: actionID(1), Agent: "a", Command: "true", At: t0, Status: gatehouse.StatusSucceeded})

	r, err := sqlite.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Action(ctx, actionID(1)); err != nil {
		t.Fatalf("read-only Action: %v", err)
	}
	_, err = r.Append(ctx, event(t, t0, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{}))
	wantCode(t, err, gatehouse.EUNAVAILABLE)

	// Appends committed while the reader is open are visible to it.
	record(t, w, actionSpec{ID: actionID(2), Agent: "a", Command: "true", At: t0.Add(time.Second), Status: gatehouse.StatusFailed})
	if n := checkChain(t, r); n != 8 {
		t.Errorf("read-only store sees %d events, want 8", n)
	}
	if diff := verify(t, r); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}

	// And once the daemon has closed (and removed its -wal and -shm).
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := sqlite.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if n := checkChain(t, r2); n != 8 {
		t.Errorf("read-only store after writer closed sees %d events, want 8", n)
	}
}

func TestColumnsOverwriteDoc(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	record(t, s, actionSpec{ID: actionID(1), Agent: "alice", Session: "s1", Command: "rm -rf /tmp/x", Intent: "clean up", At: t0, Status: gatehouse.StatusSucceeded})
	record(t, s, actionSpec{ID: actionID(2), Agent: "alice", Session: "s1", Command: "ls", Intent: "look", At: t0.Add(time.Second), Status: gatehouse.StatusSucceeded})
	if diff := verify(t, s); len(diff) != 0 {
		t.Fatalf("untampered store differs at %v", diff)
	}
	db := rawDB(t, s.Path())

	// Hide what action 1 did by editing its command column only.
	if _, err := db.Exec("UPDATE actions SET command = 'ls', agent = 'bob', time = time + 1 WHERE id = ?", actionID(1)); err != nil {
		t.Fatal(err)
	}
	a, err := s.Action(ctx, actionID(1))
	if err != nil {
		t.Fatal(err)
	}
	if a.Command != "ls" || a.Agent != "bob" || !a.Time.Equal(t0.Add(time.Nanosecond)) {
		t.Errorf("Action() = command %q agent %q time %v; want the columns' ls, bob, t0+1ns", a.Command, a.Agent, a.Time)
	}
	if a.Intent != "clean up" || a.Stdout != "out of "+actionID(1) {
		t.Errorf("Action() lost the doc's fields: %+v", a)
	}
	as, err := s.Actions(ctx, gatehouse.ActionFilter{Agent: "bob"})
	if err != nil || len(as) != 1 || as[0].Command != "ls" {
		t.Errorf("Actions(bob) = %v, %v", as, err)
	}

	// Editing the doc of action 2 instead.
	if _, err := db.Exec("UPDATE actions SET doc = CAST(replace(CAST(doc AS TEXT), '\"cwd\":\"/work\"', '\"cwd\":\"/elsewhere\"') AS BLOB) WHERE id = ?", actionID(2)); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Action(ctx, actionID(2)); a.Cwd != "/elsewhere" {
		t.Fatalf("doc edit not visible: cwd %q", a.Cwd)
	}
	diff := verify(t, s)
	if len(diff) != 2 {
		t.Errorf("verify found %v, want both tampered actions", diff)
	}

	// A status column edited to running makes the action look live.
	if _, err := db.Exec("UPDATE actions SET status = 'running' WHERE id = ?", actionID(2)); err != nil {
		t.Fatal(err)
	}
	running, err := s.Running(ctx)
	if err != nil || len(running) != 1 || running[0].ID != actionID(2) || running[0].Status != gatehouse.StatusRunning {
		t.Errorf("Running() = %v, %v", running, err)
	}
}

func TestCorruptDoc(t *testing.T) {
	s := MustOpen(t)
	record(t, s, actionSpec{ID: actionID(1), Agent: "a", Command: "true", At: t0, Status: gatehouse.StatusSucceeded})
	if _, err := rawDB(t, s.Path()).Exec("UPDATE actions SET doc = X'7B'"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Action(context.Background(), actionID(1))
	wantCode(t, err, gatehouse.EINTERNAL)
	err = s.ScanActions(context.Background(), func(*gatehouse.Action) error { return nil })
	wantCode(t, err, gatehouse.EINTERNAL)
}

// TestCloseRemovesWAL: a clean Close leaves one self-contained file.
func TestCloseRemovesWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	record(t, s, actionSpec{ID: actionID(1), Agent: "a", Command: "true", At: t0, Status: gatehouse.StatusSucceeded})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, the WAL is still there: %v", err)
	}
}

// TestEventsAsStored: Events returns a tampered row as it is, so that the
// chain check names it.
func TestEventsAsStored(t *testing.T) {
	s := MustOpen(t)
	for i := range 3 {
		record(t, s, actionSpec{ID: actionID(i), Agent: "a", Command: "true", At: t0.Add(time.Duration(i) * time.Second), Status: gatehouse.StatusSucceeded})
	}
	if _, err := rawDB(t, s.Path()).Exec(`UPDATE events SET data = CAST('{"agent":"mallory"}' AS BLOB) WHERE seq = 5`); err != nil {
		t.Fatal(err)
	}
	es := allEvents(t, s)
	if string(es[4].Data) != `{"agent":"mallory"}` {
		t.Errorf("tampered event read as %s", es[4].Data)
	}
	var c gatehouse.Chain
	var cerr error
	for _, e := range es {
		if cerr = c.Check(e); cerr != nil {
			break
		}
	}
	var ce *gatehouse.ChainError
	if !errors.As(cerr, &ce) || ce.Seq != 5 || ce.Reason != "altered" {
		t.Errorf("Check = %v, want event 5 altered", cerr)
	}
}

// The system and risk columns (schema 3) are read over the doc like the
// others: a query's match is what a reader sees, and Verify sees an edit.
func TestSystemRiskColumns(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	record(t, s, actionSpec{ID: actionID(1), Agent: "alice", Command: "psql", At: t0, Status: gatehouse.StatusSucceeded})
	record(t, s, actionSpec{ID: actionID(2), Agent: "alice", Command: "ls", At: t0.Add(time.Second), Status: gatehouse.StatusPending})
	if diff := verify(t, s); len(diff) != 0 {
		t.Fatalf("untampered store differs at %v", diff)
	}
	db := rawDB(t, s.Path())
	// Action 1 has an analysis (risk 5); action 2 none (requested only).
	if _, err := db.Exec("UPDATE actions SET system = 'prod', risk = 90 WHERE id = ?", actionID(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE actions SET risk = 70 WHERE id = ?", actionID(2)); err != nil {
		t.Fatal(err)
	}
	as, err := s.Actions(ctx, gatehouse.ActionFilter{MinRisk: 60})
	if err != nil || len(as) != 2 {
		t.Fatalf("Actions(risk 60) = %v, %v", storetest.IDs(as), err)
	}
	if as[0].System != "prod" || as[0].Risk() != 90 || as[1].Risk() != 70 {
		t.Errorf("readers do not see the columns: system %q risk %d, risk %d", as[0].System, as[0].Risk(), as[1].Risk())
	}
	if diff := verify(t, s); len(diff) != 2 {
		t.Errorf("verify found %v, want both edited actions", diff)
	}
}

// A store written before schema 3 gets the system and risk columns filled
// from its documents when it is opened.
func TestMigrationFillsSystemRisk(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	req := event(t, t0, gatehouse.EventActionRequested, actionID(1), gatehouse.ActionRequested{
		Agent: "alice", Kind: gatehouse.KindShell, Argv: []string{"psql"}, Command: "psql", Cwd: "/", System: "prod-db"})
	dec := event(t, t0, gatehouse.EventActionDecided, actionID(1), gatehouse.ActionDecided{
		Decision: gatehouse.DefaultDecision, Analysis: &gatehouse.Analysis{Class: gatehouse.ClassWrite, Risk: 42}})
	if _, err := s.Append(ctx, req, dec); err != nil {
		t.Fatal(err)
	}
	record(t, s, actionSpec{ID: actionID(2), Agent: "bob", Command: "ls", At: t0.Add(time.Second), Status: gatehouse.StatusPending})
	var docs [][]byte
	for _, id := range []string{actionID(1), actionID(2)} {
		a, err := s.Action(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Back to schema 2, as an older build left it: the whole action in
	// doc, none of the later columns.
	db := rawDB(t, path)
	for i, doc := range docs {
		if _, err := db.Exec("UPDATE actions SET doc = ? WHERE id = ?", doc, actionID(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		"DROP INDEX actions_trace_time",
		"ALTER TABLE actions DROP COLUMN trace_id",
		"ALTER TABLE actions DROP COLUMN outputs",
		"DROP INDEX actions_system_time",
		"ALTER TABLE actions DROP COLUMN system",
		"ALTER TABLE actions DROP COLUMN risk",
		"DROP TABLE secrets",
		"PRAGMA user_version = 2",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s = MustOpenPath(t, path)
	as, err := s.Actions(ctx, gatehouse.ActionFilter{System: "prod-db", MinRisk: 42})
	if err != nil || len(as) != 1 || as[0].ID != actionID(1) {
		t.Fatalf("Actions(prod-db, risk 42) after migration = %v, %v", storetest.IDs(as), err)
	}
	if as, err := s.Actions(ctx, gatehouse.ActionFilter{MinRisk: 1}); err != nil || len(as) != 1 {
		t.Errorf("Actions(risk 1) = %v, %v: the action without analysis has risk 0", storetest.IDs(as), err)
	}
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("migrated store differs at %v", diff)
	}
}
