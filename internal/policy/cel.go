package policy

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"

	"github.com/gatehouse-dev/gatehouse"
)

// celCostLimit bounds the work one `when` expression may do per decision.
// A cost unit is roughly one operation (a comparison, a field access, one
// step of a comprehension); 100,000 lets an expression walk every command
// and target of a very large pipeline several times, and stops a runaway
// one in well under a millisecond. Exceeding it is an evaluation error:
// the rule does not match and the decision is at least review.
const celCostLimit = 100_000

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
			ext.ParseStructTags(true),
		),
		ext.Strings(),
		ext.Lists(),
		cel.Variable("action", cel.ObjectType("policy.actionVars")),
		cel.Variable("analysis", cel.ObjectType("policy.analysisVars")),
		cel.Variable("now", cel.TimestampType),
	)
})

// compileWhen compiles a `when` expression. Each returned problem is one
// line of text; the caller adds the position of the expression.
func compileWhen(src string) (cel.Program, []string) {
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
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, []string{"when: " + oneLine(err.Error())}
	}
	return prg, nil
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
		},
		"analysis": av,
		"now":      now,
	})
}

// evalWhen runs a compiled expression. Anything but a bool true or false
// is an error.
func evalWhen(prg cel.Program, act cel.Activation) (bool, error) {
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
