package shell

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"mvdan.cc/sh/v3/syntax"

	"github.com/gatehouse-dev/gatehouse"
)

const (
	// maxDepth bounds how deeply shell strings given to other shells
	// (bash -c, eval, ssh HOST CMD, su -c, watch, heredocs fed to sh) are
	// analysed; deeper nesting is classified irreversible.
	maxDepth = 8
	// maxWrappers bounds the wrappers one command can be found behind.
	maxWrappers = 32
	// maxInput is the longest command analysed; longer ones are
	// classified irreversible without parsing.
	maxInput = 1 << 20
	// maxNesting bounds the nesting of brackets and compound commands in
	// a string given to the parser, whose recursion would otherwise
	// exhaust the stack (a fatal error, not a panic) on inputs such as
	// 100000 nested $(( … )).
	maxNesting = 256
	// maxCommands bounds the simple commands recorded for one analysis.
	maxCommands = 10000
	// maxPartText bounds the source text kept for one dynamic part of a
	// word, so that nested substitutions cost linear, not quadratic,
	// memory.
	maxPartText = 512
)

// Analyze parses a shell command string (as /bin/sh -c would get it) and
// classifies every simple command in it. It never fails: a command that
// cannot be parsed is classified irreversible with ParseError set.
func Analyze(command string) (an gatehouse.Analysis) {
	loadCatalogue()
	defer recoverAnalysis(&an)
	if len(command) > maxInput {
		return failed(fmt.Sprintf("command is %d bytes long, more than the %d analysed", len(command), maxInput))
	}
	f, err := parse(command)
	if err != nil {
		an = failed(err.Error())
		an.Reasons[0] = "cannot parse the command: " + err.Error()
		return an
	}
	if len(f.Stmts) == 0 {
		return empty()
	}
	a := &analyzer{src: command}
	a.stmts(f.Stmts)
	return a.result()
}

// nesting returns an upper bound of how deeply src nests brackets and
// compound commands. It ignores quoting, so it may overestimate, never
// underestimate.
func nesting(src string) int {
	depth, deepest := 0, 0
	word := 0 // start of the current word
	for i := 0; i <= len(src); i++ {
		var c byte = ' '
		if i < len(src) {
			c = src[i]
		}
		switch c {
		case '(', '{', '[', '`':
			depth++
		case ')', '}', ']':
			depth--
		case ' ', '\t', '\n', ';', '&', '|', '<', '>':
			switch src[word:i] {
			case "if", "case", "do", "time", "coproc":
				depth++
			case "fi", "esac", "done":
				depth--
			}
			word = i + 1
			deepest = max(deepest, depth)
			continue
		default:
			continue
		}
		word = i + 1
		deepest = max(deepest, depth)
	}
	return deepest
}

// AnalyzeArgv classifies a command exec'd directly, without a shell:
// argv[0] is the program and no argument is expanded. Shells, wrappers and
// the other commands that run commands (bash -c STRING, sudo, xargs, …) are
// still followed.
func AnalyzeArgv(argv []string) (an gatehouse.Analysis) {
	loadCatalogue()
	defer recoverAnalysis(&an)
	if len(argv) == 0 {
		return empty()
	}
	n := 0
	for _, s := range argv {
		n += len(s) + 1
	}
	if n > maxInput {
		return failed(fmt.Sprintf("command is %d bytes long, more than the %d analysed", n, maxInput))
	}
	a := &analyzer{}
	a.run(literalArgs(argv), ctx{})
	return a.result()
}

// strict makes a panic during analysis propagate instead of being turned
// into a fail-closed result; the fuzz test sets it.
var strict atomic.Bool

func recoverAnalysis(an *gatehouse.Analysis) {
	if strict.Load() {
		return
	}
	if r := recover(); r != nil {
		*an = failed(fmt.Sprintf("analysis failed: %v", r))
	}
}

