package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

// runEntry is a started action, so that a halt can find and kill it.
type runEntry struct {
	agent, session string
	cancel         context.CancelCauseFunc
}

// halts holds the halts and pauses in force and the requests a pause
// holds. Its lock orders halts against starts: every start checks, under
// the read lock, that no halt covers it and registers itself as running
// before releasing it; a halt is put in force under the write lock. So no
// action in a halt's scope starts after the halt is acknowledged, and every
// one that started before is found and killed.
type halts struct {
	mu     sync.RWMutex
	active map[string]*gatehouse.Halt
	known  map[string]bool // every halt id seen: a followed issue is applied once
	timers map[string]*time.Timer
	held   []*heldRun // FIFO
}

// heldRun is a request a pause holds.
type heldRun struct {
	agent, session string
	release        chan struct{} // closed to let it go
	passed         chan struct{} // closed once it has journaled its request
}

// haltCause is the cause of a run's context cancelled by a halt; the
// action's end records it.
type haltCause struct{ h *gatehouse.Halt }

func (c haltCause) Error() string {
	return fmt.Sprintf("halted by %s (%s): %s", c.h.By, c.h.ID, c.h.Reason)
}

// blockingLocked returns the halt in force that covers agent and session —
// a halt before a pause — or nil. Callers hold hs.mu.
func (g *Gateway) blockingLocked(agent, session string, now time.Time) *gatehouse.Halt {
	var pause *gatehouse.Halt
	for _, h := range g.hs.active {
		if !h.InForce(now) || !h.Scope.Covers(agent, session) {
			continue
		}
		if h.Mode == gatehouse.ModeHalt {
			return h
		}
		if pause == nil || h.IssuedAt.Before(pause.IssuedAt) {
			pause = h
		}
	}
	return pause
}

// gate is where a new request meets the halts: it returns the halt that
// refuses it, or waits while a pause holds it. passed must be called once
// the request is journaled (it is idempotent): a lifted pause releases its
// held requests one at a time, in the order they came, each after the one
// before it is journaled.
func (g *Gateway) gate(ctx context.Context, agent, session string) (*gatehouse.Halt, func(), error) {
	for {
		g.hs.mu.RLock()
		h := g.blockingLocked(agent, session, g.now())
		if h == nil || h.Mode == gatehouse.ModeHalt {
			if h != nil {
				c := *h
				h = &c
			}
			g.hs.mu.RUnlock()
			return h, func() {}, nil
		}
		g.hs.mu.RUnlock()
		g.hs.mu.Lock()
		if h = g.blockingLocked(agent, session, g.now()); h == nil || h.Mode == gatehouse.ModeHalt {
			g.hs.mu.Unlock()
			continue // it changed meanwhile: decide again
		}
		hr := &heldRun{agent: agent, session: session, release: make(chan struct{}), passed: make(chan struct{})}
		g.hs.held = append(g.hs.held, hr)
		pause := h.ID
		g.hs.mu.Unlock()
		g.log.Info("action held by a pause", "agent", agent, "session", session, "pause", pause)
		select {
		case <-hr.release:
		case <-ctx.Done():
			g.hs.mu.Lock()
			g.hs.held = slices.DeleteFunc(g.hs.held, func(x *heldRun) bool { return x == hr })
			g.hs.mu.Unlock()
			close(hr.passed)
			return nil, nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "stopped waiting for a pause to be lifted: %v", context.Cause(ctx))
		}
		// Released: check again (a halt may have followed the pause), and
		// tell the releaser when this request is journaled.
		h2, inner, err := g.gate(ctx, agent, session)
		var once sync.Once
		passed := func() {
			once.Do(func() {
				close(hr.passed)
				if inner != nil {
					inner()
				}
			})
		}
		if err != nil {
			passed()
		}
		return h2, passed, err
	}
}

// refuseHalted journals an action that a halt refuses: requested, decided
// (deny, rule "halt:ID") and finished (denied) in one batch.
func (g *Gateway) refuseHalted(ctx context.Context, a *gatehouse.Action, h *gatehouse.Halt, passed func()) (*gatehouse.Action, error) {
	defer passed()
	a.Decision = gatehouse.Decision{Effect: gatehouse.EffectDeny, Rule: "halt:" + h.ID, Reason: h.Reason}
	requested, err := gatehouse.NewEvent(a.Time, gatehouse.EventActionRequested, a.ID, requestOf(a))
	if err != nil {
		return nil, err
	}
	decided, err := gatehouse.NewEvent(g.now(), gatehouse.EventActionDecided, a.ID, gatehouse.ActionDecided{Decision: a.Decision})
	if err != nil {
		return nil, err
	}
	return g.finishWithout(ctx, a.ID, gatehouse.ActionFinished{Status: gatehouse.StatusDenied, Error: h.Refusal()}, requested, decided)
}

