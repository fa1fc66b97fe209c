package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

// Built-in settings, used when the file does not set them.
const (
	defaultEffect          = gatehouse.EffectReview
	defaultApprovalTimeout = 60 * time.Second
	defaultOnTimeout       = OnTimeoutDeny
)

// kinds are the action kinds a rule may name. A misspelt kind would make
// a rule silently never match, so unknown ones are rejected.

var (
	ruleID    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	groupName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`)
)

const maxIDLen = 100

func validRuleID(id string) bool {
	return len(id) <= maxIDLen && ruleID.MatchString(id) && id != "default"
}

// problem is one thing wrong with a policy file.
type problem struct {
	line, col int
	rule      string // `rule "id"` or `rule #3`, "" outside rules
	msg       string
}

// loader turns a YAML document into rules, collecting every problem it
// finds rather than stopping at the first.
type loader struct {
	file  string
	probs []problem
}

func (l *loader) addf(n *yaml.Node, rule, format string, args ...any) {
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line, col = n.Line, n.Column
	}
	l.probs = append(l.probs, problem{line, col, rule, fmt.Sprintf(format, args...)})
}

// err returns the problems as one EINVALID error, a line each, sorted by
// position, or nil if there are none.
func (l *loader) err() error {
	if len(l.probs) == 0 {
		return nil
	}
	sort.SliceStable(l.probs, func(i, j int) bool {
		a, b := l.probs[i], l.probs[j]
		if a.line != b.line {
			return a.line < b.line
		}
		return a.col < b.col
	})
	lines := make([]string, len(l.probs))
	for i, p := range l.probs {
		s := fmt.Sprintf("%s:%d:%d: ", l.file, p.line, p.col)
		if p.rule != "" {
			s += p.rule + ": "
		}
		lines[i] = s + p.msg
	}
	return &gatehouse.Error{Code: gatehouse.EINVALID, Op: "policy.Parse", Message: strings.Join(lines, "\n")}
}

// yamlLine finds the line number in a YAML library error message.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses src into its single YAML document's root mapping.
func (l *loader) document(src []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.addf(nil, "", "the policy is empty: it needs at least `version: 1`")
			return nil
		}
		// The YAML library reports the line of a syntax error but not its
		// column.
		msg := err.Error()
		line := 1
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		l.probs = append(l.probs, problem{line: line, col: 1, msg: "invalid YAML: " + msg})
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		l.addf(&extra, "", "a policy file holds one YAML document; remove the second `---`")
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		l.addf(root, "", "the policy must be a mapping (version, default, rules, …), not %s", describe(root))
		return nil
	}
	return root
}

// field is one key: value pair of a mapping.
type field struct {
	name string
	key  *yaml.Node
	val  *yaml.Node
}

// fields checks a mapping's keys against the allowed names and returns its
// pairs in order. Unknown and repeated keys are problems.
func (l *loader) fields(m *yaml.Node, rule, what string, allowed []string) []field {
	var out []field
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.addf(k, rule, "%s keys must be names, not %s", what, describe(k))
			continue
		}
		if !contains(allowed, k.Value) {
			l.addf(k, rule, "unknown field %q in %s (known: %s)", k.Value, what, strings.Join(allowed, ", "))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.addf(k, rule, "field %q is set twice (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		if v.Kind == yaml.AliasNode || k.Kind == yaml.AliasNode {
			l.addf(v, rule, "%s: YAML aliases are not supported in a policy", k.Value)
			continue
		}
		out = append(out, field{k.Value, k, v})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// describe names what a node is, for "must be a string, not …".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "empty"
		case "!!int", "!!float":
			return "a number (" + n.Value + ")"
		case "!!bool":
			return "a boolean (" + n.Value + ")"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		}
		return n.ShortTag() + " " + n.Value
	}
	return "a document"
}

// str decodes a non-empty string.
func (l *loader) str(f field, rule string) (string, bool) {
	if f.val.Kind != yaml.ScalarNode || f.val.ShortTag() != "!!str" {
		l.addf(f.val, rule, "%s: must be a string, not %s", f.name, describe(f.val))
		return "", false
	}
	if strings.TrimSpace(f.val.Value) == "" {
		l.addf(f.val, rule, "%s: must not be empty", f.name)
		return "", false
	}
	return f.val.Value, true
}

