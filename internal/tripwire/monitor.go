package tripwire

import (
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Bounds of what a Monitor remembers. Beyond MaxAgents agents or
// MaxSessions sessions the least recently seen one is forgotten, counters,
// known systems and all; beyond MaxSystems systems for one agent its least
// recently used system is forgotten. Forgetting can only make a tripwire
// fire later (a counter restarts) or again (a system is new again).
// Agents are authenticated identities, so their number is the operator's;
// sessions and systems are the client's claims, so theirs must be capped.
const (
	MaxAgents   = 1024
	MaxSessions = 16384
	MaxSystems  = 1024
	maxOpen     = 4096 // decided, unfinished actions remembered per agent
)

// Observation is one action's decision or outcome, as the gateway learns
// it. Status is pending or running when the action has been decided and
// is about to run (or to wait for review), and final when it has ended.
type Observation struct {
	ActionID, Agent, Session, System, Command string

	Time   time.Time
	Status gatehouse.Status
	Effect gatehouse.Effect // the decision
	Class  gatehouse.Class
	Risk   int
}

// Fired is a tripwire that fired: what the gateway journals with the halt
// or pause it issues, and notifies.
type Fired struct {
	Tripwire string // one of the Name* constants
	Effect   Effect
	Scope    ScopeKind
	// Agent is set for agent scope, Session for session scope: the scope's
	// value. A session-scoped Reason names the agent of the last action.
	Agent, Session string
	// Reason is one sentence for a responder.
	Reason string
	// Evidence is the ids of the actions that crossed the threshold,
	// oldest first, at most EvidenceMax (the newest).
	Evidence []string
	Time     time.Time // the time of the observation that crossed it
}

// Monitor watches the stream of actions and reports tripwires as they
// fire. It is safe for concurrent use. It does no I/O and reads no clock:
// every time comes from its caller.
type Monitor struct {
	mu       sync.Mutex
	cfg      Config
	agents   *lru[agentState]
	sessions *lru[sessionState]
	latest   time.Time // the latest time observed, for observations without one
}

type agentState struct {
	velocity, denials window
	failures          tally
	systems           *lru[struct{}] // known systems
	open              map[string]struct{}
	bump              int64 // last high-risk start, Unix ns, if bumped
	bumped            bool
}

type sessionState struct {
	failures, budget tally
}

// NewMonitor returns a Monitor enforcing cfg (see SetConfig).
func NewMonitor(cfg Config) *Monitor {
	m := &Monitor{agents: newLRU[agentState](MaxAgents), sessions: newLRU[sessionState](MaxSessions)}
	m.cfg = sanitize(cfg)
	return m
}

// SetConfig puts cfg in force, as on a policy reload. Counters are kept,
// with what they counted under the previous settings: a window whose max
// shrinks keeps its newest events. cfg should have passed Validate; a
// value out of range is brought into it (an invalid effect becomes pause)
// so that the monitor never fails.
func (m *Monitor) SetConfig(cfg Config) {
	c := sanitize(cfg)
	m.mu.Lock()
	m.cfg = c
	m.mu.Unlock()
}

// Config returns the configuration in force.
func (m *Monitor) Config() Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

func sanitize(c Config) Config {
	count := func(n int) int { return min(max(n, 1), MaxCount) }
	effect := func(e Effect) Effect {
		if e.Valid() {
			return e
		}
		return EffectPause
	}
	span := func(d Duration) Duration { return max(d, 1) }
	if v := c.Velocity; v != nil {
		c.Velocity = &Velocity{Max: count(v.Max), MinRisk: v.MinRisk, Window: span(v.Window), Effect: effect(v.Effect)}
	}
	if d := c.Denials; d != nil {
		c.Denials = &Denials{Max: count(d.Max), Window: span(d.Window), Effect: effect(d.Effect)}
	}
	if f := c.Failures; f != nil {
		s := f.Scope
		if !s.Valid() {
			s = ScopeSession
		}
		c.Failures = &Failures{Consecutive: count(f.Consecutive), Effect: effect(f.Effect), Scope: s}
	}
	if fc := c.FirstContact; fc != nil {
		c.FirstContact = &FirstContact{Effect: effect(fc.Effect), Systems: append([]string(nil), fc.Systems...)}
	}
	if b := c.Destructive; b != nil {
		c.Destructive = &Budget{Max: max(b.Max, 1), Effect: effect(b.Effect)}
	}
	if s := c.SpeedBump; s != nil {
		c.SpeedBump = &SpeedBump{MinRisk: s.MinRisk, Interval: min(max(s.Interval, 0), Duration(MaxInterval))}
	}
	return c
}

// Observe counts o and returns the tripwires it makes fire, usually none
// (nil). Call it twice for each action:
//
//   - when the action is decided to run or to wait for review (Status
//     pending or running, Effect allow or review): velocity, first contact
//     and the destructive budget count it here, so that a halt is in force
//     before the action that crossed the threshold starts. An action is
//     counted here at most once, however many such observations it gets
//     (pending, then running after approval).
//   - when it is final (Status succeeded, failed, denied or interrupted):
//     failures and denials count it here. An action denied at decision
//     gets only this observation.
//
// Each tripwire fires once per crossing of its threshold; see the package
// documentation for when it re-arms. A zero Time is taken as the latest
// time observed.
func (m *Monitor) Observe(o Observation) []Fired {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o.Time.IsZero() {
		o.Time = m.latest
	} else if o.Time.After(m.latest) {
		m.latest = o.Time
	}
	var a *agentState
	if o.Agent != "" {
		a = m.agents.get(o.Agent, true)
	}
	var s *sessionState
	if o.Session != "" {
		s = m.sessions.get(o.Session, true)
	}
	if o.Status.Final() {
		if a != nil && a.open != nil {
			delete(a.open, o.ActionID)
		}
		return m.final(o, a, s)
	}
	if o.Effect == gatehouse.EffectDeny {
		return nil // not going to run; its final observation counts the denial
	}
	if a != nil && o.ActionID != "" {
		if _, dup := a.open[o.ActionID]; dup {
			return nil
		}
		if a.open == nil || len(a.open) >= maxOpen {
			// Full means finals went missing: forget them rather than grow.
			a.open = make(map[string]struct{})
		}
		a.open[o.ActionID] = struct{}{}
	}
	return m.decided(o, a, s)
}

func (m *Monitor) decided(o Observation, a *agentState, s *sessionState) []Fired {
	var out []Fired
	ns := o.Time.UnixNano()
	if v := m.cfg.Velocity; v != nil && a != nil && o.Risk >= v.MinRisk {
		span := int64(v.Window)
		if a.velocity.add(event{t: ns, id: o.ActionID}, v.Max, span) {
			out = append(out, Fired{
				Tripwire: NameVelocity, Effect: v.Effect, Scope: ScopeAgent, Agent: o.Agent,
				Reason: fmt.Sprintf("%s ran %d actions of risk >= %d within %s (max %d)",
					o.Agent, v.Max+1, v.MinRisk, v.Window, v.Max),
				Evidence: ids(a.velocity.evidence(a.velocity.last, span)),
				Time:     o.Time,
			})
		}
	}
	if o.System != "" && a != nil && !m.touch(a, o.System) {
		if fc := m.cfg.FirstContact; fc != nil && matchAny(fc.Systems, o.System) {
			out = append(out, Fired{
				Tripwire: NameFirstContact, Effect: fc.Effect, Scope: ScopeAgent, Agent: o.Agent,
				Reason:   fmt.Sprintf("%s acted on system %q for the first time", o.Agent, o.System),
				Evidence: nonEmpty(o.ActionID),
				Time:     o.Time,
			})
		}
	}
	if b := m.cfg.Destructive; b != nil && s != nil && o.Class.Severity() >= gatehouse.ClassDestructive.Severity() {
		s.budget.add(o.ActionID, b.Max+1)
		if !s.budget.fired && s.budget.n > b.Max {
			s.budget.fired = true
			out = append(out, Fired{
				Tripwire: NameDestructive, Effect: b.Effect, Scope: ScopeSession, Session: o.Session,
				Reason: fmt.Sprintf("session %s had %d destructive or irreversible actions (max %d)%s",
					o.Session, s.budget.n, b.Max, lastBy(o.Agent)),
				Evidence: s.budget.ids(),
				Time:     o.Time,
			})
		}
	}
	return out
}

func (m *Monitor) final(o Observation, a *agentState, s *sessionState) []Fired {
	var out []Fired
	switch o.Status {
	case gatehouse.StatusSucceeded:
		if a != nil {
			a.failures.reset()
		}
		if s != nil {
			s.failures.reset()
		}
	case gatehouse.StatusFailed:
		f := m.cfg.Failures
		if f == nil {
			break
		}
		// Both scopes count, so that a reload switching the scope keeps
		// the run; only the configured one fires.
		if a != nil {
			a.failures.add(o.ActionID, f.Consecutive)
			if f.Scope == ScopeAgent && !a.failures.fired && a.failures.n >= f.Consecutive {
				a.failures.fired = true
				out = append(out, Fired{
					Tripwire: NameFailures, Effect: f.Effect, Scope: ScopeAgent, Agent: o.Agent,
					Reason:   fmt.Sprintf("%s had %d failed actions in a row (limit %d)", o.Agent, a.failures.n, f.Consecutive),
					Evidence: a.failures.ids(),
					Time:     o.Time,
				})
			}
		}
		if s != nil {
			s.failures.add(o.ActionID, f.Consecutive)
			if f.Scope == ScopeSession && !s.failures.fired && s.failures.n >= f.Consecutive {
				s.failures.fired = true
				out = append(out, Fired{
					Tripwire: NameFailures, Effect: f.Effect, Scope: ScopeSession, Session: o.Session,
					Reason: fmt.Sprintf("session %s had %d failed actions in a row (limit %d)%s",
						o.Session, s.failures.n, f.Consecutive, lastBy(o.Agent)),
					Evidence: s.failures.ids(),
					Time:     o.Time,
				})
			}
		}
	case gatehouse.StatusDenied:
		d := m.cfg.Denials
		if d == nil || a == nil {
			break
		}
		span := int64(d.Window)
		prog := program(o.Command)
		if a.denials.add(event{t: o.Time.UnixNano(), id: o.ActionID, prog: prog}, d.Max, span) {
			ev := a.denials.evidence(a.denials.last, span)
			reason := fmt.Sprintf("%s had %d actions denied within %s (max %d)", o.Agent, d.Max+1, d.Window, d.Max)
			if prog != "" {
				same := 0
				for _, e := range ev {
					if e.prog == prog {
						same++
					}
				}
				reason += fmt.Sprintf("; %d of the last %d run %q, as the last one does", same, len(ev), prog)
			}
			out = append(out, Fired{
				Tripwire: NameDenials, Effect: d.Effect, Scope: ScopeAgent, Agent: o.Agent,
				Reason: reason, Evidence: ids(ev), Time: o.Time,
			})
		}
	}
	return out
}

// touch records that a acted on sys and reports whether it had before.
func (m *Monitor) touch(a *agentState, sys string) bool {
	if a.systems == nil {
		a.systems = newLRU[struct{}](MaxSystems)
	}
	if a.systems.get(sys, false) != nil {
		return true
	}
	a.systems.get(sys, true)
	return false
}

// Reset forgets the counters of a scope and re-arms its tripwires, as when
// an operator resumes it: the agent's if agent is set, the session's if
// session is set, both if both are. It keeps what is not a counter: the
// systems an agent has touched (so first contact does not fire again for
// them) and its last speed-bumped time.
func (m *Monitor) Reset(agent, session string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if agent != "" {
		if a := m.agents.get(agent, false); a != nil {
			a.velocity.reset()
			a.denials.reset()
			a.failures.reset()
		}
	}
	if session != "" {
		m.sessions.remove(session)
	}
}

// SeedSystems records systems that agent has already acted on, as read
// from the journal when the daemon starts, so that first contact does not
// fire for them. Empty names are ignored.
func (m *Monitor) SeedSystems(agent string, systems ...string) {
	if agent == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agents.get(agent, true)
	for _, s := range systems {
		if s != "" {
			m.touch(a, s)
		}
	}
}

// SpeedBumpWait returns how long an action of agent with the given risk
// must wait before it starts, under the speed bump in force: 0 if there
// is none, if the risk is below its min_risk, or if at least its interval
// has passed since the agent's last action that the bump let through.
//
// Call it when the action is about to start, with the current time. When
// it returns 0 it has recorded now as the agent's last high-risk start,
// and the action must start. When it returns d > 0 it has recorded
// nothing: the caller waits d (or gives up, if the client goes) and calls
// again, because another of the agent's actions may have taken the slot
// meanwhile. The wait is never longer than the interval, even if the
// clock went back.
func (m *Monitor) SpeedBumpWait(agent string, risk int, now time.Time) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb := m.cfg.SpeedBump
	if sb == nil || risk < sb.MinRisk || agent == "" || sb.Interval <= 0 {
		return 0
	}
	a := m.agents.get(agent, true)
	ns := now.UnixNano()
	if a.bumped {
		if wait := a.bump + int64(sb.Interval) - ns; wait > 0 {
			return min(time.Duration(wait), time.Duration(sb.Interval))
		}
	}
	a.bump, a.bumped = ns, true
	return 0
}

