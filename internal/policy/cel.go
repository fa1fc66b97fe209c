package policy

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"

	"github.com/gatehouse-dev/gatehouse"
)

// celCostLimit bounds the work one `when` expression may do per decision.
// A cost unit is roughly one operation (a comparison, a field access, one
// step of a comprehension). 20,000 is far above what a realistic
// expression costs on a realistic command (hundreds), and low enough that
// a hostile command (tens of thousands of arguments) is stopped within
// milliseconds: cel-go's cost tracking grows quadratically with the
// length of a comprehension, so the limit bounds the time too. Exceeding
// it is an evaluation error: the rule does not match and the decision is
// at least review.
const celCostLimit = 20_000

// The variables a `when` expression sees. They are declared as native
// types so that a misspelt field ("action.sytem") or a wrong type
// ("analysis.risk == 'high'") is an error at load time, not a silent false
// at run time.

type actionVars struct {
	Agent   string   `cel:"agent"`
	Session string   `cel:"session"`
	Model   string   `cel:"model"`
	Kind    string   `cel:"kind"`
	Command string   `cel:"command"`
	Argv    []string `cel:"argv"`
	Cwd     string   `cel:"cwd"`
	System  string   `cel:"system"`
	Intent  string   `cel:"intent"`
	Stdin   bool     `cel:"stdin"`
	// Credentials names the secrets the action is granted (the
	// configuration's credentials section): rules can hold any action
	// that would run with one for review unless it is what it is for.
	Credentials []string `cel:"credentials"`
}

type analysisVars struct {
	Class      string        `cel:"class"`
	Risk       int           `cel:"risk"`
	Reasons    []string      `cel:"reasons"`
	Targets    []string      `cel:"targets"`
	Commands   []commandVars `cel:"commands"`
	ParseError string        `cel:"parse_error"`
}

type commandVars struct {
	Name     string   `cel:"name"`
	Args     []string `cel:"args"`
	Wrappers []string `cel:"wrappers"`
	Class    string   `cel:"class"`
	Risk     int      `cel:"risk"`
	Reasons  []string `cel:"reasons"`
	Targets  []string `cel:"targets"`
	Dynamic  bool     `cel:"dynamic"`
}

// celEnv is built once per process: building an environment costs
// milliseconds and it is immutable and safe for concurrent use.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(
			reflect.TypeFor[actionVars](),
			reflect.TypeFor[analysisVars](),
			reflect.TypeFor[commandVars](),
			reflect.TypeFor[mcpVars](),
			ext.ParseStructTags(true),
		),
		ext.Strings(),
		ext.Lists(),
		cel.Variable("action", cel.ObjectType("policy.actionVars")),
		cel.Variable("analysis", cel.ObjectType("policy.analysisVars")),
		cel.Variable("mcp", cel.ObjectType("policy.mcpVars")),
		cel.Variable("now", cel.TimestampType),
	)
})

// condition is a compiled `when` expression.
//
// Tracking cost makes evaluation about three times slower, so when the
// checker can prove that the expression stays under the limit for inputs
// up to some size, inputs that small are evaluated by a second, untracked
// program: the checker's estimate is an upper bound of the tracked cost,
// so both programs give the same result for them, and only larger inputs
// pay for tracking.
type condition struct {
	tracked cel.Program
	fast    cel.Program  // nil if no bound was proven
	fastFor []sizeBounds // the input sizes fast is proven for (any of them)
}

// sizeBounds bounds every list (its length) and every string (its length
// in bytes) in an action and its analysis, and mcp's server and tool; the
// command string and argv's strings, which are much longer than the rest,
// have their own bound. mcp.arguments has none: an expression over them
// is always evaluated with its cost tracked.
type sizeBounds struct{ list, str, cmd int }

// sizeTiers are the bounds tried: every combination of these.
var sizeTiers = func() []sizeBounds {
	var tiers []sizeBounds
	for _, list := range []int{8, 16, 32, 128} {
		for _, str := range []int{32, 64, 128, 1024} {
			for _, cmd := range []int{1024, 16384} {
				tiers = append(tiers, sizeBounds{list, str, cmd})
			}
		}
	}
	return tiers
}()

func (b sizeBounds) fits(in sizeBounds) bool {
	return in.list <= b.list && in.str <= b.str && in.cmd <= b.cmd
}

// boundedSizes is a cost estimator that assumes the variables' lists and
// strings are within bounds. Only nodes reachable from the declared
// variables get the bounds; anything the expression computes is left to
// the checker.
type boundedSizes struct{ b sizeBounds }

func (e boundedSizes) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	path := n.Path()
	if len(path) == 0 || (path[0] != "action" && path[0] != "analysis" && path[0] != "mcp") {
		return nil
	}
	if path[0] == "mcp" && (len(path) < 2 || path[1] == "arguments") {
		return nil
	}
	switch n.Type().Kind() {
	case types.ListKind:
		return &checker.SizeEstimate{Min: 0, Max: uint64(e.b.list)}
	case types.StringKind:
		if path[0] == "action" && len(path) > 1 && (path[1] == "command" || path[1] == "argv") {
			return &checker.SizeEstimate{Min: 0, Max: uint64(e.b.cmd)}
		}
		return &checker.SizeEstimate{Min: 0, Max: uint64(e.b.str)}
	}
	return nil
}