// Halt puts a halt or a pause in force. A halt refuses every new action in
// its scope at once, kills the running ones (SIGTERM to their process
// groups, SIGKILL after the grace; they end interrupted, naming the halt)
// unless NoKill, and cancels the pending approvals in its scope. A pause
// holds new actions until it is lifted. Both are journaled and persist
// across restarts until resumed or until For runs out.
func (g *Gateway) Halt(ctx context.Context, p gatehouse.Principal, req gatehouse.HaltRequest) (*gatehouse.Halt, error) {
	if !p.Role.CanReview() {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "%s %q may not halt: it needs a reviewer or the admin token", p.Role, p.Name)
	}
	if g.isClosing() {
		return nil, errShuttingDown
	}
	if req.Mode == "" {
		req.Mode = gatehouse.ModeHalt
	}
	if req.Mode != gatehouse.ModeHalt && req.Mode != gatehouse.ModePause {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "mode %q: use halt or pause", req.Mode)
	}
	if err := req.Scope.Validate(); err != nil {
		return nil, err
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Reason == "" {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "a %s needs a reason (--reason): agents and responders are told why", req.Mode)
	}
	if len(req.Reason) > maxClaimSize {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "reason is over %d bytes", maxClaimSize)
	}
	var expires *time.Time
	if req.For != "" {
		d, err := time.ParseDuration(req.For)
		if err != nil || d <= 0 {
			return nil, gatehouse.Errorf(gatehouse.EINVALID, "invalid duration %q for --for", req.For)
		}
		t := gatehouse.Timestamp(g.now().Add(d))
		expires = &t
	}
	if req.Mode == gatehouse.ModePause && req.NoKill {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "--no-kill is for halts: a pause never kills")
	}
	return g.issue(ctx, gatehouse.HaltIssued{Mode: req.Mode, Scope: req.Scope, Reason: req.Reason, By: p.Name,
		Kill: req.Mode == gatehouse.ModeHalt && !req.NoKill, ExpiresAt: expires})
}

// issue journals and enforces a halt or pause. A tripwire's halt is not
// issued twice: if one of the same tripwire and scope is in force
// (another replica may have crossed the same threshold from the same
// counts), that one is returned.
func (g *Gateway) issue(ctx context.Context, hi gatehouse.HaltIssued) (*gatehouse.Halt, error) {
	id := "h-" + strings.ToLower(ulid.Make().String())
	hi.Replica = g.replica
	for {
		g.hs.mu.Lock()
		if hi.Tripwire != "" {
			if h := g.tripwireHaltLocked(hi); h != nil {
				g.hs.mu.Unlock()
				return h, nil
			}
		}
		var kill []runEntry
		hi.Killed, hi.Cancelled = nil, nil
		if hi.Mode == gatehouse.ModeHalt {
			kill, hi.Killed, hi.Cancelled = g.coveredLocked(ctx, hi.Scope, hi.Kill)
		}
		ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventHaltIssued, id, hi)
		if err != nil {
			g.hs.mu.Unlock()
			return nil, err
		}
		var linked []gatehouse.Event
		if hi.Tripwire != "" {
			linked, err = g.appendFenced(context.WithoutCancel(ctx), []gatehouse.EventType{gatehouse.EventHaltIssued}, ev)
		} else {
			linked, err = g.store.Append(context.WithoutCancel(ctx), ev)
		}
		if errors.Is(err, gatehouse.ErrFenced) {
			g.hs.mu.Unlock()
			if err := g.catchUpFor(ctx); err != nil {
				return nil, unavailable(err)
			}
			continue // another replica halted meanwhile: perhaps this one too
		}
		if err != nil {
			g.hs.mu.Unlock()
			return nil, unavailable(err)
		}
		h := &gatehouse.Halt{}
		if err := h.Apply(linked[0]); err != nil {
			g.hs.mu.Unlock()
			return nil, err
		}
		g.hs.active[h.ID] = h
		g.hs.known[h.ID] = true
		g.armExpiry(h)
		hc := *h // a copy: lift changes the one in force under the lock
		h = &hc
		g.hs.mu.Unlock()

		g.stopCovered(ctx, h, kill, h.Cancelled)
		g.log.Warn(string(h.Mode)+" in force", "halt", h.ID, "scope", h.Scope.String(), "by", h.By, "reason", h.Reason,
			"killed", len(h.Killed), "cancelled", len(h.Cancelled))
		g.notifier.Notify(notify.Message{Kind: notify.KindHalt, Time: h.IssuedAt,
			Text: fmt.Sprintf("%s of %s by %s: %s (%d running actions killed, %d approvals cancelled); lift it with: gatehouse resume %s",
				h.Mode, h.Scope.String(), h.By, h.Reason, len(h.Killed), len(h.Cancelled), scopeFlag(h.Scope))})
		return h, nil
	}
}

