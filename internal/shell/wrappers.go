package shell

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// Wrappers: programs that run another command given in their arguments.
// The command is analysed as if it stood alone, with the wrapper recorded
// in its Wrappers; the wrapper itself gets an entry only when it runs no
// command (sudo -l, env) or something else about it is noted.

// wrap returns the rule of a wrapper with options f that runs the command
// after skip further operands (timeout's DURATION, chroot's NEWROOT). With
// no command it is classified by alone.
func wrap(f flags, skip int, alone rule) rule {
	return by(func(c *call) {
		if _, _, argv := c.unwrap(f, skip); argv != nil {
			c.delegate(argv, c.name)
			return
		}
		alone.apply(c)
	})
}

// unwrap splits the arguments of a wrapper with options f into its
// options, its operands and the command it runs after skip operands (nil
// when there is none).
func (c *call) unwrap(f flags, skip int) ([]opt, []int, []arg) {
	f.stop = true
	opts, ops := f.scan(c.args)
	if len(ops) > skip {
		return opts, ops, c.args[ops[skip]:]
	}
	return opts, ops, nil
}

// timeRule handles GNU time, whose -o FILE overwrites FILE. (The shell's
// time keyword is handled by the parser.)
func timeRule(c *call) {
	opts, _, argv := c.unwrap(flags{short: "fo", long: "format output"}, 0)
	if out, ok := value(opts, "-o", "--output"); ok {
		if e, ok := fileEffect(out, "time -o", has(opts, "-a", "--append")); ok {
			c.is(e.class, e.risk, "%s", e.reason)
			c.target(e.target)
		}
	}
	if argv == nil {
		c.is(gatehouse.ClassRead, riskRead, "time: runs no command")
		return
	}
	c.delegate(argv, "time")
}

func chrootRule(c *call) {
	_, ops, argv := c.unwrap(flags{long: "userspec groups"}, 1)
	if len(ops) > 0 {
		c.target(c.args[ops[0]].val)
	}
	if argv == nil {
		c.is(gatehouse.ClassWrite, riskUnknown, "chroot: runs a shell in another root directory")
		return
	}
	c.delegate(argv, "chroot")
}

var sudoFlags = flags{short: "CDgpRrtTUu", long: "close-from chdir group prompt chroot role type command-timeout other-user user host"}

func sudoRule(c *call) {
	f := sudoFlags
	f.stop = true
	opts, ops := f.scan(c.args)
	// sudo VAR=value cmd sets variables for cmd.
	ops = c.assignments(ops)
	if u, ok := value(opts, "-u", "--user"); ok {
		c.target("user " + u)
	}
	switch {
	case has(opts, "-e", "--edit"):
		c.is(gatehouse.ClassWrite, riskWrite+bumpPrivileged, "sudo -e: edits files as root")
		c.target(vals(pick(c.args, ops))...)
	case len(ops) > 0:
		c.delegate(c.args[ops[0]:], c.name)
	case has(opts, "-i", "--login", "-s", "--shell"):
		c.is(gatehouse.ClassWrite, riskUnknown+bumpPrivileged, "%s: opens a shell as another user", c.name)
	default: // -l, -v, -k, -K, -V, -h
		c.is(gatehouse.ClassRead, riskRead, "%s: runs no command", c.name)
	}
}

// assignments notes the NAME=value operands at the start of ops as
// variables set for the command, and returns the operands after them.
func (c *call) assignments(ops []int) []int {
	env := c.x.env[:len(c.x.env):len(c.x.env)]
	for len(ops) > 0 && isAssignment(c.args[ops[0]].val) {
		name, _, _ := strings.Cut(c.args[ops[0]].val, "=")
		env = append(env, name)
		ops = ops[1:]
	}
	c.x.env = env
	return ops
}

