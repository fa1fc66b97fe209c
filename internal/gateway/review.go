package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// DefaultApprovalTimeout is how long a reviewed action waits when its
// decision names no timeout. When it runs out the action is denied.
const DefaultApprovalTimeout = 60 * time.Second

// waiter is the in-memory side of one action that waits for review: the
// timer that ends the wait, and the agent's request attached to it (at
// most one at a time). The journal is the truth; a waiter is rebuilt from
// it at start (Recover).
type waiter struct {
	id       string
	done     chan struct{} // closed (by release, once) when the review is over
	approved bool          // set by release before done is closed
	released bool
	attached bool // an agent's request is waiting on it
	timer    *time.Timer
}

// release ends the wait: approved, or not (denied, expired, cancelled).
// Only the first call counts. Callers hold g.rv.mu.
func (w *waiter) release(approved bool) {
	if w.released {
		return
	}
	w.released, w.approved = true, approved
	close(w.done)
}

// reviews holds the waiters. Its mutex also serialises every change to a
// pending action (reviews, expiry, start), so that a decision is final.
type reviews struct {
	mu      sync.Mutex
	waiters map[string]*waiter
}

func (g *Gateway) deadline(a *gatehouse.Action) time.Time {
	if a.EscalatedUntil != nil {
		return *a.EscalatedUntil
	}
	t := time.Duration(a.Decision.TimeoutMS) * time.Millisecond
	if t <= 0 {
		t = DefaultApprovalTimeout
	}
	// Requested and decided are journaled in one batch: the request time
	// is when the wait began.
	return a.Time.Add(t)
}

// watch registers a waiter for a pending reviewed action and arms its
// timer. Callers hold g.rv.mu.
func (g *Gateway) watch(a *gatehouse.Action) *waiter {
	if w := g.rv.waiters[a.ID]; w != nil {
		return w
	}
	w := &waiter{id: a.ID, done: make(chan struct{})}
	if a.Approved() >= a.ApprovalsNeeded() {
		w.release(true)
	}
	g.rv.waiters[a.ID] = w
	g.arm(w, g.deadline(a))
	return w
}

func (g *Gateway) arm(w *waiter, at time.Time) {
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timer = time.AfterFunc(max(0, at.Sub(g.now())), func() { g.expire(w.id) })
}

func (g *Gateway) unwatch(id string) {
	if w := g.rv.waiters[id]; w != nil {
		if w.timer != nil {
			w.timer.Stop()
		}
		delete(g.rv.waiters, id)
	}
}

// expire ends a wait whose time ran out: it escalates once if the rule
// says so, else denies; an approved action whose agent never came back to
// run it is closed as interrupted.
func (g *Gateway) expire(id string) {
	ctx := context.Background()
	g.rv.mu.Lock()
	defer g.rv.mu.Unlock()
	w := g.rv.waiters[id]
	if w == nil {
		return
	}
	a, err := g.store.Action(ctx, id)
	if err != nil {
		g.log.Error("reading a pending action failed; retrying", "action", id, "err", err)
		g.arm(w, g.now().Add(time.Second))
		return
	}
	if a.Status != gatehouse.StatusPending {
		g.unwatch(id)
		w.release(false)
		return
	}
	now := g.now()
	if d := g.deadline(a); g.rep != nil && now.Before(d) {
		// Not yet: another replica escalated it.
		g.arm(w, d)
		return
	}
	if a.Approved() >= a.ApprovalsNeeded() {
		if w.attached {
			g.arm(w, now.Add(time.Second)) // it is starting; look again if it does not
			return
		}
		g.closePending(ctx, w, a, gatehouse.ActionFinished{Status: gatehouse.StatusInterrupted,
			Error: "interrupted: approved, but the agent did not come back to run it"})
		return
	}
	if a.Decision.OnTimeout == policy.OnTimeoutEscalate && a.EscalatedUntil == nil {
		t := time.Duration(a.Decision.TimeoutMS) * time.Millisecond
		if t <= 0 {
			t = DefaultApprovalTimeout
		}
		ev, err := gatehouse.NewEvent(now, gatehouse.EventActionEscalated, id,
			gatehouse.ActionEscalated{To: a.Decision.Reviewers, Until: gatehouse.Timestamp(now.Add(t))})
		if err == nil {
			var linked []gatehouse.Event
			if linked, err = g.store.Append(ctx, ev); err == nil {
				a, err = project(a, linked)
			}
		}
		if err != nil {
			g.retryPending(w, a.ID, "escalating an approval", err)
			return
		}
		g.log.Info("approval escalated", "action", id, "to", a.Decision.Reviewers, "until", *a.EscalatedUntil)
		g.notifyReview(notify.KindApprovalEscalated, a)
		g.arm(w, *a.EscalatedUntil)
		return
	}
	waited := now.Sub(a.Time).Round(time.Second)
	g.closePending(ctx, w, a, gatehouse.ActionFinished{Status: gatehouse.StatusDenied,
		Error: fmt.Sprintf("denied: no reviewer approved it within %s", waited)})
}

