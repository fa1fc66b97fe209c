package policy_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// matchPolicy has one rule per matcher, each an allow or deny so the
// result names the rule; the default is review.
const matchPolicy = `
version: 1
default: review
rules:
  - id: exact
    effect: allow
    reason: exact
    command: {exact: ["git status", "git status --short"]}
  - id: prefix
    effect: allow
    reason: prefix
    command: {prefix: "make "}
  - id: glob
    effect: deny
    reason: glob
    command: {glob: "kubectl delete *"}
  - id: glob-class
    effect: deny
    reason: glob class
    command: {glob: "dropdb db[0-9]"}
  - id: glob-question
    effect: deny
    reason: glob question
    command: {glob: "halt ?"}
  - id: regex
    effect: deny
    reason: regex
    command: {regex: "^terraform (apply|destroy)"}
  - id: regex-unanchored
    effect: deny
    reason: regex unanchored
    command: {regex: "--no-verify"}
  - id: agent-and-system
    effect: deny
    reason: agent and system
    agent: [bob, "ci-*"]
    system: ["prod-*"]
  - id: session
    effect: deny
    reason: session
    session: ["evil-*"]
  - id: class
    effect: deny
    reason: class
    class: [destructive]
    command: {prefix: "rm "}
  - id: min-risk
    effect: deny
    reason: risky
    min_risk: 90
  - id: max-class
    effect: allow
    reason: reads
    max_class: read
  - id: when
    effect: allow
    reason: when
    when: 'action.intent == "tidy" && analysis.class == "write"'
  - id: kind
    effect: deny
    reason: kind
    kind: [shell]
    command: {exact: "reboot"}
`

func TestMatchers(t *testing.T) {
	p := mustParse(t, matchPolicy)
	tests := []struct {
		name    string
		action  *gatehouse.Action
		rule    string
		effect  gatehouse.Effect
		comment string
	}{
		{"exact", shellAction("alice", "git status"), "exact", "allow", ""},
		{"exact second of list", shellAction("alice", "git status --short"), "exact", "allow", ""},
		{"exact is whole string", shellAction("alice", "git status -v"), "max-class", "allow", "not exact; falls to max-class"},
		{"prefix", shellAction("alice", "make test"), "prefix", "allow", ""},
		{"prefix needs its space", shellAction("alice", "make"), "default", "review", "make is write"},
		{"glob star crosses spaces and slashes", shellAction("alice", "kubectl delete pod/web-1 -n prod"), "glob", "deny", ""},
		{"glob is anchored", shellAction("alice", "echo kubectl delete x"), "max-class", "allow", ""},
		{"glob class", shellAction("alice", "dropdb db7"), "glob-class", "deny", ""},
		{"glob class miss", shellAction("alice", "dropdb dbx"), "default", "review", ""},
		{"glob question one char", shellAction("alice", "halt 1"), "glob-question", "deny", ""},
		{"glob question not two", shellAction("alice", "halt 12"), "default", "review", ""},
		{"regex", shellAction("alice", "terraform destroy -auto-approve"), "regex", "deny", ""},
		{"regex anchored miss", shellAction("alice", "echo terraform apply"), "max-class", "allow", ""},
		{"regex unanchored anywhere", shellAction("alice", "git commit --no-verify -m x"), "regex-unanchored", "deny", ""},
		{"agent and system both", withSystem(shellAction("ci-7", "uptime"), "prod-eu"), "agent-and-system", "deny", ""},
		{"agent exact and system", withSystem(shellAction("bob", "uptime"), "prod-eu"), "agent-and-system", "deny", ""},
		{"agent without system", withSystem(shellAction("ci-7", "uptime"), "staging"), "max-class", "allow", ""},
		{"system without agent", withSystem(shellAction("alice", "uptime"), "prod-eu"), "max-class", "allow", ""},
		{"session glob", withSession(shellAction("alice", "uptime"), "evil-1"), "session", "deny", ""},
		{"class and command", shellAction("alice", "rm -rf build"), "class", "deny", ""},
		{"class without command", shellAction("alice", "truncate -s 0 x"), "default", "review", ""},
		{"min risk", shellAction("alice", "shred x"), "min-risk", "deny", ""},
		{"when", withIntent(shellAction("alice", "touch x"), "tidy"), "when", "allow", ""},
		{"when false", withIntent(shellAction("alice", "touch x"), "other"), "default", "review", ""},
		{"kind", shellAction("alice", "reboot"), "kind", "deny", ""},
		{"kind other", withKind(shellAction("alice", "reboot"), "http"), "default", "review", ""},
		{"nothing", shellAction("alice", "npm install"), "default", "review", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decide(p, tt.action, nil)
			if got.Decision.Rule != tt.rule || got.Decision.Effect != tt.effect {
				t.Errorf("Decide(%q) = %s by %q (%s), want %s by %q", tt.action.Command,
					got.Decision.Effect, got.Decision.Rule, got.Decision.Reason, tt.effect, tt.rule)
			}
			if got.Revision != p.Revision() {
				t.Errorf("Revision = %q, want %q", got.Revision, p.Revision())
			}
		})
	}
}