// tripwireHaltLocked returns a copy of the halt in force that the
// tripwire of hi already issued for hi's scope, or nil. Callers hold
// hs.mu.
func (g *Gateway) tripwireHaltLocked(hi gatehouse.HaltIssued) *gatehouse.Halt {
	now := g.now()
	for _, h := range g.hs.active {
		if h.Tripwire == hi.Tripwire && h.Scope == hi.Scope && h.Mode == hi.Mode && h.InForce(now) {
			c := *h
			return &c
		}
	}
	return nil
}

// coveredLocked returns the runs a halt of scope kills (if kill), their
// ids, and the pending approvals it cancels, sorted. Callers hold hs.mu
// for writing.
func (g *Gateway) coveredLocked(ctx context.Context, scope gatehouse.Scope, kill bool) (runs []runEntry, killed, cancelled []string) {
	g.mu.Lock()
	for aid, r := range g.runs {
		if kill && scope.Covers(r.agent, r.session) {
			killed = append(killed, aid)
			runs = append(runs, r)
		}
	}
	g.mu.Unlock()
	slices.Sort(killed)
	g.rv.mu.Lock()
	for aid := range g.rv.waiters {
		if a, err := g.store.Action(ctx, aid); err == nil && scope.Covers(a.Agent, a.Session) {
			cancelled = append(cancelled, aid)
		}
	}
	g.rv.mu.Unlock()
	slices.Sort(cancelled)
	return runs, killed, cancelled
}

// stopCovered kills the runs and cancels the pending approvals of a halt
// that is in force.
func (g *Gateway) stopCovered(ctx context.Context, h *gatehouse.Halt, kill []runEntry, cancelled []string) {
	cause := haltCause{h}
	for _, r := range kill {
		r.cancel(cause)
	}
	if len(cancelled) == 0 {
		return
	}
	g.rv.mu.Lock()
	defer g.rv.mu.Unlock()
	for _, aid := range cancelled {
		w := g.rv.waiters[aid]
		a, err := g.store.Action(ctx, aid)
		if w == nil || err != nil || a.Status != gatehouse.StatusPending {
			continue
		}
		g.closePending(context.WithoutCancel(ctx), w, a, gatehouse.ActionFinished{
			Status: gatehouse.StatusInterrupted, Error: "cancelled: " + cause.Error()})
	}
}

// enforceFollowed puts in force a halt another replica journaled: from
// now on it refuses or holds new actions here, and a halt kills the runs
// and cancels the pending approvals of this replica that it covers (each
// end journaled here, naming the halt).
func (g *Gateway) enforceFollowed(ctx context.Context, e gatehouse.Event) {
	h := &gatehouse.Halt{}
	if err := h.Apply(e); err != nil {
		g.log.Error("a halt in the journal cannot be read", "seq", e.Seq, "err", err)
		return
	}
	g.hs.mu.Lock()
	if g.hs.known[h.ID] {
		g.hs.mu.Unlock()
		return
	}
	g.hs.known[h.ID] = true
	var kill []runEntry
	var killed, cancelled []string
	if h.Mode == gatehouse.ModeHalt {
		kill, killed, cancelled = g.coveredLocked(ctx, h.Scope, h.Kill)
	}
	g.hs.active[h.ID] = h
	g.armExpiry(h)
	hc := *h
	g.hs.mu.Unlock()
	g.stopCovered(ctx, &hc, kill, cancelled)
	g.log.Warn(string(h.Mode)+" from another replica in force", "halt", h.ID, "replica", h.Replica, "scope", h.Scope.String(),
		"by", h.By, "reason", h.Reason, "killed here", len(killed), "cancelled here", len(cancelled))
}

