package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

// Several gateways — replicas — may share one journal (internal/postgres).
// What each keeps in memory — halts and pauses, the waiters of pending
// approvals, learned rules, tripwire counters — must then follow what the
// others journal. This file is how:
//
//   - Following. Each replica reads the journal after the last event it
//     applied (Tail), woken by the store's Changes (a NOTIFY from the
//     appending transaction, or a keepalive round as a safety net) and by
//     a poll, and applies the other replicas' control events: a halt comes
//     into force here (refusing new actions, killing running ones in its
//     scope, cancelling pending approvals), a lift releases what it held,
//     a review releases the waiting agent, a learned rule is added, and
//     each decision and end counts toward this replica's tripwires.
//   - Fencing. A start is journaled with a fence: only if no halt.issued
//     came after the last event this replica applied. The store checks it
//     in the appending transaction, under the lock that orders all
//     appends; if it fails, the replica catches up and decides again. So
//     no action in a halt's scope starts after the halt is journaled, on
//     any replica, just as on one. Lifts are fenced the same way, so that
//     an expiry that fires on every replica lifts a halt once.
//   - Ownership. Each action records the replica in charge of it
//     (Action.Replica). A replica's start closes only its own actions left
//     running; a live replica's are never touched. Each replica holds a
//     claim in the store while its connection lives; a replica whose
//     claim has been free for the grace period is dead, and any other may
//     take over what it left: close its running actions as interrupted,
//     and watch its pending approvals.
//   - Losing the journal. A replica that cannot hold its claim refuses to
//     start actions (EUNAVAILABLE), and once it has been without it for
//     half the grace period it interrupts its running actions, since it
//     can neither hear a halt nor record their ends, and the others will
//     soon take them for dead. Ends it cannot journal are kept and
//     journaled when the store is back.

// Follower is how a replica reads what the other replicas append.
type Follower interface {
	// Changes is signalled whenever the journal may have grown, and when
	// the replica's claim is lost or taken again. It has one receiver.
	Changes() <-chan struct{}
	// Tail calls fn with each event after seq after, by seq, with whether
	// this replica appended it.
	Tail(ctx context.Context, after int64, fn func(e gatehouse.Event, own bool) error) error
	// LastSeq returns the seq of the last event (gatehouse.Store's Head
	// returns the whole event).
	LastSeq(ctx context.Context) (int64, error)
}

// Fencer appends with a precondition (see gatehouse.Fence): it returns
// gatehouse.ErrFenced, having appended nothing, if the fence does not
// hold.
type Fencer interface {
	AppendUnless(ctx context.Context, f gatehouse.Fence, events ...gatehouse.Event) ([]gatehouse.Event, error)
}

// Registry knows which replicas are alive.
type Registry interface {
	// Replica is this replica's id.
	Replica() string
	// Claimed reports whether this replica holds its claim now.
	Claimed() bool
	// TryTakeOver runs fn holding the claim of replica id if nobody holds
	// it, and reports whether it did.
	TryTakeOver(ctx context.Context, id string, fn func(context.Context) error) (bool, error)
}

// Shared is a store several replicas share: *postgres.Store opened with
// a replica id.
type Shared interface {
	Follower
	Fencer
	Registry
}

// DefaultReplicaGrace is how long a replica's claim must have been free
// before the others take over its actions.
const DefaultReplicaGrace = 10 * time.Second

// followPoll is how often a replica looks at the journal when nothing
// wakes it: the safety net under Changes.
const followPoll = 500 * time.Millisecond

// followBatch is the most events a replica applies per read.
const followBatch = 1000

var (
	errLostJournal     = errors.New("this replica lost its connection to the shared journal")
	errClosedElsewhere = errors.New("another replica closed it: this replica had been taken for dead")
	errNoClaim         = gatehouse.Errorf(gatehouse.EUNAVAILABLE, "this gateway replica has lost its connection to the shared journal; nothing was run (try again, or another replica)")
	errStopFollow      = errors.New("enough for one round")
)

