package gateway

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// PolicyFile is where the policy in force comes from, and the decider it
// is put into.
type PolicyFile struct {
	Path    string
	Decider *PolicyDecider
	Analyze Analyzers
}

func (f *PolicyFile) options() policy.Options {
	opts := policy.Options{Analyze: f.Analyze.Shell, Filename: f.Path}
	if f.Analyze.Shell != nil && f.Analyze.Argv != nil {
		opts.AnalyzeAction = f.Analyze.Analyze // examples of other kinds are analysed as their actions are
	}
	return opts
}

func (g *Gateway) policyFile() (*PolicyFile, error) {
	if g.pf == nil {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "this gateway runs without a policy file")
	}
	return g.pf, nil
}

// ReloadPolicy loads the policy file again and puts it in force, journaling
// policy.loaded with its revision. A broken file is refused with EINVALID
// naming each problem's line and column, and the policy in force stays.
// by says what asked: "SIGHUP", "file change", or a principal's name.
func (g *Gateway) ReloadPolicy(ctx context.Context, p gatehouse.Principal, by string) (*policy.Policy, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	pf, err := g.policyFile()
	if err != nil {
		return nil, err
	}
	next, err := policy.Load(pf.Path, pf.options())
	if err != nil {
		g.log.Error("policy not reloaded; the policy in force stays", "path", pf.Path, "by", by, "err", gatehouse.ErrorMessage(err))
		return nil, err
	}
	cur := pf.Decider.Policy()
	if cur != nil && cur.Revision() == next.Revision() {
		return cur, nil
	}
	// Journal first: a decision must never name a revision the journal
	// does not know.
	if err := g.journalPolicy(ctx, next, by); err != nil {
		return nil, err
	}
	pf.Decider.Set(next)
	g.setTripwires(next.Tripwires())
	return next, nil
}

// AnnouncePolicy journals that the policy in force is in force, as the
// daemon does at every start.
func (g *Gateway) AnnouncePolicy(ctx context.Context, by string) error {
	pf, err := g.policyFile()
	if err != nil {
		return err
	}
	return g.journalPolicy(ctx, pf.Decider.Policy(), by)
}

func (g *Gateway) journalPolicy(ctx context.Context, p *policy.Policy, by string) error {
	ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventPolicyLoaded, "",
		gatehouse.PolicyLoaded{Revision: p.Revision(), Source: g.pf.Path, Rules: len(p.Rules()), By: by})
	if err != nil {
		return err
	}
	if _, err := g.store.Append(context.WithoutCancel(ctx), ev); err != nil {
		return unavailable(err)
	}
	g.log.Info("policy in force", "path", g.pf.Path, "revision", p.Revision(), "rules", len(p.Rules()), "by", by)
	return nil
}

// Policy describes the policy in force.
func (g *Gateway) Policy(ctx context.Context, p gatehouse.Principal) (*gatehouse.PolicyInfo, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	pf, err := g.policyFile()
	if err != nil {
		return nil, err
	}
	cur := pf.Decider.Policy()
	return &gatehouse.PolicyInfo{Revision: cur.Revision(), Source: pf.Path, Default: cur.Default(), Rules: cur.Rules()}, nil
}

// TestPolicy decides an action by the policy in force, and the learned
// rules, without journaling or running anything.
func (g *Gateway) TestPolicy(ctx context.Context, p gatehouse.Principal, req gatehouse.PolicyTestRequest) (*gatehouse.PolicyTestResult, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	if req.Cwd == "" {
		req.Cwd = "/"
	}
	if err := g.validate(&req.RunRequest); err != nil {
		return nil, err
	}
	agent := req.Agent
	if agent == "" {
		agent = "agent"
	}
	a := g.newAction(g.now(), gatehouse.Principal{Name: agent, Role: gatehouse.RoleAgent}, &req.RunRequest)
	v, err := g.decider.Decide(ctx, a)
	if err != nil {
		return nil, err
	}
	return &gatehouse.PolicyTestResult{Effect: v.Decision.Effect, Rule: v.Decision.Rule, Reason: v.Decision.Reason, Decision: v.Decision, Analysis: v.Analysis,
		Undo: v.Undo}, nil
}

// ReplayPolicy decides the recorded actions since req.Since again by the
// candidate policy req.Policy (shadow mode) and lists those it decides
// with another effect than the one recorded. Learned rules are not
// consulted: the question is what the policy itself would do. Nothing is
// journaled. EINVALID for a bad time bound or a candidate that does not
// load.
func (g *Gateway) ReplayPolicy(ctx context.Context, p gatehouse.Principal, req gatehouse.ReplayRequest) (*gatehouse.ReplayReport, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	since, err := gatehouse.ParseTimeBound(req.Since, g.now())
	if err != nil {
		return nil, err
	}
	src := []byte(req.Policy)
	pf, err := g.policyFile()
	if err != nil {
		return nil, err
	}
	opts := pf.options()
	opts.Filename = "candidate policy"
	cand, err := policy.Parse(src, opts)
	if err != nil {
		return nil, err
	}
	acts, err := g.store.Actions(ctx, gatehouse.ActionFilter{Since: since, Limit: gatehouse.MaxLimit})
	if err != nil {
		return nil, err
	}
	rep := &gatehouse.ReplayReport{Revision: cand.Revision(), Changed: []gatehouse.ReplayChange{}}
	now := g.now()
	for _, a := range acts {
		an := pf.Analyze.Analyze(a)
		res := cand.Decide(a, &an, nil, now)
		rep.Evaluated++
		if res.Decision.Effect != a.Decision.Effect {
			rep.Changed = append(rep.Changed, gatehouse.ReplayChange{ID: a.ID, Time: a.Time, Agent: a.Agent, Command: a.Command,
				Recorded: a.Decision, Candidate: res.Decision})
		}
	}
	if len(acts) == gatehouse.MaxLimit {
		g.log.Warn(fmt.Sprintf("policy replay evaluated only the newest %d actions", gatehouse.MaxLimit))
	}
	return rep, nil
}
