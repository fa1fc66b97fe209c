package policy_test

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err from the current messages")

// TestLoadErrors loads each testdata/bad/NAME.yaml and compares the error
// message with NAME.err: one "FILE:LINE:COL: rule "id": message" line per
// problem. Run with -update to rewrite the .err files, then read the diff.
func TestLoadErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			_, err := policy.Load(file, policy.Options{Analyze: fakeAnalyze, Filename: name + ".yaml"})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			var e *gatehouse.Error
			if !errors.As(err, &e) || e.Code != gatehouse.EINVALID {
				t.Fatalf("error %v: want a *gatehouse.Error with code EINVALID", err)
			}
			got := e.Message + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".err"
			if *update {
				must(t, os.WriteFile(golden, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(golden)
			must(t, err)
			if got != string(want) {
				t.Errorf("message differs from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !strings.HasPrefix(line, name+".yaml:") {
					t.Errorf("line does not start with FILE:LINE:COL: %q", line)
				}
			}
		})
	}
}

// TestParseErrorsEveryRule checks that problems in several rules are all
// reported, each naming its rule, in file order.
func TestParseErrorsEveryRule(t *testing.T) {
	lines := parseErr(t, `version: 1
rules:
  - id: one
    effect: alow
    reason: r
    command: {exact: a}
  - id: two
    effect: allow
    reason: r
    command: {glob: "[x"}
  - id: three
    effect: allow
    reason: r
    when: 'nope'
`)
	want := []string{
		`test.yaml:4:13: rule "one": effect: must be allow, review or deny, not "alow"`,
		`test.yaml:10:21: rule "two": command.glob: "[x" has an unterminated character class '['`,
		`test.yaml:14:11: rule "three": when: undeclared reference to 'nope' (in container '') (at 1:1 of the expression)`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	_, err := policy.Load(path, policy.Options{})
	if gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v (code %s), want ENOTFOUND matching fs.ErrNotExist", err, gatehouse.ErrorCode(err))
	}
	must(t, os.WriteFile(path, []byte("version: 1\nrules:\n  - {id: x, effect: deny, reason: r, command: {exact: ls}}\n"), 0o600))
	p, err := policy.Load(path, policy.Options{Analyze: fakeAnalyze})
	must(t, err)
	if got := decide(p, shellAction("a", "ls"), nil); got.Decision.Rule != "x" {
		t.Errorf("rule = %q", got.Decision.Rule)
	}
	must(t, os.WriteFile(path, []byte("version: 1\nbogus: 1\n"), 0o600))
	_, err = policy.Load(path, policy.Options{})
	if msg := gatehouse.ErrorMessage(err); !strings.HasPrefix(msg, path+":2:1: ") {
		t.Errorf("message %q does not name the path", msg)
	}
}

func TestTooLarge(t *testing.T) {
	src := make([]byte, policy.MaxSize+1)
	_, err := policy.Parse(src, policy.Options{})
	if gatehouse.ErrorCode(err) != gatehouse.EINVALID {
		t.Errorf("err = %v", err)
	}
}

// TestExamplesNeedAnalyzer: without an analyser, examples are checked for
// form only.
func TestExamplesWithoutAnalyzer(t *testing.T) {
	src := `version: 1
rules:
  - id: r
    effect: allow
    reason: r
    max_class: read
    examples:
      match: ["rm -rf /"]
`
	if _, err := policy.Parse([]byte(src), policy.Options{}); err != nil {
		t.Errorf("without an analyser: %v", err)
	}
	if _, err := policy.Parse([]byte(src), policy.Options{Analyze: fakeAnalyze}); err == nil {
		t.Error("with an analyser the failing example passed")
	}
}

// TestExampleActions: examples of scoped rules are actions the rule's
// scope covers; the mapping form sets the fields explicitly.
func TestExampleActions(t *testing.T) {
	mustParse(t, `
version: 1
rules:
  - id: ci-prod
    effect: deny
    reason: CI may not touch prod
    agent: ["ci-[0-9]*"]
    system: ["prod-*"]
    session: ["s-?"]
    examples:
      match: ["make deploy", {command: "make deploy", agent: ci-7, system: prod-eu, session: s-1}]
      no_match: [{command: "make deploy", agent: dev, system: prod-eu}]
  - id: cwd
    effect: allow
    reason: in /srv
    when: 'action.cwd == "/srv/app" && action.intent == "ship" && action.model == "m1"'
    examples:
      match: [{command: "ls", cwd: /srv/app, intent: ship, model: m1}]
      no_match: ["ls"]
`)
	lines := parseErr(t, `
version: 1
rules:
  - id: r
    effect: deny
    reason: r
    agent: ['[^a-z0-9_.\-]*']
    examples:
      match: ["ls", {command: "ls", agent: "%", colour: red}, {agent: x}, 42]
`)
	want := []string{
		`test.yaml:9:49: rule "r": unknown field "colour" in an example (known: command, agent, session, system, kind, cwd, model, intent, arguments)`,
		`test.yaml:9:63: rule "r": examples.match: an example needs a command`,
		`test.yaml:9:75: rule "r": examples.match: each example must be a command string or a mapping with command (and agent, system, cwd, …), not a number (42)`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	lines = parseErr(t, `
version: 1
rules:
  - id: r
    effect: deny
    reason: r
    agent: ['[^a-z0-9_.\-]*']
    examples:
      match: ["ls"]
`)
	want = []string{`test.yaml:9:15: rule "r": example "ls": cannot make up an agent, session or system this rule covers; write the example as a mapping that sets them`}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
