package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// mustParse parses src with the fake analyser and fails the test on error.
func mustParse(tb testing.TB, src string) *policy.Policy {
	tb.Helper()
	p, err := policy.Parse([]byte(src), policy.Options{Analyze: fakeAnalyze, Filename: "test.yaml"})
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return p
}

// parseErr parses src and returns the error's message lines; it fails the
// test if src parses or the error is not EINVALID.
func parseErr(tb testing.TB, src string) []string {
	tb.Helper()
	_, err := policy.Parse([]byte(src), policy.Options{Analyze: fakeAnalyze, Filename: "test.yaml"})
	if err == nil {
		tb.Fatalf("Parse succeeded, want an error\n%s", src)
	}
	if code := gatehouse.ErrorCode(err); code != gatehouse.EINVALID {
		tb.Fatalf("Parse error code = %s, want EINVALID (%v)", code, err)
	}
	return strings.Split(gatehouse.ErrorMessage(err), "\n")
}

func shellAction(agent, command string) *gatehouse.Action {
	return &gatehouse.Action{
		Agent: agent, Session: "s-1", Kind: gatehouse.KindShell,
		Command: command, Argv: []string{"/bin/sh", "-c", command}, Shell: true,
		Cwd: "/home/user/project",
	}
}

// decide analyses the action's command with the fake analyser and decides.
func decide(p *policy.Policy, a *gatehouse.Action, l *policy.Learned) policy.Result {
	an := fakeAnalyze(a.Command)
	return p.Decide(a, &an, l, t0)
}

// fakeAnalyze stands in for the shell analyser (internal/shell), returning
// what a sensible analyser returns for the commands the tests use: it
// splits the command on control operators, strips wrappers, and classifies
// each simple command by a table. Unknown programs are writes of risk 40,
// as the real analyser has them.
func fakeAnalyze(command string) gatehouse.Analysis {
	an := gatehouse.Analysis{}
	if strings.Count(command, "'")%2 == 1 || strings.Count(command, `"`)%2 == 1 {
		an.ParseError = "1:" + "1: reached EOF without closing quote"
		an.Class = gatehouse.ClassIrreversible
		an.Risk = 50
		return an
	}
	if strings.Contains(command, "| |") {
		an.ParseError = "1:5: | can only immediately follow a statement"
		an.Class = gatehouse.ClassIrreversible
		an.Risk = 50
		return an
	}
	// A fork bomb, as parsed: a function ":" and a call of it.
	if strings.HasPrefix(command, ":()") || strings.HasPrefix(command, ":() ") {
		an.Class, an.Risk = gatehouse.ClassIrreversible, 100
		an.Commands = []gatehouse.AnalyzedCommand{{Name: ":", Class: gatehouse.ClassIrreversible, Risk: 100}}
		return an
	}
	for _, seg := range splitCommands(command) {
		f := fields(seg)
		if len(f) == 0 {
			continue
		}
		c := gatehouse.AnalyzedCommand{}
		for len(f) > 0 && (f[0] == "sudo" || f[0] == "env" || f[0] == "nice") {
			c.Wrappers = append(c.Wrappers, f[0])
			f = f[1:]
		}
		if len(f) == 0 {
			continue
		}
		// Redirections write their file.
		var redirected []string
		for i := 0; i < len(f); i++ {
			switch {
			case (f[i] == ">" || f[i] == ">>") && i+1 < len(f):
				redirected = append(redirected, f[i+1])
				f = append(f[:i:i], f[i+2:]...)
				i--
			case strings.HasPrefix(f[i], ">"):
				redirected = append(redirected, strings.TrimLeft(f[i], ">"))
				f = append(f[:i:i], f[i+1:]...)
				i--
			}
		}
		if (f[0] == "kubectl" || f[0] == "docker") && len(f) > 3 && f[1] == "exec" { // docker exec CTR CMD
			c.Wrappers = append(c.Wrappers, f[0]+" exec")
			f = f[3:]
			if f[0] == "--" {
				f = f[1:]
			}
		}
		if f[0] == "ssh" && len(f) > 2 { // ssh HOST CMD: CMD runs behind ssh
			c.Wrappers = append(c.Wrappers, "ssh")
			c.Targets = append(c.Targets, f[1])
			f = f[2:]
		}
		c.Name, c.Args = f[0], f[1:]
		for _, a := range c.Args {
			if strings.ContainsAny(a, "$*`") {
				c.Dynamic = true
			}
		}
		c.Class, c.Risk = classify(c.Name, c.Args)
		if len(redirected) > 0 {
			c.Class = gatehouse.MaxClass(c.Class, gatehouse.ClassWrite)
			c.Risk = max(c.Risk, 20)
		}
		if c.Class != gatehouse.ClassRead {
			for _, a := range c.Args {
				if !strings.HasPrefix(a, "-") && !strings.Contains(a, "=") {
					c.Targets = append(c.Targets, a)
				}
			}
			if c.Name == "git" { // git's arguments are not files
				c.Targets = nil
			}
		}
		c.Targets = append(c.Targets, redirected...)
		c.Reasons = []string{c.Name + " is " + string(c.Class)}
		an.Commands = append(an.Commands, c)
		an.Class = gatehouse.MaxClass(an.Class, c.Class)
		an.Risk = max(an.Risk, c.Risk)
		an.Targets = append(an.Targets, c.Targets...)
		an.Reasons = append(an.Reasons, c.Reasons...)
	}
	if an.Class == "" {
		an.Class = gatehouse.ClassRead
	}
	return an
}

