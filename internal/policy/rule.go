package policy

import (
	"path"
	"regexp"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// On-timeout behaviours of a review.
const (
	OnTimeoutDeny     = "deny"
	OnTimeoutEscalate = "escalate"
)

// rule is a compiled rule. Matchers that are absent are nil (or -1) and
// match everything.
type rule struct {
	info gatehouse.RuleInfo

	kinds    []gatehouse.Kind
	agents   *nameSet
	sessions *nameSet
	systems  *nameSet
	mcpTools *nameSet // mcp_tool: only mcp_tool actions, by their tool (see mcpName)
	cmd      *commandMatcher
	classes  uint8 // bit i set: a class of severity i matches; 0: no class matcher
	maxClass int   // -1: none
	minRisk  int   // -1: none
	when     *condition
	undo     []*undoTemplate
}

// nameSet is a list of exact names and path.Match globs, any of which
// matches.
type nameSet struct {
	exact []string
	globs []string
}

func (s *nameSet) match(name string) bool {
	if s == nil {
		return true
	}
	for _, e := range s.exact {
		if e == name {
			return true
		}
	}
	for _, g := range s.globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// Command matcher kinds.
const (
	cmdExact  = "exact"
	cmdPrefix = "prefix"
	cmdGlob   = "glob"
	cmdRegex  = "regex"
)

// commandMatcher is the `command` matcher of a rule: one kind, any of
// several values.
type commandMatcher struct {
	kind   string
	values []string
	globs  []*glob          // for glob, parallel to values
	res    []*regexp.Regexp // for regex, parallel to values
}

func (m *commandMatcher) match(cmd string) bool {
	switch m.kind {
	case cmdExact:
		for _, v := range m.values {
			if v == cmd {
				return true
			}
		}
	case cmdPrefix:
		for _, v := range m.values {
			if strings.HasPrefix(cmd, v) {
				return true
			}
		}
	case cmdGlob:
		for _, g := range m.globs {
			if g.match(cmd) {
				return true
			}
		}
	default:
		for _, re := range m.res {
			if re.MatchString(cmd) {
				return true
			}
		}
	}
	return false
}

// verdict is what a rule's matchers say about one action.
type verdict int

const (
	noMatch verdict = iota
	match
	evalError // the when expression failed: the rule does not match, and the decision fails closed
)

// matchStatic checks every matcher but `when`, cheapest first.
func (r *rule) matchStatic(a *gatehouse.Action, sev, risk int) bool {
	if r.kinds != nil && !containsKind(r.kinds, a.Kind) {
		return false
	}
	if r.mcpTools != nil && a.Kind != gatehouse.KindMCPTool {
		return false
	}
	if r.classes != 0 && r.classes&(1<<sev) == 0 {
		return false
	}
	if r.maxClass >= 0 && sev > r.maxClass {
		return false
	}
	if r.minRisk >= 0 && risk < r.minRisk {
		return false
	}
	if !r.agents.match(a.Agent) || !r.sessions.match(a.Session) || !r.systems.match(a.System) {
		return false
	}
	if r.cmd != nil && !r.cmd.match(a.Command) {
		return false
	}
	return true
}

func containsKind(ks []gatehouse.Kind, k gatehouse.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}