func scopeFlag(s gatehouse.Scope) string {
	switch {
	case s.Agent != "":
		return "--agent " + s.Agent
	case s.Session != "":
		return "--session " + s.Session
	}
	return "--all"
}

// armExpiry sets the timer that lifts h when its time runs out. Callers
// hold hs.mu.
func (g *Gateway) armExpiry(h *gatehouse.Halt) {
	if h.ExpiresAt == nil {
		return
	}
	id := h.ID
	g.hs.timers[id] = time.AfterFunc(max(0, h.ExpiresAt.Sub(g.now())), func() {
		if _, err := g.lift(context.Background(), []string{id}, "expiry"); err != nil {
			g.log.Error("lifting an expired halt failed", "halt", id, "err", err)
		}
	})
}

// Resume lifts the halts and pauses of a scope: with All, every one in
// force; with an agent or a session, those issued for exactly it. Requests
// the lifted pauses held are released in the order they came.
func (g *Gateway) Resume(ctx context.Context, p gatehouse.Principal, scope gatehouse.Scope) ([]*gatehouse.Halt, error) {
	if !p.Role.CanReview() {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "%s %q may not resume: it needs a reviewer or the admin token", p.Role, p.Name)
	}
	if g.isClosing() {
		return nil, errShuttingDown
	}
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	g.hs.mu.RLock()
	var ids []string
	for id, h := range g.hs.active {
		if scope.All || h.Scope == scope {
			ids = append(ids, id)
		}
	}
	g.hs.mu.RUnlock()
	if len(ids) == 0 {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "no halt or pause of %s is in force", scope.String())
	}
	slices.Sort(ids)
	return g.lift(ctx, ids, p.Name)
}

// lift journals the end of the halts ids and releases what they held.
// With replicas the lift is fenced, so that a halt whose expiry fires on
// every replica is lifted once.
func (g *Gateway) lift(ctx context.Context, ids []string, by string) ([]*gatehouse.Halt, error) {
	for {
		g.hs.mu.Lock()
		var evs []gatehouse.Event
		for _, id := range ids {
			if g.hs.active[id] == nil {
				continue
			}
			ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventHaltLifted, id, gatehouse.HaltLifted{By: by})
			if err != nil {
				g.hs.mu.Unlock()
				return nil, err
			}
			evs = append(evs, ev)
		}
		if len(evs) == 0 {
			g.hs.mu.Unlock()
			return nil, nil
		}
		linked, err := g.appendFenced(context.WithoutCancel(ctx), []gatehouse.EventType{gatehouse.EventHaltLifted}, evs...)
		if errors.Is(err, gatehouse.ErrFenced) {
			g.hs.mu.Unlock()
			if err := g.catchUpFor(ctx); err != nil {
				return nil, unavailable(err)
			}
			continue // another replica lifted something meanwhile
		}
		if err != nil {
			g.hs.mu.Unlock()
			return nil, unavailable(err)
		}
		var lifted []*gatehouse.Halt
		for _, e := range linked {
			h, err := g.liftLocked(e)
			if err != nil {
				g.hs.mu.Unlock()
				return nil, err
			}
			lifted = append(lifted, h)
		}
		release := g.releasableLocked()
		g.hs.mu.Unlock()
		g.releaseHeld(release)
		return lifted, nil
	}
}

// liftLocked applies a halt.lifted event to the halt in force. Callers
// hold hs.mu.
func (g *Gateway) liftLocked(e gatehouse.Event) (*gatehouse.Halt, error) {
	// A copy: a halt in force is never changed in place, so that one read
	// under the lock can be used after it.
	h := new(gatehouse.Halt)
	*h = *g.hs.active[e.Subject]
	if err := h.Apply(e); err != nil {
		return nil, err
	}
	delete(g.hs.active, h.ID)
	if t := g.hs.timers[h.ID]; t != nil {
		t.Stop()
		delete(g.hs.timers, h.ID)
	}
	var p gatehouse.HaltLifted
	_ = json.Unmarshal(e.Data, &p)
	g.log.Info(string(h.Mode)+" lifted", "halt", h.ID, "scope", h.Scope.String(), "by", p.By)
	if g.tw != nil {
		g.tw.Reset(h.Scope.Agent, h.Scope.Session)
	}
	return h, nil
}

