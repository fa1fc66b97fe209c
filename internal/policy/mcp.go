package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/gatehouse-dev/gatehouse"
)

// MCP tool calls (kind mcp_tool) are named "mcp__SERVER__TOOL" — the name
// Claude Code and the proxy give them — with SERVER also in the action's
// system. Rules see the server, the tool and the call's arguments as the
// CEL variable `mcp` and through the `mcp_tool:` matcher. For other kinds
// `mcp` is empty: server and tool "", arguments {}.
//
// What cannot be read unambiguously fails closed instead of being guessed:
// a command that is not "mcp__" + system + "__" + a tool, and arguments
// that are not a JSON object or repeat a key (a server might read the
// other copy). Any expression that uses `mcp` is then an evaluation error
// (its rule does not match and an allow becomes a review), and so is an
// `mcp_tool:` matcher.

// mcpVars is the `mcp` variable.
type mcpVars struct {
	Server    string  `cel:"server"`
	Tool      string  `cel:"tool"`
	Arguments argsMap `cel:"arguments"`
}

// argsMap carries the JSON-decoded arguments as a CEL map(string, dyn).
// CEL's native types cannot declare a field of type map[string]any, but a
// field whose type is itself a CEL value is taken as that value's type:
// Type reports the declared type (it is called on the zero value when the
// environment is built), and everything else is the wrapped map's.
type argsMap struct{ traits.Mapper }

var argsType = types.NewMapType(types.StringType, types.DynType)

func (argsMap) Type() ref.Type { return argsType }

var emptyArgs = argsMap{types.DefaultTypeAdapter.NativeToValue(map[string]any{}).(traits.Mapper)}

// mcpName returns the server and tool of an mcp_tool action, and false if
// its command is not mcp__SYSTEM__TOOL for the action's system.
func mcpName(a *gatehouse.Action) (server, tool string, ok bool) {
	if a.Kind != gatehouse.KindMCPTool {
		return "", "", true
	}
	tool, found := strings.CutPrefix(a.Command, "mcp__"+a.System+"__")
	if a.System == "" || !found || tool == "" {
		return "", "", false
	}
	return a.System, tool, true
}

// mcpValue builds the `mcp` variable of an action, or the error every
// expression that uses it evaluates to.
func mcpValue(a *gatehouse.Action) ref.Val {
	env, err := celEnv()
	if err != nil {
		return types.NewErr("mcp: %v", err)
	}
	adapt := env.CELTypeAdapter()
	if a.Kind != gatehouse.KindMCPTool {
		return adapt.NativeToValue(&mcpVars{Arguments: emptyArgs})
	}
	server, tool, ok := mcpName(a)
	if !ok {
		return types.NewErr("mcp: the call's command %q is not mcp__%s__TOOL", a.Command, a.System)
	}
	args, err := decodeArguments(a.Input)
	if err != nil {
		return types.NewErr("mcp.arguments: %v", err)
	}
	m := types.DefaultTypeAdapter.NativeToValue(args).(traits.Mapper)
	return adapt.NativeToValue(&mcpVars{Server: server, Tool: tool, Arguments: argsMap{m}})
}

// decodeArguments decodes a tool call's arguments: a JSON object (none,
// or null, is an empty one). Numbers that are whole and fit in 64 bits
// become ints, the others doubles (CEL compares the two across types). A
// key repeated in any object is an error: which copy a server reads is
// up to its parser.
func decodeArguments(raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("not one JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a JSON object")
	}
	return m, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("the key %q appears twice", k)
				}
				if m[k], err = decodeValue(dec); err != nil {
					return nil, err
				}
			}
			_, err := dec.Token() // '}'
			return m, err
		case '[':
			l := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token() // ']'
			return l, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i, nil
		}
		f, err := t.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s: %v", t, err)
		}
		return f, nil
	}
	return tok, nil // string, bool or nil
}
