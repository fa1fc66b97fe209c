package policy

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse"
)

// Example actions are built from the example's command and the rule's own
// scope, so that an example of a rule scoped to `agent: [ci-*]` is an
// action of an agent that rule covers. Fields the rule does not constrain
// take these values; an example written as a mapping may set any of them.
const (
	ExampleAgent   = "example-agent"
	ExampleSession = "example-session"
	ExampleCwd     = "/home/user/project"
)

// example is one entry of a rule's examples.
type example struct {
	match bool // under match:, else no_match:
	node  *yaml.Node
	cmd   string
	set   map[string]string // fields given in the mapping form
	args  json.RawMessage   // arguments: of an MCP tool call, as JSON
}

var exampleFields = []string{"command", "agent", "session", "system", "kind", "cwd", "model", "intent", "arguments"}

func (l *loader) examples(f field, rule string) []example {
	if f.val.Kind != yaml.MappingNode {
		l.addf(f.val, rule, "examples: must be a mapping with match and/or no_match, not %s", describe(f.val))
		return nil
	}
	var out []example
	for _, ef := range l.fields(f.val, rule, "examples", []string{"match", "no_match"}) {
		entries := []*yaml.Node{ef.val}
		if ef.val.Kind == yaml.SequenceNode {
			entries = ef.val.Content
		}
		for _, n := range entries {
			ex := example{match: ef.name == "match", node: n}
			switch {
			case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Value != "":
				ex.cmd = n.Value
			case n.Kind == yaml.MappingNode:
				ex.set = map[string]string{}
				for _, xf := range l.fields(n, rule, "an example", exampleFields) {
					if xf.name == "arguments" {
						ex.args = l.arguments(xf, "examples."+ef.name+".arguments", rule)
						continue
					}
					s, ok := l.str(field{"examples." + ef.name + "." + xf.name, xf.key, xf.val}, rule)
					if !ok {
						continue
					}
					ex.set[xf.name] = s
				}
				ex.cmd = ex.set["command"]
				if ex.cmd == "" {
					l.addf(n, rule, "examples.%s: an example needs a command", ef.name)
					continue
				}
				if k, ok := ex.set["kind"]; ok && !gatehouse.Kind(k).Valid() {
					l.addf(n, rule, "examples.%s: %q is not an action kind (shell, file_write, file_read, http, mcp_tool)", ef.name, k)
					continue
				}
			default:
				l.addf(n, rule, "examples.%s: each example must be a command string or a mapping with command (and agent, system, cwd, …), not %s", ef.name, describe(n))
				continue
			}
			out = append(out, ex)
		}
	}
	return out
}

// arguments reads an example's arguments: a mapping, kept as the JSON
// object a tool call would carry.
func (l *loader) arguments(f field, name, rule string) json.RawMessage {
	if f.val.Kind != yaml.MappingNode {
		l.addf(f.val, rule, "%s: must be a mapping (the tool call's arguments), not %s", name, describe(f.val))
		return nil
	}
	var v map[string]any
	if err := f.val.Decode(&v); err != nil {
		l.addf(f.val, rule, "%s: %v", name, err)
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		l.addf(f.val, rule, "%s: cannot be written as JSON: %v", name, err)
		return nil
	}
	return b
}

