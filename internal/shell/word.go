package shell

import (
	"strings"
	"unicode/utf8"

	"mvdan.cc/sh/v3/syntax"
)

// arg is one word of a command as analysis sees it.
type arg struct {
	// val is the word after quote removal, with every part that depends on
	// run-time expansion ($VAR, $(…), `…`, $((…)), <(…), globs, brace
	// expansion) kept as its source text: "$HOME/x" gives $HOME/x.
	val string
	// dyn reports that val contains such a part.
	dyn bool
	// dl reports that the word contains a command or process substitution
	// that downloads something ("$(curl …)", <(wget -O- …)).
	dl bool
}

// quoting is the context a literal is unquoted in.
type quoting int

const (
	unquoted quoting = iota
	doubleQuoted
	heredoc    // body of a here-document whose delimiter is unquoted
	rawHeredoc // body of a here-document whose delimiter is quoted
)

// word converts a parsed word to an arg, analysing the command and process
// substitutions inside it on the way (they run before the command does).
func (a *analyzer) word(w *syntax.Word, q quoting) arg {
	if w == nil {
		return arg{}
	}
	// The common case: one plain literal without escapes or glob
	// characters needs no copying.
	if len(w.Parts) == 1 && q == unquoted {
		if l, ok := w.Parts[0].(*syntax.Lit); ok && !strings.ContainsAny(l.Value, "\\*?[{") {
			return arg{val: l.Value}
		}
	}
	var b strings.Builder
	var r arg
	a.parts(&b, &r, w.Parts, q)
	r.val = b.String()
	return r
}

func (a *analyzer) parts(b *strings.Builder, r *arg, parts []syntax.WordPart, q quoting) {
	for _, p := range parts {
		switch p := p.(type) {
		case *syntax.Lit:
			if q == unquoted && hasGlob(p.Value) {
				r.dyn = true
			}
			unescape(b, p.Value, q)
		case *syntax.SglQuoted:
			if p.Dollar {
				ansiC(b, p.Value)
			} else {
				b.WriteString(p.Value)
			}
		case *syntax.DblQuoted:
			a.parts(b, r, p.Parts, doubleQuoted)
		case *syntax.CmdSubst, *syntax.ProcSubst:
			r.dyn = true
			src := a.source(p)
			b.WriteString(clip(src))
			if a.substituted(src, p) {
				r.dl = true
			}
		default: // *ParamExp, *ArithmExp, *ExtGlob, *BraceExp
			r.dyn = true
			b.WriteString(clip(a.source(p)))
			if a.nested(p) {
				r.dl = true
			}
		}
	}
}

// substituted analyses a command or process substitution with source
// text src, unless an enclosing shell already did, and reports whether it
// downloads.
func (a *analyzer) substituted(src string, n syntax.Node) bool {
	if dl, ok := a.substs[src]; ok && a.depth > 0 {
		return dl
	}
	var dl bool
	switch n := n.(type) {
	case *syntax.CmdSubst:
		dl = a.substitution(n.Stmts)
	case *syntax.ProcSubst:
		dl = a.substitution(n.Stmts)
	}
	if a.substs == nil {
		a.substs = map[string]bool{}
	}
	a.substs[src] = dl
	return dl
}

// nested analyses the substitutions anywhere inside n, such as the default
// in ${X:-$(cmd)} or an operand of $(( $(cmd) + 1 )), and reports whether
// one of them downloads.
func (a *analyzer) nested(n syntax.Node) bool {
	dl := false
	syntax.Walk(n, func(n syntax.Node) bool {
		switch n.(type) {
		case *syntax.CmdSubst, *syntax.ProcSubst:
			if a.substituted(a.source(n), n) {
				dl = true
			}
			return false
		}
		return true
	})
	return dl
}

// substitution analyses the statements of $(…), `…`, <(…) or >(…) and
// reports whether one of the commands found downloads something.
func (a *analyzer) substitution(stmts []*syntax.Stmt) bool {
	start := len(a.cmds)
	a.stmts(stmts)
	for _, c := range a.cmds[start:] {
		if isDownloader(c.Name) {
			return true
		}
	}
	return false
}

// source returns the text n was parsed from, or a printed form of it when
// the positions do not point into the current source.
func (a *analyzer) source(n syntax.Node) string {
	start, end := n.Pos(), n.End()
	if start.IsValid() && end.IsValid() && !start.IsRecovered() && !end.IsRecovered() {
		s, e := int(start.Offset()), int(end.Offset())
		if 0 <= s && s <= e && e <= len(a.src) {
			return a.src[s:e]
		}
	}
	var b strings.Builder
	if err := syntax.NewPrinter(syntax.Minify(true)).Print(&b, n); err != nil {
		return "?"
	}
	return b.String()
}

// clip shortens the source text of a dynamic part to at most about
// maxPartText bytes, marking the cut with "…".
func clip(src string) string {
	if len(src) <= maxPartText {
		return src
	}
	cut := maxPartText
	for cut > 0 && !utf8.RuneStart(src[cut]) {
		cut--
	}
	return src[:cut] + "…"
}

// hasGlob reports whether an unquoted literal contains an unescaped
// pathname-expansion pattern (*, ?, […]) or a brace expansion ({a,b},
// {1..3}).
func hasGlob(s string) bool {
	if !strings.ContainsAny(s, "*?[{") {
		return false
	}
	brace := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '*', '?':
			return true
		case '[':
			if strings.IndexByte(s[i+1:], ']') >= 0 {
				return true
			}
		case '{':
			brace = i
		case '}':
			if brace >= 0 {
				in := s[brace+1 : i]
				if strings.Contains(in, ",") || strings.Contains(in, "..") {
					return true
				}
			}
		}
	}
	return false
}

// unescape writes the value of a literal with its backslash escapes
// removed as the shell would in quoting context q.
func unescape(b *strings.Builder, s string, q quoting) {
	if q == rawHeredoc || strings.IndexByte(s, '\\') < 0 {
		b.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		next := s[i+1]
		switch q {
		case unquoted:
			b.WriteByte(next)
			i++
		case doubleQuoted, heredoc:
			if next == '$' || next == '`' || next == '\\' || (next == '"' && q == doubleQuoted) {
				b.WriteByte(next)
				i++
			} else if next == '\n' {
				i++
			} else {
				b.WriteByte(c)
			}
		}
	}
}

// ansiC writes the value of a $'…' string, decoding the common escapes;
// the rest are kept as written.
func ansiC(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\', '\'', '"', '?':
			b.WriteByte(s[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
}

// literalArgs converts argv given without a shell: nothing is expanded.
func literalArgs(argv []string) []arg {
	args := make([]arg, len(argv))
	for i, s := range argv {
		args[i] = arg{val: s}
	}
	return args
}

// joinArgs joins the values of args with spaces, as eval, watch and ssh do
// before handing them to a shell.
func joinArgs(args []arg) (s string, dyn, dl bool) {
	vals := make([]string, len(args))
	for i, x := range args {
		vals[i] = x.val
		dyn = dyn || x.dyn
		dl = dl || x.dl
	}
	return strings.Join(vals, " "), dyn, dl
}
