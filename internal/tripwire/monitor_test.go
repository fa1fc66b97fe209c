package tripwire_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

// repeat returns n observations made by f, the clock moving every between
// them (the first at the clock's time).
func repeat(c *clock, n int, every time.Duration, f func(at time.Time) tripwire.Observation) []tripwire.Observation {
	out := make([]tripwire.Observation, n)
	for i := range out {
		if i > 0 {
			c.add(every)
		}
		out[i] = f(c.now)
	}
	return out
}

func then(c *clock, after time.Duration, f func(at time.Time) tripwire.Observation) []tripwire.Observation {
	return []tripwire.Observation{f(c.add(after))}
}

func cat(parts ...[]tripwire.Observation) []tripwire.Observation {
	var out []tripwire.Observation
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestThresholds(t *testing.T) {
	risky := func(agent, session string) func(time.Time) tripwire.Observation {
		return func(at time.Time) tripwire.Observation {
			return decided(agent, session, 60, gatehouse.ClassDestructive, at)
		}
	}
	ofRisk := func(risk int) func(time.Time) tripwire.Observation {
		return func(at time.Time) tripwire.Observation {
			return decided("ci-bot", "s1", risk, gatehouse.ClassWrite, at)
		}
	}
	ofClass := func(class gatehouse.Class) func(time.Time) tripwire.Observation {
		return func(at time.Time) tripwire.Observation { return decided("ci-bot", "s1", 10, class, at) }
	}
	final := func(agent, session string, st gatehouse.Status) func(time.Time) tripwire.Observation {
		return func(at time.Time) tripwire.Observation { return finished(agent, session, st, "rm -rf /tmp/x", at) }
	}
	denied := final("ci-bot", "s1", gatehouse.StatusDenied)
	failed := final("ci-bot", "s1", gatehouse.StatusFailed)
	ok := final("ci-bot", "s1", gatehouse.StatusSucceeded)
	agentScope := only("failures")
	agentScope.Failures.Scope = tripwire.ScopeAgent

	tests := []struct {
		name string
		cfg  tripwire.Config
		obs  func(c *clock) []tripwire.Observation
		want []string
	}{
		// velocity: more than 30 of risk >= 60 within 1m.
		{"velocity/30 within window", only("velocity"),
			func(c *clock) []tripwire.Observation { return repeat(c, 30, time.Second, risky("ci-bot", "s1")) }, nil},
		{"velocity/31 within window", only("velocity"),
			func(c *clock) []tripwire.Observation { return repeat(c, 31, time.Second, risky("ci-bot", "s1")) },
			[]string{"31:velocity"}},
		{"velocity/31 all at once", only("velocity"),
			func(c *clock) []tripwire.Observation { return repeat(c, 31, 0, risky("ci-bot", "s1")) },
			[]string{"31:velocity"}},
		{"velocity/31st just outside the window", only("velocity"),
			func(c *clock) []tripwire.Observation {
				// 0s..29s, then 60s: the first is exactly a window old.
				return cat(repeat(c, 30, time.Second, risky("ci-bot", "s1")), then(c, 31*time.Second, risky("ci-bot", "s1")))
			}, nil},
		{"velocity/31st just inside the window", only("velocity"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 30, time.Second, risky("ci-bot", "s1")), then(c, 31*time.Second-time.Nanosecond, risky("ci-bot", "s1")))
			}, []string{"31:velocity"}},
		{"velocity/steady rate under the limit", only("velocity"),
			func(c *clock) []tripwire.Observation { return repeat(c, 300, 2*time.Second, risky("ci-bot", "s1")) }, nil},
		{"velocity/risk 59 not counted", only("velocity"),
			func(c *clock) []tripwire.Observation { return repeat(c, 100, 0, ofRisk(59)) }, nil},
		{"velocity/risk 60 counted", only("velocity"),
			func(c *clock) []tripwire.Observation { return repeat(c, 31, 0, ofRisk(60)) }, []string{"31:velocity"}},
		{"velocity/two agents count apart", only("velocity"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 30, 0, risky("a", "s1")), repeat(c, 30, 0, risky("b", "s1")))
			}, nil},
		{"velocity/denied at decision not counted", only("velocity"),
			func(c *clock) []tripwire.Observation {
				return repeat(c, 40, 0, func(at time.Time) tripwire.Observation {
					o := decided("ci-bot", "s1", 90, gatehouse.ClassDestructive, at)
					o.Status, o.Effect = gatehouse.StatusDenied, gatehouse.EffectDeny
					return o
				})
			}, nil},
		{"velocity/awaiting review counted", only("velocity"),
			func(c *clock) []tripwire.Observation {
				return repeat(c, 31, 0, func(at time.Time) tripwire.Observation {
					o := decided("ci-bot", "s1", 90, gatehouse.ClassDestructive, at)
					o.Status, o.Effect = gatehouse.StatusPending, gatehouse.EffectReview
					return o
				})
			}, []string{"31:velocity"}},

		// denials: more than 5 within 5m.
		{"denials/5 within window", only("denials"),
			func(c *clock) []tripwire.Observation { return repeat(c, 5, time.Minute, denied) }, nil},
		{"denials/6 within window", only("denials"),
			func(c *clock) []tripwire.Observation { return repeat(c, 6, 59*time.Second, denied) }, []string{"6:denials"}},
		{"denials/6th outside the window", only("denials"),
			func(c *clock) []tripwire.Observation { return repeat(c, 6, time.Minute, denied) }, nil},
		{"denials/failures are not denials", only("denials"),
			func(c *clock) []tripwire.Observation { return repeat(c, 20, 0, failed) }, nil},
		{"denials/two agents count apart", only("denials"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 5, 0, final("a", "s1", gatehouse.StatusDenied)), repeat(c, 5, 0, final("b", "s1", gatehouse.StatusDenied)))
			}, nil},

		// failures: 10 in a row in a session.
		{"failures/9 in a row", only("failures"),
			func(c *clock) []tripwire.Observation { return repeat(c, 9, time.Hour, failed) }, nil},
		{"failures/10 in a row, hours apart", only("failures"),
			func(c *clock) []tripwire.Observation { return repeat(c, 10, time.Hour, failed) }, []string{"10:failures"}},
		{"failures/a success resets", only("failures"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 9, 0, failed), repeat(c, 1, 0, ok), repeat(c, 9, 0, failed))
			}, nil},
		{"failures/denied and interrupted neither count nor reset", only("failures"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 5, 0, failed), repeat(c, 3, 0, denied),
					repeat(c, 3, 0, final("ci-bot", "s1", gatehouse.StatusInterrupted)), repeat(c, 5, 0, failed))
			}, []string{"16:failures"}},
		{"failures/sessions count apart", only("failures"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 9, 0, failed), repeat(c, 9, 0, final("ci-bot", "s2", gatehouse.StatusFailed)))
			}, nil},
		{"failures/session scope: one agent over two sessions", only("failures"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 9, 0, failed), repeat(c, 1, 0, final("ci-bot", "s2", gatehouse.StatusFailed)),
					repeat(c, 1, 0, failed))
			}, []string{"11:failures"}},
		{"failures/agent scope: one agent over two sessions", agentScope,
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 5, 0, failed), repeat(c, 5, 0, final("ci-bot", "s2", gatehouse.StatusFailed)))
			}, []string{"10:failures"}},
		{"failures/agent scope: two agents in one session", agentScope,
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 9, 0, final("a", "s1", gatehouse.StatusFailed)), repeat(c, 9, 0, final("b", "s1", gatehouse.StatusFailed)))
			}, nil},
		{"failures/a success of another agent resets the session's run", only("failures"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 9, 0, failed), repeat(c, 1, 0, final("b", "s1", gatehouse.StatusSucceeded)),
					repeat(c, 9, 0, failed))
			}, nil},

		// destructive budget: more than 20 destructive or irreversible.
		{"budget/20 destructive", only("destructive_budget"),
			func(c *clock) []tripwire.Observation {
				return repeat(c, 20, time.Hour, ofClass(gatehouse.ClassDestructive))
			}, nil},
		{"budget/21 destructive, hours apart", only("destructive_budget"),
			func(c *clock) []tripwire.Observation {
				return repeat(c, 21, time.Hour, ofClass(gatehouse.ClassDestructive))
			},
			[]string{"21:destructive_budget"}},
		{"budget/irreversible counts", only("destructive_budget"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 10, 0, ofClass(gatehouse.ClassDestructive)), repeat(c, 11, 0, ofClass(gatehouse.ClassIrreversible)))
			}, []string{"21:destructive_budget"}},
		{"budget/write and read do not count", only("destructive_budget"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 20, 0, ofClass(gatehouse.ClassDestructive)), repeat(c, 50, 0, ofClass(gatehouse.ClassWrite)),
					repeat(c, 50, 0, ofClass(gatehouse.ClassRead)))
			}, nil},
		{"budget/an unknown class counts as irreversible", only("destructive_budget"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 20, 0, ofClass(gatehouse.ClassDestructive)), repeat(c, 1, 0, ofClass("")))
			}, []string{"21:destructive_budget"}},
		{"budget/final observations do not count", only("destructive_budget"),
			func(c *clock) []tripwire.Observation {
				return repeat(c, 30, 0, func(at time.Time) tripwire.Observation {
					o := decided("ci-bot", "s1", 70, gatehouse.ClassDestructive, at)
					o.Status = gatehouse.StatusSucceeded
					return o
				})
			}, nil},
		{"budget/sessions count apart", only("destructive_budget"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 20, 0, risky("ci-bot", "s1")), repeat(c, 20, 0, risky("ci-bot", "s2")))
			}, nil},
		{"budget/agents share their session's budget", only("destructive_budget"),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 10, 0, risky("a", "s1")), repeat(c, 11, 0, risky("b", "s1")))
			}, []string{"21:destructive_budget"}},
		{"budget/no session, no budget", only("destructive_budget"),
			func(c *clock) []tripwire.Observation { return repeat(c, 30, 0, risky("ci-bot", "")) }, nil},

		// Everything off.
		{"off/nothing fires", tripwire.Config{},
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 100, 0, risky("ci-bot", "s1")), repeat(c, 50, 0, denied), repeat(c, 50, 0, failed))
			}, nil},
		// Everything on: each fires once.
		{"defaults/all together", tripwire.DefaultConfig(),
			func(c *clock) []tripwire.Observation {
				return cat(repeat(c, 31, 0, risky("ci-bot", "s1")), repeat(c, 10, 0, failed), repeat(c, 6, 0, denied))
			}, []string{"21:destructive_budget", "31:velocity", "41:failures", "47:denials"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tripwire.NewMonitor(tt.cfg)
			got := observeAll(m, tt.obs(newClock()))
			mustEqual(t, "fired", got, tt.want)
		})
	}
}

