package gatehouse

import (
	"fmt"
	"sort"
	"time"
)

// RollbackPlan is what rolling back a set of actions takes: the files the
// gateway restores from its snapshots, the undo commands it lists but
// never runs, and what cannot be undone. PlanRollback computes it from the
// actions alone; the daemon then checks it against the workspaces on disk
// (filling FileRestore.Problem) before it carries it out.
type RollbackPlan struct {
	// Actions are the actions that did something a rollback must
	// consider, newest first. Actions that changed nothing are counted in
	// Unchanged.
	Actions []PlannedAction `json:"actions"`
	// Files are the restores, one per path, sorted by workspace and path.
	// Restoring each path to its state before the first rolled-back
	// action that changed it is the same as undoing the actions one by
	// one, newest first — provided nothing else changed the path in
	// between, which Problem reports.
	Files []FileRestore `json:"files"`
	// Undo lists the commands to run by hand for systems the gateway does
	// not snapshot, newest action first.
	Undo []PlannedUndo `json:"undo"`
	// Unchanged counts the selected actions that changed nothing the
	// gateway knows of (reads, and recorded actions with no changes).
	Unchanged int `json:"unchanged"`
}

// PlannedAction is one action in a rollback plan.
type PlannedAction struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Agent   string    `json:"agent"`
	Session string    `json:"session,omitempty"`
	Command string    `json:"command"`
	Class   Class     `json:"class,omitempty"`
	// Files counts its recorded file changes, which the plan's Files
	// restore.
	Files int    `json:"files"`
	Undo  []Undo `json:"undo,omitempty"`
	// Irreversible: its class says it cannot be taken back.
	Irreversible bool `json:"irreversible,omitempty"`
	// Unrecorded: it may have changed something (its class is write or
	// worse) that no workspace snapshot recorded and no undo covers.
	Unrecorded bool `json:"unrecorded,omitempty"`
	// Skipped says why the plan leaves the action out (already rolled
	// back, still running).
	Skipped string `json:"skipped,omitempty"`
	// Problem says why its file changes cannot be rolled back exactly
	// (ambiguous or incomplete effects); it blocks the rollback unless
	// forced.
	Problem string `json:"problem,omitempty"`
}

// PlannedUndo is an undo command of a planned action.
type PlannedUndo struct {
	Action string `json:"action"`
	Undo
}

// RestoreOp is what restoring one path does.
type RestoreOp string

const (
	RestoreRemove  RestoreOp = "remove"  // the path did not exist before: remove it
	RestoreCreate  RestoreOp = "create"  // the path was removed: create it again
	RestoreContent RestoreOp = "restore" // put back its content (and type and mode)
	RestoreMode    RestoreOp = "chmod"   // put back its permission bits
)

// FileRestore is the restore of one path of a workspace.
type FileRestore struct {
	Workspace string    `json:"workspace"`
	Path      string    `json:"path"`
	Op        RestoreOp `json:"op"`
	// Want is the state to restore (the path's state before the first
	// rolled-back action changed it); nil removes the path.
	Want *FileState `json:"want,omitempty"`
	// Expect is the state the last rolled-back action left; nil means it
	// left no such path. Anything else on disk is a change made since by
	// something else, and the restore refuses to overwrite it unless
	// forced.
	Expect *FileState `json:"expect,omitempty"`
	// Actions are the rolled-back actions that changed the path, oldest
	// first.
	Actions []string `json:"actions"`
	// Source names another path of the same workspace that holds the
	// wanted content now, for content the store does not have (a rename
	// undone).
	Source string `json:"source,omitempty"`
	// Problem is why the path cannot be restored as planned: a change by
	// something else in between or since, or content that is not stored.
	Problem string `json:"problem,omitempty"`
	// Done is set once a rollback restored it.
	Done bool `json:"done,omitempty"`
}

// Problems lists what blocks the plan unless forced, a line each.
func (p *RollbackPlan) Problems() []string {
	var out []string
	for _, a := range p.Actions {
		if a.Problem != "" {
			out = append(out, fmt.Sprintf("action %s: %s", a.ID, a.Problem))
		}
	}
	for _, f := range p.Files {
		if f.Problem != "" {
			out = append(out, fmt.Sprintf("%s: %s", joinPath(f.Workspace, f.Path), f.Problem))
		}
	}
	return out
}

// touch is one action's before and after of one path.
type touch struct {
	action        string
	before, after *FileState
}

type pathKey struct{ ws, path string }

