package policy

import "strings"

// index narrows the rules worth evaluating for an action without changing
// which one wins. Each rule is filed under exactly one kind of key:
//
//   - its command matcher, when every value of it implies a key: an exact
//     command (or a glob without wildcards) in a map; a prefix, the literal
//     start of a glob, or the literal start of a regex anchored with '^' in
//     a radix tree walked along the command string;
//   - otherwise its agent matcher, if it names agents without globs;
//   - otherwise its system matcher, if it names systems without globs;
//   - otherwise the residual list, evaluated for every action.
//
// A rule that can match an action is always among the candidates that the
// action's command, agent and system select, so evaluating the candidates
// in rule order and stopping at the first full match is exactly
// first-match-wins over all rules.
type index struct {
	exact    map[string][]int32
	prefixes radixNode
	byAgent  map[string][]int32
	bySystem map[string][]int32
	residual []int32
}

func buildIndex(rules []*rule) index {
	x := index{exact: map[string][]int32{}, byAgent: map[string][]int32{}, bySystem: map[string][]int32{}}
	for i, r := range rules {
		n := int32(i)
		switch {
		case r.cmd != nil && commandKeys(r.cmd) != nil:
			for _, k := range commandKeys(r.cmd) {
				if k.exact {
					x.exact[k.s] = appendRule(x.exact[k.s], n)
				} else {
					x.prefixes.insert(k.s, n)
				}
			}
		case r.agents != nil && len(r.agents.globs) == 0:
			for _, a := range r.agents.exact {
				x.byAgent[a] = appendRule(x.byAgent[a], n)
			}
		case r.systems != nil && len(r.systems.globs) == 0:
			for _, s := range r.systems.exact {
				x.bySystem[s] = appendRule(x.bySystem[s], n)
			}
		default:
			x.residual = append(x.residual, n)
		}
	}
	return x
}

type key struct {
	s     string
	exact bool // the whole command, not a prefix
}

// commandKeys returns the keys a command matcher is filed under, or nil if
// some value implies none (it could match a command starting anywhere).
func commandKeys(m *commandMatcher) []key {
	keys := make([]key, 0, len(m.values))
	for _, v := range m.values {
		var k key
		switch m.kind {
		case cmdExact:
			k = key{v, true}
		case cmdPrefix:
			k = key{v, false}
		case cmdGlob:
			lit, whole := globLiteral(v)
			k = key{lit, whole}
		case cmdRegex:
			k = key{regexLiteralPrefix(v), false}
		}
		if k.s == "" && !k.exact {
			return nil
		}
		keys = append(keys, k)
	}
	return keys
}

// appendRule appends n to a list kept sorted and without duplicates; rules
// are filed in increasing order.
func appendRule(l []int32, n int32) []int32 {
	if len(l) > 0 && l[len(l)-1] == n {
		return l
	}
	return append(l, n)
}

// radixNode is a compressed trie of prefixes. Walking it along a command
// visits every node whose key is a prefix of the command, in O(len(command)).
type radixNode struct {
	label string
	rules []int32
	kids  []*radixNode // distinct first bytes, sorted
}

func (n *radixNode) child(b byte) (int, bool) {
	lo, hi := 0, len(n.kids)
	for lo < hi {
		m := (lo + hi) / 2
		switch c := n.kids[m].label[0]; {
		case c == b:
			return m, true
		case c < b:
			lo = m + 1
		default:
			hi = m
		}
	}
	return lo, false
}

func (n *radixNode) insert(k string, rule int32) {
	for k != "" {
		i, ok := n.child(k[0])
		if !ok {
			kid := &radixNode{label: k, rules: []int32{rule}}
			n.kids = append(n.kids, nil)
			copy(n.kids[i+1:], n.kids[i:])
			n.kids[i] = kid
			return
		}
		c := n.kids[i]
		common := commonPrefix(c.label, k)
		if common < len(c.label) {
			rest := &radixNode{label: c.label[common:], rules: c.rules, kids: c.kids}
			c.label, c.rules, c.kids = c.label[:common], nil, []*radixNode{rest}
		}
		n, k = c, k[common:]
	}
	n.rules = appendRule(n.rules, rule)
}

// walk calls fn with the rules of every key that is a prefix of s.
func (n *radixNode) walk(s string, c *candidates) {
	for {
		c.add(n.rules)
		if s == "" {
			return
		}
		i, ok := n.child(s[0])
		if !ok || !strings.HasPrefix(s, n.kids[i].label) {
			return
		}
		n = n.kids[i]
		s = s[len(n.label):]
	}
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// candidates merges sorted lists of rule numbers, yielding each number
// once, in increasing order.
type candidates struct {
	lists [][]int32
	buf   [16][]int32
}

func (c *candidates) add(l []int32) {
	if len(l) == 0 {
		return
	}
	if c.lists == nil {
		c.lists = c.buf[:0]
	}
	c.lists = append(c.lists, l)
}

// next returns the smallest rule number not yet returned, or false.
func (c *candidates) next() (int32, bool) {
	if len(c.lists) == 0 {
		return 0, false
	}
	min := c.lists[0][0]
	for _, l := range c.lists[1:] {
		if l[0] < min {
			min = l[0]
		}
	}
	kept := c.lists[:0]
	for _, l := range c.lists {
		if l[0] == min {
			l = l[1:]
		}
		if len(l) > 0 {
			kept = append(kept, l)
		}
	}
	c.lists = kept
	return min, true
}

// select gathers the candidate lists for an action.
func (x *index) selectFor(command, agent, system string, c *candidates) {
	c.add(x.exact[command])
	x.prefixes.walk(command, c)
	c.add(x.byAgent[agent])
	c.add(x.bySystem[system])
	c.add(x.residual)
}