// item is one string of a string-or-list field, with its node.
type item struct {
	s string
	n *yaml.Node
}

// strs decodes a string or a non-empty list of non-empty strings.
func (l *loader) strs(f field, rule string) ([]item, bool) {
	v := f.val
	if v.Kind == yaml.ScalarNode {
		s, ok := l.str(f, rule)
		if !ok {
			return nil, false
		}
		return []item{{s, v}}, true
	}
	if v.Kind != yaml.SequenceNode {
		l.addf(v, rule, "%s: must be a string or a list of strings, not %s", f.name, describe(v))
		return nil, false
	}
	if len(v.Content) == 0 {
		l.addf(v, rule, "%s: must not be an empty list (leave the field out to match everything)", f.name)
		return nil, false
	}
	out := make([]item, 0, len(v.Content))
	ok := true
	for _, e := range v.Content {
		if e.Kind != yaml.ScalarNode || e.ShortTag() != "!!str" {
			l.addf(e, rule, "%s: each entry must be a string, not %s", f.name, describe(e))
			ok = false
			continue
		}
		if strings.TrimSpace(e.Value) == "" {
			l.addf(e, rule, "%s: entries must not be empty", f.name)
			ok = false
			continue
		}
		out = append(out, item{e.Value, e})
	}
	return out, ok
}

func (l *loader) integer(f field, rule string, min, max int) (int, bool) {
	var n int
	if f.val.Kind != yaml.ScalarNode || f.val.ShortTag() != "!!int" || f.val.Decode(&n) != nil {
		l.addf(f.val, rule, "%s: must be a whole number, not %s", f.name, describe(f.val))
		return 0, false
	}
	if n < min || n > max {
		l.addf(f.val, rule, "%s: must be between %d and %d, not %d", f.name, min, max, n)
		return 0, false
	}
	return n, true
}

func (l *loader) duration(f field, rule string) (time.Duration, bool) {
	if f.val.Kind != yaml.ScalarNode || f.val.ShortTag() != "!!str" {
		l.addf(f.val, rule, "%s: must be a duration such as 90s, 5m or 1h, not %s", f.name, describe(f.val))
		return 0, false
	}
	d, err := time.ParseDuration(f.val.Value)
	if err != nil || d <= 0 {
		l.addf(f.val, rule, "%s: must be a positive duration such as 90s, 5m or 1h, not %q", f.name, f.val.Value)
		return 0, false
	}
	return d, true
}

func (l *loader) effect(f field, rule string) (gatehouse.Effect, bool) {
	s, ok := l.str(f, rule)
	if !ok {
		return "", false
	}
	switch e := gatehouse.Effect(s); e {
	case gatehouse.EffectAllow, gatehouse.EffectReview, gatehouse.EffectDeny:
		return e, true
	}
	l.addf(f.val, rule, "%s: must be allow, review or deny, not %q", f.name, s)
	return "", false
}

func (l *loader) onTimeout(f field, rule string) (string, bool) {
	s, ok := l.str(f, rule)
	if !ok {
		return "", false
	}
	if s != OnTimeoutDeny && s != OnTimeoutEscalate {
		l.addf(f.val, rule, "%s: must be deny or escalate, not %q", f.name, s)
		return "", false
	}
	return s, true
}

func (l *loader) class(n *yaml.Node, name, rule string, s string) (gatehouse.Class, bool) {
	c := gatehouse.Class(s)
	if !c.Valid() {
		l.addf(n, rule, "%s: %q is not a class (read, write, destructive, irreversible)", name, s)
		return "", false
	}
	return c, true
}

// settings are the top-level fields that apply to every rule.
type settings struct {
	def       gatehouse.Effect
	timeout   time.Duration
	onTimeout string
	tripwires tripwire.Config
}

var topFields = []string{"version", "default", "approval_timeout", "on_timeout", "tripwires", "rules"}

var ruleFields = []string{
	"id", "effect", "reason",
	"agent", "session", "kind", "system", "mcp_tool", "command", "class", "max_class", "min_risk", "when",
	"approvals", "timeout", "on_timeout", "escalate_to",
	"undo", "examples",
}

