// Package tripwire watches the stream of actions and says when a
// tripwire fires, so that the gateway halts or pauses an agent or a
// session on its own, journals the halt with the evidence that fired it
// and notifies. It is pure logic: no I/O, no clock (every time comes from
// the caller), no goroutines. Observe takes about 80 ns, and under a
// microsecond when a tripwire fires (BenchmarkObserve, 2-CPU Xeon): a
// negligible part of the 10 ms allowed from a threshold being crossed to
// the halt being in force. One mutex guards the state; its critical
// section is that short, so sharding would buy nothing measurable.
//
// # The file
//
//	tripwires:
//	  velocity:           {max: 30, min_risk: 60, window: 1m, effect: pause}
//	  denials:            {max: 5, window: 5m, effect: halt}
//	  failures:           {consecutive: 10, scope: session, effect: pause}
//	  destructive_budget: {max: 20, effect: pause}
//	  first_contact:      {systems: ["prod-*"], effect: pause}   # off by default
//	  speed_bump:         {min_risk: 60, interval: 10s}         # off by default
//
// Those are DefaultConfig's values, plus the two that are off by default.
// Config.UnmarshalYAML decodes onto what is there: decode onto
// DefaultConfig() and every tripwire the file does not mention keeps its
// default, every field it names replaces one; `velocity: off` (or null, or
// false) turns a tripwire off, and a tripwire that was off, when the file
// turns it on, starts from the values above. Unknown fields are refused
// even through yaml.Node.Decode, which ignores KnownFields. Validate names
// the bad field ("tripwires.velocity.max: must be between 1 and 10000,
// not 0"). Max and consecutive must be at least 1, not 0: zero is what an
// omitted field decodes to, and a tripwire that fires on the first action
// is a policy rule (deny or review), not a tripwire.
//
// # The tripwires
//
// Risk is the analyser's 0–100 score: reads 0–10, writes 30, programs it
// cannot see into 40, destructive commands 70, broad destructive ones (rm
// -r, DELETE without WHERE) 85, irreversible ones 95, and 100 for the
// worst and for commands it cannot parse. So min_risk 60 means
// "destructive or worse", and leaves out writes and unknown programs,
// which are an agent's everyday work.
//
// velocity, per agent: more than max actions of risk >= min_risk decided
// within window. Default 30 a minute, pause. A person doing destructive
// work does not delete one thing every two seconds for a minute; a
// runaway loop does, and by the time anyone reads a notification it has
// done the next hundred. Within one session the destructive budget
// usually fires first; velocity is per agent, so it also catches an agent
// that spreads its actions over many sessions (session names are the
// client's claim, and cheap). Pause rather than halt because a burst can
// be legitimate (a migration, a cleanup the operator asked for): a person
// looks and resumes, and the held actions then run.
//
// denials, per agent: more than max actions denied — by policy, by a
// reviewer, or by a review that timed out — within window. Default 5 in
// 5 minutes, halt. An agent that meets a denial should read its reason
// and change course; one or two denials in a row are normal exploration,
// six in five minutes is an agent probing the policy for a variant that
// gets through. Halt rather than pause, because a pause releases held
// actions on resume, and the held actions of a probing agent are more
// probes. The reason says how many of the denied commands run the same
// program as the last one ("5 of the last 6 run "rm""): variants of one
// command are the signature of probing. The program is read from the
// command string (the first word that is not an assignment or a wrapper
// such as sudo), a heuristic.
//
// failures, per session (or per agent: scope): consecutive failed actions
// (status failed: non-zero exit, signal, timeout, could not start) in a
// row; a success resets the run. Denied and interrupted actions neither
// count nor reset. Default 10 in a session, pause. Debugging alternates
// failures with successes (a build fails, a file is edited, a test
// passes); ten failures with not one success is an agent flailing, and
// flailing agents reach for riskier workarounds. Per session, because a
// run of failures belongs to a task, and the agent's other sessions need
// not stop. Pause, because nothing harmful has happened yet. Unlike the
// others this tripwire fires at its threshold (the 10th failure), not
// after it: "10 in a row" is the threshold itself.
//
// first_contact, per agent: an action naming a system (the client's
// system field) that the agent has never acted on, if the system matches
// one of systems (path.Match globs, as in policy rules; none means any).
// Off by default: on a new installation every system is new to every
// agent, the system field is a claim that clients often leave empty, and
// a default that pauses each agent on its first use of each system would
// teach operators to resume without looking. Turned on with the systems
// that matter ("prod-*"), it makes a person look at the first action of
// each agent on each of them. It fires once per system: the system
// becomes known when it fires, so the resumed action and the ones after
// it do not fire again, and a Reset does not forget it. Every system an
// agent acts on is recorded, matching or not, so that a reload widening
// systems does not fire for systems already touched. An action denied at
// decision does not touch its system.
//
// destructive_budget, per session: more than max actions of class
// destructive or irreversible (an unknown class counts as irreversible,
// as everywhere in Gatehouse; write does not count). Default 20 a
// session, pause. A task deletes a handful of things (build output, a
// branch, a temporary table); twenty is a mass deletion. It counts at
// decision, before the action runs, so the 21st is held by the pause and
// runs only if a person resumes. An action awaiting review counts when it
// is decided, even if a reviewer later denies it. The budget has no
// window: a Reset (the operator's resume) grants a fresh one.
//
// speed_bump, per agent: not a tripwire but a brake. Each action of risk
// >= min_risk starts at least interval after the agent's previous one, so
// that a person watching the console sees each before the next (see
// Monitor.SpeedBumpWait). Off by default, because it slows every risky
// action even when nothing is wrong; for teams that watch live. Its
// interval is at most MaxInterval (10m): longer is a pause, and a request
// held that long outlives its client.
//
// # Firing once
//
// A tripwire fires once per crossing of its threshold, for one scope:
//
//   - velocity and denials fire when the count within the window goes
//     over max. They stay silent for that scope until Reset, or until a
//     full window has passed since they fired and the count is back to at
//     most max; then the next crossing fires again. Nothing is counted
//     twice and nothing fires twice for one burst, even while in-flight
//     actions keep arriving after the halt.
//   - failures fires when the run reaches consecutive, and not again until
//     a success (or Reset) ends the run.
//   - destructive_budget fires when the session goes over max, and not
//     again until Reset.
//   - first_contact fires once per (agent, system), for as long as the
//     monitor remembers the system (see below).
//
// Times are made non-decreasing per window: an observation that arrives
// with a time older than the newest counted is counted as the newest. A
// window ending at t spans (t-window, t]: an event exactly window before
// the newest has left it.
//
// # What is remembered, and for how long
//
// Memory is bounded: each window keeps the times of its last max+1 events
// (max is at most MaxCount), each Fired at most EvidenceMax action ids,
// and the monitor tracks at most MaxAgents agents and MaxSessions
// sessions (least recently seen forgotten first) and MaxSystems systems
// per agent. Old timestamps need no pruning: they are overwritten.
//
// SetConfig (a policy reload) keeps every counter. Counters live in
// memory only: a daemon restart forgets them, re-arms every tripwire and
// every speed bump, and starts every window and budget from zero. Halts
// and pauses already issued are journaled, so they survive the restart;
// only the counting starts over. First contact is the exception: its
// known systems must survive, or a restart would make every system new.
// The daemon seeds them from the journal at start (SeedSystems), with the
// systems each agent's actions named.
package tripwire