// closePending journals the end of a pending action and releases its
// waiter. Callers hold g.rv.mu.
func (g *Gateway) closePending(ctx context.Context, w *waiter, a *gatehouse.Action, fin gatehouse.ActionFinished) {
	end, err := gatehouse.NewEvent(g.now(), gatehouse.EventActionFinished, a.ID, fin)
	var linked []gatehouse.Event
	if err == nil {
		linked, err = g.store.Append(ctx, end)
	}
	if err != nil {
		g.retryPending(w, a.ID, "closing a pending action", err)
		return
	}
	if final, err := project(a, linked); err == nil {
		// Outside rv.mu: a tripwire's halt takes it.
		go g.observe(context.WithoutCancel(ctx), final)
	}
	g.unwatch(a.ID)
	w.release(false)
	g.log.Info("pending action closed", "action", a.ID, "status", fin.Status, "reason", fin.Error)
	g.notifyResolved(a.ID)
}

// retryPending looks at a pending action again after a journal write
// about it failed: soon if the journal is unavailable, at once if the
// write no longer fit (another replica reviewed, escalated or closed it
// meanwhile), which is no error. Callers hold g.rv.mu.
func (g *Gateway) retryPending(w *waiter, id, what string, err error) {
	if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE && g.rep != nil {
		g.log.Info(what+": the action changed meanwhile; looking again", "action", id, "err", gatehouse.ErrorMessage(err))
		g.arm(w, g.now())
		return
	}
	g.log.Error(what+" failed; retrying", "action", id, "err", err)
	g.arm(w, g.now().Add(time.Second))
}

// MaxLearnedTTL bounds how long a learned rule may last.
const MaxLearnedTTL = 30 * 24 * time.Hour