var reviewOnly = []string{"approvals", "timeout", "on_timeout", "escalate_to"}

// parsed is a rule with what is needed to check it after the whole file
// is read.
type parsed struct {
	r        *rule
	label    string
	node     *yaml.Node
	catchAll bool // no matchers at all
	examples []example
}

// policy reads the whole document.
func (l *loader) policy(root *yaml.Node) (settings, []parsed) {
	set := settings{def: defaultEffect, timeout: defaultApprovalTimeout, onTimeout: defaultOnTimeout, tripwires: tripwire.DefaultConfig()}
	var rulesNode *yaml.Node
	version := false
	for _, f := range l.fields(root, "", "the policy", topFields) {
		switch f.name {
		case "version":
			version = true
			if n, ok := l.integer(f, "", 0, 1<<31); ok && n != 1 {
				l.addf(f.val, "", "version: this Gatehouse reads policy version 1, not %d", n)
			}
		case "default":
			if e, ok := l.effect(f, ""); ok {
				set.def = e
			}
		case "approval_timeout":
			if d, ok := l.duration(f, ""); ok {
				set.timeout = d
			}
		case "on_timeout":
			if s, ok := l.onTimeout(f, ""); ok {
				set.onTimeout = s
			}
		case "tripwires":
			l.tripwires(f.val, &set.tripwires)
		case "rules":
			switch f.val.Kind {
			case yaml.SequenceNode:
				rulesNode = f.val
			case yaml.ScalarNode:
				if f.val.ShortTag() == "!!null" {
					break // "rules:" with nothing: no rules
				}
				fallthrough
			default:
				l.addf(f.val, "", "rules: must be a list of rules, not %s", describe(f.val))
			}
		}
	}
	if !version {
		l.addf(root, "", "version: is required (version: 1)")
	}
	if rulesNode == nil {
		return set, nil
	}
	var out []parsed
	ids := map[string]*yaml.Node{}
	for i, n := range rulesNode.Content {
		p := l.rule(n, i, set, ids)
		if p != nil {
			out = append(out, *p)
		}
	}
	for i, p := range out {
		if p.catchAll && i < len(out)-1 {
			l.addf(p.node, p.label, "has no matchers, so it matches every action and the %d rule(s) after it can never match (use `default:` instead, or add a matcher)", len(out)-1-i)
		}
	}
	return set, out
}

// tripwires decodes the tripwires: section onto the defaults in c and
// validates it.
func (l *loader) tripwires(n *yaml.Node, c *tripwire.Config) {
	err := n.Decode(c)
	if err == nil {
		err = c.Validate()
	}
	if err == nil {
		return
	}
	msg := gatehouse.ErrorMessage(err)
	if gatehouse.ErrorCode(err) == gatehouse.EINTERNAL {
		msg = err.Error()
	}
	// The section's decoder names its own line ("line 14: …"); point there.
	at := n
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				at, msg = &yaml.Node{Line: line, Column: 1}, tail
			}
		}
	}
	if !strings.HasPrefix(msg, "tripwires") {
		msg = "tripwires: " + msg
	}
	l.addf(at, "", "%s", msg)
}

