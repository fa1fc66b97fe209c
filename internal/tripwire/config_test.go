package tripwire_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
	"go.yaml.in/yaml/v3"
)

func TestDefaultConfig(t *testing.T) {
	d := tripwire.DefaultConfig()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	want := tripwire.Config{
		Velocity:    &tripwire.Velocity{Max: 30, MinRisk: 60, Window: tripwire.Duration(time.Minute), Effect: tripwire.EffectPause},
		Denials:     &tripwire.Denials{Max: 5, Window: tripwire.Duration(5 * time.Minute), Effect: tripwire.EffectHalt},
		Failures:    &tripwire.Failures{Consecutive: 10, Effect: tripwire.EffectPause, Scope: tripwire.ScopeSession},
		Destructive: &tripwire.Budget{Max: 20, Effect: tripwire.EffectPause},
	}
	if got, exp := dump(t, d), dump(t, want); got != exp {
		t.Errorf("defaults:\n%s\nwant\n%s", got, exp)
	}
	// Each call is a fresh copy: changing one does not change the next.
	d.Velocity.Max = 1
	if tripwire.DefaultConfig().Velocity.Max != 30 {
		t.Error("DefaultConfig shares its sections")
	}
}

func dump(t *testing.T, c tripwire.Config) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *tripwire.Config)
		want string // "" for valid
	}{
		{"defaults", func(c *tripwire.Config) {}, ""},
		{"all off", func(c *tripwire.Config) { *c = tripwire.Config{} }, ""},
		{"velocity.max 0", func(c *tripwire.Config) { c.Velocity.Max = 0 }, "tripwires.velocity.max: must be between 1 and 10000, not 0"},
		{"velocity.max too big", func(c *tripwire.Config) { c.Velocity.Max = 10001 }, "tripwires.velocity.max:"},
		{"velocity.max at the cap", func(c *tripwire.Config) { c.Velocity.Max = tripwire.MaxCount }, ""},
		{"velocity.min_risk negative", func(c *tripwire.Config) { c.Velocity.MinRisk = -1 }, "tripwires.velocity.min_risk: must be between 0 and 100, not -1"},
		{"velocity.min_risk 101", func(c *tripwire.Config) { c.Velocity.MinRisk = 101 }, "tripwires.velocity.min_risk:"},
		{"velocity.window 0", func(c *tripwire.Config) { c.Velocity.Window = 0 }, "tripwires.velocity.window: must be a positive duration"},
		{"velocity.effect", func(c *tripwire.Config) { c.Velocity.Effect = "stop" }, `tripwires.velocity.effect: must be halt or pause, not "stop"`},
		{"velocity.effect empty", func(c *tripwire.Config) { c.Velocity.Effect = "" }, `tripwires.velocity.effect:`},
		{"denials.max", func(c *tripwire.Config) { c.Denials.Max = 0 }, "tripwires.denials.max:"},
		{"denials.window", func(c *tripwire.Config) { c.Denials.Window = -1 }, "tripwires.denials.window:"},
		{"denials.effect", func(c *tripwire.Config) { c.Denials.Effect = "HALT" }, "tripwires.denials.effect:"},
		{"failures.consecutive", func(c *tripwire.Config) { c.Failures.Consecutive = 0 }, "tripwires.failures.consecutive:"},
		{"failures.effect", func(c *tripwire.Config) { c.Failures.Effect = "deny" }, "tripwires.failures.effect:"},
		{"failures.scope", func(c *tripwire.Config) { c.Failures.Scope = "all" }, `tripwires.failures.scope: must be agent or session, not "all"`},
		{"failures.scope agent", func(c *tripwire.Config) { c.Failures.Scope = tripwire.ScopeAgent }, ""},
		{"first_contact ok", func(c *tripwire.Config) {
			c.FirstContact = &tripwire.FirstContact{Effect: tripwire.EffectHalt, Systems: []string{"prod-*", "db[0-9]"}}
		}, ""},
		{"first_contact.effect", func(c *tripwire.Config) { c.FirstContact = &tripwire.FirstContact{} }, "tripwires.first_contact.effect:"},
		{"first_contact.systems glob", func(c *tripwire.Config) {
			c.FirstContact = &tripwire.FirstContact{Effect: tripwire.EffectHalt, Systems: []string{"ok", "prod-["}}
		}, `tripwires.first_contact.systems[1]: "prod-[" is not a valid glob`},
		{"first_contact.systems empty", func(c *tripwire.Config) {
			c.FirstContact = &tripwire.FirstContact{Effect: tripwire.EffectHalt, Systems: []string{""}}
		}, `tripwires.first_contact.systems[0]:`},
		{"destructive_budget.max", func(c *tripwire.Config) { c.Destructive.Max = 0 }, "tripwires.destructive_budget.max: must be at least 1, not 0"},
		{"destructive_budget.max big is fine", func(c *tripwire.Config) { c.Destructive.Max = 1000000 }, ""},
		{"destructive_budget.effect", func(c *tripwire.Config) { c.Destructive.Effect = "" }, "tripwires.destructive_budget.effect:"},
		{"speed_bump ok", func(c *tripwire.Config) {
			c.SpeedBump = &tripwire.SpeedBump{MinRisk: 60, Interval: tripwire.Duration(10 * time.Second)}
		}, ""},
		{"speed_bump.interval 0", func(c *tripwire.Config) { c.SpeedBump = &tripwire.SpeedBump{MinRisk: 60} }, "tripwires.speed_bump.interval:"},
		{"speed_bump.interval too long", func(c *tripwire.Config) {
			c.SpeedBump = &tripwire.SpeedBump{MinRisk: 60, Interval: tripwire.Duration(time.Hour)}
		}, "tripwires.speed_bump.interval: must be a positive duration of at most 10m0s, not 1h0m0s"},
		{"speed_bump.min_risk", func(c *tripwire.Config) {
			c.SpeedBump = &tripwire.SpeedBump{MinRisk: 200, Interval: tripwire.Duration(time.Second)}
		}, "tripwires.speed_bump.min_risk:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tripwire.DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("no error, want %q", tt.want)
			case tt.want != "":
				if gatehouse.ErrorCode(err) != gatehouse.EINVALID {
					t.Errorf("code %s, want EINVALID", gatehouse.ErrorCode(err))
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %q does not contain %q", err, tt.want)
				}
			}
		})
	}

	// Every problem is reported, one a line.
	c := tripwire.DefaultConfig()
	c.Velocity.Max, c.Denials.Effect, c.Failures.Scope = 0, "", ""
	err := c.Validate()
	if err == nil || len(strings.Split(gatehouse.ErrorMessage(err), "\n")) != 3 {
		t.Errorf("three problems: %v", err)
	}
}

