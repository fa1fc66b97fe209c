package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/cel-go/cel"

	"github.com/gatehouse-dev/gatehouse"
)

// Result is a decision with what the gateway needs to carry it out. The
// review settings and the revision are also filled into Decision (Policy,
// Approvals, TimeoutMS, OnTimeout, Reviewers), so that Decision alone can
// be journaled.
type Result struct {
	Decision   gatehouse.Decision // Effect, Rule (a rule id, "learned:<id>" or "default"), Reason, and the fields below
	Approvals  int                // for review: distinct approvals needed
	Timeout    time.Duration      // for review: how long to wait for them
	OnTimeout  string             // for review: OnTimeoutDeny or OnTimeoutEscalate
	EscalateTo []string           // for review: groups to notify on escalation
	Revision   string             // the revision of the policy that decided
	// Undo holds the matching rule's undo templates rendered for the
	// action (kept when a learned rule allows what the rule reviewed).
	Undo []gatehouse.Undo
}

// notAnalysed stands in for a missing analysis: nothing is known about
// the action, so it counts as irreversible and of the highest risk (fail
// closed). Rules that ask for a low class never match it.
var notAnalysed = gatehouse.Analysis{
	Class:   gatehouse.ClassIrreversible,
	Risk:    100,
	Reasons: []string{"not analysed"},
}

// Decide decides an action: the file's rules in order, first match wins;
// if none matches, the policy's default. A review may then be turned into
// an allow by a learned rule (learned may be nil). an is the action's
// analysis; nil means none was made (see notAnalysed). now is the time
// `when` expressions see as `now` and learned rules are checked against.
//
// Two things fail closed. A command the analyser could not parse
// (an.ParseError set) is never allowed, not even by a learned rule: an
// allow becomes a review. And a `when` expression that fails at run time
// (an error, or its cost limit) makes its rule not match, and makes the
// decision at least review, not open to learned rules; the reason says
// which expression failed and why.
//
// Decide is safe for concurrent use.
func (p *Policy) Decide(a *gatehouse.Action, an *gatehouse.Analysis, learned *Learned, now time.Time) Result {
	if a == nil {
		return Result{Decision: gatehouse.Decision{Effect: gatehouse.EffectDeny, Rule: "default", Reason: "no action to decide"}, Revision: p.rev}
	}
	if an == nil {
		an = &notAnalysed
	}
	ev := newEvaluation(a, an, now)
	var c candidates
	p.idx.selectFor(a.Command, a.Agent, a.System, &c)
	var failed []string
	var hit *rule
	for {
		n, ok := c.next()
		if !ok {
			break
		}
		r := p.rules[n]
		v, err := ev.rule(r)
		if v == match {
			hit = r
			break
		}
		if v == evalError {
			failed = append(failed, fmt.Sprintf("the condition of rule %q failed (%s)", r.info.ID, oneLine(err.Error())))
		}
	}

	var res Result
	var undo []gatehouse.Undo
	if hit != nil {
		res = p.resultOf(hit.info)
		undo = hit.renderUndo(a, an)
	} else {
		res = p.resultOf(p.Default())
	}
	d := &res.Decision

	if d.Effect == gatehouse.EffectAllow && an.ParseError != "" {
		p.downgrade(&res, fmt.Sprintf("%s; but the command could not be parsed (%s), and an unparsed command is never allowed without review", d.Reason, an.ParseError))
	}
	if len(failed) > 0 {
		why := strings.Join(failed, "; ")
		if d.Effect == gatehouse.EffectAllow {
			p.downgrade(&res, fmt.Sprintf("%s; but %s, so the decision fails closed to review", d.Reason, why))
		} else {
			d.Reason = fmt.Sprintf("%s (note: %s)", d.Reason, why)
		}
	}

	if d.Effect == gatehouse.EffectReview && learned != nil && an.ParseError == "" && len(failed) == 0 {
		if lr, ok := learned.Match(a, now); ok {
			from := ""
			if lr.FromAction != "" {
				from = " from action " + lr.FromAction
			}
			reason := fmt.Sprintf("approved and remembered by %s%s (learned %s rule %q); the policy said review: %s",
				lr.CreatedBy, from, lr.Match, lr.Pattern, d.Reason)
			res = Result{
				Decision: gatehouse.Decision{Effect: gatehouse.EffectAllow, Rule: "learned:" + lr.ID, Reason: reason},
				Revision: p.rev,
			}
		}
	}
	res.Undo = undo
	d.Policy = res.Revision
	d.Approvals, d.TimeoutMS, d.OnTimeout = res.Approvals, res.Timeout.Milliseconds(), res.OnTimeout
	d.Reviewers = append([]string(nil), res.EscalateTo...)
	return res
}

func (p *Policy) resultOf(info gatehouse.RuleInfo) Result {
	return Result{
		Decision:   gatehouse.Decision{Effect: info.Effect, Rule: info.ID, Reason: info.Reason},
		Approvals:  info.Approvals,
		Timeout:    info.Timeout,
		OnTimeout:  info.OnTimeout,
		EscalateTo: append([]string(nil), info.EscalateTo...),
		Revision:   p.rev,
	}
}

// downgrade turns an allow into a review with the policy's default review
// settings.
func (p *Policy) downgrade(res *Result, reason string) {
	res.Decision.Effect = gatehouse.EffectReview
	res.Decision.Reason = reason
	res.Approvals, res.Timeout, res.OnTimeout, res.EscalateTo = 1, p.set.timeout, p.set.onTimeout, nil
}

// evaluation is the state of deciding one action: the analysis reduced to
// what matchers compare, and the CEL variables, built on first use.
type evaluation struct {
	a         *gatehouse.Action
	an        *gatehouse.Analysis
	now       time.Time
	sev, risk int
	act       cel.Activation
	actErr    error
	sizes     sizeBounds
}

func newEvaluation(a *gatehouse.Action, an *gatehouse.Analysis, now time.Time) *evaluation {
	return &evaluation{a: a, an: an, now: now, sev: an.Class.Severity(), risk: an.Risk}
}

// rule tells whether r matches: every matcher, `when` last.
func (e *evaluation) rule(r *rule) (verdict, error) {
	if !r.matchStatic(e.a, e.sev, e.risk) {
		return noMatch, nil
	}
	if r.mcpTools != nil {
		_, tool, ok := mcpName(e.a)
		if !ok {
			return evalError, fmt.Errorf("mcp_tool: the call's command %q is not mcp__%s__TOOL", e.a.Command, e.a.System)
		}
		if !r.mcpTools.match(tool) {
			return noMatch, nil
		}
	}
	if r.when == nil {
		return match, nil
	}
	if e.act == nil && e.actErr == nil {
		e.act, e.actErr = activation(e.a, e.an, e.now)
		e.sizes = inputSizes(e.a, e.an)
	}
	if e.actErr != nil {
		return evalError, e.actErr
	}
	ok, err := r.when.eval(e.act, e.sizes)
	switch {
	case err != nil:
		return evalError, err
	case ok:
		return match, nil
	}
	return noMatch, nil
}
