package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// An undo template is a command with placeholders in braces, rendered for
// each action the rule decides, from the action and its analysis:
//
//	{target}    the action's first target (a file, host or resource)
//	{targets}   all its targets, space-separated
//	{name}      the last part of the first target: after its last '/' or
//	            space ("deployment/web" → "web", "/srv/a.conf" → "a.conf")
//	{program}   the main command's program name ("kubectl")
//	{arg1}…     the main command's arguments as written, from 1
//	{command}   the whole command
//	{cwd} {agent} {session} {system} {id}   the action's
//	{GROUP}     a named group of the rule's command.regex, e.g. (?P<deploy>…);
//	            a group named like a built-in takes its place
//
// The main command is the first of the analysed commands whose class is
// the action's (its most severe), so that in `cd /srv && kubectl set image
// deployment/web web=v2` it is kubectl. Every value is quoted for a POSIX
// shell when it needs to be. {{ and }} are literal braces. A placeholder
// with no value for an action (no targets, too few arguments) leaves the
// undo unrendered, with the reason.

type undoTemplate struct {
	src   string
	parts []undoPart
}

type undoPart struct {
	lit string // literal text, or:
	ph  string // a placeholder's name
}

var builtinPlaceholders = []string{"target", "targets", "name", "program", "command", "cwd", "agent", "session", "system", "id"}

var argPlaceholder = regexp.MustCompile(`^arg([1-9][0-9]?)$`)

var placeholderName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseUndo parses a template; groups are the named groups of the rule's
// command regexes (nil when it has none: then only built-ins exist).
func parseUndo(src string, groups [][]string) (*undoTemplate, error) {
	t := &undoTemplate{src: src}
	var lit strings.Builder
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '{' && strings.HasPrefix(src[i:], "{{"):
			lit.WriteByte('{')
			i++
		case c == '}' && strings.HasPrefix(src[i:], "}}"):
			lit.WriteByte('}')
			i++
		case c == '}':
			return nil, fmt.Errorf("a '}' without its '{' at byte %d (write }} for a literal brace)", i+1)
		case c == '{':
			end := strings.IndexByte(src[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("a '{' without its '}' at byte %d", i+1)
			}
			name := src[i+1 : i+end]
			if err := checkPlaceholder(name, groups); err != nil {
				return nil, err
			}
			if lit.Len() > 0 {
				t.parts = append(t.parts, undoPart{lit: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, undoPart{ph: name})
			i += end
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, undoPart{lit: lit.String()})
	}
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty")
	}
	return t, nil
}

func checkPlaceholder(name string, groups [][]string) error {
	if slices.Contains(builtinPlaceholders, name) || argPlaceholder.MatchString(name) {
		return nil
	}
	if !placeholderName.MatchString(name) {
		return fmt.Errorf("{%s} is not a placeholder name", name)
	}
	if len(groups) == 0 {
		return fmt.Errorf("unknown placeholder {%s} (known: %s, arg1…, or a named group of the rule's command.regex)",
			name, "{"+strings.Join(builtinPlaceholders, "}, {")+"}")
	}
	for _, g := range groups {
		if !slices.Contains(g, name) {
			return fmt.Errorf("{%s} is not a named group of every command.regex of the rule", name)
		}
	}
	return nil
}

// regexGroups returns the named groups of each regex.
func regexGroups(res []*regexp.Regexp) [][]string {
	var out [][]string
	for _, re := range res {
		var names []string
		for _, n := range re.SubexpNames() {
			if n != "" {
				names = append(names, n)
			}
		}
		out = append(out, names)
	}
	return out
}

// render renders t for action a (analysed as an); groups are the named
// groups' values from the rule's matching command regex.
func (t *undoTemplate) render(a *gatehouse.Action, an *gatehouse.Analysis, groups map[string]string) gatehouse.Undo {
	u := gatehouse.Undo{Template: t.src}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ph == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := placeholder(p.ph, a, an, groups)
		if !ok {
			u.Error = fmt.Sprintf("no value for {%s} in this action", p.ph)
			return u
		}
		b.WriteString(v)
	}
	u.Command = b.String()
	return u
}

// placeholder returns a placeholder's value for an action, quoted.
func placeholder(name string, a *gatehouse.Action, an *gatehouse.Analysis, groups map[string]string) (string, bool) {
	if v, ok := groups[name]; ok {
		return quoteWord(v), v != ""
	}
	var main *gatehouse.AnalyzedCommand
	var targets []string
	if an != nil {
		targets = an.Targets
		for i := range an.Commands {
			if an.Commands[i].Class == an.Class {
				main = &an.Commands[i]
				break
			}
		}
	}
	nonEmpty := func(s string) (string, bool) { return quoteWord(s), s != "" }
	switch name {
	case "target":
		if len(targets) == 0 {
			return "", false
		}
		return nonEmpty(targets[0])
	case "targets":
		if len(targets) == 0 {
			return "", false
		}
		q := make([]string, len(targets))
		for i, t := range targets {
			q[i] = quoteWord(t)
		}
		return strings.Join(q, " "), true
	case "name":
		if len(targets) == 0 {
			return "", false
		}
		t := strings.TrimRight(targets[0], "/ ")
		if i := strings.LastIndexAny(t, "/ "); i >= 0 {
			t = t[i+1:]
		}
		return nonEmpty(t)
	case "program":
		if main == nil {
			return "", false
		}
		return nonEmpty(main.Name)
	case "command":
		return nonEmpty(a.Command)
	case "cwd":
		return nonEmpty(a.Cwd)
	case "agent":
		return nonEmpty(a.Agent)
	case "session":
		return nonEmpty(a.Session)
	case "system":
		return nonEmpty(a.System)
	case "id":
		return nonEmpty(a.ID)
	}
	if m := argPlaceholder.FindStringSubmatch(name); m != nil {
		n, _ := strconv.Atoi(m[1])
		if main == nil || n > len(main.Args) {
			return "", false
		}
		return nonEmpty(main.Args[n-1])
	}
	return "", false
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// quoteWord quotes s for a POSIX shell unless it is plain.
func quoteWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// renderUndo renders the undo templates of r for a.
func (r *rule) renderUndo(a *gatehouse.Action, an *gatehouse.Analysis) []gatehouse.Undo {
	if len(r.undo) == 0 {
		return nil
	}
	groups := map[string]string{}
	if r.cmd != nil && r.cmd.kind == cmdRegex {
		for _, re := range r.cmd.res {
			m := re.FindStringSubmatch(a.Command)
			if m == nil {
				continue
			}
			for i, n := range re.SubexpNames() {
				if n != "" {
					groups[n] = m[i]
				}
			}
			break
		}
	}
	out := make([]gatehouse.Undo, len(r.undo))
	for i, t := range r.undo {
		out[i] = t.render(a, an, groups)
	}
	return out
}