// policy is a policy file's shape, as far as the tripwires go.
type policy struct {
	Version   int             `yaml:"version"`
	Tripwires tripwire.Config `yaml:"tripwires"`
}

func decodeStrict(t *testing.T, src string) (tripwire.Config, error) {
	t.Helper()
	p := policy{Tripwires: tripwire.DefaultConfig()}
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	err := dec.Decode(&p)
	return p.Tripwires, err
}

const fullConfig = `version: 1
tripwires:
  velocity:
    max: 50
    min_risk: 70
    window: 90s
    effect: halt
  denials:
    max: 3
    window: 10m
    effect: pause
  failures:
    consecutive: 5
    effect: halt
    scope: agent
  first_contact:
    effect: halt
    systems: ["prod-*", "db?.internal"]
  destructive_budget:
    max: 100
    effect: halt
  speed_bump:
    min_risk: 80
    interval: 1m30s
`

func TestYAMLFull(t *testing.T) {
	got, err := decodeStrict(t, fullConfig)
	if err != nil {
		t.Fatal(err)
	}
	want := tripwire.Config{
		Velocity:     &tripwire.Velocity{Max: 50, MinRisk: 70, Window: tripwire.Duration(90 * time.Second), Effect: tripwire.EffectHalt},
		Denials:      &tripwire.Denials{Max: 3, Window: tripwire.Duration(10 * time.Minute), Effect: tripwire.EffectPause},
		Failures:     &tripwire.Failures{Consecutive: 5, Effect: tripwire.EffectHalt, Scope: tripwire.ScopeAgent},
		FirstContact: &tripwire.FirstContact{Effect: tripwire.EffectHalt, Systems: []string{"prod-*", "db?.internal"}},
		Destructive:  &tripwire.Budget{Max: 100, Effect: tripwire.EffectHalt},
		SpeedBump:    &tripwire.SpeedBump{MinRisk: 80, Interval: tripwire.Duration(90 * time.Second)},
	}
	if dump(t, got) != dump(t, want) {
		t.Errorf("decoded\n%s\nwant\n%s", dump(t, got), dump(t, want))
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
	// And back: marshalled durations read as they were written.
	out, err := yaml.Marshal(policy{Version: 1, Tripwires: got})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("window: 1m30s")) {
		t.Errorf("marshalled:\n%s", out)
	}
	again, err := decodeStrict(t, string(out))
	if err != nil || dump(t, again) != dump(t, want) {
		t.Errorf("round trip: %v\n%s", err, dump(t, again))
	}
}

