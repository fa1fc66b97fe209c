package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

func TestCELVariables(t *testing.T) {
	p := mustParse(t, `
version: 1
rules:
  - id: vars
    effect: deny
    reason: all variables
    when: >-
      action.agent == "claude" && action.session == "s-1" && action.model == "m" &&
      action.kind == "shell" && action.command == "sudo rm -rf build" &&
      action.argv == ["/bin/sh", "-c", "sudo rm -rf build"] && action.cwd == "/home/user/project" &&
      action.system == "prod-1" && action.intent == "clean" && action.stdin &&
      analysis.class == "destructive" && analysis.risk == 80 && analysis.reasons.size() == 1 &&
      analysis.targets == ["build"] && analysis.parse_error == "" &&
      analysis.commands.size() == 1 && analysis.commands[0].name == "rm" &&
      analysis.commands[0].args == ["-rf", "build"] && analysis.commands[0].wrappers == ["sudo"] &&
      analysis.commands[0].class == "destructive" && analysis.commands[0].risk == 80 &&
      analysis.commands[0].reasons.size() == 1 && analysis.commands[0].targets == ["build"] &&
      !analysis.commands[0].dynamic &&
      now == timestamp("2026-12-04T12:00:00Z")
`)
	a := shellAction("claude", "sudo rm -rf build")
	a.Model, a.System, a.Intent, a.Stdin = "m", "prod-1", "clean", true
	if got := decide(p, a, nil); got.Decision.Rule != "vars" {
		t.Errorf("decided by %q (%s), want vars", got.Decision.Rule, got.Decision.Reason)
	}
}

// TestCELCredentials: a rule can hold for review whatever would run with
// a credential, unless it is the program the credential is for.
func TestCELCredentials(t *testing.T) {
	p := mustParse(t, `
version: 1
default: allow
rules:
  - id: gh-token-only-for-gh
    effect: review
    reason: runs with GITHUB_TOKEN but is not gh
    when: '"GITHUB_TOKEN" in action.credentials && !(analysis.commands.size() == 1 && analysis.commands[0].name == "gh")'
`)
	gh := []gatehouse.CredentialRef{{Secret: "GITHUB_TOKEN", Env: "GH_TOKEN"}}
	for _, tc := range []struct {
		cmd   string
		creds []gatehouse.CredentialRef
		want  gatehouse.Effect
	}{
		{"gh pr list", gh, gatehouse.EffectAllow},
		{"sh -c 'echo $GH_TOKEN | base64'", gh, gatehouse.EffectReview},
		{"gh pr list | tee out", gh, gatehouse.EffectReview},
		{"echo $GH_TOKEN", nil, gatehouse.EffectAllow},
	} {
		a := shellAction("ci", tc.cmd)
		a.Credentials = tc.creds
		if got := decide(p, a, nil); got.Decision.Effect != tc.want {
			t.Errorf("%q with %v: %s (%s), want %s", tc.cmd, tc.creds, got.Decision.Effect, got.Decision.Reason, tc.want)
		}
	}
}

// TestCELRuntimeError: an expression that fails at run time does not
// match, and the decision fails closed to at least review, saying why.
func TestCELRuntimeError(t *testing.T) {
	p := mustParse(t, `
version: 1
default: allow
rules:
  - id: third-command
    effect: deny
    reason: third command is rm
    when: 'analysis.commands[2].name == "rm"'
  - id: reads
    effect: allow
    reason: reads
    max_class: read
  - id: deny-rest
    effect: deny
    reason: everything else
    max_class: irreversible
`)
	l := policy.NewLearned()
	must(t, l.Add(gatehouse.LearnedRule{ID: "ls", Match: "exact", Pattern: "ls", CreatedBy: "alice", CreatedAt: t0}))

	got := decide(p, shellAction("a", "ls"), l)
	if got.Decision.Effect != gatehouse.EffectReview || got.Decision.Rule != "reads" {
		t.Errorf("ls: %+v, want review by reads (an allow fails closed; learned rules do not apply)", got.Decision)
	}
	for _, want := range []string{`rule "third-command"`, "index out of bounds", "fails closed"} {
		if !strings.Contains(got.Decision.Reason, want) {
			t.Errorf("reason %q lacks %q", got.Decision.Reason, want)
		}
	}
	if got.Approvals != 1 || got.OnTimeout != "deny" {
		t.Errorf("review settings %+v", got)
	}

	// A deny stays a deny, and the failure is noted.
	got = decide(p, shellAction("a", "npm publish"), nil)
	if got.Decision.Effect != gatehouse.EffectDeny || !strings.Contains(got.Decision.Reason, "third-command") {
		t.Errorf("npm publish: %+v", got.Decision)
	}
	// With three commands the expression evaluates.
	got = decide(p, shellAction("a", "ls | grep x | rm y"), nil)
	if got.Decision.Rule != "third-command" {
		t.Errorf("pipeline: %+v", got.Decision)
	}
}