// rule reads one entry of the rules list. It returns nil if the entry is
// not a mapping.
func (l *loader) rule(n *yaml.Node, i int, set settings, ids map[string]*yaml.Node) *parsed {
	label := fmt.Sprintf("rule #%d", i+1)
	if n.Kind != yaml.MappingNode {
		l.addf(n, label, "must be a mapping (id, effect, reason, matchers), not %s", describe(n))
		return nil
	}
	r := &rule{maxClass: -1, minRisk: -1}
	r.info.Line = n.Line
	// The id first, so that every other problem can name the rule.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "id" && v.ShortTag() == "!!str" && validRuleID(v.Value) {
			label = fmt.Sprintf("rule %q", v.Value)
			break
		}
	}
	fs := l.fields(n, label, "a rule", ruleFields)
	byName := map[string]field{}
	for _, f := range fs {
		byName[f.name] = f
	}
	if f, ok := byName["id"]; ok {
		if id, ok := l.str(f, label); ok {
			switch {
			case validRuleID(id):
				r.info.ID = id
				if first, dup := ids[id]; dup {
					l.addf(f.val, label, "duplicate id (first used at line %d)", first.Line)
				} else {
					ids[id] = f.val
				}
			case len(id) > maxIDLen || !ruleID.MatchString(id):
				l.addf(f.val, label, "id: %q is not a valid id: use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit (at most %d)", id, maxIDLen)
			default:
				l.addf(f.val, label, `id: "default" is reserved for the policy's default decision`)
			}
		}
	} else {
		l.addf(n, label, "id: is required")
	}
	p := &parsed{r: r, label: label, node: n, catchAll: true}

	effectKnown := false
	if f, ok := byName["effect"]; ok {
		if e, ok := l.effect(f, label); ok {
			r.info.Effect, effectKnown = e, true
		}
	} else {
		l.addf(n, label, "effect: is required (allow, review or deny)")
	}
	if f, ok := byName["reason"]; ok {
		if s, ok := l.str(f, label); ok {
			r.info.Reason = s
		}
	} else {
		l.addf(n, label, "reason: is required: it is shown to agents and reviewers")
	}

	for _, f := range fs {
		switch f.name {
		case "agent":
			r.agents = l.names(f, label)
			p.catchAll = false
		case "session":
			r.sessions = l.names(f, label)
			p.catchAll = false
		case "system":
			r.systems = l.names(f, label)
			p.catchAll = false
		case "mcp_tool":
			r.mcpTools = l.names(f, label)
			p.catchAll = false
		case "kind":
			p.catchAll = false
			items, _ := l.strs(f, label)
			r.kinds = []gatehouse.Kind{} // a bad list still matches nothing rather than everything
			for _, it := range items {
				if !gatehouse.Kind(it.s).Valid() {
					l.addf(it.n, label, "kind: %q is not an action kind (shell, file_write, file_read, http, mcp_tool)", it.s)
					continue
				}
				r.kinds = append(r.kinds, gatehouse.Kind(it.s))
			}
		case "command":
			r.cmd = l.command(f, label)
			p.catchAll = false
		case "class":
			p.catchAll = false
			items, _ := l.strs(f, label)
			for _, it := range items {
				if c, ok := l.class(it.n, f.name, label, it.s); ok {
					r.classes |= 1 << c.Severity()
				}
			}
		case "max_class":
			p.catchAll = false
			if s, ok := l.str(f, label); ok {
				if c, ok := l.class(f.val, f.name, label, s); ok {
					r.maxClass = c.Severity()
				}
			}
		case "min_risk":
			p.catchAll = false
			if v, ok := l.integer(f, label, 0, 100); ok {
				r.minRisk = v
			}
		case "when":
			p.catchAll = false
			if s, ok := l.str(f, label); ok {
				cond, probs := compileWhen(s)
				for _, msg := range probs {
					l.addf(f.val, label, "%s", msg)
				}
				r.when = cond
			}
		case "examples":
			p.examples = l.examples(f, label)
		}
	}

	if f, ok := byName["undo"]; ok {
		l.undo(f, label, r, effectKnown)
	}
	if f, ok := byName["mcp_tool"]; ok && r.kinds != nil && len(r.kinds) > 0 && !containsKind(r.kinds, gatehouse.KindMCPTool) {
		l.addf(f.key, label, "mcp_tool: matches only actions of kind mcp_tool, and this rule's kind leaves them out, so it can never match")
	}

	// Review settings: only review rules have them.
	if effectKnown && r.info.Effect != gatehouse.EffectReview {
		for _, name := range reviewOnly {
			if f, ok := byName[name]; ok {
				l.addf(f.key, label, "%s: only review rules wait for approval; this rule's effect is %s", name, r.info.Effect)
			}
		}
		return p
	}
	r.info.Approvals, r.info.Timeout, r.info.OnTimeout = 1, set.timeout, set.onTimeout
	if f, ok := byName["approvals"]; ok {
		if v, ok := l.integer(f, label, 1, 100); ok {
			r.info.Approvals = v
		}
	}
	if f, ok := byName["timeout"]; ok {
		if d, ok := l.duration(f, label); ok {
			r.info.Timeout = d
		}
	}
	if f, ok := byName["on_timeout"]; ok {
		if s, ok := l.onTimeout(f, label); ok {
			r.info.OnTimeout = s
		}
	}
	if f, ok := byName["escalate_to"]; ok {
		items, _ := l.strs(f, label)
		for _, it := range items {
			if !groupName.MatchString(it.s) {
				l.addf(it.n, label, "escalate_to: %q is not a group name: use letters, digits, '.', '_' and '-'", it.s)
				continue
			}
			r.info.EscalateTo = append(r.info.EscalateTo, it.s)
		}
		if r.info.OnTimeout != OnTimeoutEscalate {
			l.addf(f.key, label, "escalate_to: is used only when a review times out with on_timeout: escalate, and this rule's on_timeout is %s", r.info.OnTimeout)
		}
	}
	return p
}

