package shell

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// rule classifies one program. The simple ones are data: a class, a risk
// and what the program does ("deletes files"), which becomes the reason
// "rm: deletes files". Programs whose effect depends on their arguments
// add a function, which runs after the base classification (if any) and
// raises it.
type rule struct {
	class gatehouse.Class
	risk  int
	what  string
	fn    func(*call)
}

func (r rule) apply(c *call) {
	if r.class != "" {
		c.is(r.class, r.risk, "%s: %s", c.label(), r.what)
	}
	if r.fn != nil {
		r.fn(c)
	}
}

// then returns r with fn run after its base classification.
func (r rule) then(fn func(*call)) rule {
	r.fn = fn
	return r
}

func reads(what string) rule  { return rule{class: gatehouse.ClassRead, risk: riskRead, what: what} }
func writes(what string) rule { return rule{class: gatehouse.ClassWrite, risk: riskWrite, what: what} }
func runs(what string) rule   { return rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: what} }
func destroys(what string) rule {
	return rule{class: gatehouse.ClassDestructive, risk: riskDestructive, what: what}
}
func destroysAll(what string) rule {
	return rule{class: gatehouse.ClassDestructive, risk: riskHigh, what: what}
}
func irreversible(what string) rule {
	return rule{class: gatehouse.ClassIrreversible, risk: riskIrreversible, what: what}
}
func by(fn func(*call)) rule { return rule{fn: fn} }

var readOnly = reads("reads only")

// verbs is the table of a program's subcommands ("git push", "kubectl
// delete"). The entry "" classifies the program run without one, and "*"
// a subcommand not in the table (by default: write, unknown risk).
type verbs map[string]rule

// dispatch classifies c by its subcommand: its first operand, after the
// global options described by f.
func (c *call) dispatch(f flags, table verbs) {
	_, ops := f.scan(c.args)
	if len(ops) == 0 {
		r, ok := table[""]
		if !ok {
			r = reads("prints usage or version")
		}
		r.apply(c)
		return
	}
	i := ops[0]
	v := c.args[i]
	c.verb, c.rest = v.val, c.args[i+1:]
	if v.dyn {
		c.is(gatehouse.ClassDestructive, 80, "%s: subcommand is computed at run time: %s", c.name, v.val)
		return
	}
	r, ok := table[v.val]
	if !ok {
		r, ok = table["*"]
		if !ok {
			r = runs("subcommand not in the catalogue")
		}
	}
	r.apply(c)
}

// subverb classifies c by the first operand of c.rest, for programs with
// two levels of subcommands (docker volume rm, gh pr merge). The label
// becomes "docker volume rm".
func (c *call) subverb(f flags, table verbs) {
	_, ops := f.scan(c.rest)
	if len(ops) == 0 {
		r, ok := table[""]
		if !ok {
			r = reads("prints usage")
		}
		r.apply(c)
		return
	}
	i := ops[0]
	v := c.rest[i]
	c.verb += " " + v.val
	c.rest = c.rest[i+1:]
	if v.dyn {
		c.is(gatehouse.ClassDestructive, 80, "%s: subcommand is computed at run time", c.label())
		return
	}
	r, ok := table[v.val]
	if !ok {
		r, ok = table["*"]
		if !ok {
			r = runs("subcommand not in the catalogue")
		}
	}
	r.apply(c)
}

// sub returns a rule that dispatches on a second-level subcommand.
func sub(f flags, table verbs) rule {
	return by(func(c *call) { c.subverb(f, table) })
}

// unless returns a function that raises c to r when one of the options
// (exact names, or single letters inside a short cluster when written as
// "-x") is present: sed's -i, sort's -o.
func unless(f flags, r rule, names ...string) func(*call) {
	return func(c *call) {
		opts, _ := f.scan(c.args)
		if has(opts, names...) {
			r.apply(c)
		}
	}
}

// prefixRule classifies by the start of the subcommand (aws
// describe-instances, delete-bucket): the first matching prefix wins.
type prefixRule struct {
	prefix string
	rule   rule
}

func matchPrefix(v string, table []prefixRule) (rule, bool) {
	for _, p := range table {
		if strings.HasPrefix(v, p.prefix) {
			return p.rule, true
		}
	}
	return rule{}, false
}
