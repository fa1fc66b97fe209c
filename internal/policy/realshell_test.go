package policy_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/shell"
)

// TestDefaultPolicyRealAnalyzer parses the default policy with the real
// shell analyser, so that every example is decided as the daemon decides
// it, and checks the default policy's decisions with it.
func TestDefaultPolicyRealAnalyzer(t *testing.T) {
	p, err := policy.Parse(policy.DefaultPolicy(), policy.Options{Analyze: shell.Analyze, Filename: "default.yaml"})
	if err != nil {
		t.Fatalf("DefaultPolicy with shell.Analyze: %v", err)
	}
	for _, tt := range defaultCases {
		an := shell.Analyze(tt.cmd)
		got := p.Decide(shellAction("claude", tt.cmd), &an, nil, t0)
		if (tt.rule != "" && got.Decision.Rule != tt.rule) || got.Decision.Effect != tt.effect {
			t.Errorf("%q: %s by %q (%s), want %s by %q", tt.cmd, got.Decision.Effect, got.Decision.Rule, got.Decision.Reason, tt.effect, tt.rule)
		}
	}
}