// checkExamples decides every example with the finished policy. A match
// example must be decided by its rule, with its rule's effect; a no_match
// example must not match its rule at all (whatever decides it).
func (l *loader) checkExamples(p *Policy, rules []parsed, opts Options, now time.Time) {
	cache := map[string]*gatehouse.Analysis{}
	for _, pr := range rules {
		r := pr.r
		for _, ex := range pr.examples {
			a, ok := exampleAction(r, ex)
			if !ok {
				l.addf(ex.node, pr.label, "example %q: cannot make up an agent, session or system this rule covers; write the example as a mapping that sets them", ex.cmd)
				continue
			}
			if ex.args != nil && a.Kind != gatehouse.KindMCPTool {
				l.addf(ex.node, pr.label, "example %q: arguments are those of an MCP tool call, and this example is of kind %s (set kind: mcp_tool)", ex.cmd, a.Kind)
				continue
			}
			key := string(a.Kind) + "\x00" + a.Command
			an, ok := cache[key]
			if !ok {
				var v gatehouse.Analysis
				if opts.AnalyzeAction != nil {
					v = opts.AnalyzeAction(a)
				} else {
					v = opts.Analyze(a.Command)
				}
				an = &v
				cache[key] = an
			}
			if ex.match {
				res := p.Decide(a, an, nil, now)
				d := res.Decision
				switch {
				case d.Rule != r.info.ID:
					by := fmt.Sprintf("rule %q", d.Rule)
					if d.Rule == "default" {
						by = "the default"
					}
					l.addf(ex.node, pr.label, "example %q should be decided by this rule, but is decided by %s (%s: %s)", ex.cmd, by, d.Effect, d.Reason)
				case d.Effect != r.info.Effect:
					l.addf(ex.node, pr.label, "example %q is decided by this rule, but as %s, not %s: %s", ex.cmd, d.Effect, r.info.Effect, d.Reason)
				}
				continue
			}
			ev := newEvaluation(a, an, now)
			switch v, err := ev.rule(r); v {
			case match:
				l.addf(ex.node, pr.label, "example %q should not match this rule, but it does", ex.cmd)
			case evalError:
				l.addf(ex.node, pr.label, "example %q: the when expression could not be evaluated: %v", ex.cmd, err)
			}
		}
	}
}

// exampleAction builds the action an example stands for.
func exampleAction(r *rule, ex example) (*gatehouse.Action, bool) {
	a := &gatehouse.Action{
		Kind:    gatehouse.KindShell,
		Command: ex.cmd,
		Argv:    []string{"/bin/sh", "-c", ex.cmd},
		Shell:   true,
		Cwd:     ExampleCwd,
		Agent:   ExampleAgent,
		Session: ExampleSession,
	}
	switch {
	case len(r.kinds) > 0:
		a.Kind = r.kinds[0]
	case r.mcpTools != nil, ex.args != nil:
		a.Kind = gatehouse.KindMCPTool // only MCP calls have arguments
	}
	ok := true
	pick := func(s *nameSet, dst *string) {
		if s == nil {
			return
		}
		switch {
		case len(s.exact) > 0:
			*dst = s.exact[0]
		case len(s.globs) > 0:
			v, found := sampleName(s.globs[0])
			*dst = v
			ok = ok && found
		}
	}
	pick(r.agents, &a.Agent)
	pick(r.sessions, &a.Session)
	pick(r.systems, &a.System)
	for k, v := range ex.set {
		switch k {
		case "agent":
			a.Agent = v
		case "session":
			a.Session = v
		case "system":
			a.System = v
		case "kind":
			a.Kind = gatehouse.Kind(v)
		case "cwd":
			a.Cwd = v
		case "model":
			a.Model = v
		case "intent":
			a.Intent = v
		}
	}
	if a.Kind != gatehouse.KindShell {
		a.Argv, a.Shell = nil, false
	}
	derived := false
	if a.Kind == gatehouse.KindMCPTool {
		// An MCP call names its server (mcp__SERVER__TOOL), as the proxy
		// and the hook make it: that is its system, unless the example
		// says otherwise.
		if _, set := ex.set["system"]; !set {
			if parts := strings.SplitN(a.Command, "__", 3); len(parts) == 3 && parts[0] == "mcp" {
				a.System, derived = parts[1], true
			}
		}
		a.Tool = strings.TrimPrefix(a.Command, "mcp__"+a.System+"__")
		a.Input = ex.args
	}
	// Values the mapping or the name sets explicitly need no made-up
	// sample.
	if !ok && (ex.set != nil || derived) {
		ok = (r.agents == nil || r.agents.match(a.Agent)) &&
			(r.sessions == nil || r.sessions.match(a.Session)) &&
			(r.systems == nil || r.systems.match(a.System))
	}
	return a, ok
}
