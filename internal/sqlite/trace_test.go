package sqlite_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

func TestActionsByTrace(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	for i := range 5 {
		record(t, s, actionSpec{ID: actionID(i), Agent: "a", Session: "s", Command: "true", At: t0.Add(time.Duration(i) * time.Second), Status: gatehouse.StatusSucceeded})
	}
	for _, tc := range []struct {
		name string
		f    gatehouse.ActionFilter
		want []string
	}{
		{"one", gatehouse.ActionFilter{Trace: traceOf(actionID(3))}, []string{actionID(3)}},
		{"with agent", gatehouse.ActionFilter{Trace: traceOf(actionID(3)), Agent: "a"}, []string{actionID(3)}},
		{"with another agent", gatehouse.ActionFilter{Trace: traceOf(actionID(3)), Agent: "b"}, nil},
		{"outside the window", gatehouse.ActionFilter{Trace: traceOf(actionID(3)), Since: t0.Add(4 * time.Second)}, nil},
		{"unknown", gatehouse.ActionFilter{Trace: traceOf("nobody")}, nil},
	} {
		as, err := s.Actions(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := storetest.IDs(as); !reflect.DeepEqual(got, tc.want) && (len(got) != 0 || len(tc.want) != 0) {
			t.Errorf("%s: Actions = %v, want %v", tc.name, got, tc.want)
		}
		for _, a := range as {
			if a.TraceID != tc.f.Trace {
				t.Errorf("%s: action %s has trace %s", tc.name, a.ID, a.TraceID)
			}
		}
	}
	// The filter holds a trace id exactly as the journal does: anything
	// else is refused, not silently matched against nothing.
	for _, bad := range []string{"x", traceOf("a")[:31], "4BF92F3577B34DA6A3CE929D0E0E4736", "00-" + traceOf("a") + "-00f067aa0ba902b7-01"} {
		_, err := s.Actions(ctx, gatehouse.ActionFilter{Trace: bad})
		wantCode(t, err, gatehouse.EINVALID)
	}
}

// A tampered trace_id column shows in what readers see, and so in Verify.
func TestTraceColumnTamperShows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	s := MustOpenPath(t, path)
	record(t, s, actionSpec{ID: actionID(1), Agent: "a", Command: "true", At: t0, Status: gatehouse.StatusSucceeded})
	if _, err := rawDB(t, path).Exec("UPDATE actions SET trace_id = ? WHERE id = ?", traceOf("other"), actionID(1)); err != nil {
		t.Fatal(err)
	}
	a, err := s.Action(ctx, actionID(1))
	if err != nil || a.TraceID != traceOf("other") {
		t.Fatalf("Action = %+v, %v; want the column's trace id", a, err)
	}
	if diff := verify(t, s); !reflect.DeepEqual(diff, []string{actionID(1)}) {
		t.Errorf("verify: %v, want the tampered action", diff)
	}
}