func isAssignment(s string) bool {
	name, _, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// isLoaderVar reports whether assigning the variable changes which
// program or library a command name resolves to.
func isLoaderVar(name string) bool {
	switch name {
	case "PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "DYLD_INSERT_LIBRARIES", "DYLD_LIBRARY_PATH", "BASH_ENV", "ENV", "IFS", "PYTHONPATH", "NODE_OPTIONS", "PERL5OPT", "RUBYOPT", "GIT_SSH_COMMAND", "GIT_EXEC_PATH":
		return true
	}
	return false
}

// noteEnv raises c when the variables assigned for it change what runs.
func (c *call) noteEnv() {
	for _, n := range c.x.env {
		if isLoaderVar(n) {
			c.is(gatehouse.ClassWrite, riskUnknown, "%s=… changes which program or library %s runs", n, c.name)
			return
		}
	}
}

func envRule(c *call) {
	f := flags{short: "uCS", long: "unset chdir split-string", stop: true}
	opts, ops := f.scan(c.args)
	ops = c.assignments(ops)
	var argv []arg
	if s, ok := value(opts, "-S", "--split-string"); ok {
		for _, f := range strings.Fields(s) {
			argv = append(argv, arg{val: f})
		}
	}
	if len(ops) > 0 {
		argv = append(argv, c.args[ops[0]:]...)
	}
	if len(argv) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "env: prints the environment")
		return
	}
	c.delegate(argv, "env")
}

func xargsRule(c *call) {
	f := flags{short: "adEILnPs", long: "arg-file delimiter max-args max-lines max-procs max-chars process-slot-var", stop: true}
	_, ops := f.scan(c.args)
	c.x.fromInput = true
	if len(ops) == 0 {
		c.delegate([]arg{{val: "echo"}}, "xargs")
		return
	}
	c.delegate(c.args[ops[0]:], "xargs")
}

func commandRule(c *call) {
	f := flags{stop: true}
	opts, ops := f.scan(c.args)
	if has(opts, "-v", "-V") {
		c.is(gatehouse.ClassRead, riskRead, "command -v: looks a command up")
		return
	}
	if len(ops) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "command: runs no command")
		return
	}
	c.delegate(c.args[ops[0]:], c.name)
}

func ioniceRule(c *call) {
	f := flags{short: "cnpPu", long: "class classdata pid pgid uid", stop: true}
	opts, ops := f.scan(c.args)
	if has(opts, "-p", "-P", "-u", "--pid", "--pgid", "--uid") || len(ops) == 0 {
		c.is(gatehouse.ClassWrite, riskWrite, "ionice: changes the I/O priority of running processes")
		return
	}
	c.delegate(c.args[ops[0]:], "ionice")
}

func tasksetRule(c *call) {
	f := flags{stop: true}
	opts, ops := f.scan(c.args)
	if has(opts, "-p", "--pid") || len(ops) < 2 {
		c.is(gatehouse.ClassWrite, riskWrite, "%s: changes the scheduling of running processes", c.name)
		return
	}
	c.delegate(c.args[ops[1]:], c.name)
}

func watchRule(c *call) {
	f := flags{short: "nq", long: "interval equexit", stop: true}
	opts, ops := f.scan(c.args)
	if len(ops) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "watch: runs no command")
		return
	}
	if has(opts, "-x", "--exec") {
		c.delegate(c.args[ops[0]:], "watch")
		return
	}
	// watch joins its arguments and runs them with sh -c.
	src, _, dl := joinArgs(c.args[ops[0]:])
	if dl {
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "watch: runs a download in a shell")
	}
	c.shell(src, "watch")
}

func flockRule(c *call) {
	f := flags{short: "wEc", long: "timeout wait conflict-exit-code command", stop: true}
	opts, ops := f.scan(c.args)
	if len(ops) > 0 {
		c.target(c.args[ops[0]].val)
	}
	if len(ops) > 1 {
		// Options may follow the lock file: flock FILE -c CMD.
		rest := c.args[ops[1]:]
		ropts, rops := f.scan(rest)
		if s, ok := value(ropts, "-c", "--command"); ok {
			c.shell(s, "flock")
			return
		}
		if len(rops) > 0 {
			c.delegate(rest[rops[0]:], "flock")
			return
		}
	}
	if s, ok := value(opts, "-c", "--command"); ok {
		c.shell(s, "flock")
		return
	}
	c.is(gatehouse.ClassRead, riskRead, "flock: takes a lock")
}