// names reads an agent, session or system matcher.
func (l *loader) names(f field, rule string) *nameSet {
	items, _ := l.strs(f, rule)
	s := &nameSet{}
	for _, it := range items {
		switch {
		case !isNameGlob(it.s):
			s.exact = append(s.exact, it.s)
		case validNameGlob(it.s):
			s.globs = append(s.globs, it.s)
		default:
			l.addf(it.n, rule, "%s: %q is not a valid glob", f.name, it.s)
		}
	}
	return s
}

var commandFields = []string{cmdExact, cmdPrefix, cmdGlob, cmdRegex}

// command reads the command matcher: a mapping with exactly one of exact,
// prefix, glob or regex.
func (l *loader) command(f field, rule string) *commandMatcher {
	// A bad matcher matches nothing rather than everything.
	none := &commandMatcher{kind: cmdExact}
	if f.val.Kind != yaml.MappingNode {
		l.addf(f.val, rule, "command: must be a mapping with one of exact, prefix, glob or regex, not %s", describe(f.val))
		return none
	}
	fs := l.fields(f.val, rule, "command", commandFields)
	if len(fs) == 0 {
		l.addf(f.val, rule, "command: needs one of exact, prefix, glob or regex")
		return none
	}
	if len(fs) > 1 {
		l.addf(fs[1].key, rule, "command: has both %s and %s; a matcher has one kind (use a list for alternatives, or separate rules)", fs[0].name, fs[1].name)
		return none
	}
	kf := fs[0]
	kf.name = "command." + kf.name
	items, ok := l.strs(kf, rule)
	if !ok {
		return none
	}
	m := &commandMatcher{kind: fs[0].name}
	for _, it := range items {
		switch m.kind {
		case cmdGlob:
			g, err := compileGlob(it.s)
			if err != nil {
				l.addf(it.n, rule, "command.glob: %q %v", it.s, err)
				return none
			}
			m.globs = append(m.globs, g)
		case cmdRegex:
			re, err := regexp.Compile(it.s)
			if err != nil {
				l.addf(it.n, rule, "command.regex: %q is not a valid RE2 expression: %s", it.s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
				return none
			}
			m.res = append(m.res, re)
		}
		m.values = append(m.values, it.s)
	}
	return m
}

// undo reads a rule's undo templates (a string or a list), checking each
// placeholder against what the rule can render: the built-ins and the
// named groups of its command.regex (which take precedence over a
// built-in of the same name).
func (l *loader) undo(f field, label string, r *rule, effectKnown bool) {
	items, _ := l.strs(f, label)
	if effectKnown && r.info.Effect == gatehouse.EffectDeny {
		l.addf(f.key, label, "undo: the actions a deny rule decides never run, so there is nothing to undo")
		return
	}
	var groups [][]string
	if r.cmd != nil && r.cmd.kind == cmdRegex {
		groups = regexGroups(r.cmd.res)
	}
	for _, it := range items {
		t, err := parseUndo(it.s, groups)
		if err != nil {
			l.addf(it.n, label, "undo: %q: %v", it.s, err)
			continue
		}
		r.undo = append(r.undo, t)
		r.info.Undo = append(r.info.Undo, it.s)
	}
}
