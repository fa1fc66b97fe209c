package policy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// mcpAction is a tools/call as the proxy requests it: command
// mcp__SERVER__TOOL, system SERVER, the bare tool name, the arguments.
func mcpAction(server, tool, args string) *gatehouse.Action {
	a := &gatehouse.Action{
		Agent: "claude", Session: "s-1", Kind: gatehouse.KindMCPTool, External: true,
		Command: "mcp__" + server + "__" + tool, System: server, Tool: tool, Cwd: "/home/user/project",
	}
	if args != "" {
		a.Input = json.RawMessage(args)
	}
	return a
}

// What `when` sees of an MCP call, and of other actions.
func TestMCPVariables(t *testing.T) {
	hook := mcpAction("github", "create_issue", `{"repo":"acme/web","labels":["bug"],"n":3,"big":9007199254740993,"f":1.5,"nested":{"draft":true}}`)
	hook.Tool = "mcp__github__create_issue" // as Claude Code's hook names it
	for _, tc := range []struct {
		name string
		a    *gatehouse.Action
		when string
		want string // the rule that decides: "r" if the expression is true, "default" if false, "review" if it fails
	}{
		{"server", mcpAction("github", "create_issue", `{}`), `mcp.server == "github"`, "r"},
		{"tool", mcpAction("github", "create_issue", `{}`), `mcp.tool == "create_issue"`, "r"},
		{"tool with __ in it", mcpAction("github", "a__b", `{}`), `mcp.tool == "a__b"`, "r"},
		{"hook's tool name", hook, `mcp.server == "github" && mcp.tool == "create_issue"`, "r"},
		{"string argument", hook, `mcp.arguments.repo == "acme/web"`, "r"},
		{"index form", hook, `mcp.arguments["repo"].startsWith("acme/")`, "r"},
		{"list argument", hook, `"bug" in mcp.arguments.labels`, "r"},
		{"int argument", hook, `mcp.arguments.n == 3 && mcp.arguments.n > 2`, "r"},
		{"int against double", hook, `mcp.arguments.n == 3.0`, "r"},
		{"whole number beyond 2^53 stays exact", hook, `mcp.arguments.big == 9007199254740993`, "r"},
		{"double argument", hook, `mcp.arguments.f < 2.0`, "r"},
		{"nested", hook, `mcp.arguments.nested.draft == true`, "r"},
		{"has, present", hook, `has(mcp.arguments.repo)`, "r"},
		{"has, absent", hook, `has(mcp.arguments.path)`, "default"},
		{"guarded absent key", hook, `has(mcp.arguments.path) && mcp.arguments.path.startsWith("/etc")`, "default"},
		{"keys", hook, `mcp.arguments.exists(k, k == "nested") && mcp.arguments.size() == 6`, "r"},
		{"no arguments", mcpAction("github", "list", ""), `mcp.arguments == {}`, "r"},
		{"null arguments", mcpAction("github", "list", "null"), `mcp.arguments.size() == 0`, "r"},
		{"kind", hook, `action.kind == "mcp_tool" && action.system == mcp.server`, "r"},

		// Fail closed: an absent key, a wrong type, unreadable arguments, a
		// name that does not say which tool.
		{"absent key unguarded", hook, `mcp.arguments.path.startsWith("/etc")`, "review"},
		{"wrong type", hook, `mcp.arguments.n.startsWith("3")`, "review"},
		{"arguments not an object", mcpAction("github", "x", `["a"]`), `mcp.server == "github"`, "review"},
		{"repeated key", mcpAction("fs", "write", `{"path":"/tmp/a","path":"/etc/passwd"}`), `mcp.server == "fs"`, "review"},
		{"repeated key, nested", mcpAction("fs", "write", `{"o":{"a":1,"a":2}}`), `mcp.tool == "write"`, "review"},
		{"command not of its system", &gatehouse.Action{Kind: gatehouse.KindMCPTool, Command: "mcp__gitlab__x", System: "github", Agent: "a"}, `mcp.tool == "x"`, "review"},
		{"no system", &gatehouse.Action{Kind: gatehouse.KindMCPTool, Command: "mcp__github__x", Agent: "a"}, `mcp.tool == "x"`, "review"},
		{"an expression without mcp is unaffected", mcpAction("github", "x", `["a"]`), `action.system == "github"`, "r"},

		// Other kinds: empty.
		{"shell: empty", shellAction("claude", "ls"), `mcp.server == "" && mcp.tool == "" && mcp.arguments == {}`, "r"},
		{"shell: has is false", shellAction("claude", "ls"), `has(mcp.arguments.path)`, "default"},
		{"shell: a key fails closed", shellAction("claude", "ls"), `mcp.arguments.path == "x"`, "review"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, "version: 1\ndefault: allow\nrules:\n  - id: r\n    effect: deny\n    reason: matched\n    when: '"+strings.ReplaceAll(tc.when, "'", "''")+"'\n")
			d := decide(p, tc.a, nil).Decision
			got := d.Rule
			if d.Effect == gatehouse.EffectReview {
				got = "review"
			}
			if got != tc.want {
				t.Errorf("when %s: decided %s by %q (%s), want %s", tc.when, d.Effect, d.Rule, d.Reason, tc.want)
			}
			if tc.want == "review" && !strings.Contains(d.Reason, `the condition of rule "r" failed`) {
				t.Errorf("reason %q does not say the condition failed", d.Reason)
			}
		})
	}
}