// Review records p's verdict on a pending action. Denying needs a reason.
//
// Errors: EFORBIDDEN unless p may review (agents never may) or if p
// requested the action itself; ENOTFOUND for an unknown action; ECONFLICT
// if the action's review is already over with another outcome. Repeating
// a verdict that was already given is harmless: it returns the action and
// records nothing new.
func (g *Gateway) Review(ctx context.Context, p gatehouse.Principal, id, verdict string, req gatehouse.ReviewRequest) (*gatehouse.Action, error) {
	reason, remember := req.Reason, req.Remember
	if !p.Role.CanReview() {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "%s %q may not review actions: use a reviewer or admin token", p.Role, p.Name)
	}
	if verdict != gatehouse.VerdictApprove && verdict != gatehouse.VerdictDeny {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "verdict %q: use approve or deny", verdict)
	}
	reason = strings.TrimSpace(reason)
	if verdict == gatehouse.VerdictDeny && reason == "" {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "a denial needs a reason (--reason): the agent and the journal are told why")
	}
	if len(reason) > maxClaimSize {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "reason is over %d bytes", maxClaimSize)
	}
	if remember != nil && verdict != gatehouse.VerdictApprove {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "only an approval can be remembered")
	}
	if g.isClosing() {
		return nil, errShuttingDown
	}
	journalCtx := context.WithoutCancel(ctx)
	g.rv.mu.Lock()
	defer g.rv.mu.Unlock()
	a, err := g.store.Action(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Agent == p.Name {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "%s requested action %s itself and may not review it", p.Name, id)
	}
	for _, r := range a.Reviews {
		if r.By == p.Name && r.Verdict == verdict {
			return a, nil // said before: harmless
		}
	}
	over := a.Status != gatehouse.StatusPending || a.Decision.Effect != gatehouse.EffectReview || a.Approved() >= a.ApprovalsNeeded()
	if over {
		return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "action %s is not waiting for a review: it is %s%s", id, a.Status, outcome(a))
	}
	for _, r := range a.Reviews {
		if r.By == p.Name {
			return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "%s already %sd action %s; a review is final", p.Name, r.Verdict, id)
		}
	}

	now := g.now()
	var evs []gatehouse.Event
	var learned *gatehouse.LearnedRule
	if remember != nil {
		if learned, err = g.learnedRule(p, a, remember, now); err != nil {
			return nil, err
		}
		ev, err := gatehouse.NewEvent(now, gatehouse.EventRuleLearned, learned.ID, gatehouse.RuleLearned{
			Match: learned.Match, Pattern: learned.Pattern, Agent: learned.Agent,
			CreatedBy: learned.CreatedBy, FromAction: learned.FromAction, ExpiresAt: learned.ExpiresAt,
		})
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	rev := gatehouse.ActionReviewed{By: p.Name, Verdict: verdict, Reason: reason, LatencyMS: now.Sub(a.Time).Milliseconds()}
	if learned != nil {
		rev.Learned = learned.ID
	}
	ev, err := gatehouse.NewEvent(now, gatehouse.EventActionReviewed, id, rev)
	if err != nil {
		return nil, err
	}
	evs = append(evs, ev)
	if verdict == gatehouse.VerdictDeny {
		end, err := gatehouse.NewEvent(now, gatehouse.EventActionFinished, id, gatehouse.ActionFinished{
			Status: gatehouse.StatusDenied, Error: fmt.Sprintf("denied by %s: %s", p.Name, reason)})
		if err != nil {
			return nil, err
		}
		evs = append(evs, end)
	}
	linked, err := g.store.Append(journalCtx, evs...)
	if err != nil {
		return nil, unavailable(err)
	}
	var actionEvents []gatehouse.Event
	for _, e := range linked {
		if e.Type.IsAction() {
			actionEvents = append(actionEvents, e)
		}
	}
	if a, err = project(a, actionEvents); err != nil {
		return nil, err
	}
	if learned != nil {
		if err := g.learned.Add(*learned); err != nil {
			g.log.Error("learned rule journaled but not loaded", "rule", learned.ID, "err", err)
		}
	}
	g.log.Info("action reviewed", "action", id, "by", p.Name, "verdict", verdict, "approvals", a.Approved(), "needed", a.ApprovalsNeeded())
	// With replicas the agent may wait on another one, which follows the
	// journal and releases it; here only a waiter that exists is touched.
	w := g.rv.waiters[id]
	if w == nil && g.rep == nil {
		w = g.watch(a)
	}
	switch {
	case verdict == gatehouse.VerdictDeny:
		g.unwatch(id)
		if w != nil {
			w.release(false)
		}
		g.notifyResolved(id)
		go g.observe(journalCtx, a) // outside rv.mu: a tripwire's halt takes it
	case a.Approved() >= a.ApprovalsNeeded():
		if w != nil {
			w.release(true)
		}
		g.notifyResolved(id)
	}
	return a, nil
}

func outcome(a *gatehouse.Action) string {
	switch {
	case a.Status == gatehouse.StatusPending && a.Approved() >= a.ApprovalsNeeded():
		return " (approved, waiting for its agent to run it)"
	case a.Error != "":
		return ": " + a.Error
	}
	return ""
}

func (g *Gateway) learnedRule(p gatehouse.Principal, a *gatehouse.Action, r *gatehouse.Remember, now time.Time) (*gatehouse.LearnedRule, error) {
	inv := func(f string, args ...any) error { return gatehouse.Errorf(gatehouse.EINVALID, f, args...) }
	if g.learned == nil {
		return nil, inv("this gateway has no policy to remember rules in")
	}
	ttl, err := time.ParseDuration(r.TTL)
	if err != nil {
		return nil, inv("invalid ttl %q: use a duration such as 24h", r.TTL)
	}
	if ttl <= 0 || ttl > MaxLearnedTTL {
		return nil, inv("--ttl must be between 1s and %s", MaxLearnedTTL)
	}
	rule := &gatehouse.LearnedRule{
		ID: "lr-" + strings.ToLower(ulid.Make().String()), Match: r.Match, Pattern: r.Pattern,
		CreatedBy: p.Name, FromAction: a.ID, CreatedAt: gatehouse.Timestamp(now),
		ExpiresAt: gatehouse.Timestamp(now.Add(ttl)),
	}
	switch r.Scope {
	case "", "agent":
		rule.Agent = a.Agent
	case "all":
	default:
		return nil, inv("--scope %q: use agent or all", r.Scope)
	}
	switch r.Match {
	case policy.LearnExact:
		if r.Pattern != "" && r.Pattern != a.Command {
			return nil, inv("an exact rule is for the action's own command")
		}
		rule.Pattern = a.Command
	case policy.LearnPrefix, policy.LearnGlob:
		if rule.Pattern == "" {
			rule.Pattern = a.Command
		}
		// The rule must at least cover what the reviewer saw, or it is not
		// what they approved.
		probe := *a
		if _, ok := matchOne(*rule, &probe, now); !ok {
			return nil, inv("the %s %q does not match the approved command %q", r.Match, rule.Pattern, a.Command)
		}
	default:
		return nil, inv("--remember %q: use exact, prefix or glob", r.Match)
	}
	return rule, nil
}

