package tripwire

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Effect is what a tripwire does to its scope when it fires. The values
// are those of the domain's halt modes (gatehouse.ModeHalt, ModePause).
type Effect string

const (
	// EffectHalt refuses the scope's new actions until an operator resumes it.
	EffectHalt Effect = "halt"
	// EffectPause holds the scope's new actions until an operator resumes it.
	EffectPause Effect = "pause"
)

// Valid reports whether e is halt or pause.
func (e Effect) Valid() bool { return e == EffectHalt || e == EffectPause }

// ScopeKind is what a tripwire watches and stops: one agent or one session.
type ScopeKind string

const (
	ScopeAgent   ScopeKind = "agent"
	ScopeSession ScopeKind = "session"
)

// Valid reports whether k is agent or session.
func (k ScopeKind) Valid() bool { return k == ScopeAgent || k == ScopeSession }

// Tripwire names, as they appear in Fired.Tripwire and in journaled halts
// ("tripwire:velocity"). They are stored: never rename one.
const (
	NameVelocity     = "velocity"
	NameDenials      = "denials"
	NameFailures     = "failures"
	NameFirstContact = "first_contact"
	NameDestructive  = "destructive_budget"
)

// Config is the `tripwires:` section of the policy file. A nil section is
// a tripwire that is off. See the package documentation for what each
// tripwire counts and for the defaults.
type Config struct {
	Velocity     *Velocity     `yaml:"velocity" json:"velocity,omitempty"`
	Denials      *Denials      `yaml:"denials" json:"denials,omitempty"`
	Failures     *Failures     `yaml:"failures" json:"failures,omitempty"`
	FirstContact *FirstContact `yaml:"first_contact" json:"first_contact,omitempty"`
	Destructive  *Budget       `yaml:"destructive_budget" json:"destructive_budget,omitempty"`
	SpeedBump    *SpeedBump    `yaml:"speed_bump" json:"speed_bump,omitempty"`
}

// Velocity fires when one agent has more than Max actions of risk at least
// MinRisk decided within Window. Its scope is the agent.
type Velocity struct {
	Max     int      `yaml:"max" json:"max"`
	MinRisk int      `yaml:"min_risk" json:"min_risk"`
	Window  Duration `yaml:"window" json:"window"`
	Effect  Effect   `yaml:"effect" json:"effect"`
}

// Denials fires when one agent has more than Max actions denied (by
// policy, by a reviewer, or by a review's timeout) within Window. Its scope
// is the agent.
type Denials struct {
	Max    int      `yaml:"max" json:"max"`
	Window Duration `yaml:"window" json:"window"`
	Effect Effect   `yaml:"effect" json:"effect"`
}

// Failures fires when Consecutive actions in a row fail in the scope; a
// success resets the run.
type Failures struct {
	Consecutive int       `yaml:"consecutive" json:"consecutive"`
	Effect      Effect    `yaml:"effect" json:"effect"`
	Scope       ScopeKind `yaml:"scope" json:"scope"`
}

// FirstContact fires when an agent's action names a system the agent has
// never acted on before, if the system matches one of Systems (path.Match
// globs, as in policy rules; empty means any system). Its scope is the
// agent.
type FirstContact struct {
	Effect  Effect   `yaml:"effect" json:"effect"`
	Systems []string `yaml:"systems" json:"systems,omitempty"`
}

// Budget fires when a session has more than Max actions of class
// destructive or irreversible. Its scope is the session.
type Budget struct {
	Max    int    `yaml:"max" json:"max"`
	Effect Effect `yaml:"effect" json:"effect"`
}

// SpeedBump makes each of one agent's actions of risk at least MinRisk
// start at least Interval after the previous one. It never fires; see
// Monitor.SpeedBumpWait.
type SpeedBump struct {
	MinRisk  int      `yaml:"min_risk" json:"min_risk"`
	Interval Duration `yaml:"interval" json:"interval"`
}

// Limits of Validate. Windowed tripwires keep the times of their last Max+1
// events per agent, so MaxCount bounds their memory; a speed bump longer
// than MaxInterval would hold a request past any client's patience, and is
// a pause, not a bump.
const (
	MaxCount    = 10000
	MaxInterval = 10 * time.Minute
)