// suRule handles su and runuser: su [options] [-] [USER [ARG…]], where
// -c COMMAND is run by the user's shell.
func suRule(c *call) {
	f := flags{short: "cgGsw", long: "command session-command group supp-group shell whitelist-environment"}
	opts, ops := f.scan(c.args)
	user := "root"
	for _, i := range ops {
		if v := c.args[i].val; v != "-" {
			user = v
			break
		}
	}
	c.target("user " + user)
	if s, ok := value(opts, "-c", "--command", "--session-command"); ok {
		c.shell(s, c.name)
		return
	}
	if c.name == "runuser" && len(ops) > 1 {
		// runuser -u USER -- CMD … is the argv form.
		c.delegate(c.args[ops[1]:], c.name)
		return
	}
	if u, ok := value(opts, "-u", "--user"); ok && len(ops) > 0 {
		c.target("user " + u)
		c.delegate(c.args[ops[0]:], c.name)
		return
	}
	c.is(gatehouse.ClassWrite, riskUnknown, "%s: opens a shell as %s", c.name, user)
}

// Shells and interpreters.

var shells = []string{"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "fish", "rbash"}

func shellRule(c *call) {
	cflag, sflag := false, false
	i := 0
loop:
	for ; i < len(c.args); i++ {
		a := c.args[i]
		s := a.val
		switch {
		case s == "--" || s == "-":
			i++
			break loop
		case a.dyn || len(s) < 2 || s[0] != '-' && s[0] != '+':
			break loop
		case strings.HasPrefix(s, "--"):
			switch s {
			case "--rcfile", "--init-file":
				i++
			case "--version", "--help":
				c.is(gatehouse.ClassRead, riskRead, "%s %s: prints information", c.name, s)
				return
			}
		default:
			for _, ch := range s[1:] {
				switch ch {
				case 'c':
					cflag = true
				case 's':
					sflag = true
				case 'o', 'O':
					i++
				}
			}
		}
	}
	ops := c.args[min(i, len(c.args)):]
	switch {
	case cflag:
		if len(ops) == 0 {
			c.is(gatehouse.ClassRead, riskRead, "%s -c: no command given", c.name)
			return
		}
		if ops[0].dl {
			c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s -c: runs a download in a shell", c.name)
		}
		c.shell(ops[0].val, c.name+" -c")
	case !sflag && len(ops) > 0:
		script := ops[0]
		if script.dl {
			c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s: runs a download in a shell", c.name)
			return
		}
		c.is(gatehouse.ClassWrite, riskUnknown, "%s: runs the script %s, which analysis cannot see", c.name, script.val)
		c.target(script.val)
	default:
		c.fromStdin("shell", func(text string) { c.shell(text, c.name) })
	}
}

// fromStdin classifies a program that runs what it reads from standard
// input (a shell, python, psql): a download is irreversible, literal text
// is analysed by literal, anything else cannot be seen.
func (c *call) fromStdin(what string, literal func(string)) {
	switch c.x.in.kind {
	case streamDownload:
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "pipes a download into a %s (%s)", what, c.name)
	case streamLiteral:
		literal(c.x.in.text)
	case streamFile:
		c.is(gatehouse.ClassWrite, riskUnknown, "%s: runs %s, which analysis cannot see", c.name, c.x.in.text)
		c.target(c.x.in.text)
	default:
		c.is(gatehouse.ClassWrite, riskUnknown, "%s: runs what it reads from standard input, which analysis cannot see", c.name)
	}
}

func evalRule(c *call) {
	if len(c.args) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "eval: runs nothing")
		return
	}
	src, _, dl := joinArgs(c.args)
	if dl {
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "eval: runs a download in a shell")
	}
	c.shell(src, "eval")
}

func sourceRule(c *call) {
	if len(c.args) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "%s: runs nothing", c.name)
		return
	}
	if c.args[0].dl {
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s: runs a download in a shell", c.name)
		return
	}
	c.is(gatehouse.ClassWrite, riskUnknown, "%s: runs the script %s in this shell, which analysis cannot see", c.name, c.args[0].val)
	c.target(c.args[0].val)
}

func trapRule(c *call) {
	if len(c.args) < 2 || strings.HasPrefix(c.args[0].val, "-") {
		c.is(gatehouse.ClassRead, riskRead, "trap: lists or resets signal handlers")
		return
	}
	c.shell(c.args[0].val, "trap")
}