// failed is the analysis of a command that could not be analysed: the
// worst class, so that it is always reviewed. The reason is also its
// ParseError.
func failed(reason string) gatehouse.Analysis {
	return gatehouse.Analysis{
		Class:      gatehouse.ClassIrreversible,
		Risk:       100,
		Reasons:    []string{reason},
		Commands:   []gatehouse.AnalyzedCommand{},
		ParseError: reason,
	}
}

func empty() gatehouse.Analysis {
	return gatehouse.Analysis{
		Class:    gatehouse.ClassRead,
		Reasons:  []string{"empty command: nothing runs"},
		Commands: []gatehouse.AnalyzedCommand{},
	}
}

var parsers = sync.Pool{New: func() any {
	return syntax.NewParser(syntax.Variant(syntax.LangBash))
}}

func parse(src string) (*syntax.File, error) {
	if d := nesting(src); d > maxNesting {
		return nil, fmt.Errorf("nested more than %d levels deep", maxNesting)
	}
	p := parsers.Get().(*syntax.Parser)
	defer parsers.Put(p)
	return p.Parse(strings.NewReader(src), "")
}

// analyzer walks one command and collects the simple commands found.
type analyzer struct {
	src   string // the text being walked, for the source of dynamic words
	depth int    // nesting of shell strings
	cmds  []gatehouse.AnalyzedCommand

	// Set while walking a shell string given to another command: the
	// wrappers it was found behind (sudo, bash -c, ssh, …) and the
	// targets it acts on (ssh's host).
	wrappers []string
	targets  []string

	funcs map[string]bool // shell functions defined so far
	// overflow is set when more than maxCommands commands were found.
	overflow bool

	// substs records the command substitutions analysed, by source text,
	// and whether they download. A shell string given to another shell
	// ("bash -c \"$(cmd)\"") is parsed again with its substitutions in
	// place, but the outer shell already ran them: they are not analysed
	// twice.
	substs map[string]bool
}

// ctx is what a simple command runs in besides its own words.
type ctx struct {
	wrappers  []string
	fx        []effect // its statement's redirections
	in        stream   // its standard input
	env       []string // names of variables assigned for it
	fromInput bool     // arguments are added at run time (xargs, find -exec)
	targets   []string // what the enclosing command acts on (kubectl exec's pod)
}

// stream describes what flows through a pipe or into a standard input.
type stream struct {
	kind streamKind
	text string // the literal text, or the file name for streamFile
}

type streamKind int

const (
	streamNone     streamKind = iota // nothing known: a terminal, /dev/null or the caller's
	streamUnknown                    // the output of a command analysis cannot predict
	streamDownload                   // something fetched from the network
	streamLiteral                    // text written in the command (echo, heredoc)
	streamFile                       // a file (< FILE)
)

func (a *analyzer) stmts(list []*syntax.Stmt) {
	for _, s := range list {
		a.stmt(s, stream{})
	}
}

// stmt analyses one statement with standard input in and returns what it
// writes to its standard output.
func (a *analyzer) stmt(s *syntax.Stmt, in stream) stream {
	if a.overflow {
		return stream{kind: streamUnknown}
	}
	fx, in := a.redirects(s.Redirs, in)
	out := stream{kind: streamUnknown}
	switch c := s.Cmd.(type) {
	case nil:
		a.bare(fx)
		return out
	case *syntax.CallExpr:
		return a.callExpr(c, fx, in)
	case *syntax.BinaryCmd:
		if c.Op == syntax.Pipe || c.Op == syntax.PipeAll {
			out = a.pipeline(s, in)
		} else {
			a.stmt(c.X, in)
			out = a.stmt(c.Y, stream{})
		}
	case *syntax.Subshell:
		a.stmtsIn(c.Stmts, in)
	case *syntax.Block:
		a.stmtsIn(c.Stmts, in)
	case *syntax.IfClause:
		for ; c != nil; c = c.Else {
			a.stmtsIn(c.Cond, in)
			a.stmts(c.Then)
		}
	case *syntax.WhileClause:
		a.stmtsIn(c.Cond, in)
		a.stmts(c.Do)
	case *syntax.ForClause:
		a.nested(c.Loop)
		a.stmts(c.Do)
	case *syntax.CaseClause:
		a.word(c.Word, unquoted)
		for _, item := range c.Items {
			for _, p := range item.Patterns {
				a.word(p, unquoted)
			}
			a.stmts(item.Stmts)
		}
	case *syntax.FuncDecl:
		if a.funcs == nil {
			a.funcs = map[string]bool{}
		}
		if c.Name != nil {
			a.funcs[c.Name.Value] = true
		}
		for _, n := range c.Names {
			a.funcs[n.Value] = true
		}
		a.stmt(c.Body, stream{})
	case *syntax.TimeClause:
		if c.Stmt != nil {
			defer a.within("time", nil)()
			out = a.stmt(c.Stmt, in)
		}
	case *syntax.CoprocClause:
		if c.Stmt != nil {
			defer a.within("coproc", nil)()
			a.stmt(c.Stmt, stream{})
		}
	case *syntax.DeclClause:
		a.decl(c, fx)
		return out
	default: // ArithmCmd, TestClause, LetClause, TestDecl
		a.nested(c)
	}
	a.bare(fx)
	return out
}

