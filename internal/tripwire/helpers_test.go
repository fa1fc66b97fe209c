package tripwire_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

// t0 is the injected clock's start. Every test moves time explicitly.
var t0 = time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC)

// clock is an injected clock.
type clock struct{ now time.Time }

func newClock() *clock { return &clock{now: t0} }

func (c *clock) add(d time.Duration) time.Time {
	c.now = c.now.Add(d)
	return c.now
}

// seq numbers action ids.
var seq int

func nextID() string {
	seq++
	return fmt.Sprintf("a%05d", seq)
}

// decided is the observation of an action decided to run now.
func decided(agent, session string, risk int, class gatehouse.Class, at time.Time) tripwire.Observation {
	return tripwire.Observation{ActionID: nextID(), Agent: agent, Session: session, Command: "rm -rf build",
		Time: at, Status: gatehouse.StatusRunning, Effect: gatehouse.EffectAllow, Class: class, Risk: risk}
}

// finished is the final observation of an action.
func finished(agent, session string, status gatehouse.Status, command string, at time.Time) tripwire.Observation {
	eff := gatehouse.EffectAllow
	if status == gatehouse.StatusDenied {
		eff = gatehouse.EffectDeny
	}
	return tripwire.Observation{ActionID: nextID(), Agent: agent, Session: session, Command: command,
		Time: at, Status: status, Effect: eff, Class: gatehouse.ClassWrite, Risk: 30}
}

// names returns the tripwires in fs.
func names(fs []tripwire.Fired) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Tripwire)
	}
	return out
}

// only returns the config with only the given section of DefaultConfig on.
func only(section string) tripwire.Config {
	d := tripwire.DefaultConfig()
	var c tripwire.Config
	switch section {
	case "velocity":
		c.Velocity = d.Velocity
	case "denials":
		c.Denials = d.Denials
	case "failures":
		c.Failures = d.Failures
	case "destructive_budget":
		c.Destructive = d.Destructive
	default:
		panic(section)
	}
	return c
}

// observeAll observes each of os and returns the index and name of every
// tripwire fired.
func observeAll(m *tripwire.Monitor, os []tripwire.Observation) []string {
	var out []string
	for i, o := range os {
		for _, f := range m.Observe(o) {
			out = append(out, fmt.Sprintf("%d:%s", i+1, f.Tripwire))
		}
	}
	return out
}

func mustEqual[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}