// interpreter returns the rule of a language interpreter: code is the
// option that takes inline code, module the option that runs a module
// (python -m), valued its other options that take a value.
func interpreter(lang, code, module, valued string) rule {
	f := flags{short: valued + code + module, stop: true}
	return by(func(c *call) {
		opts, ops := f.scan(c.args)
		for _, o := range opts {
			if len(opts) == 1 && len(ops) == 0 && isInfoFlag(o.name, lang) {
				c.is(gatehouse.ClassRead, riskRead, "%s %s: prints information", c.name, o.name)
				return
			}
			if len(o.name) == 2 && strings.IndexByte(code, o.name[1]) >= 0 || o.name == "--eval" || o.name == "--print" {
				if c.args[o.i].dl || o.i+1 < len(c.args) && c.args[o.i+1].dl {
					c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s: runs downloaded code", c.name)
				}
				c.is(gatehouse.ClassWrite, riskUnknown, "%s %s: runs inline %s code, which analysis does not inspect", c.name, o.name, lang)
				return
			}
			if module != "" && o.name == "-"+module {
				c.pythonModule(o)
				return
			}
			if (c.name == "perl" || c.name == "ruby") && o.name == "-i" {
				c.is(gatehouse.ClassWrite, riskWrite, "%s -i: edits files in place", c.name)
			}
		}
		if len(ops) > 0 && c.args[ops[0]].val != "-" {
			script := c.args[ops[0]]
			if script.dl {
				c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s: runs downloaded code", c.name)
				return
			}
			c.is(gatehouse.ClassWrite, riskUnknown, "%s: runs the script %s, which analysis cannot see", c.name, script.val)
			c.target(script.val)
			return
		}
		c.fromStdin("shell or interpreter", func(string) {
			c.is(gatehouse.ClassWrite, riskUnknown, "%s: runs %s code from standard input, which analysis does not inspect", c.name, lang)
		})
	})
}

func isInfoFlag(name, lang string) bool {
	switch name {
	case "--version", "-V", "--help", "-h":
		return true
	case "-v":
		return lang != "python"
	}
	return false
}

// readModules are python -m modules that only read.
var readModules = map[string]bool{"json.tool": true, "this": true, "calendar": true, "tokenize": true, "site": true, "sysconfig": true, "platform": true, "pydoc": true, "timeit": true, "base64": true}

func (c *call) pythonModule(o opt) {
	mod := o.value
	rest := c.args[o.i+1:]
	if c.args[o.i].val == "-m" && len(rest) > 0 {
		rest = rest[1:] // the module was the next argument
	}
	switch {
	case readModules[mod]:
		c.is(gatehouse.ClassRead, riskRead, "%s -m %s: reads only", c.name, mod)
	case catalogue[mod].class != "" || catalogue[mod].fn != nil:
		argv := append([]arg{{val: mod}}, rest...)
		c.delegate(argv, c.name+" -m")
	default:
		c.is(gatehouse.ClassWrite, riskUnknown, "%s -m %s: runs a module analysis cannot see", c.name, mod)
	}
}

// runVerb returns the rule of a subcommand that runs the command after its
// options (poetry run CMD, bundle exec CMD, uv run CMD); short and long
// are its options that take a value.
func runVerb(short, long string) rule {
	f := flags{short: short, long: long, stop: true}
	return by(func(c *call) {
		_, ops := f.scan(c.rest)
		if len(ops) == 0 {
			c.is(gatehouse.ClassWrite, riskUnknown, "%s: runs no command", c.label())
			return
		}
		c.delegate(c.rest[ops[0]:], c.label())
	})
}

// afterDashes returns the rule of a subcommand that runs the command after
// "--" (doppler run -- CMD, op run -- CMD, aws-vault exec PROFILE -- CMD).
func afterDashes() rule {
	return by(func(c *call) {
		for i, a := range c.rest {
			if a.val == "--" && i+1 < len(c.rest) {
				c.delegate(c.rest[i+1:], c.label())
				return
			}
		}
		c.is(gatehouse.ClassWrite, riskUnknown, "%s: runs a command analysis cannot find", c.label())
	})
}