// replicas is a gateway's side of sharing its journal.
type replicas struct {
	sh    Shared
	grace time.Duration

	// applied is the seq of the last journal event this replica has
	// applied (its own or another's). Every halt up to it is in force in
	// hs.active.
	applied  atomic.Int64
	followMu sync.Mutex         // one catch-up at a time
	meta     map[string]obsMeta // other replicas' live actions, for tripwire ends; under followMu

	lostSince time.Time // when the claim was first seen lost; follower goroutine only
	fenced    bool      // running actions were interrupted for the loss

	freeSince map[string]time.Time // sweeper goroutine only
	kick      chan struct{}        // wakes the sweeper

	outMu  sync.Mutex
	outbox []gatehouse.Event // ends not yet journaled

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// obsMeta is what a tripwire observation of an action's end needs from
// its request and decision.
type obsMeta struct {
	agent, session, system, command string
	effect                          gatehouse.Effect
	class                           gatehouse.Class
	risk                            int
}

func newReplicas(sh Shared, grace time.Duration) *replicas {
	if grace <= 0 {
		grace = DefaultReplicaGrace
	}
	return &replicas{sh: sh, grace: grace, meta: map[string]obsMeta{}, freeSince: map[string]time.Time{},
		kick: make(chan struct{}, 1)}
}

// Replica returns this gateway's replica id ("" when it has the journal to
// itself).
func (g *Gateway) Replica() string { return g.replica }

// Followed returns the seq of the last journal event this replica has
// applied (0 when the journal is not shared): every halt up to it is in
// force here.
func (g *Gateway) Followed() int64 {
	if g.rep == nil {
		return 0
	}
	return g.rep.applied.Load()
}

// own reports whether a is this replica's to recover: always, for a
// gateway that has its journal to itself.
func (g *Gateway) own(a *gatehouse.Action) bool {
	return g.rep == nil || a.Replica == g.replica
}

// appendStart journals the events that start an action: fenced, for a
// replica, against halts it has not applied (gatehouse.ErrFenced), and
// refused (EUNAVAILABLE) while it does not hold its claim.
func (g *Gateway) appendStart(ctx context.Context, events ...gatehouse.Event) ([]gatehouse.Event, error) {
	if g.rep == nil {
		return g.store.Append(ctx, events...)
	}
	if !g.rep.sh.Claimed() {
		return nil, errNoClaim
	}
	linked, err := g.rep.sh.AppendUnless(ctx, gatehouse.Fence{After: g.rep.applied.Load(),
		Types: []gatehouse.EventType{gatehouse.EventHaltIssued}}, events...)
	if err == nil {
		g.feed.Publish(linked...) // g.store publishes its appends; this one bypassed it
	}
	return linked, err
}

// appendFenced journals events unless an event of types came after what
// this replica has applied; without replicas it is a plain Append.
func (g *Gateway) appendFenced(ctx context.Context, types []gatehouse.EventType, events ...gatehouse.Event) ([]gatehouse.Event, error) {
	if g.rep == nil {
		return g.store.Append(ctx, events...)
	}
	linked, err := g.rep.sh.AppendUnless(ctx, gatehouse.Fence{After: g.rep.applied.Load(), Types: types}, events...)
	if err == nil {
		g.feed.Publish(linked...)
	}
	return linked, err
}

// catchUp applies what the other replicas journaled since this one last
// looked. A no-op without replicas. It must not be called from inside a
// catch-up (the follower's handlers start goroutines instead).
func (g *Gateway) catchUp(ctx context.Context) error {
	if g.rep == nil {
		return nil
	}
	r := g.rep
	r.followMu.Lock()
	defer r.followMu.Unlock()
	for {
		type item struct {
			e   gatehouse.Event
			own bool
		}
		var batch []item
		err := r.sh.Tail(ctx, r.applied.Load(), func(e gatehouse.Event, own bool) error {
			batch = append(batch, item{e, own})
			if len(batch) >= followBatch {
				return errStopFollow
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopFollow) {
			return err
		}
		for _, it := range batch {
			if !it.own {
				// The console's live view shows what every replica journals.
				g.feed.Publish(it.e)
			}
			switch {
			case it.e.Type == gatehouse.EventHaltIssued:
				// Also this replica's own: applying a halt is idempotent,
				// and one whose append's answer was lost must still come
				// into force here.
				g.enforceFollowed(ctx, it.e)
			case it.e.Type == gatehouse.EventHaltLifted:
				g.liftFollowed(it.e)
			case !it.own:
				g.applyFollowed(ctx, it.e)
			case it.e.Type == gatehouse.EventActionFinished:
				delete(r.meta, it.e.Subject)
			}
			r.applied.Store(it.e.Seq)
		}
		if len(batch) < followBatch {
			return nil
		}
	}
}

// catchUpFor is catchUp for a request that was fenced: bounded, so that
// a database that stops answering fails the request instead of holding
// it.
func (g *Gateway) catchUpFor(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return g.catchUp(ctx)
}

// applyFollowed applies one event another replica journaled (halts are
// applied by catchUp).
func (g *Gateway) applyFollowed(ctx context.Context, e gatehouse.Event) {
	switch {
	case e.Type == gatehouse.EventRuleLearned && g.learned != nil:
		if r, ok := learnedRule(e); ok {
			_ = g.learned.Add(r) // already there: it came this way before
		}
	case e.Type == gatehouse.EventRuleRemoved && g.learned != nil:
		_ = g.learned.Remove(e.Subject)
	case e.Type == gatehouse.EventPolicyLoaded && g.pf != nil:
		var p gatehouse.PolicyLoaded
		if json.Unmarshal(e.Data, &p) == nil && g.pf.Decider.Policy() != nil && p.Revision != g.pf.Decider.Policy().Revision() {
			g.log.Warn("another replica runs another policy: give every replica the same policy file",
				"theirs", p.Revision, "ours", g.pf.Decider.Policy().Revision(), "source", p.Source)
		}
	case e.Type == gatehouse.EventDaemonStarted:
		var p gatehouse.DaemonStarted
		_ = json.Unmarshal(e.Data, &p)
		g.log.Info("another replica started", "replica", p.Replica)
	case e.Type == gatehouse.EventDaemonStopped:
		var p gatehouse.DaemonStopped
		_ = json.Unmarshal(e.Data, &p)
		g.log.Info("another replica stopped", "replica", p.Replica)
		select {
		case g.rep.kick <- struct{}{}: // its pending approvals are left to the others
		default:
		}
	case e.Type.IsAction():
		g.followAction(ctx, e)
	}
}

// followAction counts another replica's decisions and ends toward the
// tripwires, tells a local waiter how its review went, and stops a local
// run that another replica closed.
func (g *Gateway) followAction(ctx context.Context, e gatehouse.Event) {
	r := g.rep
	switch e.Type {
	case gatehouse.EventActionRequested:
		var p gatehouse.ActionRequested
		if json.Unmarshal(e.Data, &p) == nil {
			if len(r.meta) >= 100000 {
				r.meta = map[string]obsMeta{} // ends went missing: forget rather than grow
			}
			r.meta[e.Subject] = obsMeta{agent: p.Agent, session: p.Session, system: p.System, command: p.Command,
				class: gatehouse.ClassIrreversible, risk: 100}
		}
	case gatehouse.EventActionDecided:
		var d gatehouse.ActionDecided
		m, ok := r.meta[e.Subject]
		if ok && json.Unmarshal(e.Data, &d) == nil {
			m.effect = d.Decision.Effect
			if d.Analysis != nil {
				m.class, m.risk = d.Analysis.Class, d.Analysis.Risk
			}
			r.meta[e.Subject] = m
			g.observeFollowed(e, m, gatehouse.StatusPending)
		}
	case gatehouse.EventActionFinished:
		var fin gatehouse.ActionFinished
		if json.Unmarshal(e.Data, &fin) == nil {
			m, ok := r.meta[e.Subject]
			if !ok {
				if a, err := g.store.Action(ctx, e.Subject); err == nil {
					m = obsMeta{agent: a.Agent, session: a.Session, system: a.System, command: a.Command,
						effect: a.Decision.Effect, class: gatehouse.ClassIrreversible, risk: 100}
					if a.Analysis != nil {
						m.class, m.risk = a.Analysis.Class, a.Analysis.Risk
					}
					ok = true
				}
			}
			delete(r.meta, e.Subject)
			if ok {
				g.observeFollowed(e, m, fin.Status)
			}
		}
		g.mu.Lock()
		run, running := g.runs[e.Subject]
		g.mu.Unlock()
		if running {
			g.log.Warn("another replica closed an action this one runs; stopping it", "action", e.Subject)
			run.cancel(errClosedElsewhere)
		}
	}
	g.rv.mu.Lock()
	_, waiting := g.rv.waiters[e.Subject]
	g.rv.mu.Unlock()
	if !waiting {
		return
	}
	a, err := g.store.Action(ctx, e.Subject)
	if err != nil {
		return // the next event, or the waiter's timer, looks again
	}
	g.rv.mu.Lock()
	defer g.rv.mu.Unlock()
	w := g.rv.waiters[e.Subject]
	switch {
	case w == nil:
	case a.Status.Final():
		g.unwatch(a.ID)
		w.release(false)
	case a.Status == gatehouse.StatusPending && a.Approved() >= a.ApprovalsNeeded():
		w.release(true)
	case a.EscalatedUntil != nil:
		g.arm(w, *a.EscalatedUntil)
	}
}

// observeFollowed counts another replica's action toward this replica's
// tripwires. What fires is put in force in its own goroutine: issuing
// catches up with the journal, which the caller is doing.
func (g *Gateway) observeFollowed(e gatehouse.Event, m obsMeta, status gatehouse.Status) {
	if g.tw == nil {
		return
	}
	fired := g.tw.Observe(tripwire.Observation{ActionID: e.Subject, Agent: m.agent, Session: m.session, System: m.system,
		Command: m.command, Time: e.Time, Status: status, Effect: m.effect, Class: m.class, Risk: m.risk})
	if len(fired) > 0 {
		go g.fire(context.Background(), fired)
	}
}

// learnedRule decodes a rule.learned event.
func learnedRule(e gatehouse.Event) (gatehouse.LearnedRule, bool) {
	var r gatehouse.RuleLearned
	if err := json.Unmarshal(e.Data, &r); err != nil {
		return gatehouse.LearnedRule{}, false
	}
	return gatehouse.LearnedRule{ID: e.Subject, Match: r.Match, Pattern: r.Pattern, Agent: r.Agent,
		CreatedBy: r.CreatedBy, FromAction: r.FromAction, CreatedAt: e.Time, ExpiresAt: r.ExpiresAt}, true
}

// startReplica starts following the journal, watching the claim, taking
// over dead replicas' actions and journaling the ends kept back. The
// gateway's Shutdown stops it.
func (g *Gateway) startReplica() {
	r := g.rep
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	r.wg.Go(func() {
		t := time.NewTicker(followPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-r.sh.Changes():
			case <-t.C:
			}
			g.checkClaim(ctx)
			// Bounded: a database that stopped answering must not keep
			// the claim from being checked.
			cctx, cancel := context.WithTimeout(ctx, max(r.grace/4, followPoll))
			if err := g.catchUp(cctx); err != nil && ctx.Err() == nil {
				g.log.Debug("following the journal failed; trying again", "err", err)
			}
			cancel()
			g.checkClaim(ctx)
		}
	})
	r.wg.Go(func() {
		t := time.NewTicker(r.grace / 2)
		defer t.Stop()
		for {
			g.sweep(ctx)
			g.flushOutbox(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-r.kick:
				// A replica stopped: its claim goes with its store, just
				// after. Look then, and again at the next tick.
				select {
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
					return
				}
			}
		}
	})
}

// stopReplica stops what startReplica started.
func (g *Gateway) stopReplica() {
	if g.rep == nil || g.rep.stop == nil {
		return
	}
	g.rep.stop()
	g.rep.wg.Wait()
}

// checkClaim interrupts the running actions of a replica that has been
// without its claim for half the grace period: it can neither hear a halt
// nor journal their ends, and the others will soon close them as a dead
// replica's.
func (g *Gateway) checkClaim(ctx context.Context) {
	r := g.rep
	if r.sh.Claimed() {
		if !r.lostSince.IsZero() {
			g.log.Info("this replica holds its claim on the shared journal again", "replica", g.replica)
		}
		r.lostSince, r.fenced = time.Time{}, false
		return
	}
	now := time.Now()
	if r.lostSince.IsZero() {
		r.lostSince = now
		g.log.Warn("this replica lost its connection to the shared journal: new actions are refused", "replica", g.replica)
	}
	if r.fenced || now.Sub(r.lostSince) < r.grace/2 {
		return
	}
	r.fenced = true
	g.mu.Lock()
	runs := make([]runEntry, 0, len(g.runs))
	for _, run := range g.runs {
		runs = append(runs, run)
	}
	g.mu.Unlock()
	g.log.Error("without the shared journal for too long: interrupting this replica's running actions", "replica", g.replica,
		"for", now.Sub(r.lostSince).Round(time.Millisecond), "actions", len(runs))
	for _, run := range runs {
		run.cancel(errLostJournal)
	}
}

// sweep takes over the actions of replicas that are dead: whose claim has
// been free for the grace period (an action without a replica, copied by
// gatehouse migrate or left by a daemon before replicas, belongs to no
// live one). Running actions are closed as interrupted; pending approvals
// are watched here, so that they expire, and an agent may attach here.
func (g *Gateway) sweep(ctx context.Context) {
	r := g.rep
	open, err := g.store.Running(ctx)
	if err != nil {
		return
	}
	others := map[string]bool{}
	for _, a := range open {
		if a.Replica != g.replica {
			others[a.Replica] = true
		}
	}
	for id := range r.freeSince {
		if !others[id] {
			delete(r.freeSince, id)
		}
	}
	now := time.Now()
	for id := range others {
		took, err := r.sh.TryTakeOver(ctx, id, func(ctx context.Context) error {
			if id != "" {
				since, seen := r.freeSince[id]
				if !seen {
					r.freeSince[id] = now
					return nil
				}
				if now.Sub(since) < r.grace {
					return nil
				}
			}
			return g.takeOver(ctx, id)
		})
		if err != nil {
			g.log.Error("taking over a dead replica's actions failed; trying again", "replica", id, "err", err)
		}
		if !took {
			delete(r.freeSince, id)
		}
	}
}

// takeOver closes dead replica id's running actions and watches its
// pending approvals. It runs holding id's claim.
func (g *Gateway) takeOver(ctx context.Context, id string) error {
	open, err := g.store.Running(ctx)
	if err != nil {
		return err
	}
	var pending []*gatehouse.Action
	closed := 0
	for _, a := range open {
		if a.Replica != id {
			continue
		}
		if a.Status == gatehouse.StatusPending && a.Decision.Effect == gatehouse.EffectReview {
			pending = append(pending, a)
			continue
		}
		reason := fmt.Sprintf("interrupted: replica %s stopped while it ran", id)
		if id == "" {
			reason = "interrupted: the daemon stopped while it ran"
		}
		if _, err := g.finish(ctx, a, gatehouse.ActionFinished{Status: gatehouse.StatusInterrupted, Error: reason}); err != nil {
			if code := gatehouse.ErrorCode(err); code == gatehouse.EUNAVAILABLE {
				return err
			}
			continue // it ended meanwhile
		}
		closed++
	}
	g.recoverPending(pending)
	if closed > 0 || len(pending) > 0 {
		g.log.Warn("took over the actions of a replica that is gone", "replica", id, "interrupted", closed, "pending", len(pending))
	}
	return nil
}

// keep holds back an end that could not be journaled, to journal it when
// the store is back.
func (g *Gateway) keep(e gatehouse.Event) {
	if g.rep == nil {
		return
	}
	g.rep.outMu.Lock()
	g.rep.outbox = append(g.rep.outbox, e)
	g.rep.outMu.Unlock()
}

// keepEnd holds back an end for action id, interrupted for reason: for a
// start whose outcome is unknown, so that, if it did reach the journal,
// the action does not stay running there.
func (g *Gateway) keepEnd(id, reason string) {
	e, err := gatehouse.NewEvent(g.now(), gatehouse.EventActionFinished, id,
		gatehouse.ActionFinished{Status: gatehouse.StatusInterrupted, Error: reason})
	if err == nil {
		g.keep(e)
	}
}

// flushOutbox journals the ends held back. One that can no longer follow
// (another replica closed the action meanwhile) is dropped.
func (g *Gateway) flushOutbox(ctx context.Context) {
	r := g.rep
	r.outMu.Lock()
	out := r.outbox
	r.outbox = nil
	r.outMu.Unlock()
	for i, e := range out {
		_, err := g.store.Append(ctx, e)
		switch gatehouse.ErrorCode(err) {
		case "":
			g.log.Info("journaled an end held back while the journal was unavailable", "action", e.Subject)
		case gatehouse.EUNAVAILABLE:
			// Still away: keep the rest, in order, for the next round.
			r.outMu.Lock()
			r.outbox = append(out[i:len(out):len(out)], r.outbox...)
			r.outMu.Unlock()
			return
		default:
			g.log.Warn("an end held back no longer fits the journal; dropped", "action", e.Subject, "err", err)
		}
	}
}