// Migration 3 fills trace_id from the documents of a store written before
// it had the column.
func TestMigrationBackfillsTrace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	record(t, s, actionSpec{ID: actionID(1), Agent: "a", Command: "true", At: t0, Status: gatehouse.StatusSucceeded})
	record(t, s, actionSpec{ID: actionID(2), Agent: "a", Command: "true", At: t0.Add(time.Second), Status: gatehouse.StatusRunning})
	before := map[string]*gatehouse.Action{}
	for _, id := range []string{actionID(1), actionID(2)} {
		a, err := s.Action(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		before[id] = a
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Back to schema version 4, as an older build left it: the whole
	// action in doc, no trace_id or outputs columns.
	db := rawDB(t, path)
	for id, a := range before {
		doc, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("UPDATE actions SET doc = ? WHERE id = ?", doc, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"DROP INDEX actions_trace_time", "ALTER TABLE actions DROP COLUMN trace_id",
		"ALTER TABLE actions DROP COLUMN outputs", "PRAGMA user_version = 4"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s = MustOpenPath(t, path)
	for id, want := range before {
		if got, err := s.Action(ctx, id); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("after migration, Action(%s) = %+v, %v; want %+v", id, got, err, want)
		}
	}
	// The running one ends: its row is rewritten in the new layout.
	fin := event(t, t0.Add(2*time.Second), gatehouse.EventActionFinished, actionID(2), gatehouse.ActionFinished{Status: gatehouse.StatusSucceeded, Stdout: "done"})
	if _, err := s.Append(ctx, fin); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{actionID(1), actionID(2)} {
		as, err := s.Actions(ctx, gatehouse.ActionFilter{Trace: traceOf(id)})
		if err != nil || len(as) != 1 || as[0].ID != id {
			t.Errorf("after migration, Actions(trace of %s) = %v, %v", id, storetest.IDs(as), err)
		}
	}
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("projection differs after migration: %v", diff)
	}
}

func TestHead(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	_, err := s.Head(ctx)
	wantCode(t, err, gatehouse.ENOTFOUND)
	record(t, s, actionSpec{ID: actionID(1), Agent: "a", Command: "true", At: t0, Status: gatehouse.StatusSucceeded})
	es := allEvents(t, s)
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := es[len(es)-1]; !reflect.DeepEqual(head, last) {
		t.Errorf("Head() = %+v, want the last event %+v", head, last)
	}
}

// Brief reads leave the outputs out, in either layout of a row (outputs
// in their column, or in the document as rows older than migration 6
// have them); full reads have them, in either.
func TestBrief(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	s := MustOpenPath(t, path)
	record(t, s, actionSpec{ID: actionID(1), Agent: "a", Command: "echo one", At: t0, Status: gatehouse.StatusSucceeded})
	record(t, s, actionSpec{ID: actionID(2), Agent: "a", Command: "echo two", At: t0.Add(time.Second), Status: gatehouse.StatusFailed})
	full, err := s.Actions(ctx, gatehouse.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	// Row 2 in the old layout.
	doc, _ := json.Marshal(full[1])
	if _, err := rawDB(t, path).Exec("UPDATE actions SET doc = ?, outputs = NULL WHERE id = ?", doc, actionID(2)); err != nil {
		t.Fatal(err)
	}
	again, err := s.Actions(ctx, gatehouse.ActionFilter{})
	if err != nil || !reflect.DeepEqual(again, full) {
		t.Fatalf("full read after rewriting a row in the old layout: %v", err)
	}
	if full[0].Stdout == "" || len(full[0].Argv) == 0 {
		t.Fatalf("the fixture's actions have no outputs: %+v", full[0])
	}
	br, err := s.Actions(ctx, gatehouse.ActionFilter{Brief: true})
	if err != nil || len(br) != 2 {
		t.Fatalf("Brief: %v, %v", br, err)
	}
	for i, a := range br {
		if a.Stdout != "" || a.Stderr != "" || a.Argv != nil || a.Response != "" || a.Input != nil || a.Analysis.Commands != nil {
			t.Errorf("brief action %s has outputs: %+v", a.ID, a)
		}
		want := *full[i]
		want.Argv, want.Stdout, want.Stderr, want.Response, want.Input = nil, "", "", "", nil
		an := *want.Analysis
		an.Commands = nil
		want.Analysis = &an
		if !reflect.DeepEqual(*a, want) {
			t.Errorf("brief action %s differs from the full one beyond its outputs:\n%+v\n%+v", a.ID, *a, want)
		}
	}
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("verify: %v", diff)
	}
	// A tampered outputs column shows in full reads, so in Verify.
	if _, err := rawDB(t, path).Exec(`UPDATE actions SET outputs = CAST('{"stdout":"forged"}' AS BLOB) WHERE id = ?`, actionID(1)); err != nil {
		t.Fatal(err)
	}
	if diff := verify(t, s); !reflect.DeepEqual(diff, []string{actionID(1)}) {
		t.Errorf("verify after tampering with outputs: %v", diff)
	}
}