// stmtsIn analyses a list of statements of which the first reads in.
func (a *analyzer) stmtsIn(list []*syntax.Stmt, in stream) {
	for i, s := range list {
		if i == 0 {
			a.stmt(s, in)
		} else {
			a.stmt(s, stream{})
		}
	}
}

// pipeline analyses a | b | c stage by stage, each reading what the
// previous one writes.
func (a *analyzer) pipeline(s *syntax.Stmt, in stream) stream {
	var stages []*syntax.Stmt
	var flatten func(s *syntax.Stmt)
	flatten = func(s *syntax.Stmt) {
		if b, ok := s.Cmd.(*syntax.BinaryCmd); ok && (b.Op == syntax.Pipe || b.Op == syntax.PipeAll) &&
			len(s.Redirs) == 0 && !s.Negated {
			flatten(b.X)
			flatten(b.Y)
			return
		}
		stages = append(stages, s)
	}
	flatten(s)
	for _, st := range stages {
		in = a.stmt(st, in)
	}
	return in
}

// within sets the wrappers and targets of an enclosing construct for what
// is analysed until the returned function is called.
func (a *analyzer) within(wrapper string, targets []string) func() {
	w, t := a.wrappers, a.targets
	a.wrappers = append(w[:len(w):len(w)], wrapper)
	a.targets = append(t[:len(t):len(t)], targets...)
	return func() { a.wrappers, a.targets = w, t }
}

// callExpr analyses a simple command: assignments, words, then the
// command itself.
func (a *analyzer) callExpr(ce *syntax.CallExpr, fx []effect, in stream) stream {
	var env []string
	for _, as := range ce.Assigns {
		if as.Name != nil {
			env = append(env, as.Name.Value)
		}
		a.assignValue(as)
	}
	args := make([]arg, len(ce.Args))
	for i, w := range ce.Args {
		args[i] = a.word(w, unquoted)
	}
	if len(args) == 0 {
		// Only assignments and redirections: no program runs.
		a.bare(fx)
		return stream{}
	}
	return a.run(args, ctx{wrappers: a.wrappers, fx: fx, in: in, env: env})
}

func (a *analyzer) assignValue(as *syntax.Assign) {
	if as.Value != nil {
		a.word(as.Value, unquoted)
	}
	if as.Array != nil || as.Index != nil {
		a.nested(as)
	}
}

// decl analyses declare, export, local, readonly, typeset and nameref.
func (a *analyzer) decl(d *syntax.DeclClause, fx []effect) {
	c := a.newCall(arg{val: d.Variant.Value}, nil, ctx{wrappers: a.wrappers, fx: fx})
	c.is(gatehouse.ClassRead, riskRead, "%s: sets shell variables", c.name)
	for _, as := range d.Args {
		a.assignValue(as)
		if as.Name != nil {
			if isLoaderVar(as.Name.Value) {
				c.is(gatehouse.ClassWrite, riskWrite, "%s %s: changes which programs the following commands run", c.name, as.Name.Value)
			}
			c.args = append(c.args, arg{val: a.source(as)})
		} else if as.Value != nil {
			c.args = append(c.args, a.word(as.Value, unquoted))
		}
	}
	a.emit(c)
}