// matchOne reports whether rule alone would match a.
func matchOne(rule gatehouse.LearnedRule, a *gatehouse.Action, now time.Time) (*gatehouse.LearnedRule, bool) {
	l := policy.NewLearned()
	if err := l.Add(rule); err != nil {
		return nil, false
	}
	return l.Match(a, now)
}

// Pending returns the actions waiting for review, oldest first.
func (g *Gateway) Pending(ctx context.Context, p gatehouse.Principal) ([]*gatehouse.Action, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	all, err := g.store.Running(ctx)
	if err != nil {
		return nil, err
	}
	var out []*gatehouse.Action
	for _, a := range all {
		if a.Status == gatehouse.StatusPending && a.Decision.Effect == gatehouse.EffectReview {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y *gatehouse.Action) int { return strings.Compare(x.ID, y.ID) })
	return out, nil
}

// LearnedRules lists the learned rules in force.
func (g *Gateway) LearnedRules(ctx context.Context, p gatehouse.Principal) ([]gatehouse.LearnedRule, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	if g.learned == nil {
		return nil, nil
	}
	return g.learned.List(g.now()), nil
}

// RemoveLearnedRule revokes a learned rule. ENOTFOUND if it is not in
// force.
func (g *Gateway) RemoveLearnedRule(ctx context.Context, p gatehouse.Principal, id string) error {
	if !p.Role.CanReview() {
		return gatehouse.Errorf(gatehouse.EFORBIDDEN, "%s %q may not remove rules", p.Role, p.Name)
	}
	if g.learned == nil || !slices.ContainsFunc(g.learned.List(g.now()), func(r gatehouse.LearnedRule) bool { return r.ID == id }) {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "learned rule %q not found (or expired)", id)
	}
	ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventRuleRemoved, id, gatehouse.RuleRemoved{By: p.Name})
	if err != nil {
		return err
	}
	if _, err := g.store.Append(context.WithoutCancel(ctx), ev); err != nil {
		return unavailable(err)
	}
	return g.learned.Remove(id)
}

func (g *Gateway) notifyReview(kind notify.Kind, a *gatehouse.Action) {
	reviewers := a.Decision.Reviewers
	if kind == notify.KindApprovalPending {
		reviewers = []string{"reviewers"}
	}
	g.notifier.Notify(notify.Message{
		Kind: kind, Time: g.now(), Action: a, Reviewers: reviewers,
		Approve: "gatehouse approve " + a.ID,
		Deny:    "gatehouse deny " + a.ID + " --reason '…'",
		Text: fmt.Sprintf("%s wants to run `%s` (%s, risk %d): %s. Approve with: gatehouse approve %s",
			a.Agent, clipText(a.Command, 200), analysisClass(a), analysisRisk(a), a.Decision.Reason, a.ID),
	})
}

func (g *Gateway) notifyResolved(id string) {
	a, err := g.store.Action(context.Background(), id)
	if err != nil {
		return
	}
	g.notifier.Notify(notify.Message{Kind: notify.KindApprovalResolved, Time: g.now(), Action: a,
		Text: fmt.Sprintf("action %s of %s: %s%s", a.ID, a.Agent, a.Status, outcome(a))})
}

func analysisClass(a *gatehouse.Action) gatehouse.Class {
	if a.Analysis == nil {
		return "unanalysed"
	}
	return a.Analysis.Class
}

func analysisRisk(a *gatehouse.Action) int {
	if a.Analysis == nil {
		return 100
	}
	return a.Analysis.Risk
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// recoverPending rebuilds the waiters of actions that wait for review, so
// a restart keeps them pending with their remaining time.
func (g *Gateway) recoverPending(open []*gatehouse.Action) {
	g.rv.mu.Lock()
	defer g.rv.mu.Unlock()
	for _, a := range open {
		g.watch(a)
	}
}
