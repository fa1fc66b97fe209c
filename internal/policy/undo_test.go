package policy_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

const undoPolicy = `version: 1
default: deny
rules:
  - id: k8s-image
    effect: review
    reason: changes what runs
    command: {regex: '^kubectl set image deployment/(?P<name>[a-z0-9-]+) '}
    undo: "kubectl rollout undo deployment/{name}"
  - id: copy
    effect: allow
    reason: a copy
    command: {prefix: "cp "}
    undo: ["rm -- {target}", "echo {program} {arg1} {arg2} {arg3} in {cwd} by {agent} for {session}: {id}", "literal {{braces}}"]
  - id: all-targets
    effect: allow
    reason: t
    command: {prefix: "touch "}
    undo: "rm -f {targets} # {name}"
  - id: plain
    effect: allow
    reason: no undo
    command: {prefix: "ls"}
`

func TestUndo(t *testing.T) {
	p := mustParse(t, undoPolicy)
	cmd := func(name string, class gatehouse.Class, args []string, targets ...string) gatehouse.AnalyzedCommand {
		return gatehouse.AnalyzedCommand{Name: name, Args: args, Class: class, Targets: targets}
	}
	for _, tc := range []struct {
		name    string
		command string
		an      gatehouse.Analysis
		want    []gatehouse.Undo
	}{
		{"a regex group", "kubectl set image deployment/web web=nginx:2",
			gatehouse.Analysis{Class: gatehouse.ClassWrite, Commands: []gatehouse.AnalyzedCommand{cmd("kubectl", gatehouse.ClassWrite, []string{"set"})}},
			[]gatehouse.Undo{{Template: "kubectl rollout undo deployment/{name}", Command: "kubectl rollout undo deployment/web"}}},
		{"built-ins, the main command after a read", "cp 'my file' /srv/x",
			gatehouse.Analysis{Class: gatehouse.ClassWrite, Targets: []string{"/srv/it's here"}, Commands: []gatehouse.AnalyzedCommand{
				cmd("cd", gatehouse.ClassRead, []string{"/srv"}), cmd("cp", gatehouse.ClassWrite, []string{"my file", "/srv/x"})}},
			[]gatehouse.Undo{
				{Template: "rm -- {target}", Command: `rm -- '/srv/it'\''s here'`},
				{Template: "echo {program} {arg1} {arg2} {arg3} in {cwd} by {agent} for {session}: {id}",
					Error: "no value for {arg3} in this action"},
				{Template: "literal {{braces}}", Command: "literal {braces}"}}},
		{"all targets and a name", "touch a b/c",
			gatehouse.Analysis{Class: gatehouse.ClassWrite, Targets: []string{"a b", "b/c"}},
			[]gatehouse.Undo{{Template: "rm -f {targets} # {name}", Command: "rm -f 'a b' b/c # b"}}},
		{"no target", "touch -c",
			gatehouse.Analysis{Class: gatehouse.ClassWrite},
			[]gatehouse.Undo{{Template: "rm -f {targets} # {name}", Error: "no value for {targets} in this action"}}},
		{"a rule without undo", "ls", gatehouse.Analysis{Class: gatehouse.ClassRead}, nil},
		{"no rule", "reboot", gatehouse.Analysis{Class: gatehouse.ClassDestructive}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := shellAction("ci", tc.command)
			a.ID = "01ACTION"
			an := tc.an
			res := p.Decide(a, &an, nil, t0)
			if len(res.Undo) != len(tc.want) {
				t.Fatalf("undo = %+v, want %+v", res.Undo, tc.want)
			}
			for i, w := range tc.want {
				if res.Undo[i] != w {
					t.Errorf("undo %d = %+v\nwant     %+v", i, res.Undo[i], w)
				}
			}
		})
	}
	// The whole second template, with every built-in that has a value.
	a := shellAction("ci", "cp a b c")
	a.ID = "01ACTION"
	an := gatehouse.Analysis{Class: gatehouse.ClassWrite, Commands: []gatehouse.AnalyzedCommand{cmd("cp", gatehouse.ClassWrite, []string{"-r", "a", "b c"})}}
	res := p.Decide(a, &an, nil, t0)
	if got := res.Undo[1].Command; got != "echo cp -r a 'b c' in /home/user/project by ci for s-1: 01ACTION" {
		t.Errorf("built-ins rendered as %q", got)
	}
}

// A learned rule that allows what a rule reviews keeps the rule's undo:
// it changes who decides, not what the action does.
func TestUndoKeptByLearnedRules(t *testing.T) {
	p := mustParse(t, undoPolicy)
	l := policy.NewLearned()
	if err := l.Add(gatehouse.LearnedRule{ID: "L1", Match: "prefix", Pattern: "kubectl set image", CreatedBy: "alice", CreatedAt: t0, ExpiresAt: t0.Add(3600e9)}); err != nil {
		t.Fatal(err)
	}
	a := shellAction("ci", "kubectl set image deployment/api api=v3")
	an := gatehouse.Analysis{Class: gatehouse.ClassWrite}
	res := p.Decide(a, &an, l, t0)
	if res.Decision.Effect != gatehouse.EffectAllow || res.Decision.Rule != "learned:L1" {
		t.Fatalf("decision = %+v, want the learned rule to allow", res.Decision)
	}
	if len(res.Undo) != 1 || res.Undo[0].Command != "kubectl rollout undo deployment/api" {
		t.Errorf("undo = %+v", res.Undo)
	}
}
