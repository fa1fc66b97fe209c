package gateway

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// Verdict is a Decider's answer: the decision (with its provenance and,
// for review, how many approvals within what time) and the analysis it
// was made on.
type Verdict struct {
	Decision gatehouse.Decision
	Analysis *gatehouse.Analysis
	// Undo is what the deciding rule says undoes the action.
	Undo []gatehouse.Undo
}

// Decider decides whether an action may run.
type Decider interface {
	// Decide returns the verdict for a, which is fully described but not
	// yet journaled. An error fails the action closed: it does not run.
	Decide(ctx context.Context, a *gatehouse.Action) (Verdict, error)
}

// AllowAll allows every action by the rule named "default". Tests use it;
// the daemon decides by policy.
type AllowAll struct{}

// Decide implements Decider.
func (AllowAll) Decide(context.Context, *gatehouse.Action) (Verdict, error) {
	return Verdict{Decision: gatehouse.DefaultDecision}, nil
}

// Analyzers turn an action's command into its analysis:
// internal/shell's Analyze and AnalyzeArgv.
type Analyzers struct {
	Shell func(command string) gatehouse.Analysis
	Argv  func(argv []string) gatehouse.Analysis
}

// Analyze returns the analysis of a. Shell actions are analysed by the
// shell analyser; the other kinds by what they are.
func (z Analyzers) Analyze(a *gatehouse.Action) gatehouse.Analysis {
	switch {
	case a.Kind == gatehouse.KindShell && a.Shell:
		return z.Shell(a.Command)
	case a.Kind == gatehouse.KindShell || a.Kind == "":
		return z.Argv(a.Argv)
	}
	return analyzeKind(a)
}

// analyzeKind classifies an external action that is not a shell command.
func analyzeKind(a *gatehouse.Action) gatehouse.Analysis {
	one := func(class gatehouse.Class, risk int, reason string, targets ...string) gatehouse.Analysis {
		return gatehouse.Analysis{Class: class, Risk: risk, Reasons: []string{reason}, Targets: targets,
			Commands: []gatehouse.AnalyzedCommand{{Name: a.Tool, Class: class, Risk: risk, Reasons: []string{reason}, Targets: targets}}}
	}
	_, target, _ := strings.Cut(a.Command, " ")
	switch a.Kind {
	case gatehouse.KindFileRead:
		return one(gatehouse.ClassRead, 5, a.Tool+": reads files", target)
	case gatehouse.KindFileWrite:
		return one(gatehouse.ClassWrite, 30, a.Tool+": writes a file", target)
	case gatehouse.KindHTTP:
		return one(gatehouse.ClassRead, 10, a.Tool+": fetches from the web", target)
	}
	// An MCP tool can do anything its server lets it: unknown, so a write
	// of some risk, which the default policy reviews.
	return one(gatehouse.ClassWrite, 40, a.Tool+": an MCP tool; what it does is up to its server")
}

// PolicyDecider decides by the policy in force and the learned rules. The
// policy can be replaced at any time (Set); a decision uses the one in
// force when it starts.
type PolicyDecider struct {
	analyze Analyzers
	learned *policy.Learned
	now     func() time.Time
	current atomic.Pointer[policy.Policy]
}

// NewPolicyDecider returns a decider over p and the learned rules.
func NewPolicyDecider(p *policy.Policy, learned *policy.Learned, z Analyzers, now func() time.Time) *PolicyDecider {
	if now == nil {
		now = time.Now
	}
	d := &PolicyDecider{analyze: z, learned: learned, now: now}
	d.current.Store(p)
	return d
}

// Set puts p in force.
func (d *PolicyDecider) Set(p *policy.Policy) { d.current.Store(p) }

// Policy returns the policy in force.
func (d *PolicyDecider) Policy() *policy.Policy { return d.current.Load() }

// Learned returns the learned rules the decider consults.
func (d *PolicyDecider) Learned() *policy.Learned { return d.learned }

// Decide implements Decider.
func (d *PolicyDecider) Decide(_ context.Context, a *gatehouse.Action) (Verdict, error) {
	an := d.analyze.Analyze(a)
	return d.DecideWith(d.current.Load(), a, &an), nil
}

// DecideWith decides a by policy p (not necessarily the one in force), for
// replays and tests.
func (d *PolicyDecider) DecideWith(p *policy.Policy, a *gatehouse.Action, an *gatehouse.Analysis) Verdict {
	res := p.Decide(a, an, d.learned, d.now())
	return Verdict{Decision: res.Decision, Analysis: an, Undo: res.Undo}
}
