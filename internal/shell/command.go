package shell

import (
	"fmt"
	"path"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// Risk scores. Each class has a band, and the risk of a command is kept
// inside its class's band, so that ordering by risk never contradicts
// ordering by class:
//
//	read          0–10
//	write        20–50
//	destructive  60–89
//	irreversible 90–100
const (
	riskRead         = 0
	riskNetRead      = 10 // a read that reaches the network (curl GET)
	riskWrite        = 30
	riskUnknown      = 40 // a program or script analysis cannot see into
	riskDestructive  = 70
	riskHigh         = 85 // destructive and broad: rm -r, DELETE without WHERE
	riskIrreversible = 95
	riskMax          = 100 // rm -rf /, dd to a disk, a parse error

	bumpPrivileged = 10 // behind sudo, doas, su, …
	bumpProduction = 10 // a target or argument looks like production
)

var bands = map[gatehouse.Class][2]int{
	gatehouse.ClassRead:         {0, 10},
	gatehouse.ClassWrite:        {20, 50},
	gatehouse.ClassDestructive:  {60, 89},
	gatehouse.ClassIrreversible: {90, 100},
}

// call is one simple command being classified: the program, its
// arguments, and what the rules found.
type call struct {
	a    *analyzer
	x    ctx
	prog arg    // argv[0] as written
	name string // its base name
	args []arg  // argv[1:]

	// For programs with subcommands: the subcommand found and the
	// arguments after it.
	verb string
	rest []arg

	class   gatehouse.Class
	risk    int
	reasons []string
	why     []gatehouse.Class // the class each reason was given for
	targets []string

	// delegated is set when the command's effect is that of other commands
	// analysed separately (sudo CMD, bash -c STRING): it gets no entry of
	// its own unless something else about it was noted.
	delegated bool
	out       stream // what it writes to its standard output

	seen map[string]bool // reasons ("r…") and targets ("t…") when there are many
}

// noted reports whether s is already in list (kind 'r' for reasons, 't'
// for targets), and notes it; past a few entries it uses a set, so that a
// command with 100000 targets costs linear time.
func (c *call) noted(list []string, kind byte, s string) bool {
	if len(list) < 16 {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	if len(c.seen) == 0 || !c.seen[string(kind)+list[0]] {
		for _, x := range list {
			c.seen[string(kind)+x] = true
		}
	}
	key := string(kind) + s
	if c.seen[key] {
		return true
	}
	c.seen[key] = true
	return false
}

func (a *analyzer) newCall(prog arg, args []arg, x ctx) *call {
	name := prog.val
	if name != "" && !prog.dyn {
		name = path.Base(name)
	}
	return &call{a: a, x: x, prog: prog, name: name, args: args, out: stream{kind: streamUnknown}}
}

// is raises the command's class and risk to at least class and risk, and
// notes why.
func (c *call) is(class gatehouse.Class, risk int, format string, v ...any) {
	c.class = gatehouse.MaxClass(c.class, class)
	c.risk = max(c.risk, risk)
	if format == "" {
		return
	}
	reason := format
	if len(v) > 0 {
		reason = fmt.Sprintf(format, v...)
	}
	if c.noted(c.reasons, 'r', reason) {
		return
	}
	c.reasons = append(c.reasons, reason)
	c.why = append(c.why, class)
}

// target notes what the command acts on.
func (c *call) target(ts ...string) {
	for _, t := range ts {
		if t != "" && !c.noted(c.targets, 't', t) {
			c.targets = append(c.targets, t)
		}
	}
}

// label names the command in reasons: "git push", "rm".
func (c *call) label() string {
	if c.verb != "" {
		return c.name + " " + c.verb
	}
	return c.name
}

// delegate analyses argv as the command that c runs (sudo argv, xargs
// argv, …), found behind wrapper. The redirections of c's statement go
// with it.
func (c *call) delegate(argv []arg, wrapper string, targets ...string) stream {
	c.delegated = true
	x := c.x
	x.wrappers = append(x.wrappers[:len(x.wrappers):len(x.wrappers)], wrapper)
	x.targets = append(x.targets[:len(x.targets):len(x.targets)], targets...)
	x.targets = append(x.targets, c.targets...)
	c.x.fx = nil
	return c.a.run(argv, x)
}

// shell analyses src as a shell string that c runs (bash -c src, eval,
// ssh HOST src). The string's dynamic parts, expanded before the inner
// shell parses it, are parsed as expansions again.
func (c *call) shell(src, wrapper string, targets ...string) {
	c.delegated = true
	c.a.analyzeString(c, src, wrapper, targets)
}

// run classifies the simple command argv and records it.
func (a *analyzer) run(argv []arg, x ctx) stream {
	if len(argv) == 0 {
		return stream{}
	}
	c := a.newCall(argv[0], argv[1:], x)
	switch {
	case len(x.wrappers) > maxWrappers:
		c.is(gatehouse.ClassIrreversible, riskMax, "command behind more than %d wrappers is not analysed", maxWrappers)
	case c.prog.dyn:
		if c.prog.dl {
			c.is(gatehouse.ClassIrreversible, riskIrreversible, "runs a program whose name is downloaded at run time: %s", c.name)
		}
		c.is(gatehouse.ClassDestructive, 80, "program name is computed at run time: %s", c.name)
	default:
		c.noteEnv()
		if r, ok := lookup(c.name); ok {
			r.apply(c)
			if passThrough[c.name] && c.out.kind == streamUnknown && c.x.in.kind == streamDownload {
				c.out = c.x.in
			}
		} else if a.funcs[c.name] {
			c.is(gatehouse.ClassRead, riskRead, "%s: calls a shell function defined in this command (analysed above)", c.name)
		} else {
			c.is(gatehouse.ClassWrite, riskUnknown, "unknown command %s", c.name)
		}
	}
	a.emit(c)
	return c.out
}

// privileged lists the wrappers that run a command as another user.
var privileged = map[string]bool{"sudo": true, "doas": true, "su": true, "pkexec": true, "runuser": true}

// emit finishes c and records it as an entry.
func (a *analyzer) emit(c *call) {
	for _, e := range c.x.fx {
		c.is(e.class, e.risk, "%s", e.reason)
		c.target(e.target)
	}
	if c.delegated && c.class == "" {
		return
	}
	if c.class == "" {
		c.is(gatehouse.ClassWrite, riskUnknown, "%s: not classified", c.name)
	}
	if c.class != gatehouse.ClassRead {
		for _, w := range c.x.wrappers {
			if privileged[w] {
				c.is(c.class, c.risk+bumpPrivileged, "runs with another user's privileges (%s)", w)
				break
			}
		}
		if p := c.production(); p != "" {
			c.is(c.class, c.risk+bumpProduction, "acts on something that looks like production (%s)", p)
		}
	}
	band := bands[c.class]
	c.risk = min(max(c.risk, band[0]), band[1])
	if c.class != gatehouse.ClassRead {
		// "ls: reads only" does not explain why ls > out.txt is a write.
		kept := c.reasons[:0]
		for i, r := range c.reasons {
			if c.why[i] != gatehouse.ClassRead {
				kept = append(kept, r)
			}
		}
		c.reasons = kept
	}
	c.target(c.x.targets...)
	c.target(a.targets...)

	cmd := gatehouse.AnalyzedCommand{
		Name:    c.name,
		Args:    make([]string, len(c.args)),
		Class:   c.class,
		Risk:    c.risk,
		Reasons: c.reasons,
		Targets: c.targets,
		Dynamic: c.prog.dyn || c.x.fromInput,
	}
	for i, x := range c.args {
		cmd.Args[i] = x.val
		cmd.Dynamic = cmd.Dynamic || x.dyn
	}
	if len(c.x.wrappers) > 0 {
		cmd.Wrappers = append([]string(nil), c.x.wrappers...)
	}
	if len(a.cmds) >= maxCommands {
		a.overflow = true
		return
	}
	a.cmds = append(a.cmds, cmd)
}

// envFlags are options that select an environment, cluster or account.
var envFlags = map[string]bool{
	"--context": true, "--kube-context": true, "--cluster": true, "--namespace": true, "-n": true,
	"--profile": true, "--project": true, "--env": true, "--environment": true, "--stage": true,
	"--app": true, "-a": true, "--workspace": true, "--host": true, "-h": true,
}

// production returns the first target of c, or value of an option that
// selects an environment (--context, --profile, …), that looks like it
// names a production system ("prod", "production", "prd", "live" as a
// word), or "".
func (c *call) production() string {
	for _, t := range c.targets {
		if looksProduction(t) {
			return t
		}
	}
	for i, x := range c.args {
		name, value, ok := strings.Cut(x.val, "=")
		if !ok && i+1 < len(c.args) {
			value = c.args[i+1].val
		}
		if envFlags[name] && looksProduction(value) {
			return value
		}
	}
	return ""
}

func looksProduction(s string) bool {
	if len(s) < 3 || len(s) > 200 {
		return false
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		switch w {
		case "prod", "production", "prd", "live":
			return true
		}
	}
	return false
}