func (boundedSizes) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// compileWhen compiles a `when` expression. Each returned problem is one
// line of text; the caller adds the position of the expression.
func compileWhen(src string) (*condition, []string) {
	env, err := celEnv()
	if err != nil {
		return nil, []string{"CEL environment: " + err.Error()}
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		var probs []string
		for _, e := range iss.Errors() {
			probs = append(probs, fmt.Sprintf("when: %s (at %d:%d of the expression)",
				e.Message, e.Location.Line(), e.Location.Column()+1))
		}
		return nil, probs
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) {
		return nil, []string{fmt.Sprintf("when: must be a bool expression, but it is of type %s", cel.FormatCELType(t))}
	}
	c := &condition{}
	c.tracked, err = env.Program(ast, cel.CostLimit(celCostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, []string{"when: " + oneLine(err.Error())}
	}
	for _, b := range sizeTiers {
		if est, err := env.EstimateCost(ast, boundedSizes{b}); err == nil && est.Max <= celCostLimit {
			c.fastFor = addMaximal(c.fastFor, b)
		}
	}
	if len(c.fastFor) > 0 {
		if c.fast, err = env.Program(ast, cel.EvalOptions(cel.OptOptimize)); err != nil {
			return nil, []string{"when: " + oneLine(err.Error())}
		}
	}
	return c, nil
}

// addMaximal adds b to a set of bounds, keeping only those that no other
// bound of the set contains.
func addMaximal(set []sizeBounds, b sizeBounds) []sizeBounds {
	out := set[:0]
	for _, x := range set {
		if x.fits(b) { // b is within x: nothing to add
			return set
		}
		if !b.fits(x) {
			out = append(out, x)
		}
	}
	return append(out, b)
}

// inputSizes measures the largest list and string of a decision's
// variables.
func inputSizes(a *gatehouse.Action, an *gatehouse.Analysis) sizeBounds {
	var in sizeBounds
	str := func(ss ...string) {
		for _, s := range ss {
			in.str = max(in.str, len(s))
		}
	}
	list := func(l []string) {
		in.list = max(in.list, len(l))
		str(l...)
	}
	str(a.Agent, a.Session, a.Model, string(a.Kind), a.Cwd, a.System, a.Intent,
		string(an.Class), an.ParseError)
	if server, tool, ok := mcpName(a); ok {
		str(server, tool)
	}
	in.cmd, in.list = len(a.Command), len(a.Argv)
	for _, s := range a.Argv {
		in.cmd = max(in.cmd, len(s))
	}
	list(an.Reasons)
	list(an.Targets)
	list(credentialNames(a))
	in.list = max(in.list, len(an.Commands))
	for i := range an.Commands {
		c := &an.Commands[i]
		str(c.Name, string(c.Class))
		list(c.Args)
		list(c.Wrappers)
		list(c.Reasons)
		list(c.Targets)
	}
	return in
}

// activation builds the variables of one decision. It is built at most
// once per decision, and only if a `when` expression is reached.
func activation(a *gatehouse.Action, an *gatehouse.Analysis, now time.Time) (cel.Activation, error) {
	av := &analysisVars{
		Class:      string(normClass(an.Class)),
		Risk:       an.Risk,
		Reasons:    an.Reasons,
		Targets:    an.Targets,
		ParseError: an.ParseError,
		Commands:   make([]commandVars, len(an.Commands)),
	}
	for i, c := range an.Commands {
		av.Commands[i] = commandVars{
			Name: c.Name, Args: c.Args, Wrappers: c.Wrappers,
			Class: string(normClass(c.Class)), Risk: c.Risk,
			Reasons: c.Reasons, Targets: c.Targets, Dynamic: c.Dynamic,
		}
	}
	return cel.NewActivation(map[string]any{
		"action": &actionVars{
			Agent: a.Agent, Session: a.Session, Model: a.Model, Kind: string(a.Kind),
			Command: a.Command, Argv: a.Argv, Cwd: a.Cwd, System: a.System, Intent: a.Intent,
			Stdin:       a.Stdin,
			Credentials: credentialNames(a),
		},
		"analysis": av,
		"now":      now,
		"mcp":      lazyMCP(a),
	})
}

// lazyMCP returns the `mcp` variable as a lazy value: the arguments are
// decoded only if an expression uses them, and once per decision.
func lazyMCP(a *gatehouse.Action) func() ref.Val {
	var v ref.Val
	return func() ref.Val {
		if v == nil {
			v = mcpValue(a)
		}
		return v
	}
}

// eval runs the condition on inputs of the given sizes. Anything but a
// bool true or false is an error.
func (c *condition) eval(act cel.Activation, in sizeBounds) (bool, error) {
	prg := c.tracked
	for _, b := range c.fastFor {
		if b.fits(in) {
			prg = c.fast
			break
		}
	}
	v, _, err := prg.Eval(act)
	if err != nil {
		return false, err
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, fmt.Errorf("result is %s, not bool", v.Type().TypeName())
	}
	return bool(b), nil
}

// normClass is the class matchers and expressions see: an unknown or
// missing class counts as irreversible, as Class.Severity has it.
func normClass(c gatehouse.Class) gatehouse.Class {
	if c.Valid() {
		return c
	}
	return gatehouse.ClassIrreversible
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// credentialNames lists the secrets a is granted, never nil.
func credentialNames(a *gatehouse.Action) []string {
	out := make([]string, 0, len(a.Credentials))
	for _, c := range a.Credentials {
		out = append(out, c.Secret)
	}
	return out
}