func withSystem(a *gatehouse.Action, s string) *gatehouse.Action  { a.System = s; return a }
func withSession(a *gatehouse.Action, s string) *gatehouse.Action { a.Session = s; return a }
func withIntent(a *gatehouse.Action, s string) *gatehouse.Action  { a.Intent = s; return a }
func withKind(a *gatehouse.Action, k gatehouse.Kind) *gatehouse.Action {
	a.Kind = k
	return a
}

func TestFirstMatchWins(t *testing.T) {
	p := mustParse(t, `
version: 1
rules:
  - id: first
    effect: deny
    reason: first
    command: {prefix: "git push"}
  - id: second
    effect: allow
    reason: second
    command: {exact: "git push origin main"}
  - id: third
    effect: review
    reason: third
    command: {regex: "^git"}
`)
	if got := decide(p, shellAction("a", "git push origin main"), nil); got.Decision.Rule != "first" {
		t.Errorf("rule = %q, want first (the earlier rule wins even though a later one is exact)", got.Decision.Rule)
	}
	if got := decide(p, shellAction("a", "git pull"), nil); got.Decision.Rule != "third" {
		t.Errorf("rule = %q, want third", got.Decision.Rule)
	}
}

func TestDefault(t *testing.T) {
	for _, def := range []gatehouse.Effect{gatehouse.EffectAllow, gatehouse.EffectReview, gatehouse.EffectDeny} {
		p := mustParse(t, "version: 1\ndefault: "+string(def)+"\napproval_timeout: 2m\non_timeout: escalate\n")
		got := decide(p, shellAction("a", "ls"), nil)
		if got.Decision.Effect != def || got.Decision.Rule != "default" {
			t.Errorf("default %s: got %+v", def, got.Decision)
		}
		if def == gatehouse.EffectReview {
			if got.Approvals != 1 || got.Timeout.String() != "2m0s" || got.OnTimeout != "escalate" {
				t.Errorf("default review settings = %+v", got)
			}
		} else if got.Approvals != 0 || got.Timeout != 0 || got.OnTimeout != "" {
			t.Errorf("default %s carries review settings: %+v", def, got)
		}
	}
	// Built-in defaults: review, 60s, deny.
	p := mustParse(t, "version: 1\n")
	got := decide(p, shellAction("a", "ls"), nil)
	if got.Decision.Effect != "review" || got.Timeout.String() != "1m0s" || got.OnTimeout != "deny" || got.Approvals != 1 {
		t.Errorf("built-in default = %+v", got)
	}
}

