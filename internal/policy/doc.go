// Package policy is Gatehouse's policy engine: it decides every action
// allow, review or deny, from a YAML policy file and the action's analysis.
// docs/POLICY.md is the user's reference; this comment is the maintainer's.
//
// # The file
//
//	version: 1
//	default: review          # when no rule matches: allow | review | deny
//	approval_timeout: 60s    # review rules' default timeout
//	on_timeout: deny         # review rules' default: deny | escalate
//	rules:
//	  - id: read-only        # required, unique, [a-z0-9][a-z0-9._-]*
//	    effect: allow        # required
//	    reason: "…"          # required; shown to agents and reviewers
//	    # matchers, all optional, all ANDed; entries of one list are ORed
//	    agent: [claude, "ci-*"]   # path.Match globs
//	    session: ["s-*"]
//	    system: ["prod-*"]
//	    kind: [shell]
//	    mcp_tool: ["delete_*"]    # MCP tool calls of these tools (see mcp.go)
//	    command: {prefix: "git "} # exactly one of exact, prefix, glob, regex (each a string or list)
//	    class: [read]             # the analysis class is one of these
//	    max_class: write          # the analysis class is no more severe
//	    min_risk: 60              # the analysis risk is at least this
//	    when: 'analysis.risk >= 80'  # CEL, must be bool
//	    # review rules only
//	    approvals: 2
//	    timeout: 5m
//	    on_timeout: escalate
//	    escalate_to: [oncall]
//	    examples:
//	      match: ["git status"]     # must be decided by this rule, with its effect
//	      no_match: ["git push"]    # must not match this rule
//
// Parse reads the document as yaml.Node trees, not into structs, so that
// every problem carries its line and column and unknown fields are caught
// wherever they are. It collects every problem before returning (one line
// each, "FILE:LINE:COL: rule "id": message", in one EINVALID error), so
// that a user fixes a file in one round. Examples are decided last, with
// the finished policy, and only when nothing else is wrong.
//
// Command globs differ from path.Match on purpose: '*' matches any text,
// spaces and '/' included, because a command is one string (see glob.go).
// File-rule prefixes are plain string prefixes: "git push" also matches
// "git pushx" and "git push; rm -rf ~". A rule that allows by command
// should therefore also bound the analysis (max_class), which covers every
// command in the string; learned rules (below) are stricter by design.
//
// # Deciding
//
// Decide tries the file's rules in order; the first whose matchers all
// match decides; if none does, the default decides (rule "default").
// Within a rule the cheap matchers run first and `when` last, so an
// expression is only evaluated for actions that every other matcher of
// its rule accepts.
//
// With 10,000 rules a linear scan is too slow, so rules are indexed (see
// index.go) by exact command, by a prefix tree of command prefixes and of
// the literal starts of globs and anchored regexes, by agent, by system,
// and a residual list. The index only selects candidates; candidates are
// then evaluated in rule order, so first-match-wins is exactly preserved.
//
// Then, in order:
//   - If the analysis has a ParseError, an allow becomes a review: an
//     unparsed command is never allowed.
//   - If a `when` expression failed at run time (an error, or its cost
//     limit of celCostLimit), its rule did not match; an allow becomes a
//     review, and the reason says which expression failed and why.
//   - If the decision is review, and neither of the above happened, a
//     matching learned rule turns it into an allow (rule "learned:<id>").
//     A deny is never overridden.
//
// A nil analysis counts as irreversible with risk 100: nothing is known,
// so rules that allow by class never match it.
//
// # CEL
//
// `when` expressions see action (agent, session, model, kind, command,
// argv, cwd, system, intent), analysis (class, risk, reasons, targets,
// parse_error, commands: list of {name, args, wrappers, class, risk,
// reasons, targets, dynamic}), mcp (server, tool, arguments: an MCP tool
// call's, empty for other kinds; see mcp.go) and now (a timestamp), with the standard
// library plus cel-go's strings and lists extensions. Variables are
// native Go structs, so a misspelt field is a load-time error. Programs
// are compiled at load and safe for concurrent use. Tracking the cost
// limit triples evaluation time, so each expression whose cost the
// checker can bound below the limit for inputs up to some size also gets
// an untracked program, used for inputs that small (see condition).
//
// # Learned rules
//
// Learned holds "approve and remember" rules: exact (the whole command,
// looked up in a map in constant time), prefix (on a word boundary) and
// glob (its first word literal), optionally for one agent, optionally
// expiring. Prefix and glob rules never match a command that contains a
// shell control operator or redirection; see Learned.
package policy