func TestYAMLMerge(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want func() tripwire.Config
	}{
		{"no section: defaults", "version: 1\n", tripwire.DefaultConfig},
		{"empty section: defaults", "version: 1\ntripwires:\n", tripwire.DefaultConfig},
		{"empty mapping: defaults", "version: 1\ntripwires: {}\n", tripwire.DefaultConfig},
		{"one field replaced", "tripwires:\n  velocity:\n    max: 50\n", func() tripwire.Config {
			c := tripwire.DefaultConfig()
			c.Velocity.Max = 50
			return c
		}},
		{"duration 90s", "tripwires:\n  denials: {window: 90s}\n", func() tripwire.Config {
			c := tripwire.DefaultConfig()
			c.Denials.Window = tripwire.Duration(90 * time.Second)
			return c
		}},
		{"off, null and false", "tripwires:\n  velocity: off\n  denials: null\n  failures: false\n  destructive_budget: ~\n", func() tripwire.Config {
			return tripwire.Config{}
		}},
		{"turned on from its template", "tripwires:\n  first_contact: {systems: prod-*}\n  speed_bump: {interval: 5s}\n", func() tripwire.Config {
			c := tripwire.DefaultConfig()
			c.FirstContact = &tripwire.FirstContact{Effect: tripwire.EffectPause, Systems: []string{"prod-*"}}
			c.SpeedBump = &tripwire.SpeedBump{MinRisk: 60, Interval: tripwire.Duration(5 * time.Second)}
			return c
		}},
		{"anchors", "x: &w 3m\ntripwires:\n  denials: {window: *w}\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == nil {
				// Anchors decode; the unknown top-level "x" is the
				// policy's own business (KnownFields refuses it there).
				var c tripwire.Config = tripwire.DefaultConfig()
				var n yaml.Node
				if err := yaml.Unmarshal([]byte(tt.src), &n); err != nil {
					t.Fatal(err)
				}
				if err := n.Content[0].Content[3].Decode(&c); err != nil {
					t.Fatal(err)
				}
				if c.Denials.Window != tripwire.Duration(3*time.Minute) {
					t.Errorf("window %s", c.Denials.Window)
				}
				return
			}
			got, err := decodeStrict(t, tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if dump(t, got) != dump(t, tt.want()) {
				t.Errorf("decoded\n%s\nwant\n%s", dump(t, got), dump(t, tt.want()))
			}
		})
	}
}