// PlanRollback plans the rollback of actions (in any order): every file
// change they recorded, undone newest first; their undo commands; and
// what cannot be undone. Actions that never started are left out; those
// still running or already rolled back are listed as skipped.
func PlanRollback(actions []*Action) *RollbackPlan {
	sorted := append([]*Action(nil), actions...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].Time.Equal(sorted[j].Time) {
			return sorted[i].Time.Before(sorted[j].Time)
		}
		return sorted[i].ID < sorted[j].ID
	})
	plan := &RollbackPlan{Actions: []PlannedAction{}, Files: []FileRestore{}, Undo: []PlannedUndo{}}
	var undos [][]PlannedUndo // by action, oldest first
	touches := map[pathKey][]touch{}
	var order []pathKey
	add := func(k pathKey, t touch) {
		if _, ok := touches[k]; !ok {
			order = append(order, k)
		}
		touches[k] = append(touches[k], t)
	}
	for _, a := range sorted {
		if a.StartedAt == nil {
			continue // it never ran
		}
		pa := PlannedAction{ID: a.ID, Time: a.Time, Agent: a.Agent, Session: a.Session, Command: a.Command,
			Undo: a.Undo, Irreversible: a.Irreversible}
		if a.Analysis != nil {
			pa.Class = a.Analysis.Class
		}
		switch {
		case !a.Status.Final():
			pa.Skipped = "still " + string(a.Status)
		case a.RolledBack != nil:
			pa.Skipped = fmt.Sprintf("already rolled back by %s (rollback %s)", a.RolledBack.By, a.RolledBack.Rollback)
		}
		if pa.Skipped != "" {
			plan.Actions = append(plan.Actions, pa)
			continue
		}
		if e := a.Effects; e != nil {
			pa.Files = len(e.Changes)
			switch {
			case len(e.Ambiguous) > 0:
				pa.Problem = fmt.Sprintf("its effects are ambiguous: %v ran in the same workspace at the same time", e.Ambiguous)
			case e.Error != "":
				pa.Problem = "its effects are incomplete: " + e.Error
			case e.Truncated > 0:
				pa.Problem = fmt.Sprintf("its effects are incomplete: %d changes were not journaled", e.Truncated)
			}
			for _, c := range e.Changes {
				if c.Op == ChangeRenamed {
					add(pathKey{c.Workspace, c.From}, touch{a.ID, c.Before, nil})
					add(pathKey{c.Workspace, c.Path}, touch{a.ID, nil, c.After})
					continue
				}
				add(pathKey{c.Workspace, c.Path}, touch{a.ID, c.Before, c.After})
			}
		}
		hasUndo := false
		var undo []PlannedUndo
		for _, u := range a.Undo {
			undo = append(undo, PlannedUndo{Action: a.ID, Undo: u})
			hasUndo = hasUndo || u.Command != ""
		}
		undos = append(undos, undo)
		writes := a.Analysis == nil || a.Analysis.Class.Severity() >= ClassWrite.Severity()
		pa.Unrecorded = writes && a.Effects == nil && !hasUndo && !a.Irreversible
		if pa.Files == 0 && len(a.Undo) == 0 && !pa.Irreversible && !pa.Unrecorded && pa.Problem == "" {
			plan.Unchanged++
			continue
		}
		plan.Actions = append(plan.Actions, pa)
	}

	for _, k := range order {
		ts := touches[k]
		f := FileRestore{Workspace: k.ws, Path: k.path, Want: ts[0].before, Expect: ts[len(ts)-1].after}
		for i, t := range ts {
			f.Actions = append(f.Actions, t.action)
			if i > 0 && f.Problem == "" && !t.before.Same(ts[i-1].after) {
				f.Problem = fmt.Sprintf("changed by something else between action %s and action %s", ts[i-1].action, t.action)
			}
		}
		if f.Want.Same(f.Expect) {
			continue // the actions together left it as it was
		}
		switch {
		case f.Want == nil:
			f.Op = RestoreRemove
		case f.Expect == nil:
			f.Op = RestoreCreate
		case f.Want.SameContent(f.Expect):
			f.Op = RestoreMode
		default:
			f.Op = RestoreContent
		}
		plan.Files = append(plan.Files, f)
	}
	sort.Slice(plan.Files, func(i, j int) bool {
		if plan.Files[i].Workspace != plan.Files[j].Workspace {
			return plan.Files[i].Workspace < plan.Files[j].Workspace
		}
		return plan.Files[i].Path < plan.Files[j].Path
	})
	// Content the store does not have can come from a path that holds it
	// now (the file a rename moved away).
	for i := range plan.Files {
		f := &plan.Files[i]
		w := f.Want
		if w == nil || w.Type != FileRegular || w.Stored || f.Op == RestoreMode {
			continue
		}
		for _, s := range plan.Files {
			if s.Workspace == f.Workspace && s.Path != f.Path && s.Expect != nil && s.Expect.Type == FileRegular &&
				w.SHA256 != "" && s.Expect.SHA256 == w.SHA256 && s.Expect.Size == w.Size {
				f.Source = s.Path
				break
			}
		}
		if f.Source == "" && f.Problem == "" {
			f.Problem = "not restorable: its content before was not stored (over the store's budget, or unreadable)"
		}
	}
	// Newest first.
	for i, j := 0, len(plan.Actions)-1; i < j; i, j = i+1, j-1 {
		plan.Actions[i], plan.Actions[j] = plan.Actions[j], plan.Actions[i]
	}
	// Newest action first; each action's commands in the order given.
	for i := len(undos) - 1; i >= 0; i-- {
		plan.Undo = append(plan.Undo, undos[i]...)
	}
	return plan
}

func joinPath(ws, p string) string {
	if ws == "" {
		return p
	}
	return ws + "/" + p
}
