package policy_test

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

func TestTripwiresSection(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, c tripwire.Config)
	}{
		{"absent: the defaults", "version: 1\n", func(t *testing.T, c tripwire.Config) {
			d := tripwire.DefaultConfig()
			if c.Velocity == nil || *c.Velocity != *d.Velocity || c.Denials == nil || c.FirstContact != nil {
				t.Errorf("got %+v, want the defaults %+v", c, d)
			}
		}},
		{"one field overrides, the rest stay", "version: 1\ntripwires:\n  velocity:\n    max: 3\n", func(t *testing.T, c tripwire.Config) {
			if c.Velocity == nil || c.Velocity.Max != 3 || c.Velocity.MinRisk != tripwire.DefaultConfig().Velocity.MinRisk {
				t.Errorf("velocity %+v", c.Velocity)
			}
			if c.Denials == nil {
				t.Errorf("denials turned off by a section that did not name it")
			}
		}},
		{"off", "version: 1\ntripwires:\n  velocity: off\n  speed_bump:\n    min_risk: 80\n    interval: 30s\n", func(t *testing.T, c tripwire.Config) {
			if c.Velocity != nil {
				t.Errorf("velocity still on")
			}
			if c.SpeedBump == nil || c.SpeedBump.MinRisk != 80 || time.Duration(c.SpeedBump.Interval) != 30*time.Second {
				t.Errorf("speed bump %+v", c.SpeedBump)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.Parse([]byte(tt.src), policy.Options{})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p.Tripwires())
		})
	}
}