func TestFiredVelocity(t *testing.T) {
	c := newClock()
	m := tripwire.NewMonitor(tripwire.DefaultConfig())
	var ids []string
	var fired []tripwire.Fired
	for range 31 {
		o := decided("ci-bot", "s1", 60, gatehouse.ClassWrite, c.add(time.Second))
		ids = append(ids, o.ActionID)
		fired = append(fired, m.Observe(o)...)
	}
	if len(fired) != 1 {
		t.Fatalf("fired %d times, want 1: %+v", len(fired), fired)
	}
	f := fired[0]
	if f.Tripwire != "velocity" || f.Effect != tripwire.EffectPause || f.Scope != tripwire.ScopeAgent ||
		f.Agent != "ci-bot" || f.Session != "" || !f.Time.Equal(c.now) {
		t.Errorf("fired %+v", f)
	}
	if want := "ci-bot ran 31 actions of risk >= 60 within 1m0s (max 30)"; f.Reason != want {
		t.Errorf("reason %q, want %q", f.Reason, want)
	}
	mustEqual(t, "evidence", f.Evidence, ids)
}

func TestFiredOthers(t *testing.T) {
	c := newClock()
	m := tripwire.NewMonitor(tripwire.DefaultConfig())

	// Denials, with variants of one program.
	cmds := []string{"rm -rf /srv", "sudo -u root rm -rf /srv", "ls /srv", "FOO=1 /bin/rm -r /srv", "timeout 5 rm /srv/*", "env -i rm -f /srv"}
	var ids []string
	var fired []tripwire.Fired
	for _, cmd := range cmds {
		o := finished("ci-bot", "s1", gatehouse.StatusDenied, cmd, c.add(time.Second))
		ids = append(ids, o.ActionID)
		fired = append(fired, m.Observe(o)...)
	}
	if len(fired) != 1 {
		t.Fatalf("denials fired %d times: %+v", len(fired), fired)
	}
	f := fired[0]
	if want := `ci-bot had 6 actions denied within 5m0s (max 5); 5 of the last 6 run "rm", as the last one does`; f.Reason != want {
		t.Errorf("reason %q, want %q", f.Reason, want)
	}
	if f.Effect != tripwire.EffectHalt || f.Scope != tripwire.ScopeAgent || f.Agent != "ci-bot" {
		t.Errorf("fired %+v", f)
	}
	mustEqual(t, "evidence", f.Evidence, ids)

	// Failures, in a session.
	ids, fired = nil, nil
	for range 10 {
		o := finished("ci-bot", "s2", gatehouse.StatusFailed, "make", c.add(time.Second))
		ids = append(ids, o.ActionID)
		fired = append(fired, m.Observe(o)...)
	}
	if len(fired) != 1 {
		t.Fatalf("failures fired %d times: %+v", len(fired), fired)
	}
	f = fired[0]
	if want := "session s2 had 10 failed actions in a row (limit 10), the last by ci-bot"; f.Reason != want {
		t.Errorf("reason %q, want %q", f.Reason, want)
	}
	if f.Effect != tripwire.EffectPause || f.Scope != tripwire.ScopeSession || f.Session != "s2" || f.Agent != "" {
		t.Errorf("fired %+v", f)
	}
	mustEqual(t, "evidence", f.Evidence, ids)

	// Destructive budget.
	ids, fired = nil, nil
	for range 21 {
		o := decided("ops", "s3", 10, gatehouse.ClassIrreversible, c.add(time.Minute))
		ids = append(ids, o.ActionID)
		fired = append(fired, m.Observe(o)...)
	}
	if len(fired) != 1 {
		t.Fatalf("budget fired %d times: %+v", len(fired), fired)
	}
	f = fired[0]
	if want := "session s3 had 21 destructive or irreversible actions (max 20), the last by ops"; f.Reason != want {
		t.Errorf("reason %q, want %q", f.Reason, want)
	}
	if f.Tripwire != "destructive_budget" || f.Scope != tripwire.ScopeSession || f.Session != "s3" {
		t.Errorf("fired %+v", f)
	}
	mustEqual(t, "evidence", f.Evidence, ids)
}

