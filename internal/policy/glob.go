package policy

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// Command globs match the whole command string. Unlike path.Match, '*'
// matches any run of characters including spaces and '/': a command is one
// string, not a path, and "kubectl delete *" is meant to cover every
// argument list. '?' matches exactly one character (a UTF-8 rune),
// "[abc]", "[a-z]" and "[!a-z]" (or "[^a-z]") match one character of (or
// not of) a class, and '\' makes the next character literal. Everything
// else matches itself.
//
// A glob of literal text and '*' only (the common case) is matched by
// finding its literal pieces in order, which is linear in the length of
// the command and needs no regular expression engine. Any other glob is
// translated into an anchored RE2 expression, so matching is linear
// whatever the pattern.

// glob is a compiled command glob.
type glob struct {
	segs []string       // literal pieces between '*'s, when the glob has no '?' or class
	re   *regexp.Regexp // otherwise
}

func (g *glob) match(s string) bool {
	if g.re != nil {
		return g.re.MatchString(s)
	}
	segs := g.segs
	if len(segs) == 1 {
		return s == segs[0]
	}
	first, last := segs[0], segs[len(segs)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	// Leftmost matches of the middle pieces, in order: if any placement
	// of them exists, the leftmost one does.
	for _, seg := range segs[1 : len(segs)-1] {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return true
}

// compileGlob compiles a command glob.
func compileGlob(pat string) (*glob, error) {
	if !utf8.ValidString(pat) {
		return nil, errors.New("is not valid UTF-8")
	}
	if segs, ok := starSegments(pat); ok {
		return &glob{segs: segs}, nil
	}
	re, err := globRegexp(pat)
	if err != nil {
		return nil, err
	}
	return &glob{re: re}, nil
}

// starSegments splits a glob made only of literal text (with escapes) and
// '*' into its literal pieces. ok is false if it has '?' or a class.
func starSegments(pat string) ([]string, bool) {
	var segs []string
	var cur strings.Builder
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '?', '[':
			return nil, false
		case '*':
			segs = append(segs, cur.String())
			cur.Reset()
		case '\\':
			if i+1 >= len(pat) {
				return nil, false // an unfinished escape: globRegexp reports it
			}
			i++
			cur.WriteByte(pat[i])
		default:
			cur.WriteByte(c)
		}
	}
	return append(segs, cur.String()), true
}

// globRegexp returns the anchored regular expression that matches exactly
// the strings pat matches.
func globRegexp(pat string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for i := 0; i < len(pat); {
		switch c := pat[i]; c {
		case '*':
			for i < len(pat) && pat[i] == '*' {
				i++
			}
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
			i++
		case '\\':
			if i+1 >= len(pat) {
				return nil, errors.New("ends in an unfinished escape '\\'")
			}
			r, n := utf8.DecodeRuneInString(pat[i+1:])
			b.WriteString(regexp.QuoteMeta(string(r)))
			i += 1 + n
		case '[':
			class, n, err := globClass(pat[i:])
			if err != nil {
				return nil, err
			}
			b.WriteString(class)
			i += n
		default:
			r, n := utf8.DecodeRuneInString(pat[i:])
			b.WriteString(regexp.QuoteMeta(string(r)))
			i += n
		}
	}
	b.WriteString(`)$`)
	return regexp.Compile(b.String())
}

// globClass translates the character class at the start of s ("[...]")
// into RE2 syntax and returns it with the number of bytes it used.
func globClass(s string) (string, int, error) {
	var b strings.Builder
	b.WriteByte('[')
	i := 1
	if i < len(s) && (s[i] == '!' || s[i] == '^') {
		b.WriteByte('^')
		i++
	}
	items := 0
	for {
		if i >= len(s) {
			return "", 0, errors.New("has an unterminated character class '['")
		}
		if s[i] == ']' && items > 0 {
			i++
			break
		}
		lo, n, err := classChar(s[i:])
		if err != nil {
			return "", 0, err
		}
		i += n
		hi := lo
		if i+1 < len(s) && s[i] == '-' && s[i+1] != ']' {
			hi, n, err = classChar(s[i+1:])
			if err != nil {
				return "", 0, err
			}
			if hi < lo {
				return "", 0, fmt.Errorf("has an invalid range %q-%q in a character class", lo, hi)
			}
			i += 1 + n
		}
		fmt.Fprintf(&b, `\x{%x}`, lo)
		if hi != lo {
			fmt.Fprintf(&b, `-\x{%x}`, hi)
		}
		items++
	}
	b.WriteByte(']')
	return b.String(), i, nil
}

func classChar(s string) (rune, int, error) {
	if s[0] == '\\' {
		if len(s) < 2 {
			return 0, 0, errors.New("ends in an unfinished escape '\\'")
		}
		r, n := utf8.DecodeRuneInString(s[1:])
		return r, 1 + n, nil
	}
	r, n := utf8.DecodeRuneInString(s)
	return r, n, nil
}

// globLiteral returns the literal text a glob starts with (escapes
// resolved) and whether the whole glob is literal.
func globLiteral(pat string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '*', '?', '[':
			return b.String(), false
		case '\\':
			if i+1 >= len(pat) {
				return b.String(), false
			}
			i++
		}
		b.WriteByte(pat[i])
	}
	return b.String(), true
}

// regexLiteralPrefix returns the literal text every match of expr starts
// with, if expr is anchored at the start of the text ("^..." without (?m)).
// Without such an anchor a match may begin anywhere, so no prefix of the
// command is implied and it returns "".
func regexLiteralPrefix(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return ""
	}
	var b strings.Builder
	for _, sub := range re.Sub[1:] {
		if sub.Op != syntax.OpLiteral || sub.Flags&syntax.FoldCase != 0 {
			break
		}
		b.WriteString(string(sub.Rune))
	}
	return b.String()
}

// Name matchers (agent, session, system) use path.Match globs, in which
// '*' does not cross '/'.

// validNameGlob reports whether p is a well-formed path.Match pattern.
func validNameGlob(p string) bool {
	_, err := path.Match(p, "")
	return err == nil
}

func isNameGlob(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// sampleName returns a name that path.Match pattern p matches, for
// building example actions: '*' and '?' become "x", a class one matching
// character. ok is false if no sample could be found.
func sampleName(p string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*', '?':
			b.WriteByte('x')
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteByte(p[i])
			}
		case '[':
			j := strings.IndexByte(p[i+1:], ']')
			if j < 0 {
				return "", false
			}
			class := p[i : i+1+j+1]
			picked := false
			for _, r := range "xaz0_-." {
				if ok, _ := path.Match(class, string(r)); ok {
					b.WriteRune(r)
					picked = true
					break
				}
			}
			if !picked {
				return "", false
			}
			i += 1 + j
		default:
			b.WriteByte(c)
		}
	}
	s := b.String()
	ok, _ := path.Match(p, s)
	return s, ok
}