// bare records the redirections of a statement that runs no program of
// its own (`> file`, `X=1 > file`, `{ …; } > file`) as an entry with an
// empty Name.
func (a *analyzer) bare(fx []effect) {
	if len(fx) == 0 {
		return
	}
	c := a.newCall(arg{}, nil, ctx{wrappers: a.wrappers, fx: fx})
	c.name = ""
	c.is(gatehouse.ClassRead, riskRead, "")
	a.emit(c)
}

// analyzeString analyses a shell string that the command c hands to a
// shell (bash -c STRING, eval, ssh HOST CMD, …), labelling what is found
// with wrapper and, if given, targets.
func (a *analyzer) analyzeString(c *call, src, wrapper string, targets []string) {
	if a.depth >= maxDepth {
		c.is(gatehouse.ClassIrreversible, 100, "%s: shell strings nested more than %d deep are not analysed", c.label(), maxDepth)
		return
	}
	if len(src) > maxInput {
		c.is(gatehouse.ClassIrreversible, 100, "%s: shell string too long to analyse", c.label())
		return
	}
	f, err := parse(src)
	if err != nil {
		c.is(gatehouse.ClassIrreversible, 100, "%s: cannot parse the shell string it runs: %v", c.label(), err)
		return
	}
	saved, savedW, savedT := a.src, a.wrappers, a.targets
	a.src, a.wrappers = src, append(c.x.wrappers[:len(c.x.wrappers):len(c.x.wrappers)], wrapper)
	a.targets = append(a.targets[:len(a.targets):len(a.targets)], targets...)
	a.targets = append(a.targets, c.targets...)
	a.targets = append(a.targets, c.x.targets...)
	a.depth++
	defer func() { a.src, a.wrappers, a.targets = saved, savedW, savedT; a.depth-- }()
	// The shell string's commands read the standard input of c.
	a.stmtsIn(f.Stmts, c.x.in)
}

// result aggregates the commands found.
func (a *analyzer) result() gatehouse.Analysis {
	if a.overflow {
		return failed(fmt.Sprintf("command has more than %d simple commands, more than are analysed", maxCommands))
	}
	an := gatehouse.Analysis{
		Class:    gatehouse.ClassRead,
		Reasons:  []string{},
		Commands: a.cmds,
	}
	if an.Commands == nil {
		an.Commands = []gatehouse.AnalyzedCommand{}
	}
	if len(a.cmds) == 0 {
		an.Reasons = append(an.Reasons, "runs no program")
	}
	reasons, targets := map[string]bool{}, map[string]bool{}
	for _, c := range a.cmds {
		an.Class = gatehouse.MaxClass(an.Class, c.Class)
		an.Risk = max(an.Risk, c.Risk)
		for _, r := range c.Reasons {
			if !reasons[r] {
				reasons[r] = true
				an.Reasons = append(an.Reasons, r)
			}
		}
		for _, t := range c.Targets {
			if !targets[t] {
				targets[t] = true
				an.Targets = append(an.Targets, t)
			}
		}
	}
	return an
}

// catalogueOnce builds the catalogue on first use rather than at package
// init: every start of the gatehouse binary (a CLI call, a hook) would
// otherwise pay for it, and only the daemon analyses commands.
var catalogueOnce sync.Once

func loadCatalogue() {
	catalogueOnce.Do(func() {
		initCatalogue1()
		initCatalogue2()
		initCatalogue3()
		initCatalogue4()
		initCatalogue5()
		initCatalogue6()
		initCatalogue7()
		initCatalogue8()
		initCatalogue9()
	})
}
