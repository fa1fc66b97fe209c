package policy_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// defaultCases are decisions the default policy must make, with the fake
// analyser and with the real one.
var defaultCases = []struct {
	cmd    string
	rule   string
	effect gatehouse.Effect
}{
	{"ls -la", "read-only", "allow"},
	{"git diff | head -50", "read-only", "allow"},
	{"touch notes.txt", "write-in-tree", "allow"},
	{"go test ./...", "write-in-tree", "allow"},
	{"touch /etc/motd", "default", "review"},
	{"cp a.txt ../../elsewhere", "default", "review"},
	{"rm -rf build", "destructive", "review"},
	{"git push --force origin main", "remote", "review"},
	{"npm publish", "irreversible", "review"},
	{"echo 'oops", "unparsable", "review"},
	{"rm -rf /", "deny-rm-root", "deny"},
	{"sudo rm -rf --no-preserve-root /", "deny-rm-root", "deny"},
	{"dd if=/dev/zero of=/dev/sda", "deny-dd-device", "deny"},
	{"mkfs.ext4 /dev/sdb1", "deny-mkfs-device", "deny"},
	{":(){ :|:& };:", "deny-fork-bomb", "deny"},
	{"./configure", "risky-write", "review"}, // an unknown program
	{"frobnicate --all", "risky-write", "review"},
	{"make test", "write-in-tree", "allow"},
	{"ssh prod-db uptime", "remote", "review"},
	{"kubectl exec web -- cat /etc/hosts", "remote", "review"},
	{"sudo touch notes.txt", "", "review"}, // "": whichever rule, as long as it is reviewed
	{"echo x > /etc/motd", "", "review"},
	{"echo x >> notes.txt", "write-in-tree", "allow"},
	{"make -C /srv/other", "default", "review"},
	{"cp a.txt --target-directory=/etc", "default", "review"},
	{"touch $(pwd)/x", "default", "review"},
}

func TestDefaultPolicy(t *testing.T) {
	p, err := policy.Parse(policy.DefaultPolicy(), policy.Options{Analyze: fakeAnalyze, Filename: "default.yaml"})
	if err != nil {
		t.Fatalf("DefaultPolicy does not parse: %v", err)
	}
	for _, r := range p.Rules() {
		if r.Reason == "" {
			t.Errorf("rule %s has no reason", r.ID)
		}
	}
	for _, tt := range defaultCases {
		got := decide(p, shellAction("claude", tt.cmd), nil)
		if (tt.rule != "" && got.Decision.Rule != tt.rule) || got.Decision.Effect != tt.effect {
			t.Errorf("%q: %s by %q (%s), want %s by %q", tt.cmd, got.Decision.Effect, got.Decision.Rule, got.Decision.Reason, tt.effect, tt.rule)
		}
	}
	// A write outside a cwd of "/" is not "inside the working tree".
	a := shellAction("claude", "touch notes.txt")
	a.Cwd = "/"
	if got := decide(p, a, nil); got.Decision.Effect == gatehouse.EffectAllow {
		t.Errorf("cwd /: %+v", got.Decision)
	}
	if got := p.Default(); got.Effect != gatehouse.EffectReview || got.Timeout.String() != "1m0s" || got.OnTimeout != "deny" {
		t.Errorf("Default() = %+v", got)
	}
}

// TestDefaultPolicyDocumented: docs/POLICY.md shows the default policy
// verbatim, so the reference cannot drift from what is written on first
// start.
func TestDefaultPolicyDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/POLICY.md")
	if err != nil {
		t.Skipf("docs/POLICY.md: %v", err)
	}
	if !bytes.Contains(doc, policy.DefaultPolicy()) {
		t.Error("docs/POLICY.md does not contain internal/policy/default.yaml verbatim; copy it into the 'The default policy' section")
	}
}