func TestCELCostLimit(t *testing.T) {
	p := mustParse(t, `
version: 1
rules:
  - id: expensive
    effect: deny
    reason: loops
    when: 'analysis.commands.all(a, analysis.commands.all(b, analysis.commands.all(c, a.args.all(x, b.args.all(y, x + y != "")))))'
  - id: reads
    effect: allow
    reason: reads
    max_class: read
`)
	// 20 commands of 20 args: 20*20*20*20*20 = 3.2M steps, far over the limit.
	var cmds []gatehouse.AnalyzedCommand
	for i := 0; i < 20; i++ {
		cmds = append(cmds, gatehouse.AnalyzedCommand{Name: "echo", Class: "read", Args: strings.Fields(strings.Repeat("a ", 20))})
	}
	an := &gatehouse.Analysis{Class: "read", Commands: cmds}
	start := time.Now()
	got := p.Decide(shellAction("a", "echo"), an, nil, t0)
	if got.Decision.Effect != gatehouse.EffectReview || !strings.Contains(got.Decision.Reason, "cost") {
		t.Errorf("%+v, want review with a cost limit reason", got.Decision)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v: the cost limit did not stop it", d)
	}
}

// TestCELDocumented compiles the expressions docs/POLICY.md shows and the
// extension functions it promises.
func TestCELDocumented(t *testing.T) {
	for _, expr := range []string{
		`analysis.risk >= 80 && action.system.startsWith("prod")`,
		`analysis.commands.exists(c, c.name == "kubectl" && "delete" in c.args)`,
		`now.getHours("Europe/Paris") >= 9 && now.getHours("Europe/Paris") < 18`,
		`analysis.commands.size() > 2 && analysis.commands[2].name == "rm"`,
		`action.command.lowerAscii().split(" ").size() > 1 && action.command.replace("a", "b").trim().indexOf("x") >= -1`,
		`analysis.commands.map(c, c.targets).flatten().distinct().sort().slice(0, 0).size() == 0`,
		`analysis.commands.exists_one(c, c.dynamic) || analysis.reasons.filter(r, r.endsWith("x")).size() == 0`,
		`action.argv.size() >= 0 && action.cwd.matches("^/")`,
		`action.stdin && analysis.commands.exists(c, c.reasons.exists(r, r.contains("standard input")))`,
	} {
		src := "version: 1\nrules:\n  - id: r\n    effect: deny\n    reason: r\n    when: '" + strings.ReplaceAll(expr, "'", "''") + "'\n"
		if _, err := policy.Parse([]byte(src), policy.Options{}); err != nil {
			t.Errorf("%s: %v", expr, err)
		}
	}
}

// TestCELLargeInputStillLimited: an expression cheap for ordinary inputs
// is still cost-limited for huge ones (the untracked fast path is only
// taken for inputs small enough to be proven under the limit).
func TestCELLargeInputStillLimited(t *testing.T) {
	p := mustParse(t, `
version: 1
default: allow
rules:
  - id: has-x
    effect: deny
    reason: has x
    when: 'analysis.commands.exists(c, c.args.exists(a, a == "x"))'
`)
	small := &gatehouse.Analysis{Class: "read", Commands: []gatehouse.AnalyzedCommand{{Name: "echo", Class: "read", Args: []string{"a", "x"}}}}
	if got := p.Decide(shellAction("a", "echo a x"), small, nil, t0); got.Decision.Rule != "has-x" {
		t.Errorf("small: %+v", got.Decision)
	}
	args := make([]string, 12000)
	for i := range args {
		args[i] = "a"
	}
	huge := &gatehouse.Analysis{Class: "read", Commands: []gatehouse.AnalyzedCommand{{Name: "echo", Class: "read", Args: args}}}
	got := p.Decide(shellAction("a", "echo a a a"), huge, nil, t0)
	if got.Decision.Effect != gatehouse.EffectReview || !strings.Contains(got.Decision.Reason, "cost limit") {
		t.Errorf("huge: %+v, want review by the cost limit", got.Decision)
	}
}