// A deny rule over the arguments, in a policy that allows the rest: the
// call it names is denied, others are allowed, and one it cannot read is
// never allowed.
func TestMCPDenyByArguments(t *testing.T) {
	p := mustParse(t, `
version: 1
default: allow
rules:
  - id: no-etc
    effect: deny
    reason: nothing under /etc
    system: fs
    when: 'mcp.arguments.path.startsWith("/etc/")'
`)
	for _, tc := range []struct {
		args string
		want gatehouse.Effect
	}{
		{`{"path":"/etc/passwd"}`, gatehouse.EffectDeny},
		{`{"path":"/home/user/a"}`, gatehouse.EffectAllow},
		{`{"file":"/etc/passwd"}`, gatehouse.EffectReview}, // no path: the condition fails, and the allow fails closed
		{`{"path":"/home/user/a","path":"/etc/passwd"}`, gatehouse.EffectReview},
	} {
		if d := decide(p, mcpAction("fs", "read", tc.args), nil).Decision; d.Effect != tc.want {
			t.Errorf("%s: %s by %q (%s), want %s", tc.args, d.Effect, d.Rule, d.Reason, tc.want)
		}
	}
}

func TestMCPToolMatcher(t *testing.T) {
	p := mustParse(t, `
version: 1
default: allow
rules:
  - id: no-delete
    effect: deny
    reason: deleting is for people
    system: github
    mcp_tool: [delete_repo, "delete_*"]
    examples:
      match: [mcp__github__delete_repo, mcp__github__delete_branch]
      no_match: [mcp__github__create_issue, mcp__gitlab__delete_repo]
  - id: any-delete
    effect: review
    reason: deletes, anywhere
    mcp_tool: "*delete*"
    examples:
      match: [mcp__gitlab__delete_repo]
`)
	for _, tc := range []struct {
		a    *gatehouse.Action
		rule string
	}{
		{mcpAction("github", "delete_repo", "{}"), "no-delete"},
		{mcpAction("github", "delete_x", "{}"), "no-delete"},
		{mcpAction("github", "create_issue", "{}"), "default"},
		{mcpAction("gitlab", "delete_repo", "{}"), "any-delete"},
		{shellAction("claude", "delete_repo"), "default"}, // not an MCP call
		// A name that does not say which tool fails closed.
		{&gatehouse.Action{Kind: gatehouse.KindMCPTool, Command: "delete_repo", System: "github", Agent: "a"}, "default"},
	} {
		d := decide(p, tc.a, nil).Decision
		if d.Rule != tc.rule {
			t.Errorf("%s (%s): decided by %q (%s), want %q", tc.a.Command, tc.a.Kind, d.Rule, d.Reason, tc.rule)
		}
	}
	d := decide(p, &gatehouse.Action{Kind: gatehouse.KindMCPTool, Command: "delete_repo", System: "github", Agent: "a"}, nil).Decision
	if d.Effect != gatehouse.EffectReview || !strings.Contains(d.Reason, "mcp_tool") {
		t.Errorf("unreadable name: %+v, want review saying why", d)
	}
}