// Tracked reports how many agents and sessions the monitor has state for.
func (m *Monitor) Tracked() (agents, sessions int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.agents.len(), m.sessions.len()
}

func matchAny(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

func ids(ev []event) []string {
	out := make([]string, 0, len(ev))
	for _, e := range ev {
		if e.id != "" {
			out = append(out, e.id)
		}
	}
	return out
}

func lastBy(agent string) string {
	if agent == "" {
		return ""
	}
	return ", the last by " + agent
}

func nonEmpty(id string) []string {
	if id == "" {
		return nil
	}
	return []string{id}
}

// wrappers run the command that follows them.
var wrappers = map[string]bool{
	"sudo": true, "doas": true, "env": true, "nohup": true, "nice": true, "ionice": true,
	"time": true, "timeout": true, "command": true, "exec": true, "builtin": true, "stdbuf": true,
	"xargs": true,
}

// wrapperOptArg are wrappers' options that take the next word as their
// argument (sudo -u root, nice -n 10, timeout -s KILL, env -u NAME).
var wrapperOptArg = map[string]bool{
	"-u": true, "-g": true, "-U": true, "-C": true, "-D": true, "-h": true, "-p": true,
	"-n": true, "-s": true, "-k": true, "-c": true, "-t": true,
}

// program returns the base name of the program a command string runs:
// its first word that is neither a variable assignment, a wrapper such as
// sudo, nor a wrapper's option, option argument or number. It is a heuristic on
// the string (the monitor has no parser), good enough to say that denied
// commands are variants of one another.
func program(cmd string) string {
	afterWrapper, skipArg := false, false
	for _, w := range strings.Fields(cmd) {
		w = strings.TrimLeft(w, "({!")
		switch {
		case w == "":
			continue
		case skipArg:
			skipArg = false
			continue
		case afterWrapper && w[0] == '-':
			skipArg = wrapperOptArg[w]
			continue
		case afterWrapper && w[0] >= '0' && w[0] <= '9':
			continue
		case strings.IndexByte(w, '=') > 0 && !strings.ContainsAny(w[:strings.IndexByte(w, '=')], "/-."):
			continue
		}
		name := path.Base(strings.Trim(w, `"'`))
		if wrappers[name] {
			afterWrapper = true
			continue
		}
		return name
	}
	return ""
}
