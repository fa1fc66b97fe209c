package gatehouse_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

const ws = "/ws"

func file(sum, mode string, stored bool) *gatehouse.FileState {
	return &gatehouse.FileState{Type: gatehouse.FileRegular, Mode: mode, Size: int64(len(sum)), SHA256: sum, Stored: stored}
}

func dir(mode string) *gatehouse.FileState {
	return &gatehouse.FileState{Type: gatehouse.FileDir, Mode: mode}
}

func change(op gatehouse.ChangeOp, p string, before, after *gatehouse.FileState) gatehouse.FileChange {
	return gatehouse.FileChange{Workspace: ws, Path: p, Op: op, Before: before, After: after}
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// act is a finished action at minute n with the given changes.
func act(id string, n int, changes ...gatehouse.FileChange) *gatehouse.Action {
	at := t0.Add(time.Duration(n) * time.Minute)
	code := 0
	a := &gatehouse.Action{ID: id, Time: at, Agent: "a", Command: "cmd " + id, Status: gatehouse.StatusSucceeded,
		StartedAt: &at, FinishedAt: &at, ExitCode: &code,
		Analysis: &gatehouse.Analysis{Class: gatehouse.ClassWrite}}
	if changes != nil {
		a.Effects = &gatehouse.Effects{Workspaces: []string{ws}, Changes: changes}
	}
	return a
}

func TestPlanRollbackFiles(t *testing.T) {
	v1, v2, v3 := file("aaa1", "0644", true), file("bbb2", "0644", true), file("ccc3", "0644", true)
	type want struct {
		path    string
		op      gatehouse.RestoreOp
		want    *gatehouse.FileState
		expect  *gatehouse.FileState
		problem string // substring; "" for none
		source  string
	}
	for _, tc := range []struct {
		name    string
		actions []*gatehouse.Action
		want    []want
	}{
		{"modified", []*gatehouse.Action{act("A", 1, change(gatehouse.ChangeModified, "f", v1, v2))},
			[]want{{"f", gatehouse.RestoreContent, v1, v2, "", ""}}},
		{"created is removed", []*gatehouse.Action{act("A", 1, change(gatehouse.ChangeCreated, "f", nil, v1))},
			[]want{{"f", gatehouse.RestoreRemove, nil, v1, "", ""}}},
		{"deleted is created", []*gatehouse.Action{act("A", 1, change(gatehouse.ChangeDeleted, "f", v1, nil))},
			[]want{{"f", gatehouse.RestoreCreate, v1, nil, "", ""}}},
		{"mode", []*gatehouse.Action{act("A", 1, change(gatehouse.ChangeMode, "f", v1, file("aaa1", "0755", true)))},
			[]want{{"f", gatehouse.RestoreMode, v1, file("aaa1", "0755", true), "", ""}}},
		{"dir created", []*gatehouse.Action{act("A", 1, change(gatehouse.ChangeCreated, "d", nil, dir("0755")), change(gatehouse.ChangeCreated, "d/x", nil, v1))},
			[]want{{"d", gatehouse.RestoreRemove, nil, dir("0755"), "", ""}, {"d/x", gatehouse.RestoreRemove, nil, v1, "", ""}}},
		{"rename is undone from the store", []*gatehouse.Action{act("A", 1, gatehouse.FileChange{Workspace: ws, Op: gatehouse.ChangeRenamed, From: "h", Path: "i", Before: v1, After: v1})},
			[]want{{"h", gatehouse.RestoreCreate, v1, nil, "", ""}, {"i", gatehouse.RestoreRemove, nil, v1, "", ""}}},
		{"rename of unstored content takes it from where it went",
			[]*gatehouse.Action{act("A", 1, gatehouse.FileChange{Workspace: ws, Op: gatehouse.ChangeRenamed, From: "h", Path: "i", Before: file("big", "0644", false), After: file("big", "0644", false)})},
			[]want{{"h", gatehouse.RestoreCreate, file("big", "0644", false), nil, "", "i"}, {"i", gatehouse.RestoreRemove, nil, file("big", "0644", false), "", ""}}},
		{"unstored content is not restorable", []*gatehouse.Action{act("A", 1, change(gatehouse.ChangeModified, "f", file("big", "0644", false), v2))},
			[]want{{"f", gatehouse.RestoreContent, file("big", "0644", false), v2, "not restorable", ""}}},
		{"two actions: back to the first's before, expecting the last's after",
			[]*gatehouse.Action{act("B", 2, change(gatehouse.ChangeModified, "f", v2, v3)), act("A", 1, change(gatehouse.ChangeModified, "f", v1, v2))},
			[]want{{"f", gatehouse.RestoreContent, v1, v3, "", ""}}},
		{"a change in between by something else",
			[]*gatehouse.Action{act("A", 1, change(gatehouse.ChangeModified, "f", v1, v2)), act("C", 3, change(gatehouse.ChangeModified, "f", v3, v1))},
			nil}, // want v1 == expect v1: nothing to restore
		{"a change in between is a problem",
			[]*gatehouse.Action{act("A", 1, change(gatehouse.ChangeModified, "f", v1, v2)), act("C", 3, change(gatehouse.ChangeModified, "f", v3, file("ddd4", "0644", true)))},
			[]want{{"f", gatehouse.RestoreContent, v1, file("ddd4", "0644", true), "changed by something else between action A and action C", ""}}},
		{"created then deleted: nothing to do",
			[]*gatehouse.Action{act("A", 1, change(gatehouse.ChangeCreated, "f", nil, v1)), act("B", 2, change(gatehouse.ChangeDeleted, "f", v1, nil))},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := gatehouse.PlanRollback(tc.actions)
			if len(plan.Files) != len(tc.want) {
				t.Fatalf("%d restores, want %d: %+v", len(plan.Files), len(tc.want), plan.Files)
			}
			for i, w := range tc.want {
				f := plan.Files[i]
				if f.Path != w.path || f.Op != w.op || !f.Want.Same(w.want) || !f.Expect.Same(w.expect) || f.Source != w.source {
					t.Errorf("restore %d = %s %s want %+v expect %+v source %q; want %s %s %+v %+v %q", i,
						f.Op, f.Path, f.Want, f.Expect, f.Source, w.op, w.path, w.want, w.expect, w.source)
				}
				if (w.problem == "") != (f.Problem == "") || !strings.Contains(f.Problem, w.problem) {
					t.Errorf("restore %d (%s): problem %q, want %q", i, f.Path, f.Problem, w.problem)
				}
			}
		})
	}
}

