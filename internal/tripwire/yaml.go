package tripwire

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as Go writes durations: "90s",
// "5m", "1h30m". A bare number is refused: its unit would be a guess.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML decodes a duration string. It returns EINVALID, with the
// line, for anything else.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n)
	if err != nil {
		return gatehouse.Errorf(gatehouse.EINVALID, "line %d: %s", n.Line, err)
	}
	*d = v
	return nil
}

func parseDuration(n *yaml.Node) (Duration, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return 0, fmt.Errorf("must be a duration such as 90s, 5m or 1h, not %s", describe(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, fmt.Errorf("must be a duration such as 90s, 5m or 1h, not %q", n.Value)
	}
	return Duration(v), nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText writes d as a duration string (for JSON).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration string (for JSON).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return gatehouse.Errorf(gatehouse.EINVALID, "invalid duration %q: use e.g. 90s, 5m or 1h", b)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML decodes the `tripwires:` section onto c, refusing unknown
// fields itself. It does so because yaml.Node.Decode, which a parser that
// walks node trees uses, ignores a Decoder's KnownFields setting: a typo
// such as "widow: 5m" must not silently leave a default in force.
//
// Decoding merges: a field the file names replaces c's value, a field it
// omits keeps it. Decoding onto DefaultConfig() therefore gives the
// defaults for every tripwire the file does not mention. A section that
// was off starts, when the file turns it on, from that tripwire's
// defaults (first_contact from effect: pause; speed_bump from min_risk: 60,
// interval: 10s). A section written as null, false or "off" turns the
// tripwire off.
//
// Errors are EINVALID and carry the line and the field:
// "line 4: tripwires.velocity: unknown field "widow" (known: max, min_risk, window, effect)".
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	return decodeStrict(n, reflect.ValueOf(c).Elem(), "tripwires")
}

var (
	durationType = reflect.TypeFor[Duration]()
	templates    = map[reflect.Type]func() any{
		reflect.TypeFor[Velocity]():     func() any { return templateVelocity() },
		reflect.TypeFor[Denials]():      func() any { return templateDenials() },
		reflect.TypeFor[Failures]():     func() any { return templateFailures() },
		reflect.TypeFor[Budget]():       func() any { return templateBudget() },
		reflect.TypeFor[FirstContact](): func() any { return templateFirstContact() },
		reflect.TypeFor[SpeedBump]():    func() any { return templateSpeedBump() },
	}
)

func decodeStrict(n *yaml.Node, v reflect.Value, field string) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	fail := func(format string, args ...any) error {
		return gatehouse.Errorf(gatehouse.EINVALID, "line %d: %s: %s", n.Line, field, fmt.Sprintf(format, args...))
	}
	switch {
	case v.Kind() == reflect.Pointer:
		if isOff(n) {
			v.SetZero()
			return nil
		}
		if v.IsNil() {
			p := reflect.New(v.Type().Elem())
			if t, ok := templates[v.Type().Elem()]; ok {
				p.Elem().Set(reflect.ValueOf(t()))
			}
			v.Set(p)
		}
		return decodeStrict(n, v.Elem(), field)
	case v.Type() == durationType:
		d, err := parseDuration(n)
		if err != nil {
			return fail("%s", err)
		}
		v.Set(reflect.ValueOf(d))
		return nil
	case v.Kind() == reflect.Struct:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return nil // an empty section keeps what it had
		}
		if n.Kind != yaml.MappingNode {
			return fail("must be a mapping, not %s", describe(n))
		}
		t := v.Type()
		known := make([]string, t.NumField())
		for i := range known {
			known[i], _, _ = strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			idx := -1
			for j, name := range known {
				if k.Kind == yaml.ScalarNode && k.Value == name {
					idx = j
				}
			}
			if idx < 0 {
				return gatehouse.Errorf(gatehouse.EINVALID, "line %d: %s: unknown field %q (known: %s)",
					k.Line, field, k.Value, strings.Join(known, ", "))
			}
			if seen[k.Value] {
				return gatehouse.Errorf(gatehouse.EINVALID, "line %d: %s: %s given twice", k.Line, field, k.Value)
			}
			seen[k.Value] = true
			if err := decodeStrict(val, v.Field(idx), field+"."+k.Value); err != nil {
				return err
			}
		}
		return nil
	case v.Kind() == reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			return fail("must be a whole number, not %s", describe(n))
		}
		v.SetInt(int64(i))
		return nil
	case v.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			return fail("must be a string, not %s", describe(n))
		}
		v.SetString(n.Value)
		return nil
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		// One string or a list of them, as policy rules' matchers.
		items := []*yaml.Node{n}
		if n.Kind == yaml.SequenceNode {
			items = n.Content
		}
		out := reflect.MakeSlice(v.Type(), 0, len(items))
		for i, it := range items {
			for it.Kind == yaml.AliasNode && it.Alias != nil {
				it = it.Alias
			}
			if it.Kind != yaml.ScalarNode || it.ShortTag() != "!!str" {
				return gatehouse.Errorf(gatehouse.EINVALID, "line %d: %s[%d]: must be a string, not %s", it.Line, field, i, describe(it))
			}
			out = reflect.Append(out, reflect.ValueOf(it.Value).Convert(v.Type().Elem()))
		}
		v.Set(out)
		return nil
	}
	return fail("cannot be decoded (a bug: %s)", v.Type())
}

// isOff reports whether n turns a section off: null, false or "off".
func isOff(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	switch n.ShortTag() {
	case "!!null":
		return true
	case "!!bool":
		var b bool
		return n.Decode(&b) == nil && !b
	case "!!str":
		return n.Value == "off"
	}
	return false
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}
