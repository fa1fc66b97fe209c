package gateway

import (
	"context"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/redact"
)

// Diff returns what action id changed, file by file, with unified diffs
// of text made from the stored content. The value of every secret the
// gateway holds is redacted from the diffs (an action may have written a
// credential into a file); if the secrets cannot be opened to do so, the
// diffs are withheld. ENOTFOUND for an unknown action.
func (g *Gateway) Diff(ctx context.Context, p gatehouse.Principal, id string) (*gatehouse.DiffResult, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	a, err := g.store.Action(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &gatehouse.DiffResult{Action: a.ID, Files: []gatehouse.FileDiff{}}
	e := a.Effects
	if e == nil {
		return out, nil
	}
	out.Recorded, out.Truncated, out.Ambiguous, out.Error = true, e.Truncated, e.Ambiguous, e.Error
	set, rerr := g.heldSecrets(ctx)
	if rerr != nil {
		g.log.Error("diff: the secrets cannot be opened to redact them; diffs withheld", "action", a.ID, "err", rerr)
	}
	for _, c := range e.Changes {
		d := gatehouse.FileDiff{FileChange: c}
		switch {
		case g.ws == nil:
			d.Note = "the gateway has no content store"
		default:
			d.Diff, d.Note = g.ws.Diff(ctx, c)
		}
		switch {
		case d.Diff != "" && rerr != nil:
			d.Diff, d.Note = "", "diff withheld: the secrets it might show cannot be opened to redact them"
		case d.Diff != "" && !set.Empty():
			d.Diff = string(set.Redact([]byte(d.Diff)))
		}
		out.Files = append(out.Files, d)
	}
	return out, nil
}

// heldSecrets is the redaction of every secret the gateway holds; nil
// when it holds none.
func (g *Gateway) heldSecrets(ctx context.Context) (*redact.Set, error) {
	if g.creds.Store == nil || g.creds.Sealer == nil {
		return nil, nil
	}
	list, err := g.creds.Store.Secrets(ctx)
	if err != nil {
		return nil, err
	}
	secrets := make([]redact.Secret, 0, len(list))
	for _, s := range list {
		v, err := g.creds.Sealer.Open(s)
		if err != nil {
			return nil, err
		}
		secrets = append(secrets, redact.Secret{Name: s.Name, Value: v})
	}
	return redact.New(secrets), nil
}

// maxRollbackActions bounds the actions one rollback considers.
const maxRollbackActions = gatehouse.MaxLimit

// Rollback restores the files that the selected actions changed, newest
// first, as planned by gatehouse.PlanRollback and checked against the
// disk by the workspace recorder: it refuses to overwrite a change made
// since by anything else, to use ambiguous or incomplete effects, and to
// run while an action runs in the workspace, unless req.Force. Undo
// commands are listed in the plan, never run. A dry run only plans.
//
// Admins and reviewers may roll back; agents may not (EFORBIDDEN): an
// agent must not undo a person's repair or erase what it did. The
// rollback is journaled: rollback.started (with the checked plan) before
// any file is touched, then rollback.finished and, for each action whose
// changes it restored, action.rolled_back.
//
// Errors: EINVALID for a bad request, ENOTFOUND for an unknown action,
// ECONFLICT for an action that is running, never ran or was rolled back
// already, EUNAVAILABLE if the journal or a workspace cannot be used. A
// refusal because of problems is not an error: the result says refused.
func (g *Gateway) Rollback(ctx context.Context, p gatehouse.Principal, req gatehouse.RollbackRequest) (*gatehouse.RollbackResult, error) {
	if !p.Role.CanReview() {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "%s %q may not roll back: it needs a reviewer or the admin token", p.Role, p.Name)
	}
	sel, actions, err := g.selectRollback(ctx, req)
	if err != nil {
		return nil, err
	}
	g.rb.Lock()
	defer g.rb.Unlock()
	plan := gatehouse.PlanRollback(actions)
	res := &gatehouse.RollbackResult{Plan: plan}
	if len(plan.Files) > 0 && g.ws == nil {
		return nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "this gateway records no workspaces: nothing can be restored")
	}
	if len(plan.Files) == 0 {
		res.Status = gatehouse.RollbackNothing
		if req.DryRun {
			res.Status = gatehouse.RollbackPlanned
		}
		res.Problems = plan.Problems()
		return res, nil
	}
	journalCtx := context.WithoutCancel(ctx)
	id := newActionID(g.now())
	var commit func([]gatehouse.FileRestore) error
	blocked := len(plan.Problems()) > 0 && !req.Force
	if !req.DryRun && !blocked {
		commit = func(checked []gatehouse.FileRestore) error {
			plan.Files = checked
			ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventRollbackStarted, id,
				gatehouse.RollbackStarted{By: p.Name, Selector: sel, Force: req.Force, Plan: plan})
			if err != nil {
				return err
			}
			if _, err := g.store.Append(journalCtx, ev); err != nil {
				return unavailable(err)
			}
			return nil
		}
	}
	checked, done, err := g.ws.Restore(ctx, plan.Files, req.Force, commit)
	if err != nil {
		return nil, err
	}
	plan.Files = checked
	res.Problems = plan.Problems()
	switch {
	case req.DryRun:
		res.Status = gatehouse.RollbackPlanned
		return res, nil
	case !done:
		res.Status = gatehouse.RollbackRefused
		return res, nil
	}
	res.ID = id
	fin := gatehouse.RollbackFinished{Status: gatehouse.RollbackDone}
	partial := map[string]bool{}
	for _, f := range checked {
		if f.Done {
			res.Restored++
			continue
		}
		fin.Failed = append(fin.Failed, f)
		for _, a := range f.Actions {
			partial[a] = true
		}
	}
	fin.Restored = res.Restored
	if len(fin.Failed) > 0 {
		fin.Status = gatehouse.RollbackPartial
	}
	res.Status = fin.Status
	end, err := gatehouse.NewEvent(g.now(), gatehouse.EventRollbackFinished, id, fin)
	if err != nil {
		return nil, err
	}
	events := []gatehouse.Event{end}
	for _, pa := range plan.Actions {
		if pa.Skipped != "" || pa.Files == 0 {
			continue
		}
		ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventActionRolledBack, pa.ID,
			gatehouse.ActionRolledBack{Rollback: id, By: p.Name, Partial: partial[pa.ID]})
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	if _, err := g.store.Append(journalCtx, events...); err != nil {
		g.log.Error("journal: recording a rollback's end failed", "rollback", id, "err", err)
		return res, unavailable(err)
	}
	g.log.Info("rollback", "id", id, "by", p.Name, "status", res.Status, "restored", res.Restored, "actions", len(events)-1)
	return res, nil
}