// splitCommands splits a command line on ;, &, | (and so &&, ||) outside
// quotes.
func splitCommands(s string) []string {
	var out []string
	quote := byte(0)
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == ';' || c == '&' || c == '|':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// fields splits on spaces, keeping quoted text together and dropping the
// quotes.
func fields(s string) []string {
	var out []string
	var cur strings.Builder
	quote := byte(0)
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

func classify(name string, args []string) (gatehouse.Class, int) {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	has := func(s string) bool {
		for _, a := range args {
			if a == s {
				return true
			}
		}
		return false
	}
	switch name {
	case "ls", "cat", "grep", "head", "tail", "wc", "echo", "sort", "uniq", "awk", "pwd", "uptime", "true", "find", "xargs", "cut", "tr", "date", "whoami", "kubectl-get":
		return gatehouse.ClassRead, 0
	case "touch", "mkdir", "cp", "mv", "tee", "go":
		return gatehouse.ClassWrite, 30
	case "make":
		return gatehouse.ClassWrite, 35
	case "sed":
		if has("-i") {
			return gatehouse.ClassWrite, 20
		}
		return gatehouse.ClassRead, 0
	case "git":
		switch sub {
		case "status", "log", "diff", "show", "branch":
			return gatehouse.ClassRead, 0
		case "commit", "add", "checkout", "switch", "stash":
			return gatehouse.ClassWrite, 20
		case "push":
			if has("--force") || has("-f") {
				return gatehouse.ClassIrreversible, 90
			}
			return gatehouse.ClassIrreversible, 60
		case "reset", "clean":
			return gatehouse.ClassDestructive, 70
		}
	case "rm", "dd", "mkfs", "mkfs.ext4", "truncate":
		return gatehouse.ClassDestructive, 80
	case "shred":
		return gatehouse.ClassIrreversible, 90
	case "npm":
		if sub == "publish" {
			return gatehouse.ClassIrreversible, 90
		}
		return gatehouse.ClassWrite, 30
	case "ssh", "scp", "rsync":
		return gatehouse.ClassIrreversible, 70
	case "terraform":
		if sub == "plan" {
			return gatehouse.ClassRead, 10
		}
		return gatehouse.ClassIrreversible, 90
	}
	if name == "bash" || name == "sh" || name == "python3" {
		return gatehouse.ClassWrite, 40 // runs a script analysis cannot see
	}
	return gatehouse.ClassWrite, 40 // an unknown program, as the real analyser has it
}