func TestEvidenceBounded(t *testing.T) {
	cfg := tripwire.Config{Velocity: &tripwire.Velocity{Max: 200, MinRisk: 0, Window: tripwire.Duration(time.Hour), Effect: tripwire.EffectHalt}}
	m := tripwire.NewMonitor(cfg)
	c := newClock()
	var ids []string
	var fired []tripwire.Fired
	for range 201 {
		o := decided("ci-bot", "s1", 0, gatehouse.ClassRead, c.add(time.Millisecond))
		ids = append(ids, o.ActionID)
		fired = append(fired, m.Observe(o)...)
	}
	if len(fired) != 1 {
		t.Fatalf("fired %d times", len(fired))
	}
	mustEqual(t, "evidence", fired[0].Evidence, ids[len(ids)-tripwire.EvidenceMax:])
}

func TestNoDuplicateFiring(t *testing.T) {
	t.Run("velocity", func(t *testing.T) {
		m := tripwire.NewMonitor(only("velocity"))
		c := newClock()
		var got []string
		step := func(n int, every time.Duration) {
			for range n {
				got = append(got, names(m.Observe(decided("ci-bot", "s1", 80, gatehouse.ClassWrite, c.add(every))))...)
			}
		}
		step(31, time.Millisecond) // fires
		step(200, time.Second)     // still over (one a second for 200s): silent
		mustEqual(t, "while over", got, []string{"velocity"})
		// Back under: 31 a minute is over, 29 a minute is not. After a
		// full window under the limit, the next crossing fires.
		step(60, 3*time.Second)
		mustEqual(t, "under", got, []string{"velocity"})
		step(31, time.Millisecond)
		mustEqual(t, "second crossing", got, []string{"velocity", "velocity"})
	})
	t.Run("velocity: a window passed but still over", func(t *testing.T) {
		m := tripwire.NewMonitor(only("velocity"))
		c := newClock()
		n := 0
		for range 31 + 600 {
			// 60 a minute, for ten minutes: one crossing.
			n += len(m.Observe(decided("ci-bot", "s1", 80, gatehouse.ClassWrite, c.add(time.Second))))
		}
		if n != 1 {
			t.Errorf("fired %d times, want 1", n)
		}
	})
	t.Run("denials", func(t *testing.T) {
		m := tripwire.NewMonitor(only("denials"))
		c := newClock()
		n := 0
		for range 100 {
			n += len(m.Observe(finished("ci-bot", "s1", gatehouse.StatusDenied, "rm x", c.add(time.Second))))
		}
		if n != 1 {
			t.Errorf("fired %d times, want 1", n)
		}
		// An hour of quiet, then a new burst: fires again.
		c.add(time.Hour)
		for range 6 {
			n += len(m.Observe(finished("ci-bot", "s1", gatehouse.StatusDenied, "rm x", c.add(time.Second))))
		}
		if n != 2 {
			t.Errorf("fired %d times after a quiet hour, want 2", n)
		}
	})
	t.Run("failures", func(t *testing.T) {
		m := tripwire.NewMonitor(only("failures"))
		c := newClock()
		n := 0
		for range 100 {
			n += len(m.Observe(finished("ci-bot", "s1", gatehouse.StatusFailed, "make", c.add(time.Second))))
		}
		if n != 1 {
			t.Errorf("fired %d times, want 1", n)
		}
		// A success ends the run; a new run of 10 fires again.
		m.Observe(finished("ci-bot", "s1", gatehouse.StatusSucceeded, "make", c.add(time.Second)))
		for range 10 {
			n += len(m.Observe(finished("ci-bot", "s1", gatehouse.StatusFailed, "make", c.add(time.Second))))
		}
		if n != 2 {
			t.Errorf("fired %d times after a success, want 2", n)
		}
	})
	t.Run("budget", func(t *testing.T) {
		m := tripwire.NewMonitor(only("destructive_budget"))
		c := newClock()
		n := 0
		for range 100 {
			n += len(m.Observe(decided("ci-bot", "s1", 70, gatehouse.ClassDestructive, c.add(time.Hour))))
		}
		if n != 1 {
			t.Errorf("fired %d times, want 1", n)
		}
	})
	t.Run("an action observed twice at decision counts once", func(t *testing.T) {
		// Pending (awaiting review), then running (approved): one action.
		m := tripwire.NewMonitor(tripwire.DefaultConfig())
		c := newClock()
		var got []string
		for range 30 {
			o := decided("ci-bot", "s1", 90, gatehouse.ClassWrite, c.add(time.Millisecond))
			o.Status, o.Effect = gatehouse.StatusPending, gatehouse.EffectReview
			got = append(got, names(m.Observe(o))...)
			o.Status, o.Time = gatehouse.StatusRunning, c.add(time.Millisecond)
			got = append(got, names(m.Observe(o))...)
			o.Status = gatehouse.StatusSucceeded
			got = append(got, names(m.Observe(o))...)
		}
		mustEqual(t, "30 actions", got, nil)
		mustEqual(t, "31st", names(m.Observe(decided("ci-bot", "s1", 90, gatehouse.ClassWrite, c.add(time.Millisecond)))),
			[]string{"velocity"})
	})
}