// selectRollback finds the actions a rollback request names.
func (g *Gateway) selectRollback(ctx context.Context, req gatehouse.RollbackRequest) (gatehouse.RollbackSelector, []*gatehouse.Action, error) {
	inv := func(f string, a ...any) error { return gatehouse.Errorf(gatehouse.EINVALID, f, a...) }
	sel := gatehouse.RollbackSelector{Action: req.Action, Session: req.Session, Agent: req.Agent}
	n := 0
	for _, s := range []string{req.Action, req.Session, req.Since} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return sel, nil, inv("name one action, or --session, or --since")
	}
	if req.Action != "" {
		if req.Agent != "" {
			return sel, nil, inv("--agent goes with --session or --since, not with an action")
		}
		a, err := g.store.Action(ctx, req.Action)
		if err != nil {
			return sel, nil, err
		}
		switch {
		case a.StartedAt == nil:
			return sel, nil, gatehouse.Errorf(gatehouse.ECONFLICT, "action %s never ran (%s): there is nothing to roll back", a.ID, a.Status)
		case !a.Status.Final():
			return sel, nil, gatehouse.Errorf(gatehouse.ECONFLICT, "action %s is still %s", a.ID, a.Status)
		case a.RolledBack != nil:
			return sel, nil, gatehouse.Errorf(gatehouse.ECONFLICT, "action %s was rolled back already (rollback %s by %s)", a.ID, a.RolledBack.Rollback, a.RolledBack.By)
		}
		return sel, []*gatehouse.Action{a}, nil
	}
	f := gatehouse.ActionFilter{Session: req.Session, Agent: req.Agent, Limit: maxRollbackActions}
	if req.Since != "" {
		t, err := gatehouse.ParseTimeBound(req.Since, g.now())
		if err != nil {
			return sel, nil, err
		}
		f.Since, sel.Since = t, &t
	}
	actions, err := g.store.Actions(ctx, f)
	if err != nil {
		return sel, nil, err
	}
	if len(actions) >= maxRollbackActions {
		return sel, nil, inv("more than %d actions match: narrow the selection", maxRollbackActions-1)
	}
	return sel, actions, nil
}

// closeRollbacks journals as interrupted every rollback a previous daemon
// started and did not finish: its files may be partly restored.
func (g *Gateway) closeRollbacks(ctx context.Context) error {
	open := map[string]bool{}
	var order []string
	err := g.store.EventsOfType(ctx, []gatehouse.EventType{gatehouse.EventRollbackStarted, gatehouse.EventRollbackFinished}, func(e gatehouse.Event) error {
		if e.Type == gatehouse.EventRollbackStarted {
			open[e.Subject] = true
			order = append(order, e.Subject)
		} else {
			delete(open, e.Subject)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range order {
		if !open[id] {
			continue
		}
		ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventRollbackFinished, id, gatehouse.RollbackFinished{
			Status: gatehouse.RollbackInterrupted, Error: "the daemon stopped during the rollback: its files may be partly restored"})
		if err != nil {
			return err
		}
		if _, err := g.store.Append(ctx, ev); err != nil {
			return err
		}
		g.log.Warn("closed a rollback left unfinished by the previous daemon", "rollback", id)
	}
	return nil
}