// liftFollowed applies a lift another replica journaled.
func (g *Gateway) liftFollowed(e gatehouse.Event) {
	g.hs.mu.Lock()
	if g.hs.active[e.Subject] == nil {
		g.hs.mu.Unlock()
		return
	}
	if _, err := g.liftLocked(e); err != nil {
		g.hs.mu.Unlock()
		g.log.Error("a lift in the journal cannot be applied", "seq", e.Seq, "err", err)
		return
	}
	release := g.releasableLocked()
	g.hs.mu.Unlock()
	go g.releaseHeld(release) // one at a time, each after the one before journaled: not in the follower
}

// releasableLocked takes from the FIFO the held requests that nothing
// holds any more. Callers hold hs.mu.
func (g *Gateway) releasableLocked() []*heldRun {
	var release []*heldRun
	now := g.now()
	g.hs.held = slices.DeleteFunc(g.hs.held, func(hr *heldRun) bool {
		if g.blockingLocked(hr.agent, hr.session, now) == nil {
			release = append(release, hr)
			return true
		}
		return false
	})
	return release
}

// releaseHeld lets held requests go in order, each once the one before it
// has journaled its request.
func (g *Gateway) releaseHeld(release []*heldRun) {
	for _, hr := range release {
		close(hr.release)
		select {
		case <-hr.passed:
		case <-time.After(time.Second): // do not let one stuck request hold the rest
		}
	}
}

// Halts returns the halts and pauses in force, oldest first.
func (g *Gateway) Halts(ctx context.Context, p gatehouse.Principal) ([]*gatehouse.Halt, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	g.hs.mu.RLock()
	defer g.hs.mu.RUnlock()
	out := []*gatehouse.Halt{}
	now := g.now()
	for _, h := range g.hs.active {
		if h.InForce(now) {
			c := *h
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *gatehouse.Halt) int { return a.IssuedAt.Compare(b.IssuedAt) })
	return out, nil
}

// Status returns the halts, pauses, running actions and pending approvals.
func (g *Gateway) Status(ctx context.Context, p gatehouse.Principal) (*gatehouse.StatusReport, error) {
	hs, err := g.Halts(ctx, p)
	if err != nil {
		return nil, err
	}
	open, err := g.store.Running(ctx)
	if err != nil {
		return nil, err
	}
	st := &gatehouse.StatusReport{Halts: hs, Running: []*gatehouse.Action{}, Pending: []*gatehouse.Action{}}
	for _, a := range open {
		if a.Status == gatehouse.StatusRunning {
			st.Running = append(st.Running, a)
		} else if a.Decision.Effect == gatehouse.EffectReview {
			st.Pending = append(st.Pending, a)
		}
	}
	g.hs.mu.RLock()
	st.Held = len(g.hs.held)
	g.hs.mu.RUnlock()
	return st, nil
}

// loadHalts rebuilds the halts in force from the journal at start, and
// lifts those whose time ran out while the daemon was down.
func (g *Gateway) loadHalts(ctx context.Context) error {
	all := map[string]*gatehouse.Halt{}
	err := g.store.EventsOfType(ctx, []gatehouse.EventType{gatehouse.EventHaltIssued, gatehouse.EventHaltLifted}, func(e gatehouse.Event) error {
		h := all[e.Subject]
		if h == nil {
			h = &gatehouse.Halt{}
			all[e.Subject] = h
		}
		return h.Apply(e)
	})
	if err != nil {
		return err
	}
	var expired []string
	now := g.now()
	g.hs.mu.Lock()
	for id, h := range all {
		g.hs.known[id] = true
		switch {
		case h.LiftedAt != nil:
		case !h.InForce(now):
			g.hs.active[id] = h
			expired = append(expired, id)
		default:
			g.hs.active[id] = h
			g.armExpiry(h)
			g.log.Warn(string(h.Mode)+" still in force", "halt", id, "scope", h.Scope.String(), "reason", h.Reason)
		}
	}
	g.hs.mu.Unlock()
	if len(expired) > 0 {
		slices.Sort(expired)
		if _, err := g.lift(ctx, expired, "expiry"); err != nil {
			return err
		}
	}
	return nil
}