func TestReset(t *testing.T) {
	c := newClock()
	m := tripwire.NewMonitor(tripwire.DefaultConfig())
	fire := func(what string, n int, f func() tripwire.Observation) []string {
		t.Helper()
		var got []string
		for range n {
			got = append(got, names(m.Observe(f()))...)
		}
		return got
	}
	risky := func() tripwire.Observation {
		return decided("ci-bot", "s1", 80, gatehouse.ClassWrite, c.add(time.Millisecond))
	}
	mustEqual(t, "velocity", fire("velocity", 31, risky), []string{"velocity"})
	mustEqual(t, "silent", fire("velocity", 31, risky), nil)
	m.Reset("ci-bot", "")
	mustEqual(t, "after reset: 30", fire("velocity", 30, risky), nil)
	mustEqual(t, "after reset: 31st", fire("velocity", 1, risky), []string{"velocity"})

	// A session's reset grants a fresh budget and leaves the agent alone.
	destructive := func() tripwire.Observation {
		return decided("ops", "s2", 10, gatehouse.ClassDestructive, c.add(time.Millisecond))
	}
	mustEqual(t, "budget", fire("budget", 21, destructive), []string{"destructive_budget"})
	m.Reset("", "s2")
	mustEqual(t, "fresh budget", fire("budget", 20, destructive), nil)
	mustEqual(t, "fresh budget: 21st", fire("budget", 1, destructive), []string{"destructive_budget"})

	// Resetting one scope does not touch another.
	failed := func(agent, session string) func() tripwire.Observation {
		return func() tripwire.Observation {
			return finished(agent, session, gatehouse.StatusFailed, "make", c.add(time.Millisecond))
		}
	}
	mustEqual(t, "s3 fails", fire("failures", 9, failed("ops", "s3")), nil)
	mustEqual(t, "s4 fails", fire("failures", 9, failed("ops", "s4")), nil)
	m.Reset("", "s3")
	m.Reset("ops", "")
	mustEqual(t, "s3 was reset", fire("failures", 9, failed("ops", "s3")), nil)
	mustEqual(t, "s4 was not", fire("failures", 1, failed("ops", "s4")), []string{"failures"})

	// Denials re-arm on reset.
	denied := func() tripwire.Observation {
		return finished("ci-bot", "s1", gatehouse.StatusDenied, "rm -rf /", c.add(time.Millisecond))
	}
	mustEqual(t, "denials", fire("denials", 10, denied), []string{"denials"})
	m.Reset("ci-bot", "s1")
	mustEqual(t, "denials after reset", fire("denials", 6, denied), []string{"denials"})

	// Resetting what was never seen is harmless.
	m.Reset("nobody", "nowhere")
	m.Reset("", "")
}