// Examples of MCP calls, with arguments, are decided at load.
func TestMCPExamples(t *testing.T) {
	src := `
version: 1
default: allow
rules:
  - id: no-etc
    effect: deny
    reason: nothing under /etc
    kind: mcp_tool
    system: fs
    when: 'has(mcp.arguments.path) && mcp.arguments.path.startsWith("/etc/")'
    examples:
      match:
        - {command: mcp__fs__read_file, arguments: {path: /etc/passwd}}
      no_match:
        - {command: mcp__fs__read_file, arguments: {path: /home/user/a}}
        - mcp__fs__list
`
	mustParse(t, src)
	bad := strings.Replace(src, "path: /home/user/a", "path: /etc/shadow", 1)
	lines := parseErr(t, bad)
	if len(lines) != 1 || !strings.Contains(lines[0], `example "mcp__fs__read_file" should not match this rule, but it does`) {
		t.Errorf("a failing MCP example: %q", lines)
	}

	// The analysis is the gateway's (by kind) when AnalyzeAction is set.
	read := `
version: 1
default: deny
rules:
  - id: reads
    effect: allow
    reason: reads
    max_class: read
    examples:
      match: [{kind: mcp_tool, command: mcp__fs__read_file}]
`
	opts := policy.Options{Filename: "test.yaml", Analyze: fakeAnalyze, AnalyzeAction: func(a *gatehouse.Action) gatehouse.Analysis {
		if a.Kind == gatehouse.KindMCPTool && a.System == "fs" && a.Tool == "read_file" {
			return gatehouse.Analysis{Class: gatehouse.ClassRead}
		}
		return fakeAnalyze(a.Command)
	}}
	if _, err := policy.Parse([]byte(read), opts); err != nil {
		t.Errorf("with AnalyzeAction: %v", err)
	}
	opts.AnalyzeAction = nil
	if _, err := policy.Parse([]byte(read), opts); err == nil {
		t.Errorf("without AnalyzeAction the call is analysed as a shell command (an unknown program, a write), so the example should fail")
	}
}

func TestMCPLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, rule, want string
	}{
		{"misspelt field", `when: 'mcp.toool == "x"'`, `test.yaml:7:11: rule "r": when: undefined field 'toool'`},
		{"mcp_tool of another kind", "kind: shell\n    mcp_tool: x", `test.yaml:8:5: rule "r": mcp_tool: matches only actions of kind mcp_tool`},
		{"bad glob", `mcp_tool: "[x"`, `test.yaml:7:15: rule "r": mcp_tool: "[x" is not a valid glob`},
		{"arguments not a mapping", "kind: mcp_tool\n    examples: {match: [{command: mcp__a__b, arguments: [1]}]}", `rule "r": examples.match.arguments: must be a mapping`},
		{"arguments on a shell example", "kind: shell\n    examples: {match: [{command: ls, arguments: {a: 1}}]}", `rule "r": example "ls": arguments are those of an MCP tool call`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "version: 1\nrules:\n  - id: r\n    effect: deny\n    reason: r\n    system: s\n    " + tc.rule + "\n"
			lines := parseErr(t, src)
			if !strings.Contains(strings.Join(lines, "\n"), tc.want) {
				t.Errorf("errors %q lack %q", lines, tc.want)
			}
		})
	}
}

// BenchmarkDecideMCP decides a tool call whose arguments a rule reads:
// the arguments are decoded (once per decision) and the expression runs
// with its cost tracked, as every expression over arguments does.
func BenchmarkDecideMCP(b *testing.B) {
	p := mustParse(b, `
version: 1
default: allow
rules:
  - id: no-etc
    effect: deny
    reason: nothing under /etc
    system: fs
    mcp_tool: [write_file, edit_file]
    when: '!has(mcp.arguments.path) || mcp.arguments.path.startsWith("/etc/") || mcp.arguments.path.contains("..")'
`)
	a := mcpAction("fs", "write_file", `{"path":"/home/user/project/src/main.go","content":"package main\n\nfunc main() {}\n","mode":420,"create_dirs":true}`)
	an := gatehouse.Analysis{Class: gatehouse.ClassWrite, Risk: 40}
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Decide(a, &an, nil, t0).Decision; d.Effect != gatehouse.EffectAllow {
			b.Fatalf("%+v", d)
		}
	}
}