func TestPlanRollbackActions(t *testing.T) {
	irr := act("POST", 1)
	irr.Irreversible = true
	irr.Analysis.Class = gatehouse.ClassIrreversible
	kube := act("KUBE", 2)
	kube.Undo = []gatehouse.Undo{{Template: "kubectl rollout undo deployment/{name}", Command: "kubectl rollout undo deployment/web"}}
	unrecorded := act("MAKE", 3)
	read := act("LS", 4)
	read.Analysis.Class = gatehouse.ClassRead
	none := act("NOOP", 5, []gatehouse.FileChange{}...)
	none.Effects = &gatehouse.Effects{Workspaces: []string{ws}, Changes: []gatehouse.FileChange{}}
	amb := act("AMB", 6, change(gatehouse.ChangeCreated, "f", nil, file("aaa1", "0644", true)))
	amb.Effects.Ambiguous = []string{"OTHER"}
	done := act("DONE", 7, change(gatehouse.ChangeCreated, "g", nil, file("aaa1", "0644", true)))
	done.RolledBack = &gatehouse.RolledBack{Rollback: "R1", By: "admin"}
	running := act("RUN", 8)
	running.Status, running.FinishedAt = gatehouse.StatusRunning, nil
	denied := act("DENIED", 9)
	denied.StartedAt, denied.Status = nil, gatehouse.StatusDenied

	plan := gatehouse.PlanRollback([]*gatehouse.Action{irr, kube, unrecorded, read, none, amb, done, running, denied})
	var got []string
	for _, a := range plan.Actions {
		s := a.ID
		switch {
		case a.Skipped != "":
			s += " skipped"
		case a.Problem != "":
			s += " problem"
		case a.Irreversible:
			s += " irreversible"
		case len(a.Undo) > 0:
			s += " undo"
		case a.Unrecorded:
			s += " unrecorded"
		case a.Files > 0:
			s += " files"
		}
		got = append(got, s)
	}
	want := "RUN skipped,DONE skipped,AMB problem,MAKE unrecorded,KUBE undo,POST irreversible"
	if strings.Join(got, ",") != want {
		t.Errorf("actions = %s\nwant      %s", strings.Join(got, ","), want)
	}
	if plan.Unchanged != 2 {
		t.Errorf("unchanged = %d, want 2 (LS, NOOP)", plan.Unchanged)
	}
	if len(plan.Undo) != 1 || plan.Undo[0].Action != "KUBE" || plan.Undo[0].Command != "kubectl rollout undo deployment/web" {
		t.Errorf("undo = %+v", plan.Undo)
	}
	// The ambiguous action's file is planned, and the plan has a problem.
	if len(plan.Files) != 1 || plan.Files[0].Path != "f" {
		t.Errorf("files = %+v, want f only (g's action was rolled back already)", plan.Files)
	}
	if p := plan.Problems(); len(p) != 1 || !strings.Contains(p[0], "ambiguous") {
		t.Errorf("problems = %q", p)
	}
}

