package gatehouse

import (
	"encoding/json"
	"fmt"
)

// Apply folds an action event into a. The first event of an action must be
// action.requested, applied to a zero Action. Apply is the only definition
// of how events become the actions that users read: stores use it to keep
// their projection and Verify uses it to rebuild one, so the two cannot
// drift apart.
//
// It returns EINVALID if e does not belong to a or cannot follow its
// current state; a is then unchanged.
func (a *Action) Apply(e Event) error {
	if !e.Type.IsAction() {
		return Errorf(EINVALID, "event %d: %s is not an action event", e.Seq, e.Type)
	}
	if a.ID == "" && e.Type != EventActionRequested {
		return Errorf(EINVALID, "event %d: %s for unknown action %s", e.Seq, e.Type, e.Subject)
	}
	if a.ID != "" && a.ID != e.Subject {
		return Errorf(EINVALID, "event %d: subject %s applied to action %s", e.Seq, e.Subject, a.ID)
	}
	next := *a
	switch e.Type {
	case EventActionRequested:
		if a.ID != "" {
			return Errorf(EINVALID, "event %d: action %s requested twice", e.Seq, e.Subject)
		}
		var p ActionRequested
		if err := decode(e, &p); err != nil {
			return err
		}
		next = Action{
			ID: e.Subject, Time: e.Time, Agent: p.Agent, Session: p.Session, Model: p.Model,
			Kind: p.Kind, Argv: p.Argv, Command: p.Command, Shell: p.Shell, Cwd: p.Cwd,
			System: p.System, Intent: p.Intent, EnvNames: p.EnvNames, TimeoutMS: p.TimeoutMS,
			TraceID: p.TraceID, Stdin: p.Stdin, Credentials: p.Credentials, Status: StatusPending,
			External: p.External, Tool: p.Tool, Input: p.Input, Client: p.Client,
			Replica: p.Replica,
		}
	case EventActionDecided:
		if a.Status != StatusPending {
			return Errorf(EINVALID, "event %d: action %s decided while %s", e.Seq, a.ID, a.Status)
		}
		var d ActionDecided
		if err := decode(e, &d); err != nil {
			return err
		}
		next.Decision, next.Analysis = d.Decision, d.Analysis
		next.Undo, next.Irreversible = d.Undo, d.Irreversible
	case EventActionReviewed:
		if a.Status != StatusPending || a.Decision.Effect != EffectReview {
			return Errorf(ECONFLICT, "action %s is not waiting for a review (status %s)", a.ID, a.Status)
		}
		var p ActionReviewed
		if err := decode(e, &p); err != nil {
			return err
		}
		if p.Verdict != VerdictApprove && p.Verdict != VerdictDeny {
			return Errorf(EINVALID, "event %d: verdict %q", e.Seq, p.Verdict)
		}
		next.Reviews = append(append([]Review(nil), a.Reviews...),
			Review{By: p.By, Time: e.Time, Verdict: p.Verdict, Reason: p.Reason, Learned: p.Learned, LatencyMS: p.LatencyMS})
	case EventActionEscalated:
		if a.Status != StatusPending || a.Decision.Effect != EffectReview || a.EscalatedUntil != nil {
			return Errorf(ECONFLICT, "action %s cannot be escalated (status %s)", a.ID, a.Status)
		}
		var p ActionEscalated
		if err := decode(e, &p); err != nil {
			return err
		}
		u := p.Until
		next.EscalatedUntil = &u
	case EventActionStarted:
		approved := a.Decision.Effect == EffectReview && a.Approved() >= a.ApprovalsNeeded() && !a.reviewDenied()
		if a.Status != StatusPending || (a.Decision.Effect != EffectAllow && !approved) {
			return Errorf(EINVALID, "event %d: action %s started while %s (decision %q, %d of %d approvals)",
				e.Seq, a.ID, a.Status, a.Decision.Effect, a.Approved(), a.ApprovalsNeeded())
		}
		var p ActionStarted
		if err := decode(e, &p); err != nil {
			return err
		}
		if p.Replica != "" {
			next.Replica = p.Replica
		}
		t := e.Time
		next.StartedAt = &t
		next.Status = StatusRunning
	case EventActionFinished:
		if a.Status.Final() {
			return Errorf(EINVALID, "event %d: action %s finished twice", e.Seq, a.ID)
		}
		var p ActionFinished
		if err := decode(e, &p); err != nil {
			return err
		}
		if !p.Status.Final() || !p.Status.Valid() {
			return Errorf(EINVALID, "event %d: action %s finished with status %q", e.Seq, a.ID, p.Status)
		}
		t := e.Time
		next.FinishedAt = &t
		next.Status, next.Error, next.ExitCode, next.Signal = p.Status, p.Error, p.ExitCode, p.Signal
		next.DurationMS = p.DurationMS
		next.Stdout, next.Stderr = p.Stdout, p.Stderr
		next.StdoutBytes, next.StderrBytes = p.StdoutBytes, p.StderrBytes
		next.StdoutSHA256, next.StderrSHA256 = p.StdoutSHA256, p.StderrSHA256
		next.StdinBytes = p.StdinBytes
		next.Response = p.Response
		next.Effects = p.Effects
	case EventActionRolledBack:
		if !a.Status.Final() || a.StartedAt == nil {
			return Errorf(ECONFLICT, "action %s cannot be rolled back: it is %s", a.ID, a.Status)
		}
		if a.RolledBack != nil {
			return Errorf(ECONFLICT, "action %s was already rolled back (rollback %s)", a.ID, a.RolledBack.Rollback)
		}
		var p ActionRolledBack
		if err := decode(e, &p); err != nil {
			return err
		}
		next.RolledBack = &RolledBack{Rollback: p.Rollback, By: p.By, Time: e.Time, Partial: p.Partial}
	}
	next.Seq = append(append([]int64(nil), a.Seq...), e.Seq)
	*a = next
	return nil
}

// Apply folds an agent event into g, as Action.Apply does for actions.
func (g *Agent) Apply(e Event) error {
	if !e.Type.IsAgent() {
		return Errorf(EINVALID, "event %d: %s is not an agent event", e.Seq, e.Type)
	}
	next := *g
	switch e.Type {
	case EventAgentAdded:
		if g.Name != "" && g.Active() {
			return Errorf(ECONFLICT, "agent %q already exists", e.Subject)
		}
		var p AgentAdded
		if err := decode(e, &p); err != nil {
			return err
		}
		role := p.Role
		if role == "" {
			role = RoleAgent
		}
		if role != RoleAgent && role != RoleReviewer {
			return Errorf(EINVALID, "event %d: role %q", e.Seq, p.Role)
		}
		next = Agent{Name: e.Subject, Role: role, TokenHash: p.TokenHash, CreatedAt: e.Time, Workspaces: p.Workspaces, Seq: g.Seq}
	case EventAgentRevoked:
		if g.Name == "" || !g.Active() {
			return Errorf(ENOTFOUND, "agent %q not found", e.Subject)
		}
		t := e.Time
		next.RevokedAt = &t
	}
	next.Seq = append(append([]int64(nil), g.Seq...), e.Seq)
	*g = next
	return nil
}

func (a *Action) reviewDenied() bool {
	for _, r := range a.Reviews {
		if r.Verdict == VerdictDeny {
			return true
		}
	}
	return false
}

func decode(e Event, v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return WrapError(EINVALID, "gatehouse.decode", err, fmt.Sprintf("event %d: malformed %s data", e.Seq, e.Type))
	}
	return nil
}