// DefaultConfig returns the tripwires in force when the policy file says
// nothing about them. The package documentation justifies each number.
func DefaultConfig() Config {
	return Config{
		Velocity:    &Velocity{Max: 30, MinRisk: 60, Window: Duration(time.Minute), Effect: EffectPause},
		Denials:     &Denials{Max: 5, Window: Duration(5 * time.Minute), Effect: EffectHalt},
		Failures:    &Failures{Consecutive: 10, Effect: EffectPause, Scope: ScopeSession},
		Destructive: &Budget{Max: 20, Effect: EffectPause},
	}
}

// Templates are what a section that was off starts from when the policy
// file turns it on, so that `first_contact: {systems: ["prod-*"]}` needs
// no more. For the sections on by default they are the defaults.
func templateVelocity() Velocity         { return *DefaultConfig().Velocity }
func templateDenials() Denials           { return *DefaultConfig().Denials }
func templateFailures() Failures         { return *DefaultConfig().Failures }
func templateBudget() Budget             { return *DefaultConfig().Destructive }
func templateFirstContact() FirstContact { return FirstContact{Effect: EffectPause} }
func templateSpeedBump() SpeedBump {
	return SpeedBump{MinRisk: 60, Interval: Duration(10 * time.Second)}
}

// Validate returns nil if c is usable, or one EINVALID error listing every
// problem, one a line, each naming its field ("tripwires.velocity.max:
// must be at least 1").
func (c Config) Validate() error {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, "tripwires."+field+": "+fmt.Sprintf(format, args...))
	}
	count := func(field string, n int) {
		if n < 1 || n > MaxCount {
			bad(field, "must be between 1 and %d, not %d", MaxCount, n)
		}
	}
	risk := func(field string, n int) {
		if n < 0 || n > 100 {
			bad(field, "must be between 0 and 100, not %d", n)
		}
	}
	window := func(field string, d Duration) {
		if d <= 0 {
			bad(field, "must be a positive duration such as 90s, 5m or 1h, not %s", d)
		}
	}
	effect := func(field string, e Effect) {
		if !e.Valid() {
			bad(field, "must be halt or pause, not %q", string(e))
		}
	}
	if v := c.Velocity; v != nil {
		count("velocity.max", v.Max)
		risk("velocity.min_risk", v.MinRisk)
		window("velocity.window", v.Window)
		effect("velocity.effect", v.Effect)
	}
	if d := c.Denials; d != nil {
		count("denials.max", d.Max)
		window("denials.window", d.Window)
		effect("denials.effect", d.Effect)
	}
	if f := c.Failures; f != nil {
		count("failures.consecutive", f.Consecutive)
		effect("failures.effect", f.Effect)
		if !f.Scope.Valid() {
			bad("failures.scope", "must be agent or session, not %q", string(f.Scope))
		}
	}
	if fc := c.FirstContact; fc != nil {
		effect("first_contact.effect", fc.Effect)
		for i, g := range fc.Systems {
			if _, err := path.Match(g, ""); err != nil || g == "" {
				bad(fmt.Sprintf("first_contact.systems[%d]", i), "%q is not a valid glob", g)
			}
		}
	}
	if b := c.Destructive; b != nil {
		// The budget is a plain counter, so it needs no upper bound.
		if b.Max < 1 {
			bad("destructive_budget.max", "must be at least 1, not %d", b.Max)
		}
		effect("destructive_budget.effect", b.Effect)
	}
	if s := c.SpeedBump; s != nil {
		risk("speed_bump.min_risk", s.MinRisk)
		if s.Interval <= 0 || time.Duration(s.Interval) > MaxInterval {
			bad("speed_bump.interval", "must be a positive duration of at most %s, not %s", MaxInterval, s.Interval)
		}
	}
	if len(errs) > 0 {
		return gatehouse.Errorf(gatehouse.EINVALID, "%s", strings.Join(errs, "\n"))
	}
	return nil
}