func TestYAMLOntoZero(t *testing.T) {
	// A parser that decodes onto a zero Config gets only what the file
	// names, each section completed from its defaults.
	var p policy
	dec := yaml.NewDecoder(strings.NewReader("tripwires:\n  velocity: {window: 2m}\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	want := tripwire.Config{Velocity: &tripwire.Velocity{Max: 30, MinRisk: 60, Window: tripwire.Duration(2 * time.Minute), Effect: tripwire.EffectPause}}
	if dump(t, p.Tripwires) != dump(t, want) {
		t.Errorf("decoded %s", dump(t, p.Tripwires))
	}
}

func TestYAMLRefused(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown tripwire", "tripwires:\n  velocty: {max: 3}\n",
			`line 2: tripwires: unknown field "velocty" (known: velocity, denials, failures, first_contact, destructive_budget, speed_bump)`},
		{"unknown field", "tripwires:\n  velocity:\n    max: 3\n    widow: 5m\n",
			`line 4: tripwires.velocity: unknown field "widow" (known: max, min_risk, window, effect)`},
		{"field given twice", "tripwires:\n  velocity: {max: 3, max: 4}\n", `max`},
		{"duration as a number", "tripwires:\n  velocity: {window: 90}\n",
			`line 2: tripwires.velocity.window: must be a duration such as 90s, 5m or 1h, not "90"`},
		{"bad duration", "tripwires:\n  denials:\n    window: 5 minutes\n",
			`line 3: tripwires.denials.window: must be a duration such as 90s, 5m or 1h, not "5 minutes"`},
		{"max as a string", "tripwires:\n  velocity: {max: \"30\"}\n", `tripwires.velocity.max: must be a whole number, not "30"`},
		{"max as a float", "tripwires:\n  velocity: {max: 3.5}\n", `tripwires.velocity.max: must be a whole number`},
		{"effect as a list", "tripwires:\n  velocity: {effect: [halt]}\n", `tripwires.velocity.effect: must be a string, not a list`},
		{"section as a list", "tripwires:\n  velocity: [1]\n", `tripwires.velocity: must be a mapping, not a list`},
		{"tripwires as a string", "tripwires: yes please\n", `tripwires: must be a mapping`},
		{"systems of numbers", "tripwires:\n  first_contact: {systems: [prod, 3]}\n", `tripwires.first_contact.systems[1]: must be a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeStrict(t, tt.src)
			if err == nil {
				t.Fatalf("decoded; want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}

	// Node.Decode ignores KnownFields; unknown fields are refused anyway,
	// which is how a parser walking node trees will decode the section.
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("velocity:\n  max: 3\n  widow: 5m\n"), &n); err != nil {
		t.Fatal(err)
	}
	c := tripwire.DefaultConfig()
	err := n.Decode(&c)
	if err == nil || gatehouse.ErrorCode(err) != gatehouse.EINVALID || !strings.Contains(err.Error(), `unknown field "widow"`) {
		t.Errorf("Node.Decode: %v", err)
	}
}

func TestDurationYAML(t *testing.T) {
	for src, want := range map[string]time.Duration{"90s": 90 * time.Second, "5m": 5 * time.Minute, "1h30m": 90 * time.Minute, "250ms": 250 * time.Millisecond} {
		var d tripwire.Duration
		if err := yaml.Unmarshal([]byte(src), &d); err != nil || time.Duration(d) != want {
			t.Errorf("%q: %v, %v", src, time.Duration(d), err)
		}
	}
	for _, src := range []string{"90", "5 minutes", "[1s]", "true"} {
		var d tripwire.Duration
		err := yaml.Unmarshal([]byte(src), &d)
		if gatehouse.ErrorCode(err) != gatehouse.EINVALID || !strings.Contains(err.Error(), "line 1:") {
			t.Errorf("%q: %v", src, err)
		}
	}
	// JSON, for the API's view of the policy in force.
	b, err := json.Marshal(struct{ W tripwire.Duration }{tripwire.Duration(90 * time.Second)})
	if err != nil || string(b) != `{"W":"1m30s"}` {
		t.Errorf("json %s %v", b, err)
	}
	var back struct{ W tripwire.Duration }
	if err := json.Unmarshal(b, &back); err != nil || back.W != tripwire.Duration(90*time.Second) {
		t.Errorf("json back %v %v", back.W, err)
	}
	if err := json.Unmarshal([]byte(`{"W":"soon"}`), &back); err == nil {
		t.Error("json: bad duration accepted")
	}
}