func TestApplyRolledBack(t *testing.T) {
	ev := func(seq int64, typ gatehouse.EventType, data any) gatehouse.Event {
		e, err := gatehouse.NewEvent(t0.Add(time.Duration(seq)*time.Second), typ, "A", data)
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = seq
		return e
	}
	a := &gatehouse.Action{}
	rb := ev(9, gatehouse.EventActionRolledBack, gatehouse.ActionRolledBack{Rollback: "R", By: "admin"})
	steps := []gatehouse.Event{
		ev(1, gatehouse.EventActionRequested, gatehouse.ActionRequested{Agent: "a", Command: "x"}),
		ev(2, gatehouse.EventActionDecided, gatehouse.ActionDecided{Decision: gatehouse.DefaultDecision,
			Undo: []gatehouse.Undo{{Template: "t", Command: "t"}}, Irreversible: true}),
	}
	for _, e := range steps {
		if err := a.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if len(a.Undo) != 1 || !a.Irreversible {
		t.Errorf("decided: undo %v irreversible %v", a.Undo, a.Irreversible)
	}
	if err := a.Apply(rb); gatehouse.ErrorCode(err) != gatehouse.ECONFLICT {
		t.Errorf("rolling back a pending action: %v, want ECONFLICT", err)
	}
	fx := &gatehouse.Effects{Workspaces: []string{ws}, Changes: []gatehouse.FileChange{change(gatehouse.ChangeCreated, "f", nil, file("x", "0644", true))}}
	for _, e := range []gatehouse.Event{
		ev(3, gatehouse.EventActionStarted, gatehouse.ActionStarted{}),
		ev(4, gatehouse.EventActionFinished, gatehouse.ActionFinished{Status: gatehouse.StatusSucceeded, Effects: fx}),
	} {
		if err := a.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if a.Effects == nil || len(a.Effects.Changes) != 1 {
		t.Errorf("effects = %+v", a.Effects)
	}
	if err := a.Apply(rb); err != nil {
		t.Fatal(err)
	}
	if a.RolledBack == nil || a.RolledBack.Rollback != "R" || !a.RolledBack.Time.Equal(rb.Time) {
		t.Errorf("rolled back = %+v", a.RolledBack)
	}
	if err := a.Apply(ev(10, gatehouse.EventActionRolledBack, gatehouse.ActionRolledBack{Rollback: "R2"})); gatehouse.ErrorCode(err) != gatehouse.ECONFLICT {
		t.Errorf("second rollback: %v, want ECONFLICT", err)
	}
}