func TestSetConfigKeepsCounters(t *testing.T) {
	c := newClock()
	m := tripwire.NewMonitor(tripwire.DefaultConfig())
	for range 25 {
		if f := m.Observe(decided("ci-bot", "s1", 80, gatehouse.ClassWrite, c.add(time.Second))); f != nil {
			t.Fatalf("fired early: %+v", f)
		}
	}
	for range 8 {
		m.Observe(finished("ci-bot", "s1", gatehouse.StatusFailed, "make", c.add(time.Second)))
	}
	// The same config reloaded: counting goes on.
	m.SetConfig(tripwire.DefaultConfig())
	for range 5 {
		if f := m.Observe(decided("ci-bot", "s1", 80, gatehouse.ClassWrite, c.add(time.Second))); f != nil {
			t.Fatalf("fired at 30: %+v", f)
		}
	}
	mustEqual(t, "31st after reload", names(m.Observe(decided("ci-bot", "s1", 80, gatehouse.ClassWrite, c.add(time.Second)))),
		[]string{"velocity"})

	// A lower threshold applies to what was already counted.
	cfg := tripwire.DefaultConfig()
	cfg.Failures.Consecutive = 9
	m.SetConfig(cfg)
	mustEqual(t, "9th failure under a limit of 9", names(m.Observe(finished("ci-bot", "s1", gatehouse.StatusFailed, "make", c.add(time.Second)))),
		[]string{"failures"})

	// Switching failures to agent scope keeps the agent's run.
	m2 := tripwire.NewMonitor(tripwire.DefaultConfig())
	for _, s := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"} {
		m2.Observe(finished("ops", s, gatehouse.StatusFailed, "make", c.add(time.Second)))
	}
	cfg = tripwire.DefaultConfig()
	cfg.Failures.Scope = tripwire.ScopeAgent
	m2.SetConfig(cfg)
	f := m2.Observe(finished("ops", "j", gatehouse.StatusFailed, "make", c.add(time.Second)))
	if len(f) != 1 || f[0].Scope != tripwire.ScopeAgent || f[0].Agent != "ops" || len(f[0].Evidence) != 10 {
		t.Errorf("after switching scope: %+v", f)
	}

	// A shrinking window max keeps the newest events.
	m3 := tripwire.NewMonitor(tripwire.DefaultConfig())
	for range 15 {
		m3.Observe(decided("ops", "s1", 80, gatehouse.ClassWrite, c.add(time.Second)))
	}
	cfg = tripwire.DefaultConfig()
	cfg.Velocity.Max = 10
	m3.SetConfig(cfg)
	f = m3.Observe(decided("ops", "s1", 80, gatehouse.ClassWrite, c.add(time.Second)))
	if len(f) != 1 || f[0].Reason != "ops ran 11 actions of risk >= 60 within 1m0s (max 10)" || len(f[0].Evidence) != 11 {
		t.Errorf("after shrinking max: %+v", f)
	}
	if got := m3.Config().Velocity.Max; got != 10 {
		t.Errorf("Config().Velocity.Max = %d", got)
	}
}