func TestReviewSettings(t *testing.T) {
	p := mustParse(t, `
version: 1
approval_timeout: 90s
rules:
  - id: two
    effect: review
    reason: needs two
    command: {prefix: "terraform "}
    approvals: 2
    timeout: 10m
    on_timeout: escalate
    escalate_to: [oncall, platform]
  - id: one
    effect: review
    reason: needs one
    command: {prefix: "kubectl "}
`)
	got := decide(p, shellAction("a", "terraform apply"), nil)
	want := policy.Result{Approvals: 2, OnTimeout: "escalate"}
	if got.Approvals != want.Approvals || got.Timeout.String() != "10m0s" || got.OnTimeout != want.OnTimeout ||
		strings.Join(got.EscalateTo, ",") != "oncall,platform" {
		t.Errorf("two: %+v", got)
	}
	if d := got.Decision; d.Approvals != 2 || d.TimeoutMS != 600000 || d.OnTimeout != "escalate" ||
		strings.Join(d.Reviewers, ",") != "oncall,platform" || d.Policy != p.Revision() {
		t.Errorf("Decision does not carry the review settings: %+v", d)
	}
	got = decide(p, shellAction("a", "kubectl get pods"), nil)
	if got.Approvals != 1 || got.Timeout.String() != "1m30s" || got.OnTimeout != "deny" || got.EscalateTo != nil {
		t.Errorf("one: %+v", got)
	}
	rules := p.Rules()
	if len(rules) != 2 || rules[0].ID != "two" || rules[0].Line != 5 || rules[0].Approvals != 2 ||
		rules[1].Line != 13 || rules[1].Timeout.String() != "1m30s" || rules[1].OnTimeout != "deny" {
		t.Errorf("Rules() = %+v", rules)
	}
}

func TestParseErrorNeverAllowed(t *testing.T) {
	p := mustParse(t, `
version: 1
default: allow
rules:
  - id: echo
    effect: allow
    reason: echo is harmless
    command: {prefix: "echo "}
  - id: deny-curl
    effect: deny
    reason: no curl
    command: {prefix: "curl "}
`)
	l := policy.NewLearned()
	must(t, l.Add(gatehouse.LearnedRule{ID: "l1", Match: "exact", Pattern: "echo 'oops", CreatedBy: "alice", CreatedAt: t0}))
	for _, cmd := range []string{"echo 'oops", `ls "x`} {
		got := decide(p, shellAction("a", cmd), l)
		if got.Decision.Effect != gatehouse.EffectReview {
			t.Errorf("%q: effect %s, want review (never allowed when unparsed)", cmd, got.Decision.Effect)
		}
		if !strings.Contains(got.Decision.Reason, "could not be parsed") {
			t.Errorf("%q: reason %q does not say why", cmd, got.Decision.Reason)
		}
		if got.Approvals != 1 || got.OnTimeout != "deny" || got.Timeout == 0 {
			t.Errorf("%q: review settings %+v", cmd, got)
		}
	}
	if got := decide(p, shellAction("a", "curl 'x"), nil); got.Decision.Effect != gatehouse.EffectDeny {
		t.Errorf("unparsed deny: %+v", got.Decision)
	}
}

func TestNilAnalysisFailsClosed(t *testing.T) {
	p := mustParse(t, `
version: 1
rules:
  - id: reads
    effect: allow
    reason: reads
    max_class: read
  - id: risky
    effect: deny
    reason: risky
    min_risk: 90
`)
	got := p.Decide(shellAction("a", "ls"), nil, nil, t0)
	if got.Decision.Rule != "risky" {
		t.Errorf("nil analysis decided by %q, want risky (nothing known counts as irreversible, risk 100)", got.Decision.Rule)
	}
	got = p.Decide(nil, nil, nil, t0)
	if got.Decision.Effect != gatehouse.EffectDeny {
		t.Errorf("nil action: %+v", got.Decision)
	}
}

func TestRevision(t *testing.T) {
	src := "version: 1\nrules:\n  - {id: a, effect: allow, reason: r, command: {exact: ls}}\n"
	p1, p2 := mustParse(t, src), mustParse(t, src)
	if p1.Revision() != p2.Revision() || len(p1.Revision()) != 64 {
		t.Errorf("revisions %q, %q: want equal hex SHA-256", p1.Revision(), p2.Revision())
	}
	if sum := sha256.Sum256([]byte(src)); p1.Revision() != hex.EncodeToString(sum[:]) {
		t.Errorf("revision %q is not the SHA-256 of the source", p1.Revision())
	}
	if got := decide(p1, shellAction("a", "ls"), nil); got.Revision != p1.Revision() {
		t.Errorf("Result.Revision = %q, want %q", got.Revision, p1.Revision())
	}
	p3 := mustParse(t, src+"# a comment changes the bytes\n")
	if p3.Revision() == p1.Revision() {
		t.Error("revision did not change with the source")
	}
	if string(p1.Source()) != src {
		t.Error("Source() differs from the input")
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
