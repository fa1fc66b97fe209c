package gateway

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

// observe tells the tripwire monitor about an action — when it is decided
// and when it ends — and puts in force the halts and pauses of the
// tripwires that fire. It returns once they are in force, so an action
// that crosses a threshold is itself stopped by the halt it caused.
func (g *Gateway) observe(ctx context.Context, a *gatehouse.Action) {
	if g.tw == nil {
		return
	}
	o := tripwire.Observation{ActionID: a.ID, Agent: a.Agent, Session: a.Session, System: a.System,
		Command: a.Command, Time: g.now(), Status: a.Status, Effect: a.Decision.Effect,
		Class: gatehouse.ClassIrreversible, Risk: 100}
	if a.Analysis != nil {
		o.Class, o.Risk = a.Analysis.Class, a.Analysis.Risk
	}
	g.fire(ctx, g.tw.Observe(o))
}

// fire puts in force the halts and pauses of tripwires that fired. With
// replicas, each counts every action, so two may cross one threshold from
// the same counts: a tripwire's halt is fenced against halts this replica
// has not applied yet, and not issued if one of the same tripwire and
// scope is already in force.
func (g *Gateway) fire(ctx context.Context, fired []tripwire.Fired) {
	for _, f := range fired {
		mode := gatehouse.ModePause
		if f.Effect == tripwire.EffectHalt {
			mode = gatehouse.ModeHalt
		}
		scope := gatehouse.Scope{Agent: f.Agent}
		if f.Scope == tripwire.ScopeSession {
			scope = gatehouse.Scope{Session: f.Session}
		}
		h, err := g.issue(context.WithoutCancel(ctx), gatehouse.HaltIssued{Mode: mode, Scope: scope, Reason: f.Reason,
			By: "tripwire:" + f.Tripwire, Kill: mode == gatehouse.ModeHalt, Tripwire: f.Tripwire, Evidence: f.Evidence})
		if err != nil {
			g.log.Error("a tripwire fired but its halt could not be put in force", "tripwire", f.Tripwire, "scope", scope.String(), "err", err)
			continue
		}
		g.log.Warn("tripwire fired", "tripwire", f.Tripwire, "halt", h.ID, "mode", mode, "scope", scope.String(), "reason", f.Reason)
	}
}

// speedBump waits, if the policy's speed bump says a's agent must, before
// a risky action starts: time for a person to see the one before.
func (g *Gateway) speedBump(ctx context.Context, a *gatehouse.Action) error {
	if g.tw == nil || a.Analysis == nil {
		return nil
	}
	for {
		d := g.tw.SpeedBumpWait(a.Agent, a.Analysis.Risk, g.now())
		if d <= 0 {
			return nil
		}
		g.log.Info("speed bump: action waits", "action", a.ID, "agent", a.Agent, "wait", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return gatehouse.Errorf(gatehouse.EUNAVAILABLE, "stopped waiting at a speed bump: %v", context.Cause(ctx))
		}
	}
}

// SetTripwires puts a tripwire configuration in force (on policy reload).
func (g *Gateway) setTripwires(c tripwire.Config) {
	if g.tw != nil {
		g.tw.SetConfig(c)
	}
}

// seedSystems tells the monitor which systems each agent has already
// acted on, so first contact means first ever, not first since start. It
// reads the newest actions only (gatehouse.MaxLimit), and only when the
// first-contact tripwire is on.
func (g *Gateway) seedSystems(ctx context.Context) error {
	if g.tw == nil || g.tw.Config().FirstContact == nil {
		return nil
	}
	acts, err := g.store.Actions(ctx, gatehouse.ActionFilter{Limit: gatehouse.MaxLimit})
	if err != nil {
		return err
	}
	for _, a := range acts {
		if a.System != "" {
			g.tw.SeedSystems(a.Agent, a.System)
		}
	}
	return nil
}