func TestFirstContact(t *testing.T) {
	c := newClock()
	on := func(systems ...string) tripwire.Config {
		return tripwire.Config{FirstContact: &tripwire.FirstContact{Effect: tripwire.EffectPause, Systems: systems}}
	}
	act := func(agent, system string) tripwire.Observation {
		o := decided(agent, "s1", 10, gatehouse.ClassRead, c.add(time.Second))
		o.System = system
		return o
	}
	tests := []struct {
		name  string
		cfg   tripwire.Config
		seed  map[string][]string
		steps [][2]string // agent, system
		want  []string    // "step:agent:system" of each fire
	}{
		{"new system fires, second time does not", on(), nil,
			[][2]string{{"ci", "prod-db"}, {"ci", "prod-db"}, {"ci", "prod-db"}},
			[]string{"1:ci:prod-db"}},
		{"seeded system does not fire", on(), map[string][]string{"ci": {"prod-db", "staging"}},
			[][2]string{{"ci", "prod-db"}, {"ci", "staging"}, {"ci", "prod-api"}},
			[]string{"3:ci:prod-api"}},
		{"seeded for another agent still fires", on(), map[string][]string{"ops": {"prod-db"}},
			[][2]string{{"ci", "prod-db"}, {"ops", "prod-db"}},
			[]string{"1:ci:prod-db"}},
		{"each new system fires once", on(), nil,
			[][2]string{{"ci", "a"}, {"ci", "b"}, {"ci", "a"}, {"ci", "b"}, {"ci", "c"}},
			[]string{"1:ci:a", "2:ci:b", "5:ci:c"}},
		{"no system, no contact", on(), nil,
			[][2]string{{"ci", ""}, {"ci", ""}}, nil},
		{"globs", on("prod-*", "db?.internal"), nil,
			[][2]string{{"ci", "staging"}, {"ci", "prod-db"}, {"ci", "db1.internal"}, {"ci", "db10.internal"}, {"ci", "prod-db"}},
			[]string{"2:ci:prod-db", "3:ci:db1.internal"}},
		{"off: nothing fires", tripwire.Config{}, nil,
			[][2]string{{"ci", "prod-db"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tripwire.NewMonitor(tt.cfg)
			for agent, systems := range tt.seed {
				m.SeedSystems(agent, systems...)
			}
			var got []string
			for i, s := range tt.steps {
				o := act(s[0], s[1])
				for _, f := range m.Observe(o) {
					if f.Tripwire != "first_contact" || f.Scope != tripwire.ScopeAgent || f.Agent != s[0] ||
						f.Effect != tripwire.EffectPause || len(f.Evidence) != 1 || f.Evidence[0] != o.ActionID {
						t.Errorf("fired %+v", f)
					}
					if want := fmt.Sprintf("%s acted on system %q for the first time", s[0], s[1]); f.Reason != want {
						t.Errorf("reason %q, want %q", f.Reason, want)
					}
					got = append(got, fmt.Sprintf("%d:%s:%s", i+1, f.Agent, s[1]))
				}
			}
			mustEqual(t, "fired", got, tt.want)
		})
	}

	t.Run("systems touched while off are known when turned on", func(t *testing.T) {
		m := tripwire.NewMonitor(tripwire.Config{})
		m.Observe(act("ci", "prod-db"))
		m.SetConfig(on())
		mustEqual(t, "known", names(m.Observe(act("ci", "prod-db"))), nil)
		mustEqual(t, "new", names(m.Observe(act("ci", "prod-api"))), []string{"first_contact"})
	})
	t.Run("systems outside the globs are still recorded", func(t *testing.T) {
		m := tripwire.NewMonitor(on("prod-*"))
		m.Observe(act("ci", "staging"))
		m.SetConfig(on())
		mustEqual(t, "known", names(m.Observe(act("ci", "staging"))), nil)
	})
	t.Run("reset keeps known systems", func(t *testing.T) {
		m := tripwire.NewMonitor(on())
		mustEqual(t, "first", names(m.Observe(act("ci", "prod-db"))), []string{"first_contact"})
		m.Reset("ci", "s1")
		mustEqual(t, "after reset", names(m.Observe(act("ci", "prod-db"))), nil)
	})
	t.Run("a denied action does not touch the system", func(t *testing.T) {
		m := tripwire.NewMonitor(on())
		o := act("ci", "prod-db")
		o.Status, o.Effect = gatehouse.StatusDenied, gatehouse.EffectDeny
		mustEqual(t, "denied", names(m.Observe(o)), nil)
		mustEqual(t, "then allowed", names(m.Observe(act("ci", "prod-db"))), []string{"first_contact"})
	})
}

func TestSpeedBump(t *testing.T) {
	cfg := tripwire.Config{SpeedBump: &tripwire.SpeedBump{MinRisk: 60, Interval: tripwire.Duration(10 * time.Second)}}
	m := tripwire.NewMonitor(cfg)
	steps := []struct {
		agent string
		risk  int
		at    time.Duration // since t0
		want  time.Duration
	}{
		{"ci", 60, 0, 0},                              // the first passes, and is recorded
		{"ci", 59, time.Second, 0},                    // below min_risk: never waits
		{"ci", 90, 3 * time.Second, 7 * time.Second},  // 3s after: wait the rest
		{"ci", 90, 3 * time.Second, 7 * time.Second},  // asking again records nothing
		{"ops", 90, 3 * time.Second, 0},               // another agent is independent
		{"ci", 90, 10*time.Second - 1, 1},             // one nanosecond short
		{"ci", 90, 10 * time.Second, 0},               // exactly the interval: passes
		{"ci", 90, 11 * time.Second, 9 * time.Second}, // the slot is taken again
		{"ci", 90, 5 * time.Second, 10 * time.Second}, // the clock went back: at most the interval
		{"ci", 90, 20*time.Second + time.Hour, 0},     // long after
		{"ops", 90, 20*time.Second + time.Hour, 0},    // long after
		{"ops", 100, 25*time.Second + time.Hour, 5 * time.Second},
	}
	for i, s := range steps {
		if got := m.SpeedBumpWait(s.agent, s.risk, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d (%s risk %d at %s): wait %s, want %s", i+1, s.agent, s.risk, s.at, got, s.want)
		}
	}
	// Reset does not lift the bump: a person still needs the time.
	m.Reset("ops", "")
	if got := m.SpeedBumpWait("ops", 100, t0.Add(26*time.Second+time.Hour)); got != 4*time.Second {
		t.Errorf("after reset: wait %s, want 4s", got)
	}
	// Off: no wait.
	m.SetConfig(tripwire.Config{})
	if got := m.SpeedBumpWait("ops", 100, t0.Add(26*time.Second+time.Hour)); got != 0 {
		t.Errorf("off: wait %s", got)
	}
	// The caller's loop: sleep d, ask again, until 0.
	m.SetConfig(cfg)
	c := newClock()
	start := c.now
	var starts []time.Time
	for range 3 {
		for {
			d := m.SpeedBumpWait("loop", 80, c.now)
			if d == 0 {
				starts = append(starts, c.now)
				break
			}
			c.add(d)
		}
	}
	want := []time.Time{start, start.Add(10 * time.Second), start.Add(20 * time.Second)}
	mustEqual(t, "starts", starts, want)
}

func TestBoundedScopes(t *testing.T) {
	m := tripwire.NewMonitor(tripwire.DefaultConfig())
	c := newClock()
	for i := range tripwire.MaxSessions + 500 {
		m.Observe(decided(fmt.Sprintf("agent-%d", i%(tripwire.MaxAgents+100)), fmt.Sprintf("s-%d", i), 80, gatehouse.ClassDestructive, c.add(time.Millisecond)))
	}
	agents, sessions := m.Tracked()
	if agents > tripwire.MaxAgents || sessions > tripwire.MaxSessions {
		t.Errorf("tracking %d agents and %d sessions, caps %d and %d", agents, sessions, tripwire.MaxAgents, tripwire.MaxSessions)
	}
	// The most recent scope is still tracked: its budget still counts.
	for range 20 {
		m.Observe(decided("recent", "s-recent", 80, gatehouse.ClassDestructive, c.add(time.Millisecond)))
	}
	for i := range 100 {
		m.Observe(decided("other", fmt.Sprintf("other-%d", i), 80, gatehouse.ClassRead, c.add(time.Millisecond)))
	}
	mustEqual(t, "recent session's 21st", names(m.Observe(decided("recent", "s-recent", 80, gatehouse.ClassDestructive, c.add(time.Millisecond)))),
		[]string{"destructive_budget"})

	// Systems per agent are capped; the least recently used is forgotten.
	fc := tripwire.Config{FirstContact: &tripwire.FirstContact{Effect: tripwire.EffectHalt}}
	m = tripwire.NewMonitor(fc)
	m.SeedSystems("ci", "keep")
	for i := range tripwire.MaxSystems + 10 {
		o := decided("ci", "s", 0, gatehouse.ClassRead, c.add(time.Millisecond))
		o.System = fmt.Sprintf("sys-%d", i)
		m.Observe(o)
		if i%100 == 0 {
			o.ActionID, o.System = nextID(), "keep" // used recently: survives
			m.Observe(o)
		}
	}
	o := decided("ci", "s", 0, gatehouse.ClassRead, c.add(time.Millisecond))
	o.System = "keep"
	mustEqual(t, "recently used system", names(m.Observe(o)), nil)
	o.ActionID, o.System = nextID(), "sys-0"
	mustEqual(t, "forgotten system", names(m.Observe(o)), []string{"first_contact"})
}

func TestZeroTimeAndOrder(t *testing.T) {
	m := tripwire.NewMonitor(only("velocity"))
	c := newClock()
	// A zero time is the latest seen; an older time counts as the newest.
	m.Observe(decided("ci", "s", 80, gatehouse.ClassWrite, c.add(time.Minute)))
	var fired []tripwire.Fired
	for i := range 30 {
		o := decided("ci", "s", 80, gatehouse.ClassWrite, time.Time{})
		if i%2 == 1 {
			o.Time = t0 // an hour-old straggler
		}
		fired = append(fired, m.Observe(o)...)
	}
	if len(fired) != 1 || !strings.Contains(fired[0].Reason, "31 actions") {
		t.Fatalf("fired %+v", fired)
	}
}

func TestProgram(t *testing.T) {
	for cmd, want := range map[string]string{
		"rm -rf /":                     "rm",
		"/bin/rm -rf /":                "rm",
		"sudo rm -rf /":                "rm",
		"sudo -u root rm -rf /":        "rm",
		"FOO=1 BAR=2 rm x":             "rm",
		"env -i PATH=/bin rm x":        "rm",
		"timeout 5s kubectl delete ns": "kubectl",
		"nice -n 10 make":              "make",
		"(cd /srv && rm -r x)":         "cd",
		"git push --force":             "git",
		"":                             "",
		"   ":                          "",
		"'rm' x":                       "rm",
		"./deploy.sh --prod":           "deploy.sh",
		"sudo":                         "",
	} {
		if got := tripwire.Program(cmd); got != want {
			t.Errorf("program(%q) = %q, want %q", cmd, got, want)
		}
	}
}

func TestUnvalidatedConfig(t *testing.T) {
	// A config that skipped Validate is brought into range, never panics.
	cfg := tripwire.Config{
		Velocity:    &tripwire.Velocity{Max: -5, Window: 0, Effect: "stop"},
		Denials:     &tripwire.Denials{Max: 0, Window: -1},
		Failures:    &tripwire.Failures{Consecutive: 0, Scope: "everyone"},
		Destructive: &tripwire.Budget{Max: -1},
		SpeedBump:   &tripwire.SpeedBump{Interval: -1},
	}
	m := tripwire.NewMonitor(cfg)
	c := newClock()
	var got []string
	for range 3 {
		at := c.add(time.Second)
		got = append(got, names(m.Observe(decided("ci", "s", 80, gatehouse.ClassDestructive, at)))...)
		got = append(got, names(m.Observe(finished("ci", "s", gatehouse.StatusFailed, "make", at)))...)
		got = append(got, names(m.Observe(finished("ci", "s", gatehouse.StatusDenied, "rm", at)))...)
		if d := m.SpeedBumpWait("ci", 100, at); d != 0 {
			t.Errorf("speed bump of a negative interval waits %s", d)
		}
	}
	// Max 1 (clamped) within a 1ns window never crosses; consecutive 1
	// fires at the first failure, budget 1 at the second destructive.
	mustEqual(t, "fired", got, []string{"failures", "destructive_budget"})
	if e := m.Config().Velocity.Effect; e != tripwire.EffectPause {
		t.Errorf("invalid effect became %q, want pause", e)
	}
}
